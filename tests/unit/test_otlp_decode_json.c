/* test_otlp_decode_json.c: the OTLP/JSON decoder (otlp_decode_json.c), fed
 * what our encoder writes, what the OpenTelemetry JS exporter sends, the
 * protoc suite's request written as JSON the ways senders do (hex and base64
 * ids, enum names, 64-bit integers as strings), and bodies that are not JSON
 * or have the wrong types, cut short at every byte or nested too deep. */
#include "otlp_decode_testlib.h"

Test(otlp_decode_json, round_trip)
{
	static struct span srv, cli;
	const struct span *list[] = {&srv, &cli};
	static struct got g;
	struct tbuf b = {0};
	char err[256];
	size_t sk;

	server_span(&srv);
	client_span(&cli);
	cr_assert_eq(otlp_json_encode(&b, &full_res, list, 2), 0);
	cr_assert_eq(decode(otlp_decode_json, b.p, b.len, &g, &sk, err), 2, "%s", err);
	cr_expect_eq(sk, 0);
	expect_server(&g.sp[0]);
	expect_client(&g.sp[1]);
	got_free(&g);
	tbuf_free(&b);
}

/* The same request as OTLP/JSON, written by hand the ways senders do:
 * hex ids in either case, base64 ids, enums as names and numbers, 64-bit
 * integers as strings and numbers, nulls for defaults, unknown keys. */
static const char json_request[] =
        "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
        "{\"key\":\"host.arch\",\"value\":{\"stringValue\":\"amd64\"}},"
        "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"inventory\"}},"
        "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"second\"}}],"
        "\"droppedAttributesCount\":2},"
        "\"scopeSpans\":[{\"scope\":{\"name\":\"io.opentelemetry.jdbc\",\"version\":\"2.1.0\","
        "\"attributes\":[{\"key\":\"x\",\"value\":{\"intValue\":\"1\"}}]},"
        "\"spans\":[{\"traceId\":\"0AF7651916CD43DD8448EB211C80319C\","
        "\"spanId\":\"klkp9yNGJSw=\",\"traceState\":\"vendor=1\","
        "\"parentSpanId\":\"b7ad6b7169203331\",\"name\":\"SELECT stock\","
        "\"kind\":\"SPAN_KIND_CLIENT\",\"startTimeUnixNano\":1795603063026000000,"
        "\"endTimeUnixNano\":\"1795603063032857222\",\"attributes\":["
        "{\"key\":\"db.system\",\"value\":{\"stringValue\":\"postgresql\"}},"
        "{\"key\":\"db.rows\",\"value\":{\"intValue\":\"-42\"}},"
        "{\"key\":\"ratio\",\"value\":{\"doubleValue\":0.1}},"
        "{\"key\":\"big\",\"value\":{\"doubleValue\":\"-1.5e300\"}},"
        "{\"key\":\"nan\",\"value\":{\"doubleValue\":\"NaN\"}},"
        "{\"key\":\"inf\",\"value\":{\"doubleValue\":\"-Infinity\"}},"
        "{\"key\":\"cached\",\"value\":{\"boolValue\":true}},"
        "{\"key\":\"tags\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"a\"},"
        "{\"intValue\":7},{\"boolValue\":false},{}]}}},"
        "{\"key\":\"blob\",\"value\":{\"bytesValue\":\"AAH-_w\"}},"
        "{\"key\":\"nested\",\"value\":{\"kvlistValue\":{\"values\":["
        "{\"key\":\"k\",\"value\":{\"arrayValue\":{\"values\":[{\"doubleValue\":1.5}]}}},"
        "{\"key\":\"e\"}]}}},"
        "{\"key\":\"empty\",\"value\":{\"stringValue\":null}},"
        "{\"key\":\"db.rows\",\"value\":{\"intValue\":99}},"
        "{\"key\":\"odd \\\"key\\\"\\n\\u00e9\",\"value\":{\"stringValue\":\"a\\u0001\\u00e9\"}}],"
        "\"droppedAttributesCount\":3,\"events\":["
        "{\"timeUnixNano\":\"1795603063027000000\",\"name\":\"exception\",\"attributes\":"
        "[{\"key\":\"exception.message\",\"value\":{\"stringValue\":\"boom\"}}]},"
        "{\"timeUnixNano\":1795603063028000000,\"name\":\"retry\",\"attributes\":[]}],"
        "\"droppedEventsCount\":1,\"links\":[{\"traceId\":\"4c4c\",\"spanId\":\"4b4b\"}],"
        "\"status\":{\"message\":\"db down\",\"code\":2},\"flags\":769,\"future\":{\"x\":[1]}},"
        "{\"traceId\":\"QUFBQUFBQUFBQUFBQUFBMg==\",\"spanId\":\"QkJCQkJCQjI\",\"name\":\"work\","
        "\"kind\":1,\"startTimeUnixNano\":\"5\",\"endTimeUnixNano\":6.0,"
        "\"status\":{\"code\":\"STATUS_CODE_OK\"},\"parentSpanId\":null}],"
        "\"schemaUrl\":\"https://opentelemetry.io/schemas/1.21.0\"}]},"
        "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
        "{\"stringValue\":\"billing\"}}]},\"scopeSpans\":[{\"spans\":[{"
        "\"traceId\":\"41414141414141414141414141414133\",\"spanId\":\"4242424242424233\","
        "\"parentSpanId\":\"\",\"name\":\"POST /pay\",\"kind\":\"SPAN_KIND_SERVER\"}]}]},"
        "{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"41414141414141414141414141414134\","
        "\"spanId\":\"4242424242424234\",\"kind\":5,\"events\":null}]}]}]}";

Test(otlp_decode_json, every_value_kind)
{
	static struct got g, gp;
	char err[256];
	size_t len, sk;
	uint8_t *body;

	cr_assert_eq(decode(otlp_decode_json, json_request, strlen(json_request), &g, &sk, err), 4,
	             "%s", err);
	cr_expect_eq(sk, 0);
	expect_protoc_spans(&g);
	/* and record for record what protoc's body gave */
	body = protoc_encode(protoc_request, &len);
	cr_assert_eq(decode(otlp_decode_pb, body, len, &gp, NULL, err), 4, "%s", err);
	for (int i = 0; i < 4; i++)
		expect_same(&g.sp[i], &gp.sp[i], i);
	got_free(&g);
	got_free(&gp);
	free(body);
}

/* What the OpenTelemetry JS exporter (0.x, OTLP/HTTP JSON) posts. */
Test(otlp_decode_json, from_js_exporter)
{
	static const char body[] =
	        "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
	        "\"value\":{\"stringValue\":\"node-app\"}}],\"droppedAttributesCount\":0},"
	        "\"scopeSpans\":[{\"scope\":{\"name\":\"@opentelemetry/instrumentation-http\","
	        "\"version\":\"0.223.0\"},\"spans\":[{\"traceId\":"
	        "\"0af7651916cd43dd8448eb211c80319c\",\"spanId\":\"925929f72346252c\","
	        "\"parentSpanId\":\"b7ad6b7169203331\",\"name\":\"GET\",\"kind\":2,"
	        "\"startTimeUnixNano\":\"1795603063026000000\",\"endTimeUnixNano\":"
	        "\"1795603063032857222\",\"attributes\":[{\"key\":\"http.response.status_code\","
	        "\"value\":{\"intValue\":200}}],\"droppedAttributesCount\":0,\"events\":[],"
	        "\"status\":{\"code\":0},\"links\":[],\"flags\":769}]}]}]}";
	static const uint8_t tid[16] = {0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd,
	                                0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c};
	static const uint8_t sid[8] = {0x92, 0x59, 0x29, 0xf7, 0x23, 0x46, 0x25, 0x2c};
	static const uint8_t pid[8] = {0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31};
	static struct got g;
	char err[256];
	size_t sk;

	cr_assert_eq(decode(otlp_decode_json, body, sizeof(body) - 1, &g, &sk, err), 1, "%s", err);
	cr_expect_eq(sk, 0);
	cr_expect_eq(memcmp(g.sp[0].s.trace_id, tid, 16), 0);
	cr_expect_eq(memcmp(g.sp[0].s.span_id, sid, 8), 0);
	cr_expect_eq(memcmp(g.sp[0].s.parent_id, pid, 8), 0);
	cr_expect(g.sp[0].s.has_parent);
	cr_expect_str_eq(g.sp[0].name, "GET");
	cr_expect_eq(g.sp[0].s.kind, 2);
	cr_expect_eq(g.sp[0].s.status, 0);
	cr_expect_eq(g.sp[0].s.start_ns, 1795603063026000000ull);
	cr_expect_eq(g.sp[0].s.end_ns, 1795603063032857222ull);
	cr_expect_str_eq(g.sp[0].service, "node-app");
	cr_expect_str_eq(g.sp[0].attrs, "{\"http.response.status_code\":200}");
	cr_expect_str_eq(g.sp[0].events, "[]");
	got_free(&g);
}

/* ---- ids ------------------------------------------------------------------- */

Test(otlp_decode_json, ids)
{
	static const struct {
		const char *ids; /* the span's id members */
		int rc;
		const char *why;
	} cases[] = {
	        {"\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"a0a1a2a3a4a5a6a7\"",
	         1, NULL},
	        {"\"traceId\":\"0102030405060708090A0B0C0D0E0F10\",\"spanId\":\"A0A1A2A3A4A5A6A7\"",
	         1, NULL},
	        /* proto3's base64, both alphabets, padded or not */
	        {"\"traceId\":\"AQIDBAUGBwgJCgsMDQ4PEA==\",\"spanId\":\"oKGio6Slpqc=\"", 1, NULL},
	        {"\"traceId\":\"AQIDBAUGBwgJCgsMDQ4PEA\",\"spanId\":\"oKGio6Slpqc\"", 1, NULL},
	        {"\"traceId\":\"0102030405060708090a0b0c0d0e0f\",\"spanId\":\"a0a1a2a3a4a5a6a7\"",
	         0, "trace id is 15 bytes, want 16"},
	        {"\"traceId\":\"0102030405060708090a0b0c0d0e0f1\",\"spanId\":\"a0a1a2a3a4a5a6a7\"",
	         0, "trace id is neither hex nor base64"},
	        {"\"traceId\":\"0102030405060708090a0b0c0d0e0fzz\",\"spanId\":\"a0a1a2a3a4a5a6a7\"",
	         0, "trace id is 24 bytes, want 16"},
	        /* '-' is base64url */
	        {"\"traceId\":\"01020304-0506-0708-090a-0b0c0d0e0f10\",\"spanId\":"
	         "\"a0a1a2a3a4a5a6a7\"",
	         0, "trace id is 27 bytes, want 16"},
	        {"\"traceId\":\"01020304.0506.0708.090a.0b0c0d0e0f10\",\"spanId\":"
	         "\"a0a1a2a3a4a5a6a7\"",
	         0, "trace id is neither hex nor base64"},
	        {"\"traceId\":\"00000000000000000000000000000000\",\"spanId\":\"a0a1a2a3a4a5a6a7\"",
	         0, "trace id is all zero"},
	        {"\"spanId\":\"a0a1a2a3a4a5a6a7\"", 0, "trace id is missing"},
	        {"\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0000000000000000\"",
	         0, "span id is all zero"},
	        {"\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"\"", 0,
	         "span id is missing"},
	        {"\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"a0a1a2a3a4a5a6a7\","
	         "\"parentSpanId\":\"a0a1\"",
	         0, "parent span id is 2 bytes, want 8"},
	        {"\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"a0a1a2a3a4a5a6a7\","
	         "\"parentSpanId\":\"0000000000000000\"",
	         1, NULL},
	        /* not a string at all: the request is wrong, not the span */
	        {"\"traceId\":12,\"spanId\":\"a0a1a2a3a4a5a6a7\"", -1, "traceId: want a string"},
	        {"\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":[]", -1,
	         "spanId: want a string"},
	};
	static const uint8_t tid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static const uint8_t sid[8] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7};
	static struct got g;
	char body[512], err[256];
	size_t sk;
	int rc;

	for (size_t i = 0; i < N_OF(cases); i++) {
		snprintf(body, sizeof(body),
		         "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{%s}]}]}]}",
		         cases[i].ids);
		rc = decode(otlp_decode_json, body, strlen(body), &g, &sk, err);
		cr_expect_eq(rc, cases[i].rc, "case %zu: %d %s", i, rc, err);
		if (cases[i].why)
			cr_expect_not_null(strstr(err, cases[i].why), "case %zu: %s", i, err);
		else
			cr_expect_str_eq(err, "", "case %zu", i);
		if (rc == 0)
			cr_expect_eq(sk, 1, "case %zu", i);
		if (rc == 1) {
			cr_expect_eq(memcmp(g.sp[0].s.trace_id, tid, 16), 0, "case %zu", i);
			cr_expect_eq(memcmp(g.sp[0].s.span_id, sid, 8), 0, "case %zu", i);
			cr_expect_not(g.sp[0].s.has_parent, "case %zu", i);
		}
	}
	got_free(&g);
}

/* ---- broken JSON ------------------------------------------------------------- */

Test(otlp_decode_json, cut_at_every_byte)
{
	static struct span srv, cli;
	const struct span *list[] = {&srv, &cli};
	struct tbuf b = {0};

	server_span(&srv);
	client_span(&cli);
	cr_assert_eq(otlp_json_encode(&b, &full_res, list, 2), 0);
	cut_everywhere(otlp_decode_json, (const uint8_t *)b.p, b.len, 2);
	tbuf_free(&b);
	cut_everywhere(otlp_decode_json, (const uint8_t *)json_request, strlen(json_request), 4);
}

#define SPAN_IDS   "\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"a0a1a2a3a4a5a6a7\""
#define IN_SPAN(x) "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{" SPAN_IDS "," x "}]}]}]}"
#define ATTR(v)    IN_SPAN("\"attributes\":[{\"key\":\"a\",\"value\":" v "}]")

Test(otlp_decode_json, malformed)
{
	static const struct {
		const char *body;
		const char *why; /* NULL: accepted */
		int rc;
	} cases[] = {
	        {"", "JSON: ", -1},
	        {"{", "JSON: ", -1},
	        {"{}", NULL, 0},
	        {"{} {}", "JSON: end of file expected", -1},
	        {"[]", "want an ExportTraceServiceRequest object", -1},
	        {"\"x\"", "JSON: ", -1},
	        {"{\"resourceSpans\":[],\"resourceSpans\":[]}", "duplicate object key", -1},
	        {"{\"resourceSpans\":\"x\"}", "resourceSpans: want an array", -1},
	        {"{\"resourceSpans\":null}", NULL, 0},
	        {"{\"resourceSpans\":[1]}", "resourceSpans: want an array of objects", -1},
	        {"{\"resourceSpans\":[{\"scopeSpans\":{}}]}", "scopeSpans: want an array", -1},
	        {"{\"resourceSpans\":[{\"scopeSpans\":[[]]}]}", "want an array of objects", -1},
	        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":7}]}]}", "spans: want an array",
	         -1},
	        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[\"s\"]}]}]}",
	         "resourceSpans[0].scopeSpans[0].spans[0]: span: want an object", -1},
	        {"{\"resourceSpans\":[{\"resource\":[]}]}", "resource: want an object", -1},
	        {"{\"resourceSpans\":[{\"resource\":{\"attributes\":{}}}]}",
	         "attributes: want an array", -1},
	        {"{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
	         "\"value\":{\"stringValue\":1}}]}}]}",
	         "resourceSpans[0]: stringValue: want a string", -1},
	        {"{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"a\","
	         "\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":true}]}}}]}}]}",
	         "intValue: want a 64-bit integer", -1},
	        {IN_SPAN("\"name\":1"), "name: want a string", -1},
	        {IN_SPAN("\"kind\":true"), "kind: want an enum number or name", -1},
	        {IN_SPAN("\"kind\":\"SERVER\""), "kind: want an enum number or name", -1},
	        {IN_SPAN("\"kind\":2.0"), "kind: want an enum number or name", -1},
	        {IN_SPAN("\"kind\":-1"), NULL, 1},
	        {IN_SPAN("\"kind\":4294967298"), NULL, 1},
	        {IN_SPAN("\"startTimeUnixNano\":-1"), "startTimeUnixNano: want an unsigned", -1},
	        {IN_SPAN("\"startTimeUnixNano\":\"-1\""), "startTimeUnixNano: want an unsigned",
	         -1},
	        {IN_SPAN("\"startTimeUnixNano\":\"1e3\""), "startTimeUnixNano: want an unsigned",
	         -1},
	        {IN_SPAN("\"startTimeUnixNano\":\" 1\""), "startTimeUnixNano: want an unsigned",
	         -1},
	        {IN_SPAN("\"startTimeUnixNano\":\"\""), "startTimeUnixNano: want an unsigned", -1},
	        {IN_SPAN("\"startTimeUnixNano\":\"18446744073709551616\""),
	         "startTimeUnixNano: want an unsigned", -1},
	        {IN_SPAN("\"startTimeUnixNano\":\"18446744073709551615\""), NULL, 1},
	        {IN_SPAN("\"startTimeUnixNano\":1.5"), "startTimeUnixNano: want an unsigned", -1},
	        {IN_SPAN("\"startTimeUnixNano\":1e300"), "startTimeUnixNano: want an unsigned", -1},
	        {IN_SPAN("\"startTimeUnixNano\":{}"), "startTimeUnixNano: want an unsigned", -1},
	        /* past INT64_MAX as a number: jansson refuses the body */
	        {IN_SPAN("\"startTimeUnixNano\":18446744073709551615"), "JSON: too big integer",
	         -1},
	        {IN_SPAN("\"endTimeUnixNano\":true"), "endTimeUnixNano: want an unsigned", -1},
	        {IN_SPAN("\"attributes\":{}"), "attributes: want an array", -1},
	        {IN_SPAN("\"attributes\":[1]"), "attribute: want a {\"key\",\"value\"} object", -1},
	        {IN_SPAN("\"attributes\":[{\"key\":1}]"), "key: want a string", -1},
	        {IN_SPAN("\"attributes\":[{\"key\":\"a\"}]"), NULL, 1},
	        {ATTR("\"x\""), "value: want an AnyValue object", -1},
	        {ATTR("{\"stringValue\":\"a\",\"intValue\":1}"),
	         "value: both stringValue and intValue", -1},
	        {ATTR("{\"stringValue\":\"a\",\"intValue\":null}"), NULL, 1},
	        {ATTR("{\"boolValue\":\"true\"}"), "boolValue: want true or false", -1},
	        {ATTR("{\"intValue\":\"9223372036854775808\"}"), "intValue: want a 64-bit", -1},
	        {ATTR("{\"intValue\":\"-9223372036854775808\"}"), NULL, 1},
	        {ATTR("{\"intValue\":\"0x10\"}"), "intValue: want a 64-bit", -1},
	        {ATTR("{\"intValue\":1.5}"), "intValue: want a 64-bit", -1},
	        {ATTR("{\"doubleValue\":\"inf\"}"), "doubleValue: want a number", -1},
	        {ATTR("{\"doubleValue\":\"0x1p3\"}"), "doubleValue: want a number", -1},
	        {ATTR("{\"doubleValue\":\"1..2\"}"), "doubleValue: want a number", -1},
	        {ATTR("{\"doubleValue\":\"\"}"), "doubleValue: want a number", -1},
	        {ATTR("{\"doubleValue\":true}"), "doubleValue: want a number", -1},
	        {ATTR("{\"bytesValue\":\"a\"}"), "bytesValue: want base64", -1},
	        {ATTR("{\"bytesValue\":\"ab=c\"}"), "bytesValue: want base64", -1},
	        {ATTR("{\"bytesValue\":\"abc==\"}"), "bytesValue: want base64", -1},
	        {ATTR("{\"bytesValue\":\"ab c\"}"), "bytesValue: want base64", -1},
	        {ATTR("{\"bytesValue\":5}"), "bytesValue: want a string", -1},
	        {ATTR("{\"arrayValue\":[]}"), "arrayValue: want an object", -1},
	        {ATTR("{\"arrayValue\":{\"values\":{}}}"), "values: want an array", -1},
	        {ATTR("{\"arrayValue\":{}}"), NULL, 1},
	        {ATTR("{\"kvlistValue\":{\"values\":[[]]}}"), "attribute: want a", -1},
	        {IN_SPAN("\"events\":{}"), "events: want an array", -1},
	        {IN_SPAN("\"events\":[1]"), "events: want an array of objects", -1},
	        {IN_SPAN("\"events\":[{\"name\":[]}]"), "event name: want a string", -1},
	        {IN_SPAN("\"events\":[{\"timeUnixNano\":\"x\"}]"), "timeUnixNano: want", -1},
	        {IN_SPAN("\"events\":[{\"attributes\":{}}]"), "event attributes: want an array",
	         -1},
	        {IN_SPAN("\"status\":2"), "status: want an object", -1},
	        {IN_SPAN("\"status\":{\"code\":\"ERROR\"}"), "status code: want an enum", -1},
	        {IN_SPAN("\"droppedAttributesCount\":-2"), "droppedAttributesCount: want", -1},
	        /* not UTF-8, or NUL in a key: jansson refuses the text */
	        {IN_SPAN("\"name\":\"\xff\""), "JSON: ", -1},
	        {IN_SPAN("\"name\":\"\\ud800\""), "JSON: ", -1},
	        /* jansson quotes the bytes near a bad escape as they came; the
	         * reason stays one line (decode() checks). From fuzz_otlp_json. */
	        {"{\"a\":\"\\u00e\n\r\"}", "JSON: invalid escape near '\"\\u00e?", -1},
	        /* fields we do not read are not checked */
	        {IN_SPAN("\"links\":7,\"flags\":\"x\",\"traceState\":[]"), NULL, 1},
	        /* the snake_case names are unknown keys to OTLP/JSON: ignored */
	        {"{\"resource_spans\":[{\"scopeSpans\":[{\"spans\":[{" SPAN_IDS "}]}]}]}", NULL, 0},
	};
	static struct got g;
	char err[256];
	int rc;

	for (size_t i = 0; i < N_OF(cases); i++) {
		rc = decode(otlp_decode_json, cases[i].body, strlen(cases[i].body), &g, NULL, err);
		cr_expect_eq(rc, cases[i].rc, "case %zu: %d %s", i, rc, err);
		if (cases[i].why)
			cr_expect_not_null(strstr(err, cases[i].why), "case %zu: want %s: %s", i,
			                   cases[i].why, err);
	}
	got_free(&g);
}

/* Nesting past jansson's parser limit, and past ours in values. */
Test(otlp_decode_json, deep_nesting)
{
	static struct got g;
	char err[256], *body, *p;
	size_t n = 100000;

	body = malloc(2 * n + 64);
	p = body + sprintf(body, "{\"resourceSpans\":");
	memset(p, '[', n);
	memset(p + n, ']', n);
	strcpy(p + 2 * n, "}");
	cr_expect_eq(decode(otlp_decode_json, body, strlen(body), &g, NULL, err), -1);
	cr_expect_not_null(strstr(err, "maximum parsing depth"), "%s", err);

	for (int extra = 0; extra < 2; extra++) {
		int levels = OTLP_DECODE_DEPTH + extra;

		p = body + sprintf(body,
		                   "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{" SPAN_IDS
		                   ",\"attributes\":[{\"key\":\"a\",\"value\":");
		for (int i = 0; i < levels; i++)
			p += sprintf(p, "{\"arrayValue\":{\"values\":[");
		p += sprintf(p, "{\"intValue\":1}");
		for (int i = 0; i < levels; i++)
			p += sprintf(p, "]}}");
		sprintf(p, "}]}]}]}]}");
		if (!extra) {
			cr_expect_eq(decode(otlp_decode_json, body, strlen(body), &g, NULL, err), 1,
			             "%s", err);
		} else {
			cr_expect_eq(decode(otlp_decode_json, body, strlen(body), &g, NULL, err),
			             -1);
			cr_expect_not_null(strstr(err, "values nested deeper than 16"), "%s", err);
		}
	}
	free(body);
	got_free(&g);
}

/* ---- what the renderings keep ------------------------------------------------ */

/* The first of repeated keys is kept, at every level; past 128 members the
 * rest are left out; the span's left-out ones are counted with the sender's. */
Test(otlp_decode_json, repeated_keys_and_caps)
{
	static struct got g;
	char err[256], *body, *p;

	body = malloc(64 * 1024);
	p = body + sprintf(body, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{" SPAN_IDS
	                         ",\"droppedAttributesCount\":\"5\",\"attributes\":[");
	for (int i = 0; i < OTLP_DECODE_MEMBERS + 10; i++)
		p += sprintf(p, "{\"key\":\"k%d\",\"value\":{\"intValue\":%d}},", i, i);
	p += sprintf(p, "{\"key\":\"k0\",\"value\":{\"intValue\":-1}}],\"events\":[{\"attributes\":"
	                "[{\"key\":\"x\",\"value\":{\"intValue\":1}},{\"key\":\"x\",\"value\":"
	                "{\"intValue\":2}},{\"key\":\"l\",\"value\":{\"kvlistValue\":{\"values\":["
	                "{\"key\":\"x\",\"value\":{\"intValue\":3}},{\"key\":\"x\"}]}}}]}]}]}]}]}");
	cr_assert_eq(decode(otlp_decode_json, body, strlen(body), &g, NULL, err), 1, "%s", err);
	cr_expect_eq(g.sp[0].s.dropped_attrs, 5 + 10 + 1);
	cr_expect_not_null(strstr(g.sp[0].attrs, "\"k0\":0,"));
	cr_expect_not_null(strstr(g.sp[0].attrs, ",\"k127\":127}"));
	cr_expect_null(strstr(g.sp[0].attrs, "k128"));
	cr_expect_str_eq(g.sp[0].events, "[{\"name\":\"\",\"timeUnixNano\":\"0\",\"attributes\":"
	                                 "{\"x\":1,\"l\":{\"x\":3}}}]");
	free(body);
	got_free(&g);
}
