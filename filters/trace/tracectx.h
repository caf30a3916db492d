/* tracectx.h: W3C Trace Context Level 2 header values, as an intermediary
 * reads and writes them: traceparent and tracestate parsing, validation and
 * formatting, and the random ids a new trace or span needs.
 *
 * Pure functions over byte strings (no allocation, no headers API), callable
 * from any thread; only tracectx_rand() keeps per-thread state.
 */
#ifndef TG_TRACECTX_H
#define TG_TRACECTX_H

#include <stddef.h>
#include <stdint.h>

#define TRACECTX_TP_LEN 55 /* "00-" 32 hex "-" 16 hex "-" 2 hex */

#define TRACECTX_F_SAMPLED 0x01u
#define TRACECTX_F_RANDOM  0x02u /* Level 2: right-most 7 bytes of trace-id are random */
#define TRACECTX_F_KNOWN   0x03u /* flags defined by Level 2; the rest are zeroed */

struct tracectx {
	uint8_t trace_id[16];
	uint8_t span_id[8]; /* the sender's span: the parent of ours */
	uint8_t flags;      /* TRACECTX_F_* only */
};

/* Parses one traceparent value <v,len> (surrounding OWS already removed).
 * Version 00 must be exactly 55 characters; a higher version (never ff) is
 * read over its first 55 characters when it is longer and the 56th is '-'.
 * Hex must be lowercase; all-zero trace-id or parent-id is invalid. Unknown
 * flag bits are dropped. Returns 0 and fills <tc>, or -EINVAL. */
int tracectx_parse(const char *v, size_t len, struct tracectx *tc);

/* Writes "00-<trace-id>-<span-id>-<flags>" (TRACECTX_TP_LEN characters, no
 * NUL) into <out>. Flag bits outside TRACECTX_F_KNOWN are written as zero. */
void tracectx_format(const uint8_t trace_id[16], const uint8_t span_id[8], uint8_t flags,
                     char *out);

/* Writes the <n> bytes at <b> as 2*<n> lowercase hex digits into <out> (no
 * NUL). */
void tracectx_hex(const uint8_t *b, size_t n, char *out);

/* Reads exactly 2*<n> lowercase hex digits at <s> into <b>. Returns 0, or
 * -EINVAL on any other character. */
int tracectx_unhex(const char *s, size_t n, uint8_t *b);

/* Fills <out> with <n> random bytes from a per-thread block refilled by
 * OpenSSL's RAND_bytes (a CSPRNG, never rand()). Returns 0, or -EIO when the
 * CSPRNG fails (the caller must not invent ids then; <out> may be partly
 * written). Any thread; a forked child starts with an empty block. */
int tracectx_rand(uint8_t *out, size_t n);

/* A new trace-id (random in all 16 bytes, never all zero) and span-ids
 * (8 random bytes, never all zero). 0 or -EIO. */
int tracectx_new_trace_id(uint8_t out[16]);
int tracectx_new_span_id(uint8_t out[8]);

/* ---- tracestate ---------------------------------------------------------- */

#define TRACESTATE_MAX_MEMBERS 32

struct tracestate_member {
	const char *key; /* points into the parsed text */
	uint16_t key_len;
	const char *val;
	uint16_t val_len;
};

/* Parses the <n_lines> tracestate header lines <lines[i],lens[i]>, combined
 * in order as one comma-separated list (RFC 9110 5.3). Empty members and
 * OWS around members are allowed and skipped. Every member must match the
 * key and value grammar, keys must be unique and there may be at most
 * TRACESTATE_MAX_MEMBERS non-empty ones (the W3C test suite has a list with
 * a duplicate key or a 33rd member discarded). Returns the number of members
 * stored in <m> (room for TRACESTATE_MAX_MEMBERS; they point into <lines>),
 * 0 for an empty list, or -EINVAL when anything is invalid: the caller then
 * drops the header as a whole. */
int tracestate_parse(const char *const *lines, const size_t *lens, int n_lines,
                     struct tracestate_member *m);

/* Returns 0 when <key,len> is a valid tracestate key (simple or
 * tenant@system), -EINVAL otherwise. */
int tracestate_key_check(const char *key, size_t len);

/* Returns 0 when <val,len> is a valid tracestate value, -EINVAL otherwise. */
int tracestate_val_check(const char *val, size_t len);

/* Returns the index of member <key,len> in <m,n>, or -1. */
int tracestate_find(const struct tracestate_member *m, int n, const char *key, size_t len);

/* Writes the list to <out,cap> without spaces: first "<key>=<val>" when <key>
 * (NUL-terminated, already valid, like <val,val_len>) is not NULL: an entry
 * we add or change moves to the left; then the members of <m,n> in order,
 * except any member named <key>. When that makes more than
 * TRACESTATE_MAX_MEMBERS, the right-most ones are left out. Returns the
 * length written (0 for an empty list; no NUL), or -ENOSPC when <cap> is too
 * small. tracestate_format_len() gives a sufficient <cap> (<key_len> 0 when
 * no entry is added; a larger one only overestimates). */
int tracestate_format(char *out, size_t cap, const char *key, const char *val, size_t val_len,
                      const struct tracestate_member *m, int n);
size_t tracestate_format_len(size_t key_len, size_t val_len, const struct tracestate_member *m,
                             int n);

#endif
