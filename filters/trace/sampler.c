/* sampler.c: consistent probability sampling for the tracing filter. Turns a
 * configured probability into the 56-bit rejection threshold, reads and
 * rewrites the "ot" tracestate entry (th, rv) the request carries upstream, and
 * caps sampled traces per second per route with a lock-free GCRA. Owns no
 * memory; every buffer is the caller's.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "trace/sampler.h"

#define OT_MAX_LEN 256 /* the whole "ot" list, per the tracestate-handling spec */
#define NS_PER_S   UINT64_C(1000000000)

static const char hexdig[] = "0123456789abcdef";

uint64_t sampler_threshold(double p)
{
	/* NaN fails both tests below and so means "never": a broken config must
	 * not turn into sampling everything. */
	if (!(p > 0.0))
		return SAMPLER_MAX_T;
	if (p >= 1.0)
		return 0;
	/* Scaling by 2^56 only moves the exponent, so the product is exact and
	 * llround() is the only rounding (half away from zero). */
	return SAMPLER_MAX_T - (uint64_t)llround(ldexp(p, 56));
}

uint64_t sampler_trace_r(const uint8_t trace_id[16])
{
	uint64_t r = 0;

	for (int i = 9; i < 16; i++)
		r = r << 8 | trace_id[i];
	return r;
}

size_t sampler_th_format(uint64_t t, char out[SAMPLER_TH_MAX])
{
	size_t n = SAMPLER_TH_MAX;

	/* There is no th for "never"; saturating to the smallest probability
	 * beats wrapping to "0", which would mean "always". */
	if (t >= SAMPLER_MAX_T)
		t = SAMPLER_R_MASK;
	if (t == 0) {
		out[0] = '0';
		return 1;
	}
	for (int i = SAMPLER_TH_MAX - 1; i >= 0; i--, t >>= 4)
		out[i] = hexdig[t & 0xf];
	while (out[n - 1] == '0')
		n--;
	return n;
}

/* Reads <n> lowercase hex digits at <s> into <out>. Uppercase is refused
 * because the spec allows only lowercase, which keeps th and rv comparable
 * as strings. */
static bool hex_lower(const char *s, size_t n, uint64_t *out)
{
	uint64_t x = 0;

	for (size_t i = 0; i < n; i++) {
		const char c = s[i];

		if (c >= '0' && c <= '9')
			x = x << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			x = x << 4 | (uint64_t)(c - 'a' + 10);
		else
			return false;
	}
	*out = x;
	return true;
}

static bool is_lc(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_valchr(char c)
{
	return is_lc(c) || is_digit(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
	       c == '-';
}

/* One "key:value" member of an "ot" list, as offsets into the list. */
struct ot_member {
	size_t key, klen, val, vlen;
};

/* Reads the member starting at <*pos> of <v,len> into <m> and moves <*pos>
 * past it and its ";". Returns 1, 0 at the end, or -EINVAL. */
static int ot_next(const char *v, size_t len, size_t *pos, struct ot_member *m)
{
	size_t i = *pos;

	if (i >= len)
		return 0;
	m->key = i;
	if (!is_lc(v[i]))
		return -EINVAL;
	while (i < len && (is_lc(v[i]) || is_digit(v[i])))
		i++;
	m->klen = i - m->key;
	if (i == len || v[i] != ':')
		return -EINVAL;
	m->val = ++i;
	while (i < len && is_valchr(v[i]))
		i++;
	m->vlen = i - m->val;
	if (i < len) {
		/* a ";" must introduce another member: "a:b;" and "a:b;;c:d" are
		 * not lists */
		if (v[i] != ';' || i + 1 == len)
			return -EINVAL;
		i++;
	}
	*pos = i;
	return 1;
}

static bool ot_key_is(const char *v, const struct ot_member *m, const char *key)
{
	return m->klen == strlen(key) && memcmp(v + m->key, key, m->klen) == 0;
}

/* Validates the whole list <v,len> (grammar, length, unique keys) and fills
 * <ot> with its well-formed th and rv. Returns 0 or -EINVAL. */
static int ot_scan(const char *v, size_t len, struct sampler_ot *ot)
{
	struct ot_member m, prev;
	size_t pos = 0;
	int ret;

	memset(ot, 0, sizeof(*ot));
	if (len > OT_MAX_LEN)
		return -EINVAL;
	while ((ret = ot_next(v, len, &pos, &m)) > 0) {
		size_t ppos = 0, plen = m.key ? m.key - 1 : 0;

		/* Keys must be unique; otherwise which th would we honour? The
		 * list is tiny, so rescanning the members before this one is
		 * cheaper than anything clever. */
		while (ot_next(v, plen, &ppos, &prev) > 0) {
			if (prev.klen == m.klen && !memcmp(v + prev.key, v + m.key, m.klen))
				return -EINVAL;
		}
		if (ot_key_is(v, &m, "th") && m.vlen >= 1 && m.vlen <= SAMPLER_TH_MAX &&
		    hex_lower(v + m.val, m.vlen, &ot->th)) {
			ot->th <<= 4 * (SAMPLER_TH_MAX - m.vlen);
			ot->has_th = true;
		} else if (ot_key_is(v, &m, "rv") && m.vlen == SAMPLER_TH_MAX &&
		           hex_lower(v + m.val, m.vlen, &ot->rv)) {
			ot->has_rv = true;
		}
	}
	return ret;
}

int sampler_ot_parse(const char *v, size_t len, struct sampler_ot *ot)
{
	int ret = ot_scan(v, len, ot);

	if (ret < 0)
		memset(ot, 0, sizeof(*ot));
	return ret;
}

/* Appends <s,n> to <out> at <*len>, keeping the result within <cap>. */
static bool put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
	if (n > cap - *len)
		return false;
	memcpy(out + *len, s, n);
	*len += n;
	return true;
}

int sampler_ot_format(const char *v, size_t len, uint64_t t, char *out, size_t cap)
{
	struct sampler_ot ot = {0};
	struct ot_member m;
	char th[SAMPLER_TH_MAX];
	size_t pos = 0, n = 0;

	/* A list that does not parse is garbage we must not forward: it is
	 * replaced whole rather than repaired. */
	if (!v || ot_scan(v, len, &ot) < 0)
		len = 0;
	/* Never write more than the spec's limit, even into a larger buffer. */
	if (cap > OT_MAX_LEN)
		cap = OT_MAX_LEN;
	if (t < SAMPLER_MAX_T) {
		if (!put(out, cap, &n, "th:", 3) ||
		    !put(out, cap, &n, th, sampler_th_format(t, th)))
			return -ENOSPC;
	}
	while (ot_next(v, len, &pos, &m) > 0) {
		/* the old th is replaced or removed; a malformed rv is dropped */
		if (ot_key_is(v, &m, "th") || (ot_key_is(v, &m, "rv") && !ot.has_rv))
			continue;
		if ((n > 0 && !put(out, cap, &n, ";", 1)) ||
		    !put(out, cap, &n, v + m.key, m.val + m.vlen - m.key))
			return -ENOSPC;
	}
	return (int)n;
}

void sampler_rate_init(struct sampler_rate *r, uint32_t per_second)
{
	atomic_init(&r->tat_ns, 0);
	r->burst_ns = NS_PER_S;
	r->interval_ns = 0;
	/* Above 1e9/s the interval would truncate to 0, which means "no cap";
	 * 1 ns keeps a (very high) cap instead. */
	if (per_second) {
		r->interval_ns = NS_PER_S / per_second;
		if (!r->interval_ns)
			r->interval_ns = 1;
	}
}

bool sampler_rate_take(struct sampler_rate *r, uint64_t now_ns)
{
	uint64_t tat, next;

	if (!r->interval_ns)
		return true;
	tat = atomic_load_explicit(&r->tat_ns, memory_order_relaxed);
	do {
		/* An idle period resets tat to now, so no more than one burst is
		 * ever banked. */
		next = (tat > now_ns ? tat : now_ns) + r->interval_ns;
		if (next - now_ns > r->burst_ns)
			return false;
		/* relaxed: tat guards nothing but itself */
	} while (!atomic_compare_exchange_weak_explicit(
	        &r->tat_ns, &tat, next, memory_order_relaxed, memory_order_relaxed));
	return true;
}
