/* otlp_decode.c: what the OTLP decoders (otlp_decode.h) share: the
 * two-pass driver, the span record and its checks, and the JSON renderings
 * of attribute values. The wire formats live in otlp_decode_pb.c and
 * otlp_decode_json.c; this file knows neither. Runs on whatever thread
 * calls a decoder, with all its state on that thread's stack.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/jsonw.h"
#include "trace/otlp_decode_priv.h"

static const char otlp_decode_b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- errors ------------------------------------------------------------ */

/* Formats "<where>: <fmt...>" into the caller's buffer; <where> is the
 * span's place in the request, so a sender can find it. */
static void otlp_decode_vmsg(struct otlp_decode *d, const char *fmt, va_list ap)
{
	size_t n = 0;
	int w = 0;

	if (!d->err || !d->errlen)
		return;
	d->err[0] = '\0';
	if (d->rs >= 0 && d->ss >= 0 && d->sp >= 0)
		w = snprintf(d->err, d->errlen,
		             "resourceSpans[%d].scopeSpans[%d].spans[%d]: ", d->rs, d->ss, d->sp);
	else if (d->rs >= 0 && d->ss >= 0)
		w = snprintf(d->err, d->errlen, "resourceSpans[%d].scopeSpans[%d]: ", d->rs, d->ss);
	else if (d->rs >= 0)
		w = snprintf(d->err, d->errlen, "resourceSpans[%d]: ", d->rs);
	if (w > 0)
		n = (size_t)w < d->errlen ? (size_t)w : d->errlen - 1;
	vsnprintf(d->err + n, d->errlen - n, fmt, ap);
}

int otlp_decode_fail(struct otlp_decode *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	otlp_decode_vmsg(d, fmt, ap);
	va_end(ap);
	return -1;
}

/* Notes why a span was skipped: the first reason only, and on the checking
 * pass only, where every span is seen. */
static void otlp_decode_skip(struct otlp_decode *d, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void otlp_decode_skip(struct otlp_decode *d, const char *fmt, ...)
{
	va_list ap;

	if (d->skipped++ || !d->checking)
		return;
	va_start(ap, fmt);
	otlp_decode_vmsg(d, fmt, ap);
	va_end(ap);
}

/* ---- the span ------------------------------------------------------------ */

void otlp_decode_reset(struct otlp_decode *d, struct tbuf *b)
{
	d->oom |= b->failed;
	tbuf_reset(b);
}

void otlp_decode_span_begin(struct otlp_decode *d)
{
	memset(&d->span, 0, sizeof(d->span));
	d->trace_len = d->span_len = d->parent_len = 0;
	d->dropped_sent = 0;
	otlp_decode_reset(d, &d->attrs);
	otlp_decode_reset(d, &d->events);
	d->attrs_mark = otlp_decode_obj_open(d, &d->attrs);
	tbuf_byte(&d->events, '[');
}

static bool otlp_decode_is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return !acc;
}

/* Checks id <what>, <len> bytes at <p>, for a valid <want>-byte id; with
 * <root_ok> (a parent id), none at all is fine too. False, and the span
 * counted as skipped, when it is not valid. */
static bool otlp_decode_id_ok(struct otlp_decode *d, const char *what, size_t len, const uint8_t *p,
                              size_t want, bool root_ok)
{
	if (len == OTLP_DECODE_ID_BAD)
		otlp_decode_skip(d, "%s is neither hex nor base64: span skipped", what);
	else if (len == 0 && !root_ok)
		otlp_decode_skip(d, "%s is missing: span skipped", what);
	else if (len != want && len != 0)
		otlp_decode_skip(d, "%s is %zu bytes, want %zu: span skipped", what, len, want);
	else if (!root_ok && otlp_decode_is_zero(p, want))
		otlp_decode_skip(d, "%s is all zero: span skipped", what);
	else
		return true;
	return false;
}

int otlp_decode_span_end(struct otlp_decode *d)
{
	struct otlp_span_in *s = &d->span;

	otlp_decode_obj_close(d, &d->attrs, d->attrs_mark);
	tbuf_byte(&d->events, ']');
	if (!otlp_decode_id_ok(d, "trace id", d->trace_len, s->trace_id, 16, false) ||
	    !otlp_decode_id_ok(d, "span id", d->span_len, s->span_id, 8, false) ||
	    !otlp_decode_id_ok(d, "parent span id", d->parent_len, s->parent_id, 8, true))
		return 0;
	/* an all-zero parent is no parent, as in W3C traceparent */
	s->has_parent = d->parent_len == 8 && !otlp_decode_is_zero(s->parent_id, 8);
	if (!s->has_parent)
		memset(s->parent_id, 0, sizeof(s->parent_id));
	/* unknown enum numbers are kept by protobuf; the store wants names */
	if (s->kind < 0 || s->kind > 5)
		s->kind = 0;
	if (s->status < 0 || s->status > 2)
		s->status = 0;
	s->dropped_attrs = s->dropped_attrs > UINT32_MAX - d->dropped_sent
	                           ? UINT32_MAX
	                           : s->dropped_attrs + d->dropped_sent;
	s->service = d->service;
	s->service_len = d->service_len;
	s->attrs_json = d->attrs.p;
	s->attrs_len = d->attrs.len;
	s->events_json = d->events.p;
	s->events_len = d->events.len;
	if (d->checking) {
		d->delivered++;
		return 0;
	}
	/* pass two has the room pass one made (otlp_decode_run()), but a cut
	 * rendering is never handed out */
	if (d->attrs.failed || d->events.failed)
		return 0;
	if (d->cb(d->arg, s))
		return 1;
	d->delivered++;
	return 0;
}

/* ---- the driver ------------------------------------------------------------ */

int otlp_decode_run(otlp_decode_walk walk, const void *req, size_t len, otlp_span_cb cb, void *arg,
                    size_t *skipped, char *err, size_t errlen)
{
	/* on the stack: the key table is the bulk, 8 KiB */
	struct otlp_decode d;
	size_t valid;
	int rc;

	memset(&d, 0, sizeof(d));
	d.err = err;
	d.errlen = errlen;
	d.rs = d.ss = d.sp = -1;
	if (err && errlen)
		err[0] = '\0';
	if (len > OTLP_DECODE_BODY_MAX)
		return otlp_decode_fail(&d, "body of %zu bytes, more than %u", len,
		                        OTLP_DECODE_BODY_MAX);

	/* Pass one checks the whole body and renders everything, delivering
	 * nothing: a body refused halfway must not leave half its spans in the
	 * store. Pass two then delivers; it reads the same bytes the same way,
	 * so it cannot fail, and its buffers already have the room it needs. */
	d.checking = true;
	rc = walk(&d, req);
	d.oom |= d.attrs.failed || d.events.failed || d.scratch.failed || d.bin.failed;
	if (rc == 0 && d.oom)
		rc = otlp_decode_fail(&d, "out of memory");
	valid = d.delivered;
	if (rc == 0 && cb) {
		d.checking = false;
		d.cb = cb;
		d.arg = arg;
		d.skipped = d.delivered = 0;
		d.rs = d.ss = d.sp = -1;
		rc = walk(&d, req);
		valid = d.delivered;
	}
	tbuf_free(&d.attrs);
	tbuf_free(&d.events);
	tbuf_free(&d.scratch);
	tbuf_free(&d.bin);
	if (rc < 0)
		return -1;
	if (skipped)
		*skipped = d.skipped;
	return (int)valid;
}

/* ---- JSON objects -------------------------------------------------------- */

int otlp_decode_obj_open(struct otlp_decode *d, struct tbuf *b)
{
	tbuf_byte(b, '{');
	return d->nkeys;
}

void otlp_decode_obj_close(struct otlp_decode *d, struct tbuf *b, int mark)
{
	d->nkeys = mark;
	tbuf_byte(b, '}');
}

bool otlp_decode_key(struct otlp_decode *d, struct tbuf *b, int mark, const char *k, size_t n,
                     size_t *undo)
{
	size_t off, len;
	bool keep;

	*undo = b->len;
	jsonw_sep(b);
	off = b->len;
	jsonw_str(b, k, n);
	len = b->len - off;
	if (b->failed)
		return false;
	/* Compared as rendered, not as sent: two keys that differ only in
	 * bytes that both became U+FFFD would repeat in the output. */
	/* a NUL in a key is valid JSON, but readers such as jansson refuse
	 * it, and no attribute name has one */
	keep = d->nkeys - mark < OTLP_DECODE_MEMBERS && d->nkeys < OTLP_DECODE_KEYS &&
	       !memchr(k, '\0', n);
	for (int i = mark; keep && i < d->nkeys; i++)
		keep = d->keys[i].len != len || memcmp(b->p + d->keys[i].off, b->p + off, len);
	if (!keep) {
		if (b == &d->attrs && mark == d->attrs_mark && d->span.dropped_attrs < UINT32_MAX)
			d->span.dropped_attrs++;
		return false;
	}
	d->keys[d->nkeys++] = (struct otlp_decode_key){off, len};
	tbuf_byte(b, ':');
	return true;
}

/* ---- values ---------------------------------------------------------------- */

void otlp_decode_double(struct tbuf *b, double v)
{
	char num[32];

	if (isnan(v)) {
		tbuf_lit(b, "\"NaN\"");
		return;
	}
	if (isinf(v)) {
		tbuf_lit(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	/* 17 significant digits always read back the same double, but write
	 * 0.1 as 0.10000000000000001: take the fewest that do */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(num, sizeof(num), "%.*g", prec, v);
		if (prec == 17 || strtod(num, NULL) == v)
			break;
	}
	tbuf_lit(b, num);
}

void otlp_decode_base64(struct tbuf *b, const uint8_t *p, size_t n)
{
	const char *t = otlp_decode_b64;
	size_t i = 0;
	char *o;

	if (n > SIZE_MAX / 2 || !tbuf_reserve(b, (n + 2) / 3 * 4 + 2))
		return;
	o = b->p + b->len;
	*o++ = '"';
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		*o++ = t[v >> 18];
		*o++ = t[v >> 12 & 63];
		*o++ = t[v >> 6 & 63];
		*o++ = t[v & 63];
	}
	if (n - i == 1) {
		*o++ = t[p[i] >> 2];
		*o++ = t[(p[i] & 3) << 4];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		*o++ = t[p[i] >> 2];
		*o++ = t[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = t[(p[i + 1] & 15) << 2];
		*o++ = '=';
	}
	*o++ = '"';
	b->len = (size_t)(o - b->p);
}

/* The 6-bit value of base64 character <c> in either alphabet, or -1. */
static int otlp_decode_b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

long otlp_decode_unbase64(const char *s, size_t n, struct tbuf *out, uint8_t *id, size_t cap)
{
	uint32_t acc = 0;
	size_t pad = 0;
	long got = 0;
	int bits = 0, v;

	while (n && s[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	/* padding, when there is some, makes whole quads; one character
	 * alone in a quad carries no whole byte */
	if ((pad && (n + pad) % 4) || n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if ((v = otlp_decode_b64_val((unsigned char)s[i])) < 0)
			return -1;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits < 8)
			continue;
		bits -= 8;
		if (out)
			tbuf_byte(out, (char)(acc >> bits & 0xff));
		else if ((size_t)got < cap)
			id[got] = (uint8_t)(acc >> bits);
		got++;
	}
	return got;
}

static int otlp_decode_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool otlp_decode_is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (otlp_decode_hexval((unsigned char)s[i]) < 0)
			return false;
	return true;
}

size_t otlp_decode_id(const char *s, size_t n, uint8_t *id, size_t cap)
{
	long len;

	/* OTLP's hex first; base64 (proto3's bytes) when that is not it. A
	 * string of hex digits that is not base64 of the right length either
	 * is reported as hex: that is the likelier mistake. */
	if (n == 2 * cap && otlp_decode_is_hex(s, n)) {
		for (size_t i = 0; i < cap; i++)
			id[i] = (uint8_t)(otlp_decode_hexval((unsigned char)s[2 * i]) << 4 |
			                  otlp_decode_hexval((unsigned char)s[2 * i + 1]));
		return cap;
	}
	len = otlp_decode_unbase64(s, n, NULL, id, cap);
	if (len == (long)cap)
		return cap;
	if (otlp_decode_is_hex(s, n))
		return n % 2 ? OTLP_DECODE_ID_BAD : n / 2;
	return len < 0 ? OTLP_DECODE_ID_BAD : (size_t)len;
}
