/* jsonw.h: writing JSON into a tbuf, for the span encoders and exporters.
 *
 * Values only: callers write the braces, brackets and literal keys. Every
 * helper appends to a tbuf and inherits its sticky <failed> flag, so none of
 * them returns an error. Exporter threads only, like tbuf.
 */
#ifndef TG_JSONW_H
#define TG_JSONW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "trace/tbuf.h"

/* Appends <s,n> as a quoted JSON string. Bytes that are not UTF-8 (a header
 * may carry obs-text, a value cut to fit may end mid-character) become
 * U+FFFD; control characters and DEL are written as \u00XX. */
void jsonw_str(struct tbuf *b, const char *s, size_t n);

static inline void jsonw_cstr(struct tbuf *b, const char *s)
{
	jsonw_str(b, s, strlen(s));
}

/* Appends <v> as a JSON number. */
void jsonw_u64(struct tbuf *b, uint64_t v);
void jsonw_i64(struct tbuf *b, int64_t v);

/* Appends <v> in decimal inside quotes: the proto3 JSON form of a 64-bit
 * integer, which a double-based JSON reader would otherwise round. */
void jsonw_qu64(struct tbuf *b, uint64_t v);
void jsonw_qi64(struct tbuf *b, int64_t v);

/* Appends the <n> bytes at <p> as a quoted string of 2*<n> lowercase hex
 * digits; <n> is at most 16 (a trace-id). */
void jsonw_hex(struct tbuf *b, const uint8_t *p, size_t n);

/* Appends the separator the next member or element needs: a comma, unless
 * <b> is empty or ends with the '{' or '[' that opened the container. No
 * value ends with either, so the writer keeps no "first member" state. */
static inline void jsonw_sep(struct tbuf *b)
{
	if (b->len && b->p[b->len - 1] != '{' && b->p[b->len - 1] != '[')
		tbuf_byte(b, ',');
}

/* Appends the separator, then "<k>": for a key that needs no escaping (a
 * literal or a semantic-convention name). */
void jsonw_key(struct tbuf *b, const char *k);

struct span;

/* Appends the attributes of <s> as one JSON object {"http.route":"/",...}:
 * strings and integers, in the order they were set. */
void jsonw_span_attrs(struct tbuf *b, const struct span *s);

#endif
