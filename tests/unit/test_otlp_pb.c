/* test_otlp_pb.c: the OTLP/protobuf encoder's whole requests, checked by
 * protoc rather than by our own reading of the bytes. Each body is decoded
 * with the schema in tests/support/otlp (written from the OTLP field
 * numbers), compared as text with what we expect and encoded back by protoc,
 * which must give the same bytes: a caller's SERVER and CLIENT spans with
 * every value, a root span and a minimal resource, a span with nothing
 * optional, thousands of spans in one body, and the buffer's contract
 * (appending, no spans, out of memory). How each value is put on the wire
 * is test_otlp_pb_wire.c's. */
#include "otlp_pb_testlib.h"

/* ---- expected text -------------------------------------------------------- */

static void want_event(FILE *f, unsigned long long ns, const char *name)
{
	fprintf(f, "      events {\n        time_unix_nano: %llu\n        name: \"%s\"\n      }\n",
	        ns, name);
}

static void want_server(FILE *f)
{
	fprintf(f, "    spans {\n"
	           "      trace_id: \"TTTTTTTTTTTTTTT1\"\n"
	           "      span_id: \"SSSSSSS1\"\n"
	           "      trace_state: \"ot=th:8,vendor=x\"\n"
	           "      parent_span_id: \"PPPPPPP1\"\n"
	           "      name: \"GET /api\"\n"
	           "      kind: SPAN_KIND_SERVER\n"
	           "      start_time_unix_nano: 1700000000123456789\n"
	           "      end_time_unix_nano: 1700000000124956789\n");
	want_str(f, "http.request.method", "GET");
	want_str(f, "url.path", "/api/orders/42");
	want_str(f, "url.query", "id=7&x=\\\"y\\\"");
	want_str(f, "url.scheme", "http");
	want_str(f, "http.route", "/api");
	want_str(f, "tracegate.route", "orders");
	want_str(f, "user_agent.original", "curl/8.5.0");
	want_str(f, "client.address", "10.1.2.3");
	want_int(f, "client.port", 51234);
	want_str(f, "server.address", "shop.example.com");
	want_int(f, "server.port", 8080);
	want_int(f, "http.response.status_code", 502);
	want_str(f, "error.type", "502");
	want_int(f, "http.request.resend_count", -1);
	/* flags: sampled, parent remote known (0x100) and remote (0x200) */
	fprintf(f, "      links {\n"
	           "        trace_id: \"LLLLLLLLLLLLLLL1\"\n"
	           "        span_id: \"KKKKKKK1\"\n"
	           "        flags: 769\n"
	           "      }\n"
	           "      status {\n"
	           "        code: STATUS_CODE_ERROR\n"
	           "      }\n"
	           "      flags: 769\n"
	           "    }\n");
}

static void want_client(FILE *f)
{
	fprintf(f, "    spans {\n"
	           "      trace_id: \"TTTTTTTTTTTTTTT1\"\n"
	           "      span_id: \"CCCCCCC1\"\n"
	           "      parent_span_id: \"SSSSSSS1\"\n"
	           "      name: \"GET\"\n"
	           "      kind: SPAN_KIND_CLIENT\n"
	           "      start_time_unix_nano: 1700000000123456889\n"
	           "      end_time_unix_nano: 1700000000124856789\n");
	want_str(f, "http.request.method", "GET");
	want_str(f, "server.address", "127.0.0.1");
	want_int(f, "server.port", 9001);
	want_str(f, "network.peer.address", "127.0.0.1");
	want_int(f, "network.peer.port", 9001);
	want_str(f, "peer.service", "orders");
	want_str(f, "network.protocol.version", "1.1");
	want_int(f, "http.response.status_code", 200);
	want_event(f, T0 + 100, "connect_start");
	want_event(f, T0 + 1100, "connect_end");
	want_event(f, T0 + 3100, "request_sent");
	want_event(f, T0 + 4100, "first_byte");
	want_event(f, T0 + 5100, "last_byte");
	/* trace flags 0x03, parent known and local: 0x103; no status when unset */
	fprintf(f, "      flags: 259\n"
	           "    }\n");
}

/* ---- tests ---------------------------------------------------------------- */

/* A caller's request: the SERVER span with a remote parent and a link,
 * the CLIENT span under it, the resource and the scope, every value. */
Test(otlp_pb, server_and_client_exact)
{
	static struct span srv, cli;
	const struct span *list[] = {&srv, &cli};
	struct tbuf b = {0};
	char *got, *want = NULL;
	size_t wn;
	FILE *f;

	server_span(&srv);
	client_span(&cli);
	encode_ok(&b, &full_res, list, 2);
	got = decode(&b);
	f = want_begin(&want, &wn, &full_res);
	want_server(f);
	want_client(f);
	want_end(f);
	cr_expect_str_eq(got, want);
	expect_canonical(&b, got);
	free(got);
	free(want);
	tbuf_free(&b);
}

/* A new trace: no parent_span_id, and flags say the (absent) parent is
 * not remote; service.version and host.name are left out when unset. */
Test(otlp_pb, root_span_minimal_resource)
{
	static const struct export_resource res = {.service_name = "edge"};
	static struct span s;
	const struct span *list[] = {&s};
	struct tbuf b = {0};
	char *got, *want = NULL;
	size_t wn;
	FILE *f;

	span_reset(&s);
	ids(&s, "TTTTTTTTTTTTTTT2", "SSSSSSS2", NULL);
	s.kind = SPAN_KIND_SERVER;
	s.flags = 0x02; /* random, not sampled */
	s.status = SPAN_ST_OK;
	s.start_ns = 1;
	s.end_ns = 2;
	span_set_name(&s, "POST /", 6);
	encode_ok(&b, &res, list, 1);
	got = decode(&b);
	f = want_begin(&want, &wn, &res);
	fprintf(f, "    spans {\n"
	           "      trace_id: \"TTTTTTTTTTTTTTT2\"\n"
	           "      span_id: \"SSSSSSS2\"\n"
	           "      name: \"POST /\"\n"
	           "      kind: SPAN_KIND_SERVER\n"
	           "      start_time_unix_nano: 1\n"
	           "      end_time_unix_nano: 2\n"
	           "      status {\n"
	           "        code: STATUS_CODE_OK\n"
	           "      }\n"
	           "      flags: 258\n"
	           "    }\n");
	want_end(f);
	cr_expect_str_eq(got, want);
	cr_expect_null(strstr(got, "service.version"));
	cr_expect_null(strstr(got, "host.name"));
	expect_canonical(&b, got);
	free(got);
	free(want);
	tbuf_free(&b);
}

/* No name, no attributes, no events: only what is always there. */
Test(otlp_pb, no_attributes)
{
	static struct span s;
	const struct span *list[] = {&s};
	struct tbuf b = {0};
	char *got, *want = NULL;
	size_t wn;
	FILE *f;

	span_reset(&s);
	ids(&s, "TTTTTTTTTTTTTTT3", "SSSSSSS3", "PPPPPPP3");
	s.kind = SPAN_KIND_CLIENT;
	s.start_ns = T0;
	s.end_ns = T0;
	encode_ok(&b, &full_res, list, 1);
	got = decode(&b);
	f = want_begin(&want, &wn, &full_res);
	fprintf(f, "    spans {\n"
	           "      trace_id: \"TTTTTTTTTTTTTTT3\"\n"
	           "      span_id: \"SSSSSSS3\"\n"
	           "      parent_span_id: \"PPPPPPP3\"\n"
	           "      kind: SPAN_KIND_CLIENT\n"
	           "      start_time_unix_nano: 1700000000123456789\n"
	           "      end_time_unix_nano: 1700000000123456789\n"
	           "      flags: 256\n"
	           "    }\n");
	want_end(f);
	cr_expect_str_eq(got, want);
	expect_canonical(&b, got);
	free(got);
	free(want);
	tbuf_free(&b);
}

/* Thousands of spans in one request: every span, in order (past the
 * sizes the encoder keeps from its first pass, too), and lengths past
 * 2 MiB that take four-byte varints. */
Test(otlp_pb, many_spans)
{
	enum { N = 5000 };
	static struct span sp[N];
	static const struct span *list[N];
	struct tbuf b = {0};
	char *got, *at, want[128], id[16], buf[80];
	int found = 0;

	for (int i = 0; i < N; i++) {
		if (i % 2)
			client_span(&sp[i]);
		else
			server_span(&sp[i]);
		for (int k = 0; k < 16; k++)
			sp[i].trace_id[k] = (uint8_t)(i * 31 + k * 7);
		snprintf(id, sizeof(id), "%08d", i);
		memcpy(sp[i].span_id, id, 8);
		list[i] = &sp[i];
	}
	encode_ok(&b, &full_res, list, N);
	cr_expect_gt(b.len, (size_t)1 << 21, "%zu bytes", b.len);
	got = decode(&b);
	at = got;
	for (int i = 0; i < N; i++) {
		snprintf(want, sizeof(want),
		         "    spans {\n      trace_id: \"%s\"\n      span_id: \"%08d\"\n",
		         esc(sp[i].trace_id, 16, buf), i);
		if (!(at = strstr(at, want)))
			break;
		found++;
	}
	cr_expect_eq(found, N);
	/* the one resource and scope, then spans only */
	cr_expect_null(strstr(strstr(got, "scope_spans {") + 1, "scope_spans {"));
	cr_expect_null(strstr(strstr(got, "resource {") + 1, "resource {"));
	expect_canonical(&b, got);
	free(got);
	tbuf_free(&b);
}

/* The body is appended: what the buffer held stays. */
Test(otlp_pb, appends)
{
	static struct span s;
	const struct span *list[] = {&s};
	struct tbuf b = {0}, alone = {0};

	server_span(&s);
	tbuf_lit(&b, "prefix");
	encode_ok(&b, &full_res, list, 1);
	encode_ok(&alone, &full_res, list, 1);
	cr_expect_eq(b.len, 6 + alone.len);
	cr_expect_eq(memcmp(b.p, "prefix", 6), 0);
	cr_expect_eq(memcmp(b.p + 6, alone.p, alone.len), 0);
	tbuf_free(&b);
	tbuf_free(&alone);
}

/* No spans: nothing appended. */
Test(otlp_pb, no_spans)
{
	struct tbuf b = {0};

	cr_expect_eq(otlp_pb_encode(&b, &full_res, NULL, 0), 0);
	cr_expect_eq(b.len, 0);
	tbuf_free(&b);
}

/* Out of memory: -1, and nothing written. The buffer claims a length so
 * close to tbuf's limit that it cannot grow, with no memory behind it: a
 * write would crash. */
Test(otlp_pb, alloc_failure)
{
	static struct span s;
	const struct span *list[] = {&s};
	struct tbuf b = {.len = SIZE_MAX / 2 - 16, .cap = SIZE_MAX / 2 - 16};
	struct tbuf failed = {0};

	server_span(&s);
	cr_expect_eq(otlp_pb_encode(&b, &full_res, list, 1), -1);
	cr_expect(b.failed);
	cr_expect_eq(b.len, SIZE_MAX / 2 - 16);

	/* an earlier append failed: the body would be incomplete */
	failed.failed = true;
	cr_expect_eq(otlp_pb_encode(&failed, &full_res, list, 1), -1);
	cr_expect_eq(otlp_pb_encode(&failed, &full_res, list, 0), -1);
	tbuf_free(&failed);
}
