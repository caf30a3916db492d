/* otlp_decode_json.c: OTLP/JSON request bodies sent to the gateway
 * (otlp_decode.h). Jansson parses the body into a tree, refusing bad
 * syntax, text that is not UTF-8, repeated keys and nesting deeper than its
 * parser's limit (2048); this file walks the tree with the types OTLP's JSON
 * mapping gives each field, ignoring the keys it does not know, as OTLP
 * asks. The renderings go through the same code as protobuf's
 * (otlp_decode.c), so both formats give the same record for a span.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/jsonw.h"
#include "trace/otlp_decode_priv.h"

/* ---- typed reads ----------------------------------------------------------- */

/* Member <k> of object <o>, or NULL when it is absent or null: proto3's
 * JSON mapping reads null as the field's default. */
static const json_t *otlp_decode_json_get(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_null(v) ? NULL : v;
}

static int otlp_decode_json_want(struct otlp_decode *d, const char *what, const char *want)
{
	return otlp_decode_fail(d, "%s: want %s", what, want);
}

/* A string member: *<s,n> is "" when <v> is NULL. */
static int otlp_decode_json_str(struct otlp_decode *d, const json_t *v, const char *what,
                                const char **s, size_t *n)
{
	*s = "";
	*n = 0;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return otlp_decode_json_want(d, what, "a string");
	*s = json_string_value(v);
	*n = json_string_length(v);
	return 0;
}

/* An array or object member: NULL <v> is fine (none). */
static int otlp_decode_json_is(struct otlp_decode *d, const json_t *v, const char *what, bool array)
{
	if (!v || (array ? json_is_array(v) : json_is_object(v)))
		return 0;
	return otlp_decode_json_want(d, what, array ? "an array" : "an object");
}

/* Reads decimal digits <s,n> (with a '-' first when <neg_ok>) into a
 * magnitude no larger than <max>; false when they are not that. */
static bool otlp_decode_json_digits(const char *s, size_t n, bool neg_ok, uint64_t max,
                                    uint64_t *mag, bool *neg)
{
	uint64_t v = 0;

	*neg = neg_ok && n && s[0] == '-';
	if (*neg) {
		s++;
		n--;
	}
	if (n == 0 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned dig = (unsigned)(s[i] - '0');

		if (dig > 9 || v > (max - dig) / 10)
			return false;
		v = v * 10 + dig;
	}
	*mag = v;
	return true;
}

/* A uint64 (fixed64, uint32): a number, or a decimal string as proto3's
 * JSON writes 64-bit integers. A number past INT64_MAX is refused by
 * jansson already, so such values must come as strings. */
static int otlp_decode_json_u64(struct otlp_decode *d, const json_t *v, const char *what,
                                uint64_t *out)
{
	bool neg;
	double r;

	*out = 0;
	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		/* 1.7e18 is an integer too, written by a double-based writer */
		r = json_real_value(v);
		if (r >= 0 && r < 18446744073709551616.0 && r == (double)(uint64_t)r) {
			*out = (uint64_t)r;
			return 0;
		}
	} else if (json_is_string(v) &&
	           otlp_decode_json_digits(json_string_value(v), json_string_length(v), false,
	                                   UINT64_MAX, out, &neg)) {
		return 0;
	}
	return otlp_decode_json_want(d, what, "an unsigned integer, as a number or a string");
}

/* An int64 (intValue): the same, signed. */
static int otlp_decode_json_i64(struct otlp_decode *d, const json_t *v, const char *what,
                                int64_t *out)
{
	uint64_t mag;
	bool neg;
	double r;

	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		r = json_real_value(v);
		if (r >= -9223372036854775808.0 && r < 9223372036854775808.0 &&
		    r == (double)(int64_t)r) {
			*out = (int64_t)r;
			return 0;
		}
	} else if (json_is_string(v) &&
	           otlp_decode_json_digits(json_string_value(v), json_string_length(v), true,
	                                   (uint64_t)INT64_MAX + 1, &mag, &neg)) {
		if (neg || mag <= INT64_MAX) {
			/* -(2^63) as unsigned negation, without signed overflow */
			*out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
			return 0;
		}
	}
	return otlp_decode_json_want(d, what, "a 64-bit integer, as a number or a string");
}

/* An enum: its number (unknown ones read as 0, as protobuf keeps them but
 * we do not name them) or its name from <names>. */
static int otlp_decode_json_enum(struct otlp_decode *d, const json_t *v, const char *what,
                                 const char *const *names, int n, int *out)
{
	json_int_t x;

	*out = 0;
	if (!v)
		return 0;
	if (json_is_integer(v)) {
		x = json_integer_value(v);
		*out = x >= 0 && x < n ? (int)x : 0;
		return 0;
	}
	if (json_is_string(v))
		for (int i = 0; i < n; i++)
			if (!strcmp(json_string_value(v), names[i])) {
				*out = i;
				return 0;
			}
	return otlp_decode_json_want(d, what, "an enum number or name");
}

/* doubleValue: a number, or a string: "NaN", "Infinity", "-Infinity" or a
 * number in quotes, as proto3 allows. */
static int otlp_decode_json_double(struct otlp_decode *d, const json_t *v, double *out)
{
	const char *s;
	char *end;

	if (json_is_number(v)) {
		*out = json_number_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return otlp_decode_json_want(d, "doubleValue", "a number");
	s = json_string_value(v);
	if (!strcmp(s, "NaN") || !strcmp(s, "Infinity") || !strcmp(s, "-Infinity")) {
		*out = s[0] == 'N'   ? (double)NAN
		       : s[0] == '-' ? -(double)INFINITY
		                     : (double)INFINITY;
		return 0;
	}
	/* strtod also takes "inf", hex and leading blanks: JSON's characters
	 * only, then strtod */
	if (!s[0] || strspn(s, "0123456789+-.eE") != json_string_length(v))
		return otlp_decode_json_want(d, "doubleValue", "a number");
	*out = strtod(s, &end);
	if (*end)
		return otlp_decode_json_want(d, "doubleValue", "a number");
	return 0;
}

/* ---- attribute values ----------------------------------------------------- */

static int otlp_decode_json_member(struct otlp_decode *d, struct tbuf *b, int mark,
                                   const json_t *kv, int depth);

/* The members of an AnyValue, in the order of their field numbers. */
static const char *const otlp_decode_json_any_key[] = {
        "stringValue", "boolValue",   "intValue",   "doubleValue",
        "arrayValue",  "kvlistValue", "bytesValue",
};

/* Renders AnyValue <v> (NULL: no value) into <b>; <depth> arrays and lists
 * are open around it. */
static int otlp_decode_json_any(struct otlp_decode *d, struct tbuf *b, const json_t *v, int depth)
{
	const json_t *m = NULL, *x, *list;
	const char *s;
	size_t i, n, which = 0;
	int64_t iv = 0;
	double dv = 0;
	int mark;

	if (!v) {
		tbuf_lit(b, "null");
		return 0;
	}
	if (!json_is_object(v))
		return otlp_decode_json_want(d, "value", "an AnyValue object");
	for (i = 0; i < sizeof(otlp_decode_json_any_key) / sizeof(otlp_decode_json_any_key[0]);
	     i++) {
		if (!(x = otlp_decode_json_get(v, otlp_decode_json_any_key[i])))
			continue;
		/* a oneof: protobuf's JSON readers refuse two of its members */
		if (m)
			return otlp_decode_fail(d, "value: both %s and %s",
			                        otlp_decode_json_any_key[which],
			                        otlp_decode_json_any_key[i]);
		m = x;
		which = i;
	}
	if (!m) {
		tbuf_lit(b, "null");
		return 0;
	}
	if (which == 4 || which == 5) {
		if (depth >= OTLP_DECODE_DEPTH)
			return otlp_decode_fail(d, "values nested deeper than %d",
			                        OTLP_DECODE_DEPTH);
		if (otlp_decode_json_is(d, m, otlp_decode_json_any_key[which], false))
			return -1;
		list = otlp_decode_json_get(m, "values");
		if (otlp_decode_json_is(d, list, "values", true))
			return -1;
	}
	switch (which) {
	case 0:
		if (otlp_decode_json_str(d, m, "stringValue", &s, &n))
			return -1;
		jsonw_str(b, s, n);
		return 0;
	case 1:
		if (!json_is_boolean(m))
			return otlp_decode_json_want(d, "boolValue", "true or false");
		tbuf_lit(b, json_is_true(m) ? "true" : "false");
		return 0;
	case 2:
		if (otlp_decode_json_i64(d, m, "intValue", &iv))
			return -1;
		jsonw_i64(b, iv);
		return 0;
	case 3:
		if (otlp_decode_json_double(d, m, &dv))
			return -1;
		otlp_decode_double(b, dv);
		return 0;
	case 4:
		tbuf_byte(b, '[');
		json_array_foreach(list, i, x)
		{
			jsonw_sep(b);
			if (otlp_decode_json_any(d, b, json_is_null(x) ? NULL : x, depth + 1))
				return -1;
		}
		tbuf_byte(b, ']');
		return 0;
	case 5:
		mark = otlp_decode_obj_open(d, b);
		json_array_foreach(list, i, x)
		{
			if (otlp_decode_json_member(d, b, mark, x, depth + 1))
				return -1;
		}
		otlp_decode_obj_close(d, b, mark);
		return 0;
	default:
		if (otlp_decode_json_str(d, m, "bytesValue", &s, &n))
			return -1;
		otlp_decode_reset(d, &d->bin);
		if (otlp_decode_unbase64(s, n, &d->bin, NULL, 0) < 0)
			return otlp_decode_json_want(d, "bytesValue", "base64");
		/* written again in one form: the same bytes render the same from
		 * both alphabets, with or without padding, and from protobuf */
		otlp_decode_base64(b, (const uint8_t *)d->bin.p, d->bin.len);
		return 0;
	}
}

/* Renders KeyValue <kv> as a member of the object in <b> opened at <mark>. */
static int otlp_decode_json_member(struct otlp_decode *d, struct tbuf *b, int mark,
                                   const json_t *kv, int depth)
{
	const char *k;
	size_t kn, undo;
	bool keep;

	if (!json_is_object(kv))
		return otlp_decode_json_want(d, "attribute", "a {\"key\",\"value\"} object");
	if (otlp_decode_json_str(d, otlp_decode_json_get(kv, "key"), "key", &k, &kn))
		return -1;
	keep = otlp_decode_key(d, b, mark, k, kn, &undo);
	if (otlp_decode_json_any(d, b, otlp_decode_json_get(kv, "value"), depth))
		return -1;
	if (!keep)
		b->len = undo;
	return 0;
}

/* The KeyValue array <list> (NULL: none) into the object in <b> at <mark>. */
static int otlp_decode_json_attrs(struct otlp_decode *d, struct tbuf *b, int mark,
                                  const json_t *list)
{
	const json_t *kv;
	size_t i;

	if (otlp_decode_json_is(d, list, "attributes", true))
		return -1;
	json_array_foreach(list, i, kv)
	{
		if (otlp_decode_json_member(d, b, mark, kv, 0))
			return -1;
	}
	return 0;
}

/* ---- spans ---------------------------------------------------------------- */

/* Span.Event <ev>: {"name":..,"timeUnixNano":"..","attributes":{..}}. */
static int otlp_decode_json_event(struct otlp_decode *d, const json_t *ev)
{
	const json_t *attrs;
	const char *name;
	size_t name_len;
	uint64_t ns;
	int mark;

	if (!json_is_object(ev))
		return otlp_decode_json_want(d, "events", "an array of objects");
	attrs = otlp_decode_json_get(ev, "attributes");
	if (otlp_decode_json_str(d, otlp_decode_json_get(ev, "name"), "event name", &name,
	                         &name_len) ||
	    otlp_decode_json_u64(d, otlp_decode_json_get(ev, "timeUnixNano"), "timeUnixNano", &ns))
		return -1;
	jsonw_sep(&d->events);
	tbuf_lit(&d->events, "{\"name\":");
	jsonw_str(&d->events, name, name_len);
	tbuf_lit(&d->events, ",\"timeUnixNano\":");
	jsonw_qu64(&d->events, ns);
	if (attrs && json_is_array(attrs) && json_array_size(attrs)) {
		tbuf_lit(&d->events, ",\"attributes\":");
		mark = otlp_decode_obj_open(d, &d->events);
		if (otlp_decode_json_attrs(d, &d->events, mark, attrs))
			return -1;
		otlp_decode_obj_close(d, &d->events, mark);
	} else if (otlp_decode_json_is(d, attrs, "event attributes", true)) {
		return -1;
	}
	tbuf_byte(&d->events, '}');
	return 0;
}

/* A span id member <v> into <id> (<cap> bytes), its length to *<len>. */
static int otlp_decode_json_id(struct otlp_decode *d, const json_t *v, const char *what,
                               uint8_t *id, size_t cap, size_t *len)
{
	const char *s;
	size_t n;

	if (otlp_decode_json_str(d, v, what, &s, &n))
		return -1;
	*len = n ? otlp_decode_id(s, n, id, cap) : 0;
	return 0;
}

static int otlp_decode_json_span(struct otlp_decode *d, const json_t *sp)
{
	static const char *const kinds[] = {
	        "SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
	        "SPAN_KIND_CLIENT",      "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER",
	};
	static const char *const codes[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK",
	                                    "STATUS_CODE_ERROR"};
	struct otlp_span_in *s = &d->span;
	const json_t *events, *ev, *status;
	uint64_t dropped;
	size_t i;

	if (!json_is_object(sp))
		return otlp_decode_json_want(d, "span", "an object");
	otlp_decode_span_begin(d);
	if (otlp_decode_json_id(d, otlp_decode_json_get(sp, "traceId"), "traceId", s->trace_id, 16,
	                        &d->trace_len) ||
	    otlp_decode_json_id(d, otlp_decode_json_get(sp, "spanId"), "spanId", s->span_id, 8,
	                        &d->span_len) ||
	    otlp_decode_json_id(d, otlp_decode_json_get(sp, "parentSpanId"), "parentSpanId",
	                        s->parent_id, 8, &d->parent_len) ||
	    otlp_decode_json_str(d, otlp_decode_json_get(sp, "name"), "name", &s->name,
	                         &s->name_len) ||
	    otlp_decode_json_enum(d, otlp_decode_json_get(sp, "kind"), "kind", kinds, 6,
	                          &s->kind) ||
	    otlp_decode_json_u64(d, otlp_decode_json_get(sp, "startTimeUnixNano"),
	                         "startTimeUnixNano", &s->start_ns) ||
	    otlp_decode_json_u64(d, otlp_decode_json_get(sp, "endTimeUnixNano"), "endTimeUnixNano",
	                         &s->end_ns) ||
	    otlp_decode_json_u64(d, otlp_decode_json_get(sp, "droppedAttributesCount"),
	                         "droppedAttributesCount", &dropped) ||
	    otlp_decode_json_attrs(d, &d->attrs, d->attrs_mark,
	                           otlp_decode_json_get(sp, "attributes")))
		return -1;
	d->dropped_sent = dropped > UINT32_MAX ? UINT32_MAX : (uint32_t)dropped;
	events = otlp_decode_json_get(sp, "events");
	if (otlp_decode_json_is(d, events, "events", true))
		return -1;
	json_array_foreach(events, i, ev)
	{
		if (otlp_decode_json_event(d, ev))
			return -1;
	}
	status = otlp_decode_json_get(sp, "status");
	if (otlp_decode_json_is(d, status, "status", false))
		return -1;
	if (status && otlp_decode_json_enum(d, otlp_decode_json_get(status, "code"), "status code",
	                                    codes, 3, &s->status))
		return -1;
	return otlp_decode_span_end(d);
}

/* The resource <res>: checks its attributes, and takes the first string
 * service.name for the spans that follow. */
static int otlp_decode_json_resource(struct otlp_decode *d, const json_t *res)
{
	const json_t *list, *kv, *v;
	const char *k;
	size_t i, kn;
	int mark;

	d->service = NULL;
	d->service_len = 0;
	if (otlp_decode_json_is(d, res, "resource", false))
		return -1;
	list = res ? otlp_decode_json_get(res, "attributes") : NULL;
	otlp_decode_reset(d, &d->scratch);
	mark = otlp_decode_obj_open(d, &d->scratch);
	if (otlp_decode_json_attrs(d, &d->scratch, mark, list))
		return -1;
	otlp_decode_obj_close(d, &d->scratch, mark);
	/* every attribute is checked: now find the name, known well-formed */
	json_array_foreach(list, i, kv)
	{
		if (otlp_decode_json_str(d, otlp_decode_json_get(kv, "key"), "key", &k, &kn))
			return -1;
		if (kn != 12 || memcmp(k, "service.name", 12))
			continue;
		v = otlp_decode_json_get(kv, "value");
		v = v ? otlp_decode_json_get(v, "stringValue") : NULL;
		if (v) {
			d->service = json_string_value(v);
			d->service_len = json_string_length(v);
			break;
		}
	}
	return 0;
}

static int otlp_decode_json_request(struct otlp_decode *d, const void *req)
{
	const json_t *root = req, *rss, *rs, *sss, *ss, *spans, *sp;
	size_t i, j, k;
	int rc;

	rss = otlp_decode_json_get(root, "resourceSpans");
	if (otlp_decode_json_is(d, rss, "resourceSpans", true))
		return -1;
	json_array_foreach(rss, i, rs)
	{
		d->rs = (int)i;
		if (!json_is_object(rs))
			return otlp_decode_json_want(d, "resourceSpans", "an array of objects");
		if (otlp_decode_json_resource(d, otlp_decode_json_get(rs, "resource")))
			return -1;
		sss = otlp_decode_json_get(rs, "scopeSpans");
		if (otlp_decode_json_is(d, sss, "scopeSpans", true))
			return -1;
		json_array_foreach(sss, j, ss)
		{
			d->ss = (int)j;
			if (!json_is_object(ss))
				return otlp_decode_json_want(d, "scopeSpans",
				                             "an array of objects");
			spans = otlp_decode_json_get(ss, "spans");
			if (otlp_decode_json_is(d, spans, "spans", true))
				return -1;
			json_array_foreach(spans, k, sp)
			{
				d->sp = (int)k;
				if ((rc = otlp_decode_json_span(d, sp)))
					return rc;
			}
			d->sp = -1;
		}
		d->ss = -1;
	}
	d->rs = -1;
	return 0;
}

int otlp_decode_json(const void *body, size_t len, otlp_span_cb cb, void *arg, size_t *skipped,
                     char *err, size_t errlen)
{
	json_error_t je;
	json_t *root;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (len > OTLP_DECODE_BODY_MAX) {
		if (err && errlen)
			snprintf(err, errlen, "body of %zu bytes, more than %u", len,
			         OTLP_DECODE_BODY_MAX);
		return -1;
	}
	/* repeated keys would make "which one" a guess; NUL is allowed in
	 * strings, as protobuf allows it (every string has a length here) */
	root = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
	                  &je);
	if (!root) {
		if (err && errlen) {
			snprintf(err, errlen, "JSON: %s (line %d, column %d)", je.text, je.line,
			         je.column);
			/* jansson quotes the bytes "near" the error as they came: a
			 * CR or LF among them would break the one-line reason */
			for (char *p = err; *p; p++)
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					*p = '?';
		}
		return -1;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		if (err && errlen)
			snprintf(err, errlen, "JSON: want an ExportTraceServiceRequest object");
		return -1;
	}
	rc = otlp_decode_run(otlp_decode_json_request, root, len, cb, arg, skipped, err, errlen);
	json_decref(root);
	return rc;
}
