/* otlp_decode_pb.c: OTLP/protobuf request bodies sent to the gateway
 * (otlp_decode.h), read with a hand-written wire reader.
 *
 * Every read is checked against the end of the message it is in, so a
 * length cannot reach past its parent; each message type has its own
 * function, so nesting is as deep as the schema says, and only AnyValue's
 * arrays and lists recurse, to OTLP_DECODE_DEPTH. Field numbers are those
 * of opentelemetry-proto (tests/support/otlp has the schema). Nothing is
 * allocated per field: strings point into the body, renderings go to the
 * decoder's reused buffers.
 */
#include <endian.h>
#include <stdio.h>
#include <string.h>

#include "trace/jsonw.h"
#include "trace/otlp_decode_priv.h"

/* Wire types; 3 and 4 (groups) are not in proto3, and 6 and 7 do not exist. */
#define OTLP_DECODE_PB_VARINT 0
#define OTLP_DECODE_PB_I64    1
#define OTLP_DECODE_PB_LEN    2
#define OTLP_DECODE_PB_I32    5

/* A message being read: <p> up to <end>; <base> is the body's first byte,
 * for offsets in messages. */
struct otlp_decode_pbr {
	const uint8_t *p, *end, *base;
};

/* A field as read: its number and wire type, and its value or bytes. */
struct otlp_decode_pbf {
	const uint8_t *at; /* the tag's first byte */
	uint32_t num;
	unsigned wt;
	uint64_t v;       /* VARINT, I64 and I32 */
	const uint8_t *p; /* LEN */
	size_t len;
};

/* ---- the wire reader ----------------------------------------------------- */

/* Reads a varint at *<pp> (before <end>) into *<v>: 0, or -1 when it is
 * cut off, -2 when it is longer than 10 bytes or overflows 64 bits. */
static int otlp_decode_pb_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t x = 0;

	for (int i = 0; i < 10; i++) {
		if (p == end)
			return -1;
		/* the tenth byte holds bit 63 alone */
		if (i == 9 && *p > 1)
			return -2;
		x |= (uint64_t)(*p & 0x7f) << (7 * i);
		if (!(*p++ & 0x80)) {
			*pp = p;
			*v = x;
			return 0;
		}
	}
	return -2;
}

static size_t otlp_decode_pb_off(const struct otlp_decode_pbr *r, const uint8_t *p)
{
	return (size_t)(p - r->base);
}

static int otlp_decode_pb_bad_varint(struct otlp_decode *d, const struct otlp_decode_pbr *r,
                                     const uint8_t *at, int why)
{
	return otlp_decode_fail(d, "protobuf: byte %zu: %s", otlp_decode_pb_off(r, at),
	                        why == -1 ? "varint cut off" : "varint longer than 10 bytes");
}

/* Reads the next field of <r> into <f>: 1, 0 at the end of the message, or
 * -1 when the bytes are not protobuf. */
static int otlp_decode_pb_next(struct otlp_decode *d, struct otlp_decode_pbr *r,
                               struct otlp_decode_pbf *f)
{
	const uint8_t *at;
	uint64_t tag, n;
	int rc;

	if (r->p == r->end)
		return 0;
	f->at = r->p;
	if ((rc = otlp_decode_pb_varint(&r->p, r->end, &tag)))
		return otlp_decode_pb_bad_varint(d, r, f->at, rc);
	if (tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
		return otlp_decode_fail(d, "protobuf: byte %zu: field number %llu out of range",
		                        otlp_decode_pb_off(r, f->at),
		                        (unsigned long long)(tag >> 3));
	f->num = (uint32_t)(tag >> 3);
	f->wt = (unsigned)(tag & 7);
	switch (f->wt) {
	case OTLP_DECODE_PB_VARINT:
		at = r->p;
		if ((rc = otlp_decode_pb_varint(&r->p, r->end, &f->v)))
			return otlp_decode_pb_bad_varint(d, r, at, rc);
		return 1;
	case OTLP_DECODE_PB_I64:
	case OTLP_DECODE_PB_I32:
		n = f->wt == OTLP_DECODE_PB_I64 ? 8 : 4;
		if ((size_t)(r->end - r->p) < n)
			break;
		if (n == 8) {
			memcpy(&f->v, r->p, 8);
			f->v = le64toh(f->v);
		} else {
			uint32_t v32;

			memcpy(&v32, r->p, 4);
			f->v = le32toh(v32);
		}
		r->p += n;
		return 1;
	case OTLP_DECODE_PB_LEN:
		at = r->p;
		if ((rc = otlp_decode_pb_varint(&r->p, r->end, &n)))
			return otlp_decode_pb_bad_varint(d, r, at, rc);
		if (n > (uint64_t)(r->end - r->p))
			break;
		f->p = r->p;
		f->len = (size_t)n;
		r->p += n;
		return 1;
	default:
		/* groups (3, 4) are proto2's and not in OTLP; 6 and 7 are not
		 * wire types: either way the field's length is unknown */
		return otlp_decode_fail(d, "protobuf: byte %zu: field %u has wire type %u (%s)",
		                        otlp_decode_pb_off(r, f->at), f->num, f->wt,
		                        f->wt < 6 ? "a group, not in proto3" : "no such type");
	}
	return otlp_decode_fail(d, "protobuf: byte %zu: field %u runs past the end of its message",
	                        otlp_decode_pb_off(r, f->at), f->num);
}

/* Refuses field <f> of <what> unless its wire type is <wt>. A known field
 * sent with another type is a sender speaking another schema. */
static int otlp_decode_pb_want(struct otlp_decode *d, const struct otlp_decode_pbr *r,
                               const struct otlp_decode_pbf *f, unsigned wt, const char *what)
{
	if (f->wt == wt)
		return 0;
	return otlp_decode_fail(d, "protobuf: byte %zu: %s (field %u) has wire type %u, want %u",
	                        otlp_decode_pb_off(r, f->at), what, f->num, f->wt, wt);
}

/* The length-delimited field <f> of <r> as a message of its own. */
static struct otlp_decode_pbr otlp_decode_pb_sub(const struct otlp_decode_pbr *r,
                                                 const struct otlp_decode_pbf *f)
{
	return (struct otlp_decode_pbr){f->p, f->p + f->len, r->base};
}

/* ---- attribute values ----------------------------------------------------- */

static int otlp_decode_pb_member(struct otlp_decode *d, struct tbuf *b, int mark,
                                 const struct otlp_decode_pbr *kv, int depth);

/* Finds the value an AnyValue <r> holds: a oneof, where the last member
 * on the wire wins. *<val> gets that field; its <num> is 0 when none. */
static int otlp_decode_pb_any_scan(struct otlp_decode *d, struct otlp_decode_pbr r,
                                   struct otlp_decode_pbf *val)
{
	static const unsigned wt[8] = {
	        [1] = OTLP_DECODE_PB_LEN,    /* string_value */
	        [2] = OTLP_DECODE_PB_VARINT, /* bool_value */
	        [3] = OTLP_DECODE_PB_VARINT, /* int_value */
	        [4] = OTLP_DECODE_PB_I64,    /* double_value */
	        [5] = OTLP_DECODE_PB_LEN,    /* array_value */
	        [6] = OTLP_DECODE_PB_LEN,    /* kvlist_value */
	        [7] = OTLP_DECODE_PB_LEN,    /* bytes_value */
	};
	struct otlp_decode_pbf f;
	int rc;

	val->num = 0;
	while ((rc = otlp_decode_pb_next(d, &r, &f)) > 0) {
		if (f.num >= 8)
			continue;
		if (otlp_decode_pb_want(d, &r, &f, wt[f.num], "AnyValue member"))
			return -1;
		*val = f;
	}
	return rc;
}

/* Renders the AnyValue <r> into <b>; <depth> arrays and lists are open
 * around it. */
static int otlp_decode_pb_any(struct otlp_decode *d, struct tbuf *b,
                              const struct otlp_decode_pbr *r, int depth)
{
	struct otlp_decode_pbr sub;
	struct otlp_decode_pbf v, f;
	double dbl;
	int rc, mark;

	if (otlp_decode_pb_any_scan(d, *r, &v) < 0)
		return -1;
	if ((v.num == 5 || v.num == 6) && depth >= OTLP_DECODE_DEPTH)
		return otlp_decode_fail(d, "protobuf: byte %zu: values nested deeper than %d",
		                        otlp_decode_pb_off(r, v.at), OTLP_DECODE_DEPTH);
	switch (v.num) {
	case 0:
		tbuf_lit(b, "null");
		return 0;
	case 1:
		jsonw_str(b, (const char *)v.p, v.len);
		return 0;
	case 2:
		tbuf_lit(b, v.v ? "true" : "false");
		return 0;
	case 3:
		jsonw_i64(b, (int64_t)v.v);
		return 0;
	case 4:
		memcpy(&dbl, &v.v, sizeof(dbl));
		otlp_decode_double(b, dbl);
		return 0;
	case 7:
		otlp_decode_base64(b, v.p, v.len);
		return 0;
	case 5: /* ArrayValue: repeated AnyValue values = 1 */
		sub = otlp_decode_pb_sub(r, &v);
		tbuf_byte(b, '[');
		while ((rc = otlp_decode_pb_next(d, &sub, &f)) > 0) {
			struct otlp_decode_pbr el;

			if (f.num != 1)
				continue;
			if (otlp_decode_pb_want(d, &sub, &f, OTLP_DECODE_PB_LEN,
			                        "ArrayValue.values"))
				return -1;
			el = otlp_decode_pb_sub(&sub, &f);
			jsonw_sep(b);
			if (otlp_decode_pb_any(d, b, &el, depth + 1) < 0)
				return -1;
		}
		tbuf_byte(b, ']');
		return rc;
	default: /* KeyValueList: repeated KeyValue values = 1 */
		sub = otlp_decode_pb_sub(r, &v);
		mark = otlp_decode_obj_open(d, b);
		while ((rc = otlp_decode_pb_next(d, &sub, &f)) > 0) {
			struct otlp_decode_pbr kv;

			if (f.num != 1)
				continue;
			if (otlp_decode_pb_want(d, &sub, &f, OTLP_DECODE_PB_LEN,
			                        "KeyValueList.values"))
				return -1;
			kv = otlp_decode_pb_sub(&sub, &f);
			if (otlp_decode_pb_member(d, b, mark, &kv, depth + 1) < 0)
				return -1;
		}
		otlp_decode_obj_close(d, b, mark);
		return rc;
	}
}

/* Reads KeyValue <r>: its key into *<k,kn> and its value, if any, into
 * *<val> (<val->p> NULL when there is none); last on the wire wins. */
static int otlp_decode_pb_kv_scan(struct otlp_decode *d, struct otlp_decode_pbr r, const char **k,
                                  size_t *kn, struct otlp_decode_pbr *val)
{
	struct otlp_decode_pbf f;
	int rc;

	*k = "";
	*kn = 0;
	val->p = NULL;
	while ((rc = otlp_decode_pb_next(d, &r, &f)) > 0) {
		if (f.num == 1) {
			if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_LEN, "KeyValue.key"))
				return -1;
			*k = (const char *)f.p;
			*kn = f.len;
		} else if (f.num == 2) {
			if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_LEN, "KeyValue.value"))
				return -1;
			*val = otlp_decode_pb_sub(&r, &f);
		}
	}
	return rc;
}

/* Renders KeyValue <kv> as a member of the object in <b> opened at <mark>. */
static int otlp_decode_pb_member(struct otlp_decode *d, struct tbuf *b, int mark,
                                 const struct otlp_decode_pbr *kv, int depth)
{
	struct otlp_decode_pbr val;
	const char *k;
	size_t kn, undo;
	bool keep;

	if (otlp_decode_pb_kv_scan(d, *kv, &k, &kn, &val) < 0)
		return -1;
	keep = otlp_decode_key(d, b, mark, k, kn, &undo);
	if (!val.p)
		tbuf_lit(b, "null"); /* a KeyValue without a value: allowed, and empty */
	else if (otlp_decode_pb_any(d, b, &val, depth) < 0)
		return -1;
	if (!keep)
		b->len = undo;
	return 0;
}

/* ---- spans ---------------------------------------------------------------- */

/* Span.Event <r>: {"name":..,"timeUnixNano":"..","attributes":{..}}. */
static int otlp_decode_pb_event(struct otlp_decode *d, const struct otlp_decode_pbr *r)
{
	struct otlp_decode_pbr it = *r;
	struct otlp_decode_pbf f;
	const char *name = "";
	size_t name_len = 0;
	uint64_t ns = 0;
	bool attrs = false;
	int rc, mark;

	while ((rc = otlp_decode_pb_next(d, &it, &f)) > 0) {
		if (f.num == 1) {
			if (otlp_decode_pb_want(d, &it, &f, OTLP_DECODE_PB_I64,
			                        "Event.time_unix_nano"))
				return -1;
			ns = f.v;
		} else if (f.num == 2) {
			if (otlp_decode_pb_want(d, &it, &f, OTLP_DECODE_PB_LEN, "Event.name"))
				return -1;
			name = (const char *)f.p;
			name_len = f.len;
		} else if (f.num == 3) {
			if (otlp_decode_pb_want(d, &it, &f, OTLP_DECODE_PB_LEN, "Event.attributes"))
				return -1;
			attrs = true;
		}
	}
	if (rc < 0)
		return -1;
	jsonw_sep(&d->events);
	tbuf_lit(&d->events, "{\"name\":");
	jsonw_str(&d->events, name, name_len);
	tbuf_lit(&d->events, ",\"timeUnixNano\":");
	jsonw_qu64(&d->events, ns);
	if (attrs) {
		/* the first walk checked every field: here only attributes */
		tbuf_lit(&d->events, ",\"attributes\":");
		mark = otlp_decode_obj_open(d, &d->events);
		it = *r;
		while (otlp_decode_pb_next(d, &it, &f) > 0) {
			struct otlp_decode_pbr kv;

			if (f.num != 3)
				continue;
			kv = otlp_decode_pb_sub(&it, &f);
			if (otlp_decode_pb_member(d, &d->events, mark, &kv, 0) < 0)
				return -1;
		}
		otlp_decode_obj_close(d, &d->events, mark);
	}
	tbuf_byte(&d->events, '}');
	return 0;
}

/* Status <r>: the code (3); message (2) and the deprecated code (1) are
 * not read. */
static int otlp_decode_pb_status(struct otlp_decode *d, struct otlp_decode_pbr r)
{
	struct otlp_decode_pbf f;
	int rc;

	while ((rc = otlp_decode_pb_next(d, &r, &f)) > 0) {
		if (f.num != 3)
			continue;
		if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_VARINT, "Status.code"))
			return -1;
		d->span.status = f.v <= 2 ? (int)f.v : 0;
	}
	return rc;
}

/* Copies id field <f> into <id> (<cap> bytes); its real length goes to
 * *<len> for the checks in otlp_decode_span_end(). */
static void otlp_decode_pb_id(const struct otlp_decode_pbf *f, uint8_t *id, size_t cap, size_t *len)
{
	memcpy(id, f->p, f->len < cap ? f->len : cap);
	*len = f->len;
}

/* Span <r>: fills the record field by field, then hands it on. */
static int otlp_decode_pb_span(struct otlp_decode *d, struct otlp_decode_pbr r)
{
	struct otlp_span_in *s = &d->span;
	struct otlp_decode_pbr sub;
	struct otlp_decode_pbf f;
	int rc;

	otlp_decode_span_begin(d);
	while ((rc = otlp_decode_pb_next(d, &r, &f)) > 0) {
		switch (f.num) {
		case 1:
			if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_LEN, "Span.trace_id"))
				return -1;
			otlp_decode_pb_id(&f, s->trace_id, 16, &d->trace_len);
			break;
		case 2:
			if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_LEN, "Span.span_id"))
				return -1;
			otlp_decode_pb_id(&f, s->span_id, 8, &d->span_len);
			break;
		case 4:
			if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_LEN,
			                        "Span.parent_span_id"))
				return -1;
			otlp_decode_pb_id(&f, s->parent_id, 8, &d->parent_len);
			break;
		case 5:
			if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_LEN, "Span.name"))
				return -1;
			s->name = (const char *)f.p;
			s->name_len = f.len;
			break;
		case 6:
			if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_VARINT, "Span.kind"))
				return -1;
			s->kind = f.v <= 5 ? (int)f.v : 0;
			break;
		case 7:
		case 8:
			if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_I64, "Span time"))
				return -1;
			*(f.num == 7 ? &s->start_ns : &s->end_ns) = f.v;
			break;
		case 9:
			if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_LEN, "Span.attributes"))
				return -1;
			sub = otlp_decode_pb_sub(&r, &f);
			if (otlp_decode_pb_member(d, &d->attrs, d->attrs_mark, &sub, 0) < 0)
				return -1;
			break;
		case 10:
			if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_VARINT,
			                        "Span.dropped_attributes_count"))
				return -1;
			d->dropped_sent = (uint32_t)f.v; /* uint32 on the wire */
			break;
		case 11:
			if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_LEN, "Span.events"))
				return -1;
			sub = otlp_decode_pb_sub(&r, &f);
			if (otlp_decode_pb_event(d, &sub) < 0)
				return -1;
			break;
		case 15:
			if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_LEN, "Span.status"))
				return -1;
			if (otlp_decode_pb_status(d, otlp_decode_pb_sub(&r, &f)) < 0)
				return -1;
			break;
		default: /* trace_state, links, flags, dropped counts */
			break;
		}
	}
	return rc < 0 ? -1 : otlp_decode_span_end(d);
}

/* ScopeSpans <r>: its spans (2); the scope itself is not read. */
static int otlp_decode_pb_scope_spans(struct otlp_decode *d, struct otlp_decode_pbr r)
{
	struct otlp_decode_pbf f;
	int rc, i = 0;

	while ((rc = otlp_decode_pb_next(d, &r, &f)) > 0) {
		if (f.num != 2)
			continue;
		if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_LEN, "ScopeSpans.spans"))
			return -1;
		d->sp = i++;
		if ((rc = otlp_decode_pb_span(d, otlp_decode_pb_sub(&r, &f))))
			return rc;
		d->sp = -1;
	}
	return rc;
}

/* Resource <r>: checks its attributes, and takes the first string
 * service.name for the spans that follow. */
static int otlp_decode_pb_resource(struct otlp_decode *d, struct otlp_decode_pbr r)
{
	struct otlp_decode_pbr kv, val;
	struct otlp_decode_pbf f, v;
	const char *k;
	size_t kn;
	int rc, mark;

	otlp_decode_reset(d, &d->scratch);
	mark = otlp_decode_obj_open(d, &d->scratch);
	while ((rc = otlp_decode_pb_next(d, &r, &f)) > 0) {
		if (f.num != 1)
			continue;
		if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_LEN, "Resource.attributes"))
			return -1;
		kv = otlp_decode_pb_sub(&r, &f);
		if (otlp_decode_pb_member(d, &d->scratch, mark, &kv, 0) < 0)
			return -1;
		if (d->service || otlp_decode_pb_kv_scan(d, kv, &k, &kn, &val) < 0)
			continue;
		if (kn != 12 || memcmp(k, "service.name", 12) || !val.p)
			continue;
		if (otlp_decode_pb_any_scan(d, val, &v) == 0 && v.num == 1) {
			d->service = (const char *)v.p;
			d->service_len = v.len;
		}
	}
	otlp_decode_obj_close(d, &d->scratch, mark);
	return rc;
}

/* ResourceSpans <r>: the resource first, wherever it is on the wire, so
 * that every span knows its service; then the scopes. */
static int otlp_decode_pb_resource_spans(struct otlp_decode *d, struct otlp_decode_pbr r)
{
	struct otlp_decode_pbr it = r;
	struct otlp_decode_pbf f;
	int rc, i = 0;

	d->service = NULL;
	d->service_len = 0;
	while ((rc = otlp_decode_pb_next(d, &it, &f)) > 0) {
		if (f.num != 1)
			continue;
		if (otlp_decode_pb_want(d, &it, &f, OTLP_DECODE_PB_LEN, "ResourceSpans.resource") ||
		    otlp_decode_pb_resource(d, otlp_decode_pb_sub(&it, &f)) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	while ((rc = otlp_decode_pb_next(d, &r, &f)) > 0) {
		if (f.num != 2)
			continue;
		if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_LEN, "ResourceSpans.scope_spans"))
			return -1;
		d->ss = i++;
		if ((rc = otlp_decode_pb_scope_spans(d, otlp_decode_pb_sub(&r, &f))))
			return rc;
		d->ss = -1;
	}
	return rc;
}

/* The body, as otlp_decode_run() hands it to the walk. */
struct otlp_decode_pb_body {
	const uint8_t *p;
	size_t len;
};

/* The ExportTraceServiceRequest: repeated ResourceSpans resource_spans = 1. */
static int otlp_decode_pb_request(struct otlp_decode *d, const void *req)
{
	const struct otlp_decode_pb_body *body = req;
	struct otlp_decode_pbr r = {body->p, body->p + body->len, body->p};
	struct otlp_decode_pbf f;
	int rc, i = 0;

	while ((rc = otlp_decode_pb_next(d, &r, &f)) > 0) {
		if (f.num != 1)
			continue;
		if (otlp_decode_pb_want(d, &r, &f, OTLP_DECODE_PB_LEN, "resource_spans"))
			return -1;
		d->rs = i++;
		if ((rc = otlp_decode_pb_resource_spans(d, otlp_decode_pb_sub(&r, &f))))
			return rc;
		d->rs = -1;
	}
	return rc;
}

int otlp_decode_pb(const void *body, size_t len, otlp_span_cb cb, void *arg, size_t *skipped,
                   char *err, size_t errlen)
{
	/* the walk forms body + len only after otlp_decode_run() has
	 * checked <len> */
	struct otlp_decode_pb_body b = {body ? body : (const void *)"", body ? len : 0};

	return otlp_decode_run(otlp_decode_pb_request, &b, len, cb, arg, skipped, err, errlen);
}
