/* jsonw.c: JSON values into a tbuf (jsonw.h): strings escaped and checked
 * as UTF-8, numbers without printf, ids as hex. Shared by the JSON-lines
 * exporter and the OTLP/JSON and Zipkin encoders on the exporter threads.
 */
#include <stdbool.h>

#include "trace/jsonw.h"
#include "trace/span.h"
#include "trace/tracectx.h"

/* Length of the valid UTF-8 sequence at <s> (at most <n> bytes), 0 if none. */
static size_t jsonw_utf8(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = s[0] & (0x7fu >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	/* overlong forms, surrogates and beyond U+10FFFF are not text */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool jsonw_is_plain(unsigned char ch)
{
	return ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\';
}

void jsonw_str(struct tbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, u;
	char *o;

	/* one reservation for the worst case (every byte as \u00XX), then
	 * plain stores; the bound keeps 6 * <n> from wrapping */
	if (n > SIZE_MAX / 8) {
		b->failed = true;
		return;
	}
	if (!tbuf_reserve(b, 6 * n + 2))
		return;
	o = b->p + b->len;
	*o++ = '"';
	while (i < n) {
		unsigned char ch = p[i];

		if (jsonw_is_plain(ch)) {
			size_t run = 1;

			/* most values are plain ASCII: copy runs, not bytes */
			while (i + run < n && jsonw_is_plain(p[i + run]))
				run++;
			memcpy(o, p + i, run);
			o += run;
			i += run;
		} else if (ch == '"' || ch == '\\') {
			*o++ = '\\';
			*o++ = (char)ch;
			i++;
		} else if (ch < 0x20 || ch == 0x7f) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[ch >> 4];
			o[5] = hex[ch & 15];
			o += 6;
			i++;
		} else if ((u = jsonw_utf8(p + i, n - i))) {
			memcpy(o, p + i, u);
			o += u;
			i += u;
		} else {
			memcpy(o, "\\ufffd", 6);
			o += 6;
			i++;
		}
	}
	*o++ = '"';
	b->len = (size_t)(o - b->p);
}

/* Decimal digits by hand, without snprintf's format parsing: a span has
 * about twenty numbers. <mag> is the magnitude, <neg> its sign. */
static void jsonw_num(struct tbuf *b, uint64_t mag, bool neg, bool quoted)
{
	char num[24], *p = num + sizeof(num); /* '"' '-' 20 digits '"' */

	if (quoted)
		*--p = '"';
	do {
		*--p = (char)('0' + mag % 10);
		mag /= 10;
	} while (mag);
	if (neg)
		*--p = '-';
	if (quoted)
		*--p = '"';
	tbuf_add(b, p, (size_t)(num + sizeof(num) - p));
}

/* The magnitude of <v>, computed unsigned so INT64_MIN does not overflow. */
static uint64_t jsonw_mag(int64_t v)
{
	return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

void jsonw_u64(struct tbuf *b, uint64_t v)
{
	jsonw_num(b, v, false, false);
}

void jsonw_i64(struct tbuf *b, int64_t v)
{
	jsonw_num(b, jsonw_mag(v), v < 0, false);
}

void jsonw_qu64(struct tbuf *b, uint64_t v)
{
	jsonw_num(b, v, false, true);
}

void jsonw_qi64(struct tbuf *b, int64_t v)
{
	jsonw_num(b, jsonw_mag(v), v < 0, true);
}

void jsonw_hex(struct tbuf *b, const uint8_t *p, size_t n)
{
	char h[2 * 16 + 2];

	h[0] = '"';
	tracectx_hex(p, n, h + 1);
	h[2 * n + 1] = '"';
	tbuf_add(b, h, 2 * n + 2);
}

void jsonw_key(struct tbuf *b, const char *k)
{
	size_t n = strlen(k);

	jsonw_sep(b);
	if (!tbuf_reserve(b, n + 3))
		return;
	b->p[b->len++] = '"';
	memcpy(b->p + b->len, k, n);
	b->len += n;
	b->p[b->len++] = '"';
	b->p[b->len++] = ':';
}

void jsonw_span_attrs(struct tbuf *b, const struct span *s)
{
	tbuf_byte(b, '{');
	for (int i = 0; i < s->n_attrs; i++) {
		const struct span_attr *a = &s->attrs[i];

		jsonw_key(b, span_attr_name[a->key]);
		if (a->type == SPAN_T_INT)
			jsonw_i64(b, a->i);
		else
			jsonw_str(b, span_str(s, a->off), a->len);
	}
	tbuf_byte(b, '}');
}
