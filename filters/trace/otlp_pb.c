/* otlp_pb.c: OTLP/protobuf request bodies (encode.h): one
 * ExportTraceServiceRequest per batch, written on an exporter thread
 * straight into a tbuf.
 *
 * Two passes: the first sizes every message, the second reserves the body
 * once and writes each length prefix, shortest form, before its message,
 * with no bounds check per field. Reserving prefixes and closing the gaps
 * instead would move every span's bytes and still need sizes for the outer
 * messages. The first OTLP_PB_KEEP span sizes are kept on the stack for the
 * second pass; past that a span is sized again, so nothing is allocated.
 */
#include <assert.h>
#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "trace/encode.h"

/* A field's tag is the varint (number << 3 | wire type). All ours but the
 * Span's flags (16) are below 16, so they are written as one byte. */
#define OTLP_PB_VARINT         0
#define OTLP_PB_I64            1
#define OTLP_PB_LEN            2
#define OTLP_PB_I32            5
#define OTLP_PB_TAG(num, type) ((num) << 3 | OTLP_PB_##type)

enum otlp_pb_tag {
	OTLP_PB_REQ_RESOURCE_SPANS = OTLP_PB_TAG(1, LEN), /* ExportTraceServiceRequest */
	OTLP_PB_RS_RESOURCE = OTLP_PB_TAG(1, LEN),        /* ResourceSpans */
	OTLP_PB_RS_SCOPE_SPANS = OTLP_PB_TAG(2, LEN),
	OTLP_PB_RES_ATTRIBUTES = OTLP_PB_TAG(1, LEN), /* Resource */
	OTLP_PB_SS_SCOPE = OTLP_PB_TAG(1, LEN),       /* ScopeSpans */
	OTLP_PB_SS_SPANS = OTLP_PB_TAG(2, LEN),
	OTLP_PB_SCOPE_NAME = OTLP_PB_TAG(1, LEN), /* InstrumentationScope */
	OTLP_PB_SCOPE_VERSION = OTLP_PB_TAG(2, LEN),
	OTLP_PB_KV_KEY = OTLP_PB_TAG(1, LEN), /* KeyValue */
	OTLP_PB_KV_VALUE = OTLP_PB_TAG(2, LEN),
	OTLP_PB_ANY_STRING = OTLP_PB_TAG(1, LEN), /* AnyValue */
	OTLP_PB_ANY_INT = OTLP_PB_TAG(3, VARINT),
	OTLP_PB_SPAN_TRACE_ID = OTLP_PB_TAG(1, LEN), /* Span */
	OTLP_PB_SPAN_SPAN_ID = OTLP_PB_TAG(2, LEN),
	OTLP_PB_SPAN_TRACE_STATE = OTLP_PB_TAG(3, LEN),
	OTLP_PB_SPAN_PARENT_ID = OTLP_PB_TAG(4, LEN),
	OTLP_PB_SPAN_NAME = OTLP_PB_TAG(5, LEN),
	OTLP_PB_SPAN_KIND = OTLP_PB_TAG(6, VARINT),
	OTLP_PB_SPAN_START = OTLP_PB_TAG(7, I64),
	OTLP_PB_SPAN_END = OTLP_PB_TAG(8, I64),
	OTLP_PB_SPAN_ATTRIBUTES = OTLP_PB_TAG(9, LEN),
	OTLP_PB_SPAN_DROPPED_ATTRS = OTLP_PB_TAG(10, VARINT),
	OTLP_PB_SPAN_EVENTS = OTLP_PB_TAG(11, LEN),
	OTLP_PB_SPAN_LINKS = OTLP_PB_TAG(13, LEN),
	OTLP_PB_SPAN_STATUS = OTLP_PB_TAG(15, LEN),
	OTLP_PB_SPAN_FLAGS = OTLP_PB_TAG(16, I32), /* two bytes as a varint */
	OTLP_PB_EV_TIME = OTLP_PB_TAG(1, I64),     /* Span.Event */
	OTLP_PB_EV_NAME = OTLP_PB_TAG(2, LEN),
	OTLP_PB_LINK_TRACE_ID = OTLP_PB_TAG(1, LEN), /* Span.Link */
	OTLP_PB_LINK_SPAN_ID = OTLP_PB_TAG(2, LEN),
	OTLP_PB_LINK_FLAGS = OTLP_PB_TAG(6, I32),
	OTLP_PB_STATUS_CODE = OTLP_PB_TAG(3, VARINT), /* Status */
};

/* SpanFlags: bits 0-7 are the W3C trace flags; bit 8 says bit 9 is known,
 * bit 9 says the parent (or a link's target) lives in another process. */
#define OTLP_PB_F_HAS_IS_REMOTE 0x100u
#define OTLP_PB_F_IS_REMOTE     0x200u

#define OTLP_PB_RES_MAX 6 /* resource attributes */

/* Spans whose sizes the first pass keeps for the second: a whole batch at
 * the default batch_size (512), in 8 KiB of stack. */
#define OTLP_PB_KEEP 1024

/* What every span of a call shares: name lengths measured once a call
 * rather than once a field. */
struct otlp_pb_names {
	uint8_t key_len[SPAN_A_N];
	uint8_t ev_len[SPAN_EV_N];
};

/* A resource attribute: its key and its string value. */
struct otlp_pb_kv {
	const char *key, *val;
	size_t key_len, val_len;
	size_t out_len; /* <val> as written, once made UTF-8 */
	bool ascii;
};

/* ---- wire primitives ------------------------------------------------- */

/* Bytes of <v> as a varint, 7 bits a byte: (bits * 9 + 64) / 64 equals
 * ceil(bits / 7) for 1 to 64 bits, with a shift instead of a division. */
static inline size_t otlp_pb_varint_len(uint64_t v)
{
	size_t bits;

	if (v < 0x80) /* most lengths, tags and numbers here */
		return 1;
	bits = 64 - (size_t)__builtin_clzll(v);
	return (bits * 9 + 64) >> 6;
}

/* Size of a length-delimited field (one-byte tag) around <n> bytes. */
static inline size_t otlp_pb_field_len(size_t n)
{
	return 1 + otlp_pb_varint_len(n) + n;
}

static inline uint8_t *otlp_pb_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Fixed-width fields are little-endian, whatever the host. */
static inline uint8_t *otlp_pb_fixed32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
	return p + 4;
}

static inline uint8_t *otlp_pb_fixed64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
	return p + 8;
}

/* A length-delimited field's tag and length; its <n> bytes follow. */
static inline uint8_t *otlp_pb_head(uint8_t *p, uint8_t tag, size_t n)
{
	*p++ = tag;
	return otlp_pb_varint(p, n);
}

static inline uint8_t *otlp_pb_bytes(uint8_t *p, uint8_t tag, const void *v, size_t n)
{
	p = otlp_pb_head(p, tag, n);
	memcpy(p, v, n);
	return p + n;
}

/* ---- text: protobuf strings must be UTF-8 ------------------------------
 * A receiver rejects the whole request over one bad byte, and ours come
 * from headers (obs-text) or were cut mid-character by the span's cap, so
 * each byte that is not part of a well-formed sequence becomes U+FFFD. Span
 * strings are nearly always ASCII: one scan of the span's string area says
 * so, and then lengths are as stored and copies plain memcpy. */

static bool otlp_pb_is_ascii(const char *s, size_t n)
{
	uint64_t acc = 0, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		acc |= w;
	}
	for (; i < n; i++)
		acc |= (uint8_t)s[i];
	return !(acc & 0x8080808080808080ull);
}

/* Length of the well-formed UTF-8 sequence at <p> (<n> bytes left), or 0.
 * The second-byte ranges leave out overlong forms, surrogates and code
 * points beyond U+10FFFF (Unicode's table of well-formed sequences). */
static size_t otlp_pb_utf8_seq(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	size_t len;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
	    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
		return 0;
	return len;
}

/* Bytes that <s,n> takes once made UTF-8. */
static size_t otlp_pb_utf8_len(const char *s, size_t n)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t i = 0, out = 0, k;

	while (i < n) {
		k = otlp_pb_utf8_seq(u + i, n - i);
		out += k ? k : 3;
		i += k ? k : 1;
	}
	return out;
}

/* Writes <s,n> made UTF-8: otlp_pb_utf8_len(<s>, <n>) bytes. */
static uint8_t *otlp_pb_utf8_copy(uint8_t *p, const char *s, size_t n)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t i = 0, k;

	while (i < n) {
		k = otlp_pb_utf8_seq(u + i, n - i);
		if (k) {
			memcpy(p, u + i, k);
			p += k;
			i += k;
		} else {
			*p++ = 0xef; /* U+FFFD */
			*p++ = 0xbf;
			*p++ = 0xbd;
			i++;
		}
	}
	return p;
}

/* The same, inline for text already known to be ASCII (<ascii>). */
static inline size_t otlp_pb_text_len(const char *s, size_t n, bool ascii)
{
	return ascii ? n : otlp_pb_utf8_len(s, n);
}

static inline uint8_t *otlp_pb_text(uint8_t *p, const char *s, size_t n, bool ascii)
{
	if (!ascii)
		return otlp_pb_utf8_copy(p, s, n);
	memcpy(p, s, n);
	return p + n;
}

/* ---- messages: each size function has its writer right below ---------- */

/* A KeyValue with a string value, as in the resource. */
static size_t otlp_pb_kv_len(const struct otlp_pb_kv *kv)
{
	return otlp_pb_field_len(kv->key_len) + otlp_pb_field_len(otlp_pb_field_len(kv->out_len));
}

static uint8_t *otlp_pb_kv(uint8_t *p, uint8_t tag, const struct otlp_pb_kv *kv)
{
	p = otlp_pb_head(p, tag, otlp_pb_kv_len(kv));
	p = otlp_pb_bytes(p, OTLP_PB_KV_KEY, kv->key, kv->key_len);
	p = otlp_pb_head(p, OTLP_PB_KV_VALUE, otlp_pb_field_len(kv->out_len));
	p = otlp_pb_head(p, OTLP_PB_ANY_STRING, kv->out_len);
	return otlp_pb_text(p, kv->val, kv->val_len, kv->ascii);
}

/* A span attribute's KeyValue; its AnyValue's size goes to *<any> and a
 * string value's to *<str>. The value is always written, even "" or 0:
 * AnyValue is a oneof, where an unset value means "no value". */
static inline size_t otlp_pb_attr_len(const struct otlp_pb_names *nm, const struct span *s,
                                      const struct span_attr *a, bool ascii, size_t *any,
                                      size_t *str)
{
	if (a->type == SPAN_T_INT) {
		*any = 1 + otlp_pb_varint_len((uint64_t)a->i);
	} else {
		*str = otlp_pb_text_len(span_str(s, a->off), a->len, ascii);
		*any = otlp_pb_field_len(*str);
	}
	return otlp_pb_field_len(nm->key_len[a->key]) + otlp_pb_field_len(*any);
}

static uint8_t *otlp_pb_attr(uint8_t *p, const struct otlp_pb_names *nm, const struct span *s,
                             const struct span_attr *a, bool ascii)
{
	size_t any, str = 0;

	p = otlp_pb_head(p, OTLP_PB_SPAN_ATTRIBUTES, otlp_pb_attr_len(nm, s, a, ascii, &any, &str));
	p = otlp_pb_bytes(p, OTLP_PB_KV_KEY, span_attr_name[a->key], nm->key_len[a->key]);
	p = otlp_pb_head(p, OTLP_PB_KV_VALUE, any);
	if (a->type == SPAN_T_INT) {
		*p++ = OTLP_PB_ANY_INT;
		return otlp_pb_varint(p, (uint64_t)a->i);
	}
	p = otlp_pb_head(p, OTLP_PB_ANY_STRING, str);
	return otlp_pb_text(p, span_str(s, a->off), a->len, ascii);
}

static size_t otlp_pb_event_len(const struct otlp_pb_names *nm, int ev)
{
	return 1 + 8 + otlp_pb_field_len(nm->ev_len[ev]);
}

static uint8_t *otlp_pb_event(uint8_t *p, const struct otlp_pb_names *nm, int ev, uint64_t ns)
{
	p = otlp_pb_head(p, OTLP_PB_SPAN_EVENTS, otlp_pb_event_len(nm, ev));
	*p++ = OTLP_PB_EV_TIME;
	p = otlp_pb_fixed64(p, ns);
	return otlp_pb_bytes(p, OTLP_PB_EV_NAME, span_ev_name[ev], nm->ev_len[ev]);
}

/* Span.Link: trace_id (18 bytes), span_id (10), flags (5). */
#define OTLP_PB_LINK_LEN (18 + 10 + 5)

/* Status: the code alone (enum span_status is OTLP's StatusCode). */
static size_t otlp_pb_status_len(const struct span *s)
{
	return 1 + otlp_pb_varint_len(s->status);
}

/* The Span message's size, without its own tag and length. */
static size_t otlp_pb_span_len(const struct otlp_pb_names *nm, const struct span *s, bool ascii)
{
	size_t n = otlp_pb_field_len(16) + otlp_pb_field_len(8), any, str;

	if (s->ts_len)
		n += otlp_pb_field_len(otlp_pb_text_len(span_str(s, s->ts_off), s->ts_len, ascii));
	if (span_has_parent(s))
		n += otlp_pb_field_len(8);
	if (s->name_len)
		n += otlp_pb_field_len(
		        otlp_pb_text_len(span_str(s, s->name_off), s->name_len, ascii));
	if (s->kind)
		n += 1 + otlp_pb_varint_len(s->kind);
	n += (s->start_ns ? 1 + 8 : 0) + (s->end_ns ? 1 + 8 : 0);
	for (int i = 0; i < s->n_attrs; i++)
		n += otlp_pb_field_len(otlp_pb_attr_len(nm, s, &s->attrs[i], ascii, &any, &str));
	if (s->dropped_attrs)
		n += 1 + otlp_pb_varint_len(s->dropped_attrs);
	for (int i = 0; i < SPAN_EV_N; i++)
		if (s->ev_ns[i])
			n += otlp_pb_field_len(otlp_pb_event_len(nm, i));
	if (s->has_link)
		n += otlp_pb_field_len(OTLP_PB_LINK_LEN);
	if (s->status != SPAN_ST_UNSET)
		n += otlp_pb_field_len(otlp_pb_status_len(s));
	return n + 2 + 4; /* flags, with its two-byte tag */
}

/* Writes the Span message's fields as protobuf's own serializers would, so
 * a body compares byte for byte with theirs: in field-number order, and
 * without the fields that hold their default (zero, empty) value. */
static uint8_t *otlp_pb_span(uint8_t *p, const struct otlp_pb_names *nm, const struct span *s,
                             bool ascii)
{
	bool parent = span_has_parent(s);
	uint32_t flags = s->flags | OTLP_PB_F_HAS_IS_REMOTE;
	size_t n;

	/* a SERVER span's parent is the caller's span; a CLIENT span's is our
	 * own SERVER span */
	if (parent && s->kind == SPAN_KIND_SERVER)
		flags |= OTLP_PB_F_IS_REMOTE;

	p = otlp_pb_bytes(p, OTLP_PB_SPAN_TRACE_ID, s->trace_id, 16);
	p = otlp_pb_bytes(p, OTLP_PB_SPAN_SPAN_ID, s->span_id, 8);
	if (s->ts_len) {
		n = otlp_pb_text_len(span_str(s, s->ts_off), s->ts_len, ascii);
		p = otlp_pb_head(p, OTLP_PB_SPAN_TRACE_STATE, n);
		p = otlp_pb_text(p, span_str(s, s->ts_off), s->ts_len, ascii);
	}
	if (parent)
		p = otlp_pb_bytes(p, OTLP_PB_SPAN_PARENT_ID, s->parent_id, 8);
	if (s->name_len) {
		n = otlp_pb_text_len(span_str(s, s->name_off), s->name_len, ascii);
		p = otlp_pb_head(p, OTLP_PB_SPAN_NAME, n);
		p = otlp_pb_text(p, span_str(s, s->name_off), s->name_len, ascii);
	}
	if (s->kind) {
		*p++ = OTLP_PB_SPAN_KIND;
		p = otlp_pb_varint(p, s->kind);
	}
	if (s->start_ns) {
		*p++ = OTLP_PB_SPAN_START;
		p = otlp_pb_fixed64(p, s->start_ns);
	}
	if (s->end_ns) {
		*p++ = OTLP_PB_SPAN_END;
		p = otlp_pb_fixed64(p, s->end_ns);
	}
	for (int i = 0; i < s->n_attrs; i++)
		p = otlp_pb_attr(p, nm, s, &s->attrs[i], ascii);
	if (s->dropped_attrs) {
		*p++ = OTLP_PB_SPAN_DROPPED_ATTRS;
		p = otlp_pb_varint(p, s->dropped_attrs);
	}
	for (int i = 0; i < SPAN_EV_N; i++)
		if (s->ev_ns[i])
			p = otlp_pb_event(p, nm, i, s->ev_ns[i]);
	if (s->has_link) {
		/* the link points at the caller's context: remote */
		p = otlp_pb_head(p, OTLP_PB_SPAN_LINKS, OTLP_PB_LINK_LEN);
		p = otlp_pb_bytes(p, OTLP_PB_LINK_TRACE_ID, s->link_trace_id, 16);
		p = otlp_pb_bytes(p, OTLP_PB_LINK_SPAN_ID, s->link_span_id, 8);
		*p++ = OTLP_PB_LINK_FLAGS;
		p = otlp_pb_fixed32(p,
		                    s->link_flags | OTLP_PB_F_HAS_IS_REMOTE | OTLP_PB_F_IS_REMOTE);
	}
	if (s->status != SPAN_ST_UNSET) {
		p = otlp_pb_head(p, OTLP_PB_SPAN_STATUS, otlp_pb_status_len(s));
		*p++ = OTLP_PB_STATUS_CODE;
		p = otlp_pb_varint(p, s->status);
	}
	p = otlp_pb_varint(p, OTLP_PB_SPAN_FLAGS);
	return otlp_pb_fixed32(p, flags);
}

/* What the first pass learns about a span, for the second. */
struct otlp_pb_sized {
	uint32_t len; /* the Span message's size */
	bool ascii;   /* its strings need no UTF-8 check */
};

static struct otlp_pb_sized otlp_pb_size(const struct otlp_pb_names *nm, const struct span *s)
{
	bool ascii = otlp_pb_is_ascii(s->str, s->str_len);

	return (struct otlp_pb_sized){(uint32_t)otlp_pb_span_len(nm, s, ascii), ascii};
}

/* The resource's attributes into <kv>; returns how many. */
static int otlp_pb_resource(const struct export_resource *res, struct otlp_pb_kv *kv)
{
	const char *pairs[OTLP_PB_RES_MAX][2] = {
	        {"service.name", res->service_name}, {"service.version", res->service_version},
	        {"host.name", res->host_name},       {"telemetry.sdk.name", "tracegate"},
	        {"telemetry.sdk.language", "c"},     {"telemetry.sdk.version", TG_VERSION},
	};
	int n = 0;

	for (int i = 0; i < OTLP_PB_RES_MAX; i++) {
		struct otlp_pb_kv *k = &kv[n];

		if (!pairs[i][1])
			continue;
		k->key = pairs[i][0];
		k->key_len = strlen(k->key);
		k->val = pairs[i][1];
		k->val_len = strlen(k->val);
		k->ascii = otlp_pb_is_ascii(k->val, k->val_len);
		k->out_len = otlp_pb_text_len(k->val, k->val_len, k->ascii);
		n++;
	}
	return n;
}

int otlp_pb_encode(struct tbuf *b, const struct export_resource *res,
                   const struct span *const *spans, int n)
{
	static const char scope[] = "tracegate", version[] = TG_VERSION;
	struct otlp_pb_kv kv[OTLP_PB_RES_MAX];
	struct otlp_pb_names nm;
	struct otlp_pb_sized kept[OTLP_PB_KEEP], sz;
	size_t res_len = 0, scope_len, ss_len, rs_len, total;
	uint8_t *p;
	int n_kv;

	/* no spans: nothing to say, and an empty body is an empty request */
	if (n <= 0)
		return b->failed ? -1 : 0;
	for (int i = 0; i < SPAN_A_N; i++)
		nm.key_len[i] = (uint8_t)strlen(span_attr_name[i]);
	for (int i = 0; i < SPAN_EV_N; i++)
		nm.ev_len[i] = (uint8_t)strlen(span_ev_name[i]);

	n_kv = otlp_pb_resource(res, kv);
	for (int i = 0; i < n_kv; i++)
		res_len += otlp_pb_field_len(otlp_pb_kv_len(&kv[i]));
	scope_len = otlp_pb_field_len(sizeof(scope) - 1) + otlp_pb_field_len(sizeof(version) - 1);
	ss_len = otlp_pb_field_len(scope_len);
	for (int i = 0; i < n; i++) {
		sz = otlp_pb_size(&nm, spans[i]);
		if (i < OTLP_PB_KEEP)
			kept[i] = sz;
		ss_len += otlp_pb_field_len(sz.len);
	}
	rs_len = otlp_pb_field_len(res_len) + otlp_pb_field_len(ss_len);
	total = otlp_pb_field_len(rs_len);
	if (!tbuf_reserve(b, total))
		return -1;

	p = (uint8_t *)b->p + b->len;
	p = otlp_pb_head(p, OTLP_PB_REQ_RESOURCE_SPANS, rs_len);
	p = otlp_pb_head(p, OTLP_PB_RS_RESOURCE, res_len);
	for (int i = 0; i < n_kv; i++)
		p = otlp_pb_kv(p, OTLP_PB_RES_ATTRIBUTES, &kv[i]);
	p = otlp_pb_head(p, OTLP_PB_RS_SCOPE_SPANS, ss_len);
	p = otlp_pb_head(p, OTLP_PB_SS_SCOPE, scope_len);
	p = otlp_pb_bytes(p, OTLP_PB_SCOPE_NAME, scope, sizeof(scope) - 1);
	p = otlp_pb_bytes(p, OTLP_PB_SCOPE_VERSION, version, sizeof(version) - 1);
	for (int i = 0; i < n; i++) {
		sz = i < OTLP_PB_KEEP ? kept[i] : otlp_pb_size(&nm, spans[i]);
		p = otlp_pb_head(p, OTLP_PB_SS_SPANS, sz.len);
		p = otlp_pb_span(p, &nm, spans[i], sz.ascii);
	}
	b->len += total;
	/* the sizes and the writers must agree, or we wrote past the room */
	assert(p == (uint8_t *)b->p + b->len);
	return b->failed ? -1 : 0;
}
