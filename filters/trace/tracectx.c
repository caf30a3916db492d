/* tracectx.c: W3C Trace Context values. The trace filter calls it on the
 * request path to validate an incoming traceparent/tracestate, to write the
 * ones it forwards, and to draw new trace and span ids. It owns nothing but
 * a per-thread block of CSPRNG bytes.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/rand.h>

#include "trace/tracectx.h"

#define TRACECTX_RAND_BLOCK 512

#define TS_KEY_MAX    256
#define TS_TENANT_MAX 241
#define TS_SYSTEM_MAX 14
#define TS_VAL_MAX    256

static const char tracectx_xdigits[] = "0123456789abcdef";

/* Returns the value of lowercase hex digit <c>, or -1. */
static int tracectx_xval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int tracectx_is_zero(const uint8_t *b, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

void tracectx_hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = tracectx_xdigits[b[i] >> 4];
		out[2 * i + 1] = tracectx_xdigits[b[i] & 0x0f];
	}
}

int tracectx_unhex(const char *s, size_t n, uint8_t *b)
{
	for (size_t i = 0; i < n; i++) {
		int hi = tracectx_xval(s[2 * i]);
		int lo = tracectx_xval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int tracectx_parse(const char *v, size_t len, struct tracectx *tc)
{
	uint8_t ver, flags;
	struct tracectx t;

	if (len < TRACECTX_TP_LEN || tracectx_unhex(v, 1, &ver) < 0 || ver == 0xff)
		return -EINVAL;
	/* Version 00 has exactly four fields; a later version may append more
	 * after a dash, which we skip unread. */
	if (ver == 0 && len != TRACECTX_TP_LEN)
		return -EINVAL;
	if (len > TRACECTX_TP_LEN && v[TRACECTX_TP_LEN] != '-')
		return -EINVAL;
	if (v[2] != '-' || v[35] != '-' || v[52] != '-')
		return -EINVAL;
	if (tracectx_unhex(v + 3, 16, t.trace_id) < 0 || tracectx_unhex(v + 36, 8, t.span_id) < 0 ||
	    tracectx_unhex(v + 53, 1, &flags) < 0)
		return -EINVAL;
	if (tracectx_is_zero(t.trace_id, 16) || tracectx_is_zero(t.span_id, 8))
		return -EINVAL;
	t.flags = flags & TRACECTX_F_KNOWN;
	*tc = t;
	return 0;
}

void tracectx_format(const uint8_t trace_id[16], const uint8_t span_id[8], uint8_t flags, char *out)
{
	uint8_t f = flags & TRACECTX_F_KNOWN;

	memcpy(out, "00-", 3);
	tracectx_hex(trace_id, 16, out + 3);
	out[35] = '-';
	tracectx_hex(span_id, 8, out + 36);
	out[52] = '-';
	tracectx_hex(&f, 1, out + 53);
}

/* ---- random ids ----------------------------------------------------------- */

/* One RAND_bytes call serves many ids; <tracectx_rand_pos> == block size
 * means the block is used up. */
static _Thread_local uint8_t tracectx_rand_buf[TRACECTX_RAND_BLOCK];
static _Thread_local size_t tracectx_rand_pos = TRACECTX_RAND_BLOCK;
static pthread_once_t tracectx_rand_once = PTHREAD_ONCE_INIT;

/* A forked child would otherwise hand out the very bytes its parent still
 * holds; only the forking thread survives, so resetting its block suffices. */
static void tracectx_rand_on_fork(void)
{
	tracectx_rand_pos = TRACECTX_RAND_BLOCK;
}

static void tracectx_rand_init(void)
{
	pthread_atfork(NULL, NULL, tracectx_rand_on_fork);
}

int tracectx_rand(uint8_t *out, size_t n)
{
	pthread_once(&tracectx_rand_once, tracectx_rand_init);
	while (n > 0) {
		size_t take;

		if (tracectx_rand_pos == TRACECTX_RAND_BLOCK) {
			if (RAND_bytes(tracectx_rand_buf, TRACECTX_RAND_BLOCK) != 1)
				return -EIO;
			tracectx_rand_pos = 0;
		}
		take = TRACECTX_RAND_BLOCK - tracectx_rand_pos;
		if (take > n)
			take = n;
		memcpy(out, tracectx_rand_buf + tracectx_rand_pos, take);
		tracectx_rand_pos += take;
		out += take;
		n -= take;
	}
	return 0;
}

/* Draws <n> bytes until they are not all zero (2^-64 at worst per try). */
static int tracectx_new_id(uint8_t *out, size_t n)
{
	int ret;

	do {
		ret = tracectx_rand(out, n);
		if (ret < 0)
			return ret;
	} while (tracectx_is_zero(out, n));
	return 0;
}

int tracectx_new_trace_id(uint8_t out[16])
{
	return tracectx_new_id(out, 16);
}

int tracectx_new_span_id(uint8_t out[8])
{
	return tracectx_new_id(out, 8);
}

/* ---- tracestate ----------------------------------------------------------- */

static int ts_is_lcalpha(char c)
{
	return c >= 'a' && c <= 'z';
}

static int ts_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int ts_is_keychar(char c)
{
	return ts_is_lcalpha(c) || ts_is_digit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

static int ts_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Checks one key part: 1..<max> keychars, the first a lcalpha (or a digit
 * when <digit_first>). */
static int ts_part_check(const char *s, size_t len, size_t max, int digit_first)
{
	if (len == 0 || len > max)
		return -EINVAL;
	if (!ts_is_lcalpha(s[0]) && !(digit_first && ts_is_digit(s[0])))
		return -EINVAL;
	for (size_t i = 1; i < len; i++)
		if (!ts_is_keychar(s[i]))
			return -EINVAL;
	return 0;
}

int tracestate_key_check(const char *key, size_t len)
{
	const char *at = memchr(key, '@', len);
	size_t tlen;

	if (!at)
		return ts_part_check(key, len, TS_KEY_MAX, 0);
	tlen = (size_t)(at - key);
	/* A second '@' fails the system-id's character check. */
	if (ts_part_check(key, tlen, TS_TENANT_MAX, 1) < 0 ||
	    ts_part_check(at + 1, len - tlen - 1, TS_SYSTEM_MAX, 0) < 0)
		return -EINVAL;
	return 0;
}

int tracestate_val_check(const char *val, size_t len)
{
	if (len == 0 || len > TS_VAL_MAX || val[len - 1] == ' ')
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)val[i];

		if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
			return -EINVAL;
	}
	return 0;
}

int tracestate_find(const struct tracestate_member *m, int n, const char *key, size_t len)
{
	for (int i = 0; i < n; i++)
		if (m[i].key_len == len && memcmp(m[i].key, key, len) == 0)
			return i;
	return -1;
}

/* Parses the member <s,len> (OWS already trimmed, not empty) into <mb>. */
static int ts_member_parse(const char *s, size_t len, struct tracestate_member *mb)
{
	const char *eq = memchr(s, '=', len);
	size_t klen;

	if (!eq)
		return -EINVAL;
	klen = (size_t)(eq - s);
	if (tracestate_key_check(s, klen) < 0 || tracestate_val_check(eq + 1, len - klen - 1) < 0)
		return -EINVAL;
	mb->key = s;
	mb->key_len = (uint16_t)klen;
	mb->val = eq + 1;
	mb->val_len = (uint16_t)(len - klen - 1);
	return 0;
}

int tracestate_parse(const char *const *lines, const size_t *lens, int n_lines,
                     struct tracestate_member *m)
{
	int n = 0;

	/* Joining lines adds a comma, so no member spans two lines: each line
	 * can be split on its own. */
	for (int l = 0; l < n_lines; l++) {
		const char *p = lines[l], *end;

		if (lens[l] == 0)
			continue;
		end = p + lens[l];
		while (p < end) {
			const char *comma = memchr(p, ',', (size_t)(end - p));
			const char *b = p, *e = comma ? comma : end;
			struct tracestate_member mb;

			p = comma ? comma + 1 : end;
			while (b < e && ts_is_ows(*b))
				b++;
			while (e > b && ts_is_ows(e[-1]))
				e--;
			if (b == e)
				continue;
			/* The spec has an intermediary discard a list it cannot
			 * forward as is: duplicates and a 33rd member included. */
			if (n == TRACESTATE_MAX_MEMBERS ||
			    ts_member_parse(b, (size_t)(e - b), &mb) < 0 ||
			    tracestate_find(m, n, mb.key, mb.key_len) >= 0)
				return -EINVAL;
			m[n++] = mb;
		}
	}
	return n;
}

/* Appends "<k>=<v>" to <out> at *<pos>, preceded by a comma unless first. */
static int ts_put(char *out, size_t cap, size_t *pos, const char *k, size_t klen, const char *v,
                  size_t vlen)
{
	size_t need = (*pos ? 1 : 0) + klen + 1 + vlen;

	if (cap - *pos < need)
		return -ENOSPC;
	if (*pos)
		out[(*pos)++] = ',';
	memcpy(out + *pos, k, klen);
	*pos += klen;
	out[(*pos)++] = '=';
	memcpy(out + *pos, v, vlen);
	*pos += vlen;
	return 0;
}

int tracestate_format(char *out, size_t cap, const char *key, const char *val, size_t val_len,
                      const struct tracestate_member *m, int n)
{
	size_t pos = 0, klen = key ? strlen(key) : 0;
	int written = 0;

	if (key) {
		if (ts_put(out, cap, &pos, key, klen, val, val_len) < 0)
			return -ENOSPC;
		written++;
	}
	for (int i = 0; i < n && written < TRACESTATE_MAX_MEMBERS; i++) {
		if (key && m[i].key_len == klen && memcmp(m[i].key, key, klen) == 0)
			continue;
		if (ts_put(out, cap, &pos, m[i].key, m[i].key_len, m[i].val, m[i].val_len) < 0)
			return -ENOSPC;
		written++;
	}
	return (int)pos;
}

size_t tracestate_format_len(size_t key_len, size_t val_len, const struct tracestate_member *m,
                             int n)
{
	size_t len = key_len ? key_len + 1 + val_len + 1 : 0;

	for (int i = 0; i < n; i++)
		len += (size_t)m[i].key_len + 1 + m[i].val_len + 1;
	return len;
}
