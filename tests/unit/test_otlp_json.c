/* test_otlp_json.c: the OTLP/JSON encoder's requests, read back by Python's
 * json module (json_testlib.h): the resource and scope, ids in hex, enums as
 * numbers, 64-bit integers as strings, default fields left out, span flags
 * with the remote-parent bits, events, the link, escaping and U+FFFD. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "trace/encode.h"
#include "json_testlib.h"

#define RS    "/resourceSpans/0"
#define RA    RS "/resource/attributes"
#define SCOPE RS "/scopeSpans/0"
#define SPANS SCOPE "/spans"
#define S0    SPANS "/0"

static const struct export_resource res_full = {"svc", "1.2.3", "host-a"};
static const struct export_resource res_min = {"svc", NULL, NULL};

static char *encode(const struct export_resource *res, const struct span *const *spans, int n)
{
	return json_encode(otlp_json_encode, res, spans, n);
}

Test(otlp_json, root_server_span)
{
	static struct span s;
	const struct span *list[] = {&s};
	char *out;

	json_span_fill(&s, SPAN_KIND_SERVER);
	span_attr_str(&s, SPAN_A_HTTP_REQUEST_METHOD, "GET", 3);
	span_attr_int(&s, SPAN_A_HTTP_RESPONSE_STATUS_CODE, 200);
	span_attr_str(&s, SPAN_A_URL_PATH, "/api", 4);
	span_set_tracestate(&s, "", 0);
	out = encode(&res_full, list, 1);
	expect_lines(
	        out, "{}=resourceSpans", "/resourceSpans#=1", RS "{}=resource,scopeSpans",
	        RS "/resource{}=attributes", RA "#=6", RA "/0{}=key,value",
	        RA "/0/key=\"service.name\"", RA "/0/value{}=stringValue",
	        RA "/0/value/stringValue=\"svc\"", RA "/1/key=\"service.version\"",
	        RA "/1/value/stringValue=\"1.2.3\"", RA "/2/key=\"host.name\"",
	        RA "/2/value/stringValue=\"host-a\"", RA "/3/key=\"telemetry.sdk.name\"",
	        RA "/3/value/stringValue=\"tracegate\"", RA "/4/key=\"telemetry.sdk.language\"",
	        RA "/4/value/stringValue=\"c\"", RA "/5/key=\"telemetry.sdk.version\"",
	        RA "/5/value/stringValue=\"" TG_VERSION "\"", RS "/scopeSpans#=1",
	        SCOPE "{}=scope,spans", SCOPE "/scope{}=name,version",
	        SCOPE "/scope/name=\"tracegate\"", SCOPE "/scope/version=\"" TG_VERSION "\"",
	        SPANS "#=1",
	        /* no parentSpanId, traceState, status, events, links */
	        S0 "{}=attributes,endTimeUnixNano,flags,kind,name,spanId,startTimeUnixNano,"
	           "traceId",
	        S0 "/traceId=\"0102030405060708090a0b0c0d0e0f10\"",
	        S0 "/spanId=\"a0a1a2a3a4a5a6a7\"", S0 "/flags=257", S0 "/name=\"GET /api\"",
	        S0 "/kind=2", S0 "/startTimeUnixNano=\"1700000000123456789\"",
	        S0 "/endTimeUnixNano=\"1700000000125956789\"", S0 "/attributes#=3",
	        S0 "/attributes/0{}=key,value", S0 "/attributes/0/key=\"http.request.method\"",
	        S0 "/attributes/0/value{}=stringValue",
	        S0 "/attributes/0/value/stringValue=\"GET\"",
	        S0 "/attributes/1/key=\"http.response.status_code\"",
	        S0 "/attributes/1/value{}=intValue", S0 "/attributes/1/value/intValue=\"200\"",
	        S0 "/attributes/2/key=\"url.path\"", S0 "/attributes/2/value/stringValue=\"/api\"");
	free(out);
}

Test(otlp_json, resource_without_version_and_host)
{
	static struct span s;
	const struct span *list[] = {&s};
	char *out;

	json_span_fill(&s, SPAN_KIND_SERVER);
	out = encode(&res_min, list, 1);
	expect_lines(out, RA "#=4", RA "/0/key=\"service.name\"",
	             RA "/1/key=\"telemetry.sdk.name\"", RA "/2/key=\"telemetry.sdk.language\"",
	             RA "/3/key=\"telemetry.sdk.version\"",
	             /* a span without attributes has no "attributes" */
	             S0 "{}=endTimeUnixNano,flags,kind,name,spanId,startTimeUnixNano,traceId");
	free(out);
}

/* A SERVER span with a parent continues a caller's context: its flags say
 * the parent is remote, and the caller's tracestate goes with it. */
Test(otlp_json, remote_parent)
{
	static struct span s;
	const struct span *list[] = {&s};
	char *out;

	json_span_fill(&s, SPAN_KIND_SERVER);
	memset(s.parent_id, 0x0f, 8);
	s.flags = 3;
	span_set_tracestate(&s, "ot=th:8,congo=t61rcWkgMzE", 25);
	out = encode(&res_full, list, 1);
	expect_lines(out,
	             S0 "{}=endTimeUnixNano,flags,kind,name,parentSpanId,spanId,startTimeUnixNano,"
	                "traceId,traceState",
	             S0 "/parentSpanId=\"0f0f0f0f0f0f0f0f\"", S0 "/flags=771",
	             S0 "/traceState=\"ot=th:8,congo=t61rcWkgMzE\"");
	free(out);
}

/* A CLIENT span's parent is our own SERVER span: not remote. Its events are
 * the attempt's timings, in order, with times as strings. */
Test(otlp_json, client_span_events_error)
{
	static struct span s;
	const struct span *list[] = {&s};
	char *out;

	json_span_fill(&s, SPAN_KIND_CLIENT);
	memset(s.parent_id, 0x0f, 8);
	s.ev_ns[SPAN_EV_CONNECT_START] = T0 + 1000;
	s.ev_ns[SPAN_EV_REQUEST_SENT] = T0 + 2000;
	s.ev_ns[SPAN_EV_FIRST_BYTE] = T0 + 3000;
	s.ev_ns[SPAN_EV_LAST_BYTE] = T0 + 4000;
	s.status = SPAN_ST_ERROR;
	span_attr_str(&s, SPAN_A_ERROR_TYPE, "timeout", 7);
	out = encode(&res_full, list, 1);
	expect_lines(out,
	             S0 "{}=attributes,endTimeUnixNano,events,flags,kind,name,parentSpanId,spanId,"
	                "startTimeUnixNano,status,traceId",
	             S0 "/flags=257", S0 "/kind=3", S0 "/events#=4",
	             S0 "/events/0{}=name,timeUnixNano", S0 "/events/0/name=\"connect_start\"",
	             S0 "/events/0/timeUnixNano=\"1700000000123457789\"",
	             S0 "/events/1/name=\"request_sent\"",
	             S0 "/events/1/timeUnixNano=\"1700000000123458789\"",
	             S0 "/events/2/name=\"first_byte\"", S0 "/events/3/name=\"last_byte\"",
	             S0 "/events/3/timeUnixNano=\"1700000000123460789\"", S0 "/status{}=code",
	             S0 "/status/code=2");
	free(out);
}

/* One span per status: UNSET is the default, so it has no status. */
Test(otlp_json, status_codes)
{
	static struct span s[3];
	const struct span *list[] = {&s[0], &s[1], &s[2]};
	char *out;

	for (int i = 0; i < 3; i++)
		json_span_fill(&s[i], SPAN_KIND_SERVER);
	s[0].status = SPAN_ST_UNSET;
	s[1].status = SPAN_ST_OK;
	s[2].status = SPAN_ST_ERROR;
	out = encode(&res_full, list, 3);
	cr_expect(!json_has_prefix(out, SPANS "/0/status"));
	expect_lines(out, SPANS "/1/status{}=code", SPANS "/1/status/code=1",
	             SPANS "/2/status/code=2");
	free(out);
}

/* Names, values and the resource are escaped; bytes that are not UTF-8
 * become U+FFFD. Python prints the decoded text back as ASCII escapes. */
Test(otlp_json, escaping_and_invalid_utf8)
{
	static const char name[] = "q\"b\\c\n\x01"
	                           "caf\xc3\xa9\xff\xe2\x82\xac\x7f\xe2\x82";
	static const char value[] = "\xf0\x9f\x98\x80\xc0\xaf\xed\xa0\x80";
	static const struct export_resource res = {"my \"svc\"", "v\\1", NULL};
	static struct span s;
	const struct span *list[] = {&s};
	char *out;

	json_span_fill(&s, SPAN_KIND_SERVER);
	span_set_name(&s, name, sizeof(name) - 1);
	span_attr_str(&s, SPAN_A_USER_AGENT, value, sizeof(value) - 1);
	out = encode(&res, list, 1);
	expect_lines(
	        out,
	        S0 "/name=\"q\\\"b\\\\c\\n\\u0001caf\\u00e9\\ufffd\\u20ac\\u007f\\ufffd\\ufffd\"",
	        S0 "/attributes/0/value/stringValue="
	           "\"\\ud83d\\ude00\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"",
	        RA "/0/value/stringValue=\"my \\\"svc\\\"\"", RA "/1/value/stringValue=\"v\\\\1\"");
	free(out);
}

Test(otlp_json, many_spans)
{
	enum { N = 300 };
	static struct span s[N];
	const struct span *list[N];
	char *out;

	for (int i = 0; i < N; i++) {
		json_span_fill(&s[i], i % 2 ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER);
		s[i].span_id[6] = (uint8_t)(i >> 8);
		s[i].span_id[7] = (uint8_t)i;
		span_attr_int(&s[i], SPAN_A_HTTP_RESEND_COUNT, i);
		list[i] = &s[i];
	}
	out = encode(&res_full, list, N);
	expect_lines(out, "/resourceSpans#=1", SPANS "#=300");
	for (int i = 0; i < N; i++) {
		expect_linef(out, SPANS "/%d/spanId=\"a0a1a2a3a4a5%02x%02x\"", i, i >> 8, i & 0xff);
		expect_linef(out, SPANS "/%d/kind=%d", i, i % 2 ? 3 : 2);
		expect_linef(out, SPANS "/%d/attributes/0/value/intValue=\"%d\"", i, i);
	}
	free(out);
}

/* A span keeps SPAN_ATTR_MAX attributes; OTLP hears how many were lost. */
Test(otlp_json, max_attributes_and_dropped)
{
	static struct span s;
	const struct span *list[] = {&s};
	char *out;

	json_span_fill(&s, SPAN_KIND_SERVER);
	for (int i = 0; i < SPAN_ATTR_MAX + 6; i++)
		span_attr_int(&s, (enum span_attr_key)(i % SPAN_A_N), i * 1000);
	out = encode(&res_full, list, 1);
	expect_lines(out,
	             S0
	             "{}=attributes,droppedAttributesCount,endTimeUnixNano,flags,kind,name,spanId,"
	             "startTimeUnixNano,traceId",
	             S0 "/droppedAttributesCount=6");
	expect_linef(out, S0 "/attributes#=%d", SPAN_ATTR_MAX);
	expect_linef(out, S0 "/attributes/%d/value/intValue=\"%d\"", SPAN_ATTR_MAX - 1,
	             (SPAN_ATTR_MAX - 1) * 1000);
	free(out);
}

Test(otlp_json, link)
{
	static struct span s;
	const struct span *list[] = {&s};
	char *out;

	json_span_fill(&s, SPAN_KIND_SERVER);
	s.has_link = true;
	memset(s.link_trace_id, 0x11, 16);
	memset(s.link_span_id, 0x22, 8);
	s.link_flags = 1;
	out = encode(&res_full, list, 1);
	expect_lines(out, S0 "/links#=1", S0 "/links/0{}=flags,spanId,traceId",
	             S0 "/links/0/traceId=\"11111111111111111111111111111111\"",
	             S0 "/links/0/spanId=\"2222222222222222\"", S0 "/links/0/flags=769");
	free(out);
}

/* proto3 JSON writes 64-bit integers as decimal strings: a reader with
 * doubles would round them. */
Test(otlp_json, int64_as_strings)
{
	static struct span s;
	const struct span *list[] = {&s};
	char *out;

	json_span_fill(&s, SPAN_KIND_CLIENT);
	s.start_ns = UINT64_MAX;
	s.end_ns = UINT64_MAX - 1;
	s.ev_ns[SPAN_EV_CONNECT_END] = 1;
	span_attr_int(&s, SPAN_A_SERVER_PORT, INT64_MIN);
	span_attr_int(&s, SPAN_A_CLIENT_PORT, INT64_MAX);
	span_attr_int(&s, SPAN_A_NET_PEER_PORT, -1);
	span_attr_int(&s, SPAN_A_HTTP_RESEND_COUNT, 0);
	out = encode(&res_full, list, 1);
	expect_lines(
	        out, S0 "/startTimeUnixNano=\"18446744073709551615\"",
	        S0 "/endTimeUnixNano=\"18446744073709551614\"", S0 "/events/0/timeUnixNano=\"1\"",
	        S0 "/attributes/0/value/intValue=\"-9223372036854775808\"",
	        S0 "/attributes/1/value/intValue=\"9223372036854775807\"",
	        S0 "/attributes/2/value/intValue=\"-1\"", S0 "/attributes/3/value/intValue=\"0\"");
	free(out);
}

/* No spans, no envelopes: the request is empty. */
Test(otlp_json, empty_batch)
{
	char *out = encode(&res_full, NULL, 0);

	expect_lines(out, "{}=");
	free(out);
}

/* The encoder appends: what the buffer held stays in front. */
Test(otlp_json, appends)
{
	static struct span s;
	const struct span *list[] = {&s};
	struct tbuf b = {0};
	char *out;

	json_span_fill(&s, SPAN_KIND_SERVER);
	tbuf_lit(&b, "[");
	cr_assert_eq(otlp_json_encode(&b, &res_full, list, 1), 0);
	tbuf_lit(&b, "]");
	out = json_check(b.p, b.len);
	expect_lines(out, "#=1", "/0" SPANS "#=1");
	free(out);
	tbuf_free(&b);
}

/* The checker itself fails on what is not strict JSON, so the suites above
 * can fail. */
Test(otlp_json, checker_is_strict)
{
	static const char *const bad[] = {
	        "{\"a\":1,\"a\":2}", "[1,]", "[\"\xff\"]", "[NaN]", "[\"a\tb\"]", "{\"a\":1}x", "",
	};
	int rc;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		free(json_check_rc(bad[i], strlen(bad[i]), &rc));
		cr_expect_neq(rc, 0, "accepted %s", bad[i]);
	}
	free(json_check_rc("[1]", 3, &rc));
	cr_expect_eq(rc, 0);
}
