/* b3.c: Zipkin B3 headers. The trace filter reads "b3" or the X-B3-* set
 * from a request that carries no traceparent and maps it onto a W3C context;
 * it also writes the single form for upstreams that only speak B3. Pure code
 * over byte strings, nothing owned.
 */
#include <errno.h>
#include <string.h>

#include "trace/b3.h"

/* Reads a B3 trace-id (16 or 32 lowercase hex digits) into <id>, widening
 * a 64-bit one with leading zero bytes. */
static int b3_trace_id(const char *s, size_t len, uint8_t id[16])
{
	static const uint8_t zero[16];

	if (len == 32) {
		if (tracectx_unhex(s, 16, id) < 0)
			return -EINVAL;
	} else if (len == 16) {
		memset(id, 0, 8);
		if (tracectx_unhex(s, 8, id + 8) < 0)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	return memcmp(id, zero, 16) == 0 ? -EINVAL : 0;
}

/* Reads a 16-digit span-id (or parent span-id) into <id>. */
static int b3_span_id(const char *s, size_t len, uint8_t id[8])
{
	static const uint8_t zero[8];

	if (len != 16 || tracectx_unhex(s, 8, id) < 0)
		return -EINVAL;
	return memcmp(id, zero, 8) == 0 ? -EINVAL : 0;
}

/* Maps the single-form sampling character <c>. */
static int b3_sampling_char(char c, enum b3_sampled *s)
{
	switch (c) {
	case '0':
		*s = B3_DENY;
		return 0;
	case '1':
		*s = B3_ACCEPT;
		return 0;
	case 'd':
		*s = B3_DEBUG;
		return 0;
	}
	return -EINVAL;
}

static uint8_t b3_flags(enum b3_sampled s)
{
	return s == B3_ACCEPT || s == B3_DEBUG ? TRACECTX_F_SAMPLED : 0;
}

int b3_parse_single(const char *v, size_t len, struct tracectx *tc, enum b3_sampled *s)
{
	const char *f[4];
	size_t fl[4];
	int nf = 0;
	enum b3_sampled smp = B3_DEFER;
	struct tracectx t;
	uint8_t parent[8];

	if (len == 1) {
		if (b3_sampling_char(v[0], s) < 0)
			return -EINVAL;
		return -ENOENT;
	}
	/* Split on '-' into at most four fields; a fifth means garbage. */
	for (const char *p = v, *end = v + len;;) {
		const char *dash = memchr(p, '-', (size_t)(end - p));

		if (nf == 4)
			return -EINVAL;
		f[nf] = p;
		fl[nf++] = dash ? (size_t)(dash - p) : (size_t)(end - p);
		if (!dash)
			break;
		p = dash + 1;
	}
	if (nf < 2 || b3_trace_id(f[0], fl[0], t.trace_id) < 0 ||
	    b3_span_id(f[1], fl[1], t.span_id) < 0)
		return -EINVAL;
	if (nf >= 3 && (fl[2] != 1 || b3_sampling_char(f[2][0], &smp) < 0))
		return -EINVAL;
	/* The parent is not needed to continue the trace, but a malformed one
	 * means the sender is broken, so the whole value is refused. */
	if (nf == 4 && b3_span_id(f[3], fl[3], parent) < 0)
		return -EINVAL;
	t.flags = b3_flags(smp);
	*tc = t;
	*s = smp;
	return 0;
}

/* Compares <v,len> with the string literal <lit>. */
static int b3_is(const char *v, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(v, lit, len) == 0;
}

int b3_parse_multi(const char *trace_id, size_t trace_id_len, const char *span_id,
                   size_t span_id_len, const char *sampled, size_t sampled_len, const char *flags,
                   size_t flags_len, struct tracectx *tc, enum b3_sampled *s)
{
	enum b3_sampled smp = B3_DEFER;
	struct tracectx t;

	/* Every header present must be well formed, even one we end up not
	 * using: a malformed set says the sender is broken. */
	if (sampled) {
		if (b3_is(sampled, sampled_len, "1") || b3_is(sampled, sampled_len, "true"))
			smp = B3_ACCEPT;
		else if (b3_is(sampled, sampled_len, "0") || b3_is(sampled, sampled_len, "false"))
			smp = B3_DENY;
		else
			return -EINVAL;
	}
	if (flags) {
		/* Debug overrides X-B3-Sampled, whatever it says: it implies accept. */
		if (b3_is(flags, flags_len, "1"))
			smp = B3_DEBUG;
		else if (!b3_is(flags, flags_len, "0"))
			return -EINVAL;
	}
	if (trace_id && b3_trace_id(trace_id, trace_id_len, t.trace_id) < 0)
		return -EINVAL;
	if (span_id && b3_span_id(span_id, span_id_len, t.span_id) < 0)
		return -EINVAL;
	if (!trace_id || !span_id) {
		/* Half a context cannot be continued, but a decision sent with it
		 * still can; a lone id without one is a broken sender. */
		if ((trace_id || span_id) && smp == B3_DEFER)
			return -EINVAL;
		*s = smp;
		return -ENOENT;
	}
	t.flags = b3_flags(smp);
	*tc = t;
	*s = smp;
	return 0;
}

size_t b3_format_single(const uint8_t trace_id[16], const uint8_t span_id[8], uint8_t flags,
                        char *out)
{
	tracectx_hex(trace_id, 16, out);
	out[32] = '-';
	tracectx_hex(span_id, 8, out + 33);
	out[49] = '-';
	out[50] = flags & TRACECTX_F_SAMPLED ? '1' : '0';
	return 51;
}
