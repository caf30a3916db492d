/* b3.h: Zipkin B3 propagation (openzipkin/b3-propagation), single ("b3")
 * and multiple ("X-B3-*") header forms, mapped to and from a W3C context.
 *
 * 64-bit trace-ids are left-padded with zeros to 128 bits on extraction.
 * Pure functions; any thread.
 */
#ifndef TG_B3_H
#define TG_B3_H

#include <stddef.h>
#include <stdint.h>

#include "trace/tracectx.h"

#define B3_SINGLE_MAX 68 /* 32 + 1 + 16 + 1 + 1 + 1 + 16: "t-s-1-p" */

/* What a B3 header said about sampling. */
enum b3_sampled {
	B3_DEFER = 0, /* no decision (absent): the receiver decides */
	B3_DENY,      /* "0" */
	B3_ACCEPT,    /* "1" (or "true" in the multi form) */
	B3_DEBUG,     /* "d" or X-B3-Flags: 1, which implies accept */
};

/* Parses a single "b3" value <v,len>: "{trace-id}-{span-id}",
 * optionally "-{sampling}" and then "-{parent-span-id}", ids in lowercase hex
 * (trace-id 16 or 32 digits, span-id 16, parent 16), none all zero; sampling
 * is "0", "1" or "d". A sampling-only value ("0", "1", "d") carries no ids:
 * returns -ENOENT with *<s> set. Returns 0 and fills <tc> (flags:
 * TRACECTX_F_SAMPLED for accept and debug) and *<s>, or -EINVAL for anything
 * else (then neither is written). The random flag is never set: B3 says
 * nothing about randomness. The parent is checked but not returned. */
int b3_parse_single(const char *v, size_t len, struct tracectx *tc, enum b3_sampled *s);

/* Parses the multi-header form from the values of X-B3-TraceId, X-B3-SpanId,
 * X-B3-Sampled and X-B3-Flags (each NULL when absent; X-B3-ParentSpanId is
 * not needed to continue a trace). Every header present must be valid, or
 * -EINVAL: ids as in b3_parse_single(), X-B3-Sampled "1"/"true" (accept) or
 * "0"/"false" (deny), X-B3-Flags "1" (debug, which wins over X-B3-Sampled)
 * or "0". Then:
 *  - both ids: returns 0, fills <tc> and *<s> as b3_parse_single() does;
 *  - no ids, or one id with a decision (accept, deny or debug): -ENOENT with
 *    *<s> set (B3_DEFER when no header at all was given);
 *  - one id without a decision: -EINVAL. */
int b3_parse_multi(const char *trace_id, size_t trace_id_len, const char *span_id,
                   size_t span_id_len, const char *sampled, size_t sampled_len, const char *flags,
                   size_t flags_len, struct tracectx *tc, enum b3_sampled *s);

/* Writes "{trace-id:32}-{span-id}-{1|0}" into <out> (room for B3_SINGLE_MAX),
 * sampled from TRACECTX_F_SAMPLED in <flags>. Returns its length. */
size_t b3_format_single(const uint8_t trace_id[16], const uint8_t span_id[8], uint8_t flags,
                        char *out);

#endif
