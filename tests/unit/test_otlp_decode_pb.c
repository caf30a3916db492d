/* test_otlp_decode_pb.c: the protobuf decoder (otlp_decode_pb.c), fed what
 * our encoder writes, what protoc writes from a text-format request with
 * every kind of value, and bodies broken every way we could think of: cut
 * at every byte, bad varints, lengths past the end, groups, wrong wire
 * types at every level, values nested too deep. */
#include "otlp_decode_testlib.h"

Test(otlp_decode_pb, round_trip)
{
	static struct span srv, cli;
	const struct span *list[] = {&srv, &cli};
	static struct got g;
	struct tbuf b = {0};
	char err[256];
	size_t sk;

	server_span(&srv);
	client_span(&cli);
	cr_assert_eq(otlp_pb_encode(&b, &full_res, list, 2), 0);
	cr_assert_eq(decode(otlp_decode_pb, b.p, b.len, &g, &sk, err), 2, "%s", err);
	cr_expect_eq(sk, 0);
	cr_expect_str_eq(err, "");
	expect_server(&g.sp[0]);
	expect_client(&g.sp[1]);
	got_free(&g);
	tbuf_free(&b);
}

Test(otlp_decode_pb, protoc_every_value_kind)
{
	static struct got g;
	char err[256];
	size_t len, sk;
	uint8_t *body = protoc_encode(protoc_request, &len);

	cr_assert_eq(decode(otlp_decode_pb, body, len, &g, &sk, err), 4, "%s", err);
	cr_expect_eq(sk, 0);
	expect_protoc_spans(&g);
	got_free(&g);
	free(body);
}

/* ---- a protobuf builder for the broken bodies -------------------------------- */

struct pbb {
	uint8_t b[8192];
	size_t n;
};

static void pbb_raw(struct pbb *o, const void *p, size_t n)
{
	cr_assert_leq(o->n + n, sizeof(o->b));
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void pbb_varint(struct pbb *o, uint64_t v)
{
	uint8_t c;

	do {
		c = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			c |= 0x80;
		pbb_raw(o, &c, 1);
	} while (v);
}

/* Field <num> of wire type <wt>; a LEN field's bytes are <p,n>. */
static void pbb_len(struct pbb *o, unsigned num, const void *p, size_t n)
{
	pbb_varint(o, num << 3 | 2);
	pbb_varint(o, n);
	pbb_raw(o, p, n);
}

static void pbb_int(struct pbb *o, unsigned num, uint64_t v)
{
	pbb_varint(o, num << 3);
	pbb_varint(o, v);
}

static void pbb_fixed64(struct pbb *o, unsigned num, uint64_t v)
{
	pbb_varint(o, num << 3 | 1);
	pbb_raw(o, &v, 8); /* little-endian host */
}

static void pbb_msg(struct pbb *o, unsigned num, const struct pbb *m)
{
	pbb_len(o, num, m->b, m->n);
}

/* A request holding the one Span whose fields are <span>. */
static void pbb_request(struct pbb *o, const struct pbb *span)
{
	static struct pbb ss, rs;

	ss.n = rs.n = o->n = 0;
	pbb_msg(&ss, 2, span);
	pbb_msg(&rs, 2, &ss);
	pbb_msg(o, 1, &rs);
}

/* A valid span's fields: ids, name, kind. */
static void pbb_span_ok(struct pbb *s)
{
	s->n = 0;
	pbb_len(s, 1, "TTTTTTTTTTTTTTTT", 16);
	pbb_len(s, 2, "SSSSSSSS", 8);
	pbb_len(s, 5, "op", 2);
	pbb_int(s, 6, 2);
}

/* ---- ids ------------------------------------------------------------------- */

Test(otlp_decode_pb, invalid_ids_skip_the_span)
{
	static const struct {
		const char *trace;
		size_t tn;
		const char *span;
		size_t sn;
		const char *parent;
		size_t pn;
		const char *why; /* NULL: delivered */
	} cases[] = {
	        {"TTTTTTTTTTTTTTTT", 16, "SSSSSSSS", 8, NULL, 0, NULL},
	        {"TTTTTTTTTTTTTTT", 15, "SSSSSSSS", 8, NULL, 0, "trace id is 15 bytes, want 16"},
	        {"TTTTTTTTTTTTTTTTT", 17, "SSSSSSSS", 8, NULL, 0, "trace id is 17 bytes, want 16"},
	        {NULL, 0, "SSSSSSSS", 8, NULL, 0, "trace id is missing"},
	        {"", 0, "SSSSSSSS", 8, NULL, 0, "trace id is missing"},
	        {"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16, "SSSSSSSS", 8, NULL, 0,
	         "trace id is all zero"},
	        {"TTTTTTTTTTTTTTTT", 16, "\0\0\0\0\0\0\0\0", 8, NULL, 0, "span id is all zero"},
	        {"TTTTTTTTTTTTTTTT", 16, "SSSS", 4, NULL, 0, "span id is 4 bytes, want 8"},
	        {"TTTTTTTTTTTTTTTT", 16, NULL, 0, NULL, 0, "span id is missing"},
	        {"TTTTTTTTTTTTTTTT", 16, "SSSSSSSS", 8, "PPPP", 4,
	         "parent span id is 4 bytes, want 8"},
	        /* an empty or all-zero parent: a root span */
	        {"TTTTTTTTTTTTTTTT", 16, "SSSSSSSS", 8, "", 0, NULL},
	        {"TTTTTTTTTTTTTTTT", 16, "SSSSSSSS", 8, "\0\0\0\0\0\0\0\0", 8, NULL},
	};
	static struct pbb span, req, two;
	static struct got g;
	char err[256];
	size_t sk;

	for (size_t i = 0; i < N_OF(cases); i++) {
		span.n = 0;
		if (cases[i].trace)
			pbb_len(&span, 1, cases[i].trace, cases[i].tn);
		if (cases[i].span)
			pbb_len(&span, 2, cases[i].span, cases[i].sn);
		if (cases[i].parent)
			pbb_len(&span, 4, cases[i].parent, cases[i].pn);
		pbb_request(&req, &span);
		/* the bad span, then a good one in another request: skipping
		 * one span does not lose the next */
		two.n = 0;
		pbb_raw(&two, req.b, req.n);
		pbb_span_ok(&span);
		pbb_request(&req, &span);
		pbb_raw(&two, req.b, req.n);
		if (!cases[i].why) {
			cr_expect_eq(decode(otlp_decode_pb, two.b, two.n, &g, &sk, err), 2,
			             "case %zu: %s", i, err);
			cr_expect_eq(sk, 0);
			cr_expect_str_eq(err, "");
			cr_expect_not(g.sp[0].s.has_parent, "case %zu", i);
			cr_expect_eq(memcmp(g.sp[0].s.parent_id, "\0\0\0\0\0\0\0\0", 8), 0);
			continue;
		}
		cr_expect_eq(decode(otlp_decode_pb, two.b, two.n, &g, &sk, err), 1, "case %zu: %s",
		             i, err);
		cr_expect_eq(sk, 1, "case %zu", i);
		cr_expect_not_null(strstr(err, cases[i].why), "case %zu: %s", i, err);
		cr_expect_not_null(strstr(err, "resourceSpans[0].scopeSpans[0].spans[0]: "),
		                   "case %zu: %s", i, err);
		cr_expect_eq(memcmp(g.sp[0].s.trace_id, "TTTTTTTTTTTTTTTT", 16), 0);
	}
	got_free(&g);
}

/* ---- broken protobuf ---------------------------------------------------------- */

Test(otlp_decode_pb, cut_at_every_byte)
{
	static struct span srv, cli;
	const struct span *list[] = {&srv, &cli};
	struct tbuf b = {0};
	size_t len;
	uint8_t *body;

	server_span(&srv);
	client_span(&cli);
	cr_assert_eq(otlp_pb_encode(&b, &full_res, list, 2), 0);
	cut_everywhere(otlp_decode_pb, (const uint8_t *)b.p, b.len, 2);
	tbuf_free(&b);
	body = protoc_encode(protoc_request, &len);
	cut_everywhere(otlp_decode_pb, body, len, 4);
	free(body);
}

/* Whole bodies that are not protobuf, or not OTLP's. */
Test(otlp_decode_pb, malformed)
{
	static const struct {
		const char *body;
		size_t len;
		const char *why; /* NULL: accepted, no span */
	} cases[] = {
#define C(lit, why) {lit, sizeof(lit) - 1, why}
	        C("", NULL),
	        C("\x0a", "varint cut off"),
	        C("\x0a\x80", "varint cut off"),
	        C("\x0a\x05\x00", "runs past the end"),
	        C("\x0a\xff\xff\xff\xff\x0f", "runs past the end"),
	        /* unknown fields of every wire type are skipped */
	        C("\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", NULL),
	        C("\x19\x01\x02\x03\x04\x05\x06\x07\x08\x25\x01\x02\x03\x04\x2a\x01\x0b", NULL),
	        /* ten bytes at most, and the tenth holds one bit */
	        C("\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", "varint longer than 10 bytes"),
	        C("\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81\x00",
	          "varint longer than 10 bytes"),
	        C("\x10\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00",
	          "varint longer than 10 bytes"),
	        C("\x19\x01\x02\x03", "runs past the end"),
	        C("\x25\x01\x02\x03", "runs past the end"),
	        /* groups, reserved wire types, field 0, field numbers too big */
	        C("\x0b\x0c", "wire type 3"),
	        C("\x13", "wire type 3"),
	        C("\x0c", "wire type 4"),
	        C("\x0e", "wire type 6"),
	        C("\x0f", "wire type 7"),
	        C("\x00\x00", "field number 0"),
	        C("\x02\x00", "field number 0"),
	        C("\xf8\xff\xff\xff\x0f\x00", NULL), /* the largest field number */
	        C("\xf8\xff\xff\xff\x1f\x00", "field number 1073741823 out of range"),
	        C("\xf8\xff\xff\xff\xff\x01\x00", "out of range"),
	        /* resource_spans must be a message */
	        C("\x08\x01", "resource_spans (field 1) has wire type 0, want 2"),
	        /* an empty ResourceSpans, ScopeSpans: no span */
	        C("\x0a\x00", NULL),
	        C("\x0a\x02\x12\x00", NULL),
	        /* a length inside that passes its parent's end */
	        C("\x0a\x02\x12\x05\x12\x03\x0a\x01\x00", "runs past the end"),
	        /* an empty Span: no ids, skipped, not refused */
	        C("\x0a\x04\x12\x02\x12\x00", NULL),
#undef C
	};
	static struct got g;
	char err[256];
	int rc;

	for (size_t i = 0; i < N_OF(cases); i++) {
		rc = decode(otlp_decode_pb, cases[i].body, cases[i].len, &g, NULL, err);
		if (cases[i].why) {
			cr_expect_eq(rc, -1, "case %zu", i);
			cr_expect_not_null(strstr(err, cases[i].why), "case %zu: %s", i, err);
			cr_expect_not_null(strstr(err, "protobuf: byte "), "case %zu: %s", i, err);
		} else {
			cr_expect_eq(rc, 0, "case %zu: %s", i, err);
		}
	}
	got_free(&g);
}

/* A known field with another wire type, at every level of a span. */
Test(otlp_decode_pb, wrong_wire_types)
{
	static struct pbb span, req, inner, kv, any;
	static struct got g;
	char err[256];

	static const struct {
		unsigned num, wt;
	} any_bad[] = {{1, 0}, {2, 2}, {3, 1}, {4, 0}, {5, 0}, {6, 5}, {7, 0}};

	/* each line: the valid span plus one bad field */
#define BAD(stmt, want)                                                                            \
	do {                                                                                       \
		pbb_span_ok(&span);                                                                \
		stmt;                                                                              \
		pbb_request(&req, &span);                                                          \
		cr_expect_eq(decode(otlp_decode_pb, req.b, req.n, &g, NULL, err), -1, "%s", want); \
		cr_expect_not_null(strstr(err, want), "want %s: %s", want, err);                   \
	} while (0)

	BAD(pbb_int(&span, 1, 7), "Span.trace_id (field 1) has wire type 0, want 2");
	BAD(pbb_int(&span, 2, 7), "Span.span_id (field 2) has wire type 0, want 2");
	BAD(pbb_int(&span, 4, 7), "Span.parent_span_id (field 4) has wire type 0");
	BAD(pbb_int(&span, 5, 7), "Span.name (field 5) has wire type 0");
	BAD(pbb_len(&span, 6, "x", 1), "Span.kind (field 6) has wire type 2, want 0");
	BAD(pbb_int(&span, 7, 7), "Span time (field 7) has wire type 0, want 1");
	BAD(pbb_len(&span, 8, "12345678", 8), "Span time (field 8) has wire type 2, want 1");
	BAD(pbb_int(&span, 9, 7), "Span.attributes (field 9) has wire type 0");
	BAD(pbb_len(&span, 10, "", 0), "Span.dropped_attributes_count (field 10)");
	BAD(pbb_fixed64(&span, 11, 7), "Span.events (field 11) has wire type 1");
	BAD(pbb_int(&span, 15, 7), "Span.status (field 15) has wire type 0");
	/* inside the span's messages */
	inner.n = 0;
	pbb_len(&inner, 3, "", 0);
	BAD(pbb_msg(&span, 15, &inner), "Status.code (field 3) has wire type 2");
	inner.n = 0;
	pbb_int(&inner, 1, 5);
	BAD(pbb_msg(&span, 11, &inner), "Event.time_unix_nano (field 1) has wire type 0");
	inner.n = 0;
	pbb_int(&inner, 2, 5);
	BAD(pbb_msg(&span, 11, &inner), "Event.name (field 2) has wire type 0");
	inner.n = 0;
	pbb_int(&inner, 3, 5);
	BAD(pbb_msg(&span, 11, &inner), "Event.attributes (field 3) has wire type 0");
	kv.n = 0;
	pbb_int(&kv, 1, 5);
	BAD(pbb_msg(&span, 9, &kv), "KeyValue.key (field 1) has wire type 0");
	kv.n = 0;
	pbb_int(&kv, 2, 5);
	BAD(pbb_msg(&span, 9, &kv), "KeyValue.value (field 2) has wire type 0");
	for (size_t i = 0; i < N_OF(any_bad); i++) {
		any.n = 0;
		pbb_varint(&any, any_bad[i].num << 3 | any_bad[i].wt);
		pbb_raw(&any, "\x00\x00\x00\x00\x00\x00\x00\x00",
		        any_bad[i].wt == 1   ? 8
		        : any_bad[i].wt == 5 ? 4
		                             : 1);
		kv.n = 0;
		pbb_len(&kv, 1, "k", 1);
		pbb_msg(&kv, 2, &any);
		BAD(pbb_msg(&span, 9, &kv), "AnyValue member");
	}
	inner.n = 0;
	pbb_int(&inner, 1, 5);
	any.n = 0;
	pbb_msg(&any, 5, &inner);
	kv.n = 0;
	pbb_msg(&kv, 2, &any);
	BAD(pbb_msg(&span, 9, &kv), "ArrayValue.values (field 1) has wire type 0");
	any.n = 0;
	pbb_msg(&any, 6, &inner);
	kv.n = 0;
	pbb_msg(&kv, 2, &any);
	BAD(pbb_msg(&span, 9, &kv), "KeyValueList.values (field 1) has wire type 0");
	/* and in the envelopes */
	req.n = 0;
	inner.n = 0;
	pbb_int(&inner, 2, 1);
	pbb_msg(&req, 1, &inner);
	cr_expect_eq(decode(otlp_decode_pb, req.b, req.n, &g, NULL, err), -1);
	cr_expect_not_null(strstr(err, "ResourceSpans.scope_spans (field 2) has wire type 0"), "%s",
	                   err);
	req.n = inner.n = 0;
	pbb_int(&inner, 1, 1);
	pbb_msg(&req, 1, &inner);
	cr_expect_eq(decode(otlp_decode_pb, req.b, req.n, &g, NULL, err), -1);
	cr_expect_not_null(strstr(err, "ResourceSpans.resource (field 1) has wire type 0"), "%s",
	                   err);
	req.n = inner.n = kv.n = 0;
	pbb_int(&kv, 2, 1);
	pbb_msg(&inner, 2, &kv);
	pbb_msg(&req, 1, &inner);
	cr_expect_eq(decode(otlp_decode_pb, req.b, req.n, &g, NULL, err), -1);
	cr_expect_not_null(strstr(err, "resourceSpans[0].scopeSpans[0]: protobuf: byte 4: "
	                               "ScopeSpans.spans (field 2) has wire type 0"),
	                   "%s", err);
	req.n = inner.n = kv.n = 0;
	pbb_int(&kv, 1, 1);
	pbb_msg(&inner, 1, &kv);
	pbb_msg(&req, 1, &inner);
	cr_expect_eq(decode(otlp_decode_pb, req.b, req.n, &g, NULL, err), -1);
	cr_expect_not_null(strstr(err, "Resource.attributes (field 1) has wire type 0"), "%s", err);
#undef BAD
	got_free(&g);
}

/* An attribute value of arrays in arrays (or lists in lists) <levels>
 * deep, around the string "x". */
static void pbb_nested(struct pbb *span, int levels, bool kvlist)
{
	static struct pbb a, b;

	a.n = 0;
	pbb_len(&a, 1, "x", 1);
	for (int i = 0; i < levels; i++) {
		b.n = 0;
		if (kvlist) {
			struct pbb kv = {.n = 0};

			pbb_len(&kv, 1, "k", 1);
			pbb_msg(&kv, 2, &a);
			pbb_msg(&b, 1, &kv); /* KeyValueList.values */
		} else {
			pbb_msg(&b, 1, &a); /* ArrayValue.values */
		}
		a.n = 0;
		pbb_msg(&a, kvlist ? 6 : 5, &b);
	}
	b.n = 0;
	pbb_len(&b, 1, "deep", 4);
	pbb_msg(&b, 2, &a);
	pbb_span_ok(span);
	pbb_msg(span, 9, &b);
}

Test(otlp_decode_pb, deep_nesting)
{
	static struct pbb span, req;
	static struct got g;
	char err[256], want[256];

	for (int kv = 0; kv < 2; kv++) {
		pbb_nested(&span, OTLP_DECODE_DEPTH, kv);
		pbb_request(&req, &span);
		cr_assert_eq(decode(otlp_decode_pb, req.b, req.n, &g, NULL, err), 1, "%s", err);
		want[0] = '\0';
		strcat(want, "{\"deep\":");
		for (int i = 0; i < OTLP_DECODE_DEPTH; i++)
			strcat(want, kv ? "{\"k\":" : "[");
		strcat(want, "\"x\"");
		for (int i = 0; i < OTLP_DECODE_DEPTH; i++)
			strcat(want, kv ? "}" : "]");
		strcat(want, "}");
		cr_expect_str_eq(g.sp[0].attrs, want);

		pbb_nested(&span, OTLP_DECODE_DEPTH + 1, kv);
		pbb_request(&req, &span);
		cr_expect_eq(decode(otlp_decode_pb, req.b, req.n, &g, NULL, err), -1);
		cr_expect_not_null(strstr(err, "values nested deeper than 16"), "%s", err);
	}
	got_free(&g);
}

/* protobuf's rules: the last of a repeated scalar wins, and so does the
 * last member of a oneof; unknown fields anywhere are skipped. */
Test(otlp_decode_pb, last_wins_unknown_skipped)
{
	static struct pbb span, req, kv, any, ev;
	static struct got g;
	char err[256];

	pbb_span_ok(&span);
	pbb_len(&span, 5, "second", 6);
	pbb_int(&span, 6, 3);
	pbb_int(&span, 6, 99); /* unknown kind: 0 */
	pbb_len(&span, 99, "\xff\xff", 2);
	pbb_int(&span, 1000, 1);
	any.n = 0;
	pbb_len(&any, 1, "str", 3);
	pbb_int(&any, 3, 5);
	pbb_int(&any, 8, 1); /* a member from a newer schema */
	kv.n = 0;
	pbb_len(&kv, 1, "first-key", 9);
	pbb_len(&kv, 1, "k", 1);
	pbb_msg(&kv, 2, &any);
	pbb_int(&kv, 3, 1);
	pbb_msg(&span, 9, &kv);
	/* a KeyValue without a value */
	kv.n = 0;
	pbb_len(&kv, 1, "none", 4);
	pbb_msg(&span, 9, &kv);
	ev.n = 0;
	pbb_len(&ev, 2, "e", 1);
	pbb_fixed64(&ev, 1, 42);
	pbb_int(&ev, 4, 1);
	pbb_msg(&span, 11, &ev);
	pbb_request(&req, &span);
	cr_assert_eq(decode(otlp_decode_pb, req.b, req.n, &g, NULL, err), 1, "%s", err);
	cr_expect_str_eq(g.sp[0].name, "second");
	cr_expect_eq(g.sp[0].s.kind, 0);
	cr_expect_str_eq(g.sp[0].attrs, "{\"k\":5,\"none\":null}");
	cr_expect_str_eq(g.sp[0].events, "[{\"name\":\"e\",\"timeUnixNano\":\"42\"}]");
	got_free(&g);
}

/* ---- what the renderings keep ------------------------------------------------ */

#define ESC_IN "q\"b\\s/\x7f\x1f\xe2\x82\xac\xe2\x82\xf0\x9f\x98\x80"

/* Strings with quotes, control characters and bytes that are not UTF-8
 * render as valid JSON, U+FFFD for the bad bytes; the name is passed as
 * sent. Doubles take their shortest exact form. */
Test(otlp_decode_pb, escaping_and_numbers)
{
	static const struct {
		double v;
		const char *want;
	} dbl[] = {
	        {0.1, "0.1"},
	        {-0.0, "-0"},
	        {1e300, "1e+300"},
	        {5e-324, "4.94065645841247e-324"},
	        {1.0 / 3, "0.3333333333333333"},
	        {2, "2"},
	        {123456789.125, "123456789.125"},
	};
	static struct pbb span, req, kv, any;
	static struct got g;
	char err[256], want[128];
	double v;

	pbb_span_ok(&span);
	pbb_len(&span, 5, "n\xff\"\x01", 4);
	any.n = 0;
	pbb_len(&any, 1, ESC_IN, sizeof(ESC_IN) - 1);
	kv.n = 0;
	pbb_len(&kv, 1, "k\n", 2);
	pbb_msg(&kv, 2, &any);
	pbb_msg(&span, 9, &kv);
	/* a NUL in a key: valid JSON, but jansson and others refuse it */
	kv.n = 0;
	pbb_len(&kv, 1, "a\0b", 3);
	pbb_msg(&kv, 2, &any);
	pbb_msg(&span, 9, &kv);
	pbb_request(&req, &span);
	cr_assert_eq(decode(otlp_decode_pb, req.b, req.n, &g, NULL, err), 1, "%s", err);
	cr_expect_eq(g.sp[0].s.dropped_attrs, 1);
	cr_expect_eq(g.sp[0].s.name_len, 4);
	cr_expect_eq(memcmp(g.sp[0].name, "n\xff\"\x01", 4), 0);
	cr_expect_str_eq(g.sp[0].attrs, "{\"k\\u000a\":\"q\\\"b\\\\s/\\u007f\\u001f\xe2\x82\xac"
	                                "\\ufffd\\ufffd\xf0\x9f\x98\x80\"}");

	for (size_t i = 0; i < N_OF(dbl); i++) {
		v = dbl[i].v;
		pbb_span_ok(&span);
		any.n = 0;
		pbb_fixed64(&any, 4, 0);
		memcpy(any.b + any.n - 8, &v, 8);
		kv.n = 0;
		pbb_len(&kv, 1, "d", 1);
		pbb_msg(&kv, 2, &any);
		pbb_msg(&span, 9, &kv);
		pbb_request(&req, &span);
		cr_assert_eq(decode(otlp_decode_pb, req.b, req.n, &g, NULL, err), 1, "%s", err);
		snprintf(want, sizeof(want), "{\"d\":%s}", dbl[i].want);
		cr_expect_str_eq(g.sp[0].attrs, want);
	}
	got_free(&g);
}
