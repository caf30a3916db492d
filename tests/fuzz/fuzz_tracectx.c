/* fuzz_tracectx.c: trace context values (filters/trace/tracectx.c, b3.c and
 * the "ot" tracestate entry of sampler.c). Each input is read as a
 * traceparent, as tracestate lines (split at LF), as a single "b3" value, as
 * the X-B3-* set (one value per line: trace-id, span-id, sampled, flags) and
 * as an "ot" entry value. The round-trip property: whatever parses, formatted
 * back, parses again to the identical struct and formats to the identical
 * text; a canonical input formats back to itself.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "trace/b3.h"
#include "trace/sampler.h"
#include "trace/tracectx.h"

#define MAX_LINES 32 /* TRACE_TS_LINES in trace.c: tracestate lines read */

static bool tc_eq(const struct tracectx *a, const struct tracectx *b)
{
	return memcmp(a->trace_id, b->trace_id, 16) == 0 &&
	       memcmp(a->span_id, b->span_id, 8) == 0 && a->flags == b->flags;
}

/* Formats <tc> as a traceparent: it must parse back to <tc> and format to
 * the same text. */
static void traceparent_round_trip(const struct tracectx *tc, const char *from)
{
	char text[TRACECTX_TP_LEN], again[TRACECTX_TP_LEN];
	struct tracectx back;

	tracectx_format(tc->trace_id, tc->span_id, tc->flags, text);
	FUZZ_ASSERT(tracectx_parse(text, sizeof(text), &back) == 0, "%s: %.55s", from, text);
	FUZZ_ASSERT(tc_eq(tc, &back), "%s: %.55s", from, text);
	tracectx_format(back.trace_id, back.span_id, back.flags, again);
	FUZZ_ASSERT(memcmp(text, again, sizeof(text)) == 0, "%s: %.55s", from, text);
}

static void traceparent(const char *v, size_t len)
{
	struct tracectx tc;
	char text[TRACECTX_TP_LEN];
	uint8_t flags;

	if (tracectx_parse(v, len, &tc) < 0)
		return;
	FUZZ_ASSERT((tc.flags & ~TRACECTX_F_KNOWN) == 0, "flags %02x", tc.flags);
	traceparent_round_trip(&tc, "traceparent");
	/* version 00 with known flags only is canonical: it comes back as is */
	if (tracectx_unhex(v + 53, 1, &flags) == 0 && v[0] == '0' && v[1] == '0' &&
	    (flags & ~TRACECTX_F_KNOWN) == 0) {
		tracectx_format(tc.trace_id, tc.span_id, tc.flags, text);
		FUZZ_ASSERT(len == TRACECTX_TP_LEN && memcmp(text, v, len) == 0, "%.*s", (int)len,
		            v);
	}
}

static bool members_eq(const struct tracestate_member *a, int na, const struct tracestate_member *b,
                       int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++)
		if (a[i].key_len != b[i].key_len || a[i].val_len != b[i].val_len ||
		    memcmp(a[i].key, b[i].key, a[i].key_len) != 0 ||
		    memcmp(a[i].val, b[i].val, a[i].val_len) != 0)
			return false;
	return true;
}

/* Formats <m,n> into <text>, of the <cap> bytes tracestate_format_len()
 * asks for, with "ot=<ot>" first when <ot> is not NULL, as trace.c does.
 * The text must parse back, into <back> (which then points into <text>),
 * and format again to the same text. Returns the members in <back>. */
static int tracestate_round_trip(const struct tracestate_member *m, int n, const char *ot,
                                 size_t ot_len, char *text, size_t cap,
                                 struct tracestate_member *back)
{
	struct tracestate_member again[TRACESTATE_MAX_MEMBERS];
	char *text2 = malloc(cap ? cap : 1);
	const char *line;
	size_t line_len;
	int len, len2, nb, na;

	if (!text2)
		abort();
	len = tracestate_format(text, cap, ot ? "ot" : NULL, ot, ot_len, m, n);
	FUZZ_ASSERT(len >= 0, "format into %zu bytes: %d", cap, len);
	line = text;
	line_len = (size_t)len;
	nb = tracestate_parse(&line, &line_len, 1, back);
	FUZZ_ASSERT(nb >= 0 && nb <= TRACESTATE_MAX_MEMBERS, "%d for what we wrote: %.*s", nb, len,
	            text);
	len2 = tracestate_format(text2, cap, NULL, NULL, 0, back, nb);
	FUZZ_ASSERT(len2 == len && memcmp(text, text2, (size_t)len) == 0, "%.*s, then %.*s", len,
	            text, len2 > 0 ? len2 : 0, text2);
	line = text2;
	line_len = (size_t)len2;
	na = tracestate_parse(&line, &line_len, 1, again);
	FUZZ_ASSERT(members_eq(back, nb, again, na), "%.*s", len, text);
	free(text2);
	return nb;
}

/* The list trace.c sends when it sets "ot" to <ot,ot_len>: "ot" first,
 * then the members of <m,n> but the old "ot", at most TRACESTATE_MAX_MEMBERS.
 * An empty <ot> removes the entry: the others are sent as they came. */
static void tracestate_with_ot(const struct tracestate_member *m, int n, const char *ot,
                               size_t ot_len)
{
	struct tracestate_member want[TRACESTATE_MAX_MEMBERS], rest[TRACESTATE_MAX_MEMBERS];
	struct tracestate_member back[TRACESTATE_MAX_MEMBERS];
	int nw = 0, nr = 0, nb;
	size_t cap;
	char *text;

	if (ot_len)
		want[nw++] = (struct tracestate_member){"ot", 2, ot, (uint16_t)ot_len};
	for (int i = 0; i < n; i++) {
		if (m[i].key_len == 2 && memcmp(m[i].key, "ot", 2) == 0)
			continue;
		rest[nr++] = m[i];
		if (nw < TRACESTATE_MAX_MEMBERS)
			want[nw++] = m[i];
	}
	cap = ot_len ? tracestate_format_len(2, ot_len, m, n)
	             : tracestate_format_len(0, 0, rest, nr);
	if (!(text = malloc(cap ? cap : 1)))
		abort();
	if (ot_len)
		nb = tracestate_round_trip(m, n, ot, ot_len, text, cap, back);
	else
		nb = tracestate_round_trip(rest, nr, NULL, 0, text, cap, back);
	FUZZ_ASSERT(members_eq(want, nw, back, nb), "%d members sent, %d expected", nb, nw);
	free(text);
}

static void tracestate(const char *v, size_t len)
{
	static const uint64_t ths[] = {0, 1, UINT64_C(0x80000000000000) >> 1, SAMPLER_MAX_T - 1,
	                               SAMPLER_MAX_T};
	struct tracestate_member m[TRACESTATE_MAX_MEMBERS], back[TRACESTATE_MAX_MEMBERS];
	const char *lines[MAX_LINES], *p = v, *end = v + len;
	size_t lens[MAX_LINES], cap;
	int n_lines = 0, n, nb, ot;
	char *text, otv[256];

	while (n_lines < MAX_LINES) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));

		lines[n_lines] = p;
		lens[n_lines++] = lf ? (size_t)(lf - p) : (size_t)(end - p);
		if (!lf)
			break;
		p = lf + 1;
	}
	n = tracestate_parse(lines, lens, n_lines, m);
	FUZZ_ASSERT(n == -EINVAL || (n >= 0 && n <= TRACESTATE_MAX_MEMBERS), "%d", n);
	if (n < 0)
		return;
	for (int i = 0; i < n; i++)
		FUZZ_ASSERT(tracestate_key_check(m[i].key, m[i].key_len) == 0 &&
		                    tracestate_val_check(m[i].val, m[i].val_len) == 0 &&
		                    tracestate_find(m, n, m[i].key, m[i].key_len) == i,
		            "member %d", i);

	/* forwarded unchanged: the same members */
	cap = tracestate_format_len(0, 0, m, n);
	text = malloc(cap ? cap : 1);
	if (!text)
		abort();
	nb = tracestate_round_trip(m, n, NULL, 0, text, cap, back);
	FUZZ_ASSERT(members_eq(m, n, back, nb), "%d members back of %d", nb, n);
	free(text);

	/* the sampler's threshold written in, as trace.c does */
	ot = tracestate_find(m, n, "ot", 2);
	for (size_t i = 0; i < sizeof(ths) / sizeof(ths[0]); i++) {
		int ol = sampler_ot_format(ot >= 0 ? m[ot].val : NULL, ot >= 0 ? m[ot].val_len : 0,
		                           ths[i], otv, sizeof(otv));

		if (ol < 0)
			continue;
		FUZZ_ASSERT(ol == 0 || tracestate_val_check(otv, (size_t)ol) == 0, "ot=%.*s", ol,
		            otv);
		tracestate_with_ot(m, n, otv, (size_t)ol);
	}
}

/* An "ot" entry value: rewriting th keeps rv and the other sub-keys, and
 * rewriting it again changes nothing. */
static void ot_entry(const char *v, size_t len)
{
	static const uint64_t ths[] = {0, 1, 0x123, SAMPLER_MAX_T - 1, SAMPLER_MAX_T};
	char out[257], out2[257];
	struct sampler_ot ot, back;
	bool valid = sampler_ot_parse(v, len, &ot) == 0;
	bool ts_valid = tracestate_val_check(v, len) == 0;

	if (!valid)
		FUZZ_ASSERT(!ot.has_th && !ot.has_rv, "a refused entry says something");
	for (size_t i = 0; i < sizeof(ths) / sizeof(ths[0]); i++) {
		uint64_t t = ths[i];
		int n = sampler_ot_format(v, len, t, out, sizeof(out)), n2;

		if (n < 0) {
			FUZZ_ASSERT(n == -ENOSPC, "%d", n);
			continue;
		}
		FUZZ_ASSERT(n <= 256, "%d", n);
		FUZZ_ASSERT(n > 0 || t == SAMPLER_MAX_T, "th %llx written as nothing",
		            (unsigned long long)t);
		if (n == 0)
			continue;
		/* from a valid tracestate value, a valid one */
		if (ts_valid)
			FUZZ_ASSERT(tracestate_val_check(out, (size_t)n) == 0, "%.*s", n, out);
		FUZZ_ASSERT(sampler_ot_parse(out, (size_t)n, &back) == 0, "%.*s", n, out);
		FUZZ_ASSERT(back.has_th == (t < SAMPLER_MAX_T) && (!back.has_th || back.th == t),
		            "th %llx: %.*s", (unsigned long long)t, n, out);
		FUZZ_ASSERT(back.has_rv == (valid && ot.has_rv) &&
		                    (!back.has_rv || back.rv == ot.rv),
		            "rv: %.*s", n, out);
		n2 = sampler_ot_format(out, (size_t)n, t, out2, sizeof(out2));
		FUZZ_ASSERT(n2 == n && memcmp(out, out2, (size_t)n) == 0, "%.*s, then %.*s", n, out,
		            n2 > 0 ? n2 : 0, out2);
	}
}

static void b3_single(const char *v, size_t len)
{
	struct tracectx tc, back;
	enum b3_sampled s = B3_DEFER, s2;
	char text[B3_SINGLE_MAX], again[B3_SINGLE_MAX];
	size_t n;
	int rc = b3_parse_single(v, len, &tc, &s);

	if (rc == -ENOENT)
		FUZZ_ASSERT(len == 1 && (s == B3_DENY || s == B3_ACCEPT || s == B3_DEBUG), "%d", s);
	FUZZ_ASSERT(rc == 0 || rc == -ENOENT || rc == -EINVAL, "%d", rc);
	if (rc != 0)
		return;
	FUZZ_ASSERT(tc.flags == (s == B3_ACCEPT || s == B3_DEBUG ? TRACECTX_F_SAMPLED : 0),
	            "flags %02x for %d", tc.flags, s);
	n = b3_format_single(tc.trace_id, tc.span_id, tc.flags, text);
	FUZZ_ASSERT(n <= B3_SINGLE_MAX, "%zu", n);
	FUZZ_ASSERT(b3_parse_single(text, n, &back, &s2) == 0, "%.*s", (int)n, text);
	FUZZ_ASSERT(tc_eq(&tc, &back), "%.*s", (int)n, text);
	FUZZ_ASSERT(b3_format_single(back.trace_id, back.span_id, back.flags, again) == n &&
	                    memcmp(text, again, n) == 0,
	            "%.*s", (int)n, text);
	/* 128-bit ids and an accept or deny decision: canonical, comes back as is */
	if (len == n && v[len - 1] != 'd')
		FUZZ_ASSERT(memcmp(text, v, n) == 0, "%.*s, then %.*s", (int)len, v, (int)n, text);
	/* and what B3 gave us, W3C must carry */
	traceparent_round_trip(&tc, "b3");
}

/* The X-B3-* values, one a line: trace-id, span-id, sampled, flags; a
 * header whose line is missing is absent. */
static void b3_multi(const char *v, size_t len)
{
	const char *f[4] = {NULL, NULL, NULL, NULL}, *p = v, *end = v + len;
	size_t fl[4] = {0, 0, 0, 0};
	struct tracectx tc, back;
	enum b3_sampled s = B3_DEFER, s2;
	char text[B3_SINGLE_MAX];
	size_t n;
	int rc;

	for (int i = 0; i < 4; i++) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));

		f[i] = p;
		fl[i] = lf ? (size_t)(lf - p) : (size_t)(end - p);
		if (!lf)
			break;
		p = lf + 1;
	}
	rc = b3_parse_multi(f[0], fl[0], f[1], fl[1], f[2], fl[2], f[3], fl[3], &tc, &s);
	FUZZ_ASSERT(rc == 0 || rc == -ENOENT || rc == -EINVAL, "%d", rc);
	if (rc != 0)
		return;
	n = b3_format_single(tc.trace_id, tc.span_id, tc.flags, text);
	FUZZ_ASSERT(b3_parse_single(text, n, &back, &s2) == 0 && tc_eq(&tc, &back), "%.*s", (int)n,
	            text);
	traceparent_round_trip(&tc, "X-B3");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *v = (const char *)data;

	traceparent(v, size);
	tracestate(v, size);
	ot_entry(v, size);
	b3_single(v, size);
	b3_multi(v, size);
	return 0;
}
