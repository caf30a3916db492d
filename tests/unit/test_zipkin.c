/* test_zipkin.c: the Zipkin v2 encoder's span lists, read back by Python's
 * json module (json_testlib.h): ids, kind, microsecond times and durations,
 * the local and remote endpoints, tags as strings with "error", annotations,
 * escaping and U+FFFD, and what Zipkin has no field for (left out). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "trace/encode.h"
#include "json_testlib.h"

static const struct export_resource res = {"svc", "1.2.3", "host-a"};

static char *encode(const struct export_resource *r, const struct span *const *spans, int n)
{
	return json_encode(zipkin_encode, r, spans, n);
}

static void attr_cstr(struct span *s, enum span_attr_key key, const char *v)
{
	span_attr_str(s, key, v, strlen(v));
}

Test(zipkin, root_server_span)
{
	static struct span s;
	const struct span *list[] = {&s};
	char *out;

	json_span_fill(&s, SPAN_KIND_SERVER);
	attr_cstr(&s, SPAN_A_HTTP_REQUEST_METHOD, "GET");
	span_attr_int(&s, SPAN_A_HTTP_RESPONSE_STATUS_CODE, 200);
	attr_cstr(&s, SPAN_A_CLIENT_ADDRESS, "192.0.2.7");
	span_attr_int(&s, SPAN_A_CLIENT_PORT, 54321);
	out = encode(&res, list, 1);
	expect_lines(
	        out, "#=1",
	        /* no parentId for a root span, no annotations without events */
	        "/0{}=duration,id,kind,localEndpoint,name,remoteEndpoint,tags,timestamp,traceId",
	        "/0/traceId=\"0102030405060708090a0b0c0d0e0f10\"", "/0/id=\"a0a1a2a3a4a5a6a7\"",
	        "/0/kind=\"SERVER\"", "/0/name=\"GET /api\"", "/0/timestamp=1700000000123456",
	        "/0/duration=2500", "/0/localEndpoint{}=serviceName",
	        "/0/localEndpoint/serviceName=\"svc\"", "/0/remoteEndpoint{}=ipv4,port",
	        "/0/remoteEndpoint/ipv4=\"192.0.2.7\"", "/0/remoteEndpoint/port=54321",
	        "/0/tags{}=client.address,client.port,http.request.method,"
	        "http.response.status_code",
	        "/0/tags/http.request.method=\"GET\"", "/0/tags/http.response.status_code=\"200\"",
	        "/0/tags/client.address=\"192.0.2.7\"", "/0/tags/client.port=\"54321\"");
	free(out);
}

/* A CLIENT span names the upstream in remoteEndpoint and carries the
 * attempt's timings as annotations, in microseconds. */
Test(zipkin, client_span_events_ipv4)
{
	static struct span s;
	const struct span *list[] = {&s};
	char *out;

	json_span_fill(&s, SPAN_KIND_CLIENT);
	memset(s.parent_id, 0x0f, 8);
	s.ev_ns[SPAN_EV_CONNECT_START] = T0 + 1000;
	s.ev_ns[SPAN_EV_FIRST_BYTE] = T0 + 1500000;
	attr_cstr(&s, SPAN_A_SERVER_ADDRESS, "orders.internal");
	span_attr_int(&s, SPAN_A_SERVER_PORT, 8080);
	attr_cstr(&s, SPAN_A_NET_PEER_ADDRESS, "10.1.2.3");
	span_attr_int(&s, SPAN_A_NET_PEER_PORT, 8080);
	attr_cstr(&s, SPAN_A_PEER_SERVICE, "orders");
	out = encode(&res, list, 1);
	expect_lines(out,
	             "/0{}=annotations,duration,id,kind,localEndpoint,name,parentId,remoteEndpoint,"
	             "tags,timestamp,traceId",
	             "/0/parentId=\"0f0f0f0f0f0f0f0f\"", "/0/kind=\"CLIENT\"",
	             "/0/remoteEndpoint{}=ipv4,port,serviceName",
	             "/0/remoteEndpoint/serviceName=\"orders\"",
	             "/0/remoteEndpoint/ipv4=\"10.1.2.3\"", "/0/remoteEndpoint/port=8080",
	             "/0/annotations#=2", "/0/annotations/0{}=timestamp,value",
	             "/0/annotations/0/timestamp=1700000000123457",
	             "/0/annotations/0/value=\"connect_start\"",
	             "/0/annotations/1/timestamp=1700000000124956",
	             "/0/annotations/1/value=\"first_byte\"", "/0/tags/peer.service=\"orders\"",
	             "/0/tags/network.peer.port=\"8080\"");
	free(out);
}

/* The address's form picks ipv4 or ipv6; what is not an address is left
 * out, and so is an endpoint with nothing known. */
Test(zipkin, remote_endpoint_forms)
{
	static const struct {
		enum span_kind kind;
		enum span_attr_key key;
		const char *addr;
		int64_t port;     /* 0 = no port attribute */
		const char *keys; /* the endpoint's keys; NULL = no endpoint */
		const char *line; /* one more line to expect */
	} cases[] = {
	        {SPAN_KIND_CLIENT, SPAN_A_NET_PEER_ADDRESS, "2001:db8::c001", 443, "ipv6,port",
	         "ipv6=\"2001:db8::c001\""},
	        {SPAN_KIND_CLIENT, SPAN_A_NET_PEER_ADDRESS, "::ffff:192.0.2.9", 0, "ipv4",
	         "ipv4=\"192.0.2.9\""},
	        {SPAN_KIND_SERVER, SPAN_A_CLIENT_ADDRESS, "::1", 0, "ipv6", "ipv6=\"::1\""},
	        {SPAN_KIND_SERVER, SPAN_A_CLIENT_ADDRESS, "203.0.113.5", 65535, "ipv4,port",
	         "port=65535"},
	        {SPAN_KIND_SERVER, SPAN_A_CLIENT_ADDRESS, "fe80::1%eth0", 0, NULL, NULL},
	        {SPAN_KIND_SERVER, SPAN_A_CLIENT_ADDRESS, "192.0.2.300", 0, NULL, NULL},
	        {SPAN_KIND_SERVER, SPAN_A_CLIENT_ADDRESS, "192.0.2.1", 70000, "ipv4", NULL},
	        /* a SERVER span's peer is client.address, not the socket's */
	        {SPAN_KIND_SERVER, SPAN_A_NET_PEER_ADDRESS, "192.0.2.1", 0, NULL, NULL},
	        {SPAN_KIND_CLIENT, SPAN_A_CLIENT_ADDRESS, "192.0.2.1", 0, NULL, NULL},
	};
	enum { N = sizeof(cases) / sizeof(cases[0]) };
	static struct span s[N];
	const struct span *list[N];
	char *out, pre[32];

	for (int i = 0; i < N; i++) {
		json_span_fill(&s[i], cases[i].kind);
		attr_cstr(&s[i], cases[i].key, cases[i].addr);
		if (cases[i].port)
			span_attr_int(&s[i],
			              cases[i].kind == SPAN_KIND_CLIENT ? SPAN_A_NET_PEER_PORT
			                                                : SPAN_A_CLIENT_PORT,
			              cases[i].port);
		list[i] = &s[i];
	}
	out = encode(&res, list, N);
	for (int i = 0; i < N; i++) {
		snprintf(pre, sizeof(pre), "/%d/remoteEndpoint", i);
		if (!cases[i].keys) {
			cr_expect(!json_has_prefix(out, pre), "case %d has %s", i, pre);
			continue;
		}
		expect_linef(out, "%s{}=%s", pre, cases[i].keys);
		if (cases[i].line)
			expect_linef(out, "%s/%s", pre, cases[i].line);
	}
	free(out);
}

/* Zipkin marks a failure with the "error" tag: error.type, or "true". */
Test(zipkin, error_tag)
{
	static struct span s[4];
	const struct span *list[] = {&s[0], &s[1], &s[2], &s[3]};
	char *out;

	for (int i = 0; i < 4; i++)
		json_span_fill(&s[i], SPAN_KIND_CLIENT);
	s[0].status = SPAN_ST_ERROR;
	attr_cstr(&s[0], SPAN_A_ERROR_TYPE, "timeout");
	s[1].status = SPAN_ST_ERROR;
	s[2].status = SPAN_ST_OK;
	attr_cstr(&s[2], SPAN_A_URL_PATH, "/ok");
	out = encode(&res, list, 4);
	expect_lines(out, "/0/tags{}=error,error.type", "/0/tags/error=\"timeout\"",
	             "/0/tags/error.type=\"timeout\"", "/1/tags{}=error", "/1/tags/error=\"true\"",
	             "/2/tags{}=url.path");
	/* no attributes and no error: no tags at all */
	cr_expect(!json_has_prefix(out, "/3/tags"));
	free(out);
}

Test(zipkin, escaping_and_invalid_utf8)
{
	static const char name[] = "q\"b\\c\n\x01"
	                           "caf\xc3\xa9\xff\xe2\x82\xac\x7f\xe2\x82";
	static const char value[] = "\xf0\x9f\x98\x80\xc0\xaf\xed\xa0\x80";
	static const struct export_resource r = {"my \"svc\"\\", NULL, NULL};
	static struct span s;
	const struct span *list[] = {&s};
	char *out;

	json_span_fill(&s, SPAN_KIND_CLIENT);
	span_set_name(&s, name, sizeof(name) - 1);
	span_attr_str(&s, SPAN_A_PEER_SERVICE, value, sizeof(value) - 1);
	out = encode(&r, list, 1);
	expect_lines(
	        out,
	        "/0/name=\"q\\\"b\\\\c\\n\\u0001caf\\u00e9\\ufffd\\u20ac\\u007f\\ufffd\\ufffd\"",
	        "/0/tags/peer.service=\"\\ud83d\\ude00\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"",
	        "/0/remoteEndpoint/serviceName="
	        "\"\\ud83d\\ude00\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"",
	        "/0/localEndpoint/serviceName=\"my \\\"svc\\\"\\\\\"");
	free(out);
}

Test(zipkin, many_spans)
{
	enum { N = 300 };
	static struct span s[N];
	const struct span *list[N];
	char *out;

	for (int i = 0; i < N; i++) {
		json_span_fill(&s[i], i % 2 ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER);
		s[i].span_id[6] = (uint8_t)(i >> 8);
		s[i].span_id[7] = (uint8_t)i;
		s[i].start_ns = T0 + (uint64_t)i * 1000;
		span_attr_int(&s[i], SPAN_A_HTTP_RESEND_COUNT, i);
		list[i] = &s[i];
	}
	out = encode(&res, list, N);
	expect_lines(out, "#=300");
	for (int i = 0; i < N; i++) {
		expect_linef(out, "/%d/id=\"a0a1a2a3a4a5%02x%02x\"", i, i >> 8, i & 0xff);
		expect_linef(out, "/%d/kind=\"%s\"", i, i % 2 ? "CLIENT" : "SERVER");
		expect_linef(out, "/%d/timestamp=%llu", i,
		             (T0 + (unsigned long long)i * 1000) / 1000);
		expect_linef(out, "/%d/tags/http.request.resend_count=\"%d\"", i, i);
	}
	free(out);
}

/* Times are microseconds; a duration under one rounds up to one, and a span
 * that ended before it started (a clock step) has none. */
Test(zipkin, microseconds)
{
	static const struct {
		uint64_t start, end;
		const char *ts, *dur; /* dur NULL: no duration */
	} cases[] = {
	        {T0, T0, "1700000000123456", "1"},
	        {T0, T0 + 999, "1700000000123456", "1"},
	        {T0, T0 + 1999, "1700000000123456", "1"},
	        {T0, T0 + 2000, "1700000000123456", "2"},
	        {T0, T0 + 2500000, "1700000000123456", "2500"},
	        {T0 + 5000, T0, "1700000000123461", NULL},
	        {999, 1999, "0", "1"},
	};
	enum { N = sizeof(cases) / sizeof(cases[0]) };
	static struct span s[N];
	const struct span *list[N];
	char *out, pre[32];

	for (int i = 0; i < N; i++) {
		json_span_fill(&s[i], SPAN_KIND_SERVER);
		s[i].start_ns = cases[i].start;
		s[i].end_ns = cases[i].end;
		list[i] = &s[i];
	}
	out = encode(&res, list, N);
	for (int i = 0; i < N; i++) {
		expect_linef(out, "/%d/timestamp=%s", i, cases[i].ts);
		snprintf(pre, sizeof(pre), "/%d/duration=", i);
		if (cases[i].dur)
			expect_linef(out, "%s%s", pre, cases[i].dur);
		else
			cr_expect(!json_has_prefix(out, pre), "case %d has a duration", i);
	}
	free(out);
}

/* tracestate, links and OTLP's span flags have no Zipkin field. */
Test(zipkin, no_tracestate_no_link)
{
	static struct span s;
	const struct span *list[] = {&s};
	char *out;

	json_span_fill(&s, SPAN_KIND_SERVER);
	span_set_tracestate(&s, "ot=th:8", 7);
	s.has_link = true;
	memset(s.link_trace_id, 0x11, 16);
	memset(s.link_span_id, 0x22, 8);
	out = encode(&res, list, 1);
	expect_lines(out, "/0{}=duration,id,kind,localEndpoint,name,timestamp,traceId");
	free(out);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A full span: SPAN_ATTR_MAX attributes with some keys repeated. Tags are a
 * map, so each key appears once, holding the last value. */
Test(zipkin, max_attributes_repeated_keys)
{
	static struct span s;
	const struct span *list[] = {&s};
	const char *names[SPAN_A_N];
	char keys[1024] = "/0/tags{}=", *out;

	json_span_fill(&s, SPAN_KIND_SERVER);
	for (int i = 0; i < SPAN_ATTR_MAX + 6; i++)
		span_attr_int(&s, (enum span_attr_key)(i % SPAN_A_N), i * 1000);
	cr_assert_eq(s.dropped_attrs, 6);
	memcpy(names, span_attr_name, sizeof(names));
	qsort(names, SPAN_A_N, sizeof(names[0]), by_name);
	for (int i = 0; i < SPAN_A_N; i++) {
		if (i)
			strcat(keys, ",");
		strcat(keys, names[i]);
	}
	out = encode(&res, list, 1);
	cr_expect(json_has(out, keys), "missing %s", keys);
	/* each key holds the value of its last stored occurrence */
	for (int k = 0; k < SPAN_A_N; k++) {
		int last = k;

		while (last + SPAN_A_N < SPAN_ATTR_MAX)
			last += SPAN_A_N;
		expect_linef(out, "/0/tags/%s=\"%d\"", span_attr_name[k], last * 1000);
	}
	free(out);
}

Test(zipkin, empty_batch)
{
	char *out = encode(&res, NULL, 0);

	expect_lines(out, "#=0");
	free(out);
}
