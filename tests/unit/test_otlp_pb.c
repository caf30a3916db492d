/* test_otlp_pb.c: the OTLP/protobuf encoder, checked by protoc rather than by
 * our own reading of the bytes. Each body is decoded with the schema in
 * tests/support/otlp (written from the OTLP field numbers) and compared as
 * text with what we expect; some are also decoded raw, which needs no
 * schema, and encoded back by protoc, which must give the same bytes. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trace/encode.h"

#define PROTO_DIR TG_SOURCE_DIR "/tests/support/otlp"
#define PROTO     PROTO_DIR "/opentelemetry/proto/collector/trace/v1/trace_service.proto"
#define REQ       "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"
#define DECODE    "--decode=" REQ " -I " PROTO_DIR " " PROTO
#define ENCODE    "--encode=" REQ " -I " PROTO_DIR " " PROTO
#define T0        1700000000123456789ull

static const struct export_resource full_res = {
        .service_name = "checkout",
        .service_version = "2.4.1",
        .host_name = "gw-1",
};

/* ---- protoc --------------------------------------------------------------- */

/* Runs protoc with <args>, <in,n> on its standard input. Returns its
 * standard output (malloc'd, NUL-terminated, length in *<outlen> when not
 * NULL); fails the test unless protoc exits 0. */
static char *protoc(const char *args, const void *in, size_t n, size_t *outlen)
{
	char ipath[] = "/tmp/tg-otlp-in-XXXXXX", opath[] = "/tmp/tg-otlp-out-XXXXXX";
	int ifd = mkstemp(ipath), ofd = mkstemp(opath), rc;
	char cmd[1024], *out;
	FILE *f;
	long len;

	cr_assert(ifd >= 0 && ofd >= 0);
	cr_assert_eq(write(ifd, in, n), (ssize_t)n);
	close(ifd);
	close(ofd);
	snprintf(cmd, sizeof(cmd), "protoc %s < %s > %s", args, ipath, opath);
	rc = system(cmd);
	f = fopen(opath, "rb");
	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	out = malloc((size_t)len + 1);
	cr_assert_eq(fread(out, 1, (size_t)len, f), (size_t)len);
	out[len] = '\0';
	fclose(f);
	unlink(ipath);
	unlink(opath);
	cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "protoc %s failed (%d)", args, rc);
	if (outlen)
		*outlen = (size_t)len;
	return out;
}

static char *decode(const struct tbuf *b)
{
	return protoc(DECODE, b->p, b->len, NULL);
}

/* protoc's own encoding of what it decoded must be our bytes: same field
 * order, shortest varints, no default value written. */
static void expect_canonical(const struct tbuf *b, const char *text)
{
	size_t len;
	char *again = protoc(ENCODE, text, strlen(text), &len);

	cr_expect(len == b->len && memcmp(again, b->p, len) == 0,
	          "protoc re-encodes differently (%zu bytes, ours %zu)", len, b->len);
	free(again);
}

static void encode_ok(struct tbuf *b, const struct export_resource *res,
                      const struct span *const *spans, int n)
{
	cr_assert_eq(otlp_pb_encode(b, res, spans, n), 0);
	cr_assert_gt(b->len, 0);
}

/* <p,n> as protoc prints a bytes or string field: C escapes, octal for
 * anything not printable ASCII. */
static char *esc(const void *p, size_t n, char *out)
{
	static const char from[] = "\n\r\t\"'\\", to[] = "nrt\"'\\";
	const uint8_t *u = p;
	const char *c;
	char *o = out;

	for (size_t i = 0; i < n; i++) {
		if (u[i] && (c = memchr(from, u[i], sizeof(from) - 1)))
			o += sprintf(o, "\\%c", to[c - from]);
		else if (u[i] < 0x20 || u[i] >= 0x7f)
			o += sprintf(o, "\\%03o", u[i]);
		else
			*o++ = (char)u[i];
	}
	*o = '\0';
	return out;
}

/* ---- spans ---------------------------------------------------------------- */

#define STR(s, k, v) span_attr_str(s, k, v, strlen(v))

static void ids(struct span *s, const char *trace, const char *span, const char *parent)
{
	memcpy(s->trace_id, trace, 16);
	memcpy(s->span_id, span, 8);
	if (parent)
		memcpy(s->parent_id, parent, 8);
}

/* A SERVER span for a request a traced caller sent, answered 502. */
static void server_span(struct span *s)
{
	span_reset(s);
	ids(s, "TTTTTTTTTTTTTTT1", "SSSSSSS1", "PPPPPPP1");
	s->kind = SPAN_KIND_SERVER;
	s->flags = 0x01;
	s->status = SPAN_ST_ERROR;
	s->start_ns = T0;
	s->end_ns = T0 + 1500000;
	span_set_name(s, "GET /api", 8);
	span_set_tracestate(s, "ot=th:8,vendor=x", 16);
	STR(s, SPAN_A_HTTP_REQUEST_METHOD, "GET");
	STR(s, SPAN_A_URL_PATH, "/api/orders/42");
	STR(s, SPAN_A_URL_QUERY, "id=7&x=\"y\"");
	STR(s, SPAN_A_URL_SCHEME, "http");
	STR(s, SPAN_A_HTTP_ROUTE, "/api");
	STR(s, SPAN_A_TG_ROUTE, "orders");
	STR(s, SPAN_A_USER_AGENT, "curl/8.5.0");
	STR(s, SPAN_A_CLIENT_ADDRESS, "10.1.2.3");
	span_attr_int(s, SPAN_A_CLIENT_PORT, 51234);
	STR(s, SPAN_A_SERVER_ADDRESS, "shop.example.com");
	span_attr_int(s, SPAN_A_SERVER_PORT, 8080);
	span_attr_int(s, SPAN_A_HTTP_RESPONSE_STATUS_CODE, 502);
	STR(s, SPAN_A_ERROR_TYPE, "502");
	span_attr_int(s, SPAN_A_HTTP_RESEND_COUNT, -1);
	s->has_link = true;
	memcpy(s->link_trace_id, "LLLLLLLLLLLLLLL1", 16);
	memcpy(s->link_span_id, "KKKKKKK1", 8);
	s->link_flags = 0x01;
}

/* The CLIENT span of the same request's attempt: no TLS, so five events. */
static void client_span(struct span *s)
{
	span_reset(s);
	ids(s, "TTTTTTTTTTTTTTT1", "CCCCCCC1", "SSSSSSS1");
	s->kind = SPAN_KIND_CLIENT;
	s->flags = 0x03;
	s->start_ns = T0 + 100;
	s->end_ns = T0 + 1400000;
	span_set_name(s, "GET", 3);
	for (int i = 0; i < SPAN_EV_N; i++)
		s->ev_ns[i] = i == SPAN_EV_TLS_END ? 0 : T0 + 100 + 1000 * (uint64_t)i;
	STR(s, SPAN_A_HTTP_REQUEST_METHOD, "GET");
	STR(s, SPAN_A_SERVER_ADDRESS, "127.0.0.1");
	span_attr_int(s, SPAN_A_SERVER_PORT, 9001);
	STR(s, SPAN_A_NET_PEER_ADDRESS, "127.0.0.1");
	span_attr_int(s, SPAN_A_NET_PEER_PORT, 9001);
	STR(s, SPAN_A_PEER_SERVICE, "orders");
	STR(s, SPAN_A_NET_PROTOCOL_VERSION, "1.1");
	span_attr_int(s, SPAN_A_HTTP_RESPONSE_STATUS_CODE, 200);
}

/* ---- expected text -------------------------------------------------------- */

/* A span attribute, at a span's depth; <v> as protoc prints it. */
static void want_str(FILE *f, const char *k, const char *v)
{
	fprintf(f,
	        "      attributes {\n        key: \"%s\"\n        value {\n"
	        "          string_value: \"%s\"\n        }\n      }\n",
	        k, v);
}

static void want_int(FILE *f, const char *k, long long v)
{
	fprintf(f,
	        "      attributes {\n        key: \"%s\"\n        value {\n"
	        "          int_value: %lld\n        }\n      }\n",
	        k, v);
}

static void want_event(FILE *f, unsigned long long ns, const char *name)
{
	fprintf(f, "      events {\n        time_unix_nano: %llu\n        name: \"%s\"\n      }\n",
	        ns, name);
}

/* Starts the expected text of a whole request in *<buf>, up to the first
 * span, as protoc prints it: the caller prints its spans into the stream
 * returned, then calls want_end(). */
static FILE *want_begin(char **buf, size_t *len, const struct export_resource *r)
{
	const char *kv[][2] = {
	        {"service.name", r->service_name}, {"service.version", r->service_version},
	        {"host.name", r->host_name},       {"telemetry.sdk.name", "tracegate"},
	        {"telemetry.sdk.language", "c"},   {"telemetry.sdk.version", TG_VERSION},
	};
	FILE *f = open_memstream(buf, len);

	cr_assert_not_null(f);
	fprintf(f, "resource_spans {\n  resource {\n");
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (kv[i][1])
			fprintf(f,
			        "    attributes {\n      key: \"%s\"\n      value {\n"
			        "        string_value: \"%s\"\n      }\n    }\n",
			        kv[i][0], kv[i][1]);
	fprintf(f, "  }\n  scope_spans {\n    scope {\n      name: \"tracegate\"\n"
	           "      version: \"" TG_VERSION "\"\n    }\n");
	return f;
}

static void want_end(FILE *f)
{
	fprintf(f, "  }\n}\n");
	fclose(f);
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

/* Without a schema: the wire types are the specification's, not merely
 * what our own .proto files say. */
Test(otlp_pb, raw_wire_types)
{
	static struct span srv, cli;
	const struct span *list[] = {&srv, &cli};
	struct tbuf b = {0};
	char *raw;

	server_span(&srv);
	client_span(&cli);
	encode_ok(&b, &full_res, list, 2);
	raw = protoc("--decode_raw", b.p, b.len, NULL);
	cr_expect_not_null(strstr(raw, "      16: 0x00000301\n"), "span flags fixed32:\n%s", raw);
	cr_expect_not_null(strstr(raw, "      16: 0x00000103\n"), "span flags fixed32:\n%s", raw);
	cr_expect_not_null(strstr(raw, "      7: 0x17979cfe3d85cd15\n"), "start fixed64:\n%s", raw);
	cr_expect_not_null(strstr(raw, "      6: 2\n"), "kind varint:\n%s", raw);
	cr_expect_not_null(strstr(raw, "        6: 0x00000301\n"), "link flags fixed32:\n%s", raw);
	cr_expect_not_null(strstr(raw, "        1: 0x17979cfe3d85cd79\n"), "event time:\n%s", raw);
	cr_expect_not_null(strstr(raw, "      15 {\n        3: 2\n      }\n"), "status:\n%s", raw);
	cr_expect_not_null(strstr(raw, "          3: 18446744073709551615\n"), "int_value -1:\n%s",
	                   raw);
	free(raw);
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

/* Ids are bytes, not text: every byte value goes through, and the
 * expected escapes here are written by hand, not by esc(). */
Test(otlp_pb, arbitrary_id_bytes)
{
	static const uint8_t tid[16] = {0x00, 0x01, 0x0a, 0x22, 0x27, 0x5c, 0x7f, 0x80,
	                                0xff, 'a',  'Z',  0x09, 0x0d, 0x3f, 0x20, 0xc3};
	static const uint8_t sid[8] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x01};
	static const uint8_t pid[8] = {0, 0, 0, 0, 0, 0, 0, 0x80};
	static struct span s;
	const struct span *list[] = {&s};
	struct tbuf b = {0};
	char *got, buf[200];

	span_reset(&s);
	memcpy(s.trace_id, tid, 16);
	memcpy(s.span_id, sid, 8);
	memcpy(s.parent_id, pid, 8);
	s.kind = SPAN_KIND_SERVER;
	s.start_ns = UINT64_MAX;
	s.end_ns = UINT64_MAX;
	encode_ok(&b, &full_res, list, 1);
	got = decode(&b);
	cr_expect_not_null(strstr(got,
	                          "      trace_id: \"\\000\\001\\n\\\"\\'\\\\\\177\\200\\377aZ\\t"
	                          "\\r? \\303\"\n"
	                          "      span_id: \"\\336\\255\\276\\357\\000\\000\\000\\001\"\n"
	                          "      parent_span_id: \"\\000\\000\\000\\000\\000\\000\\000"
	                          "\\200\"\n"),
	                   "%s", got);
	cr_expect_not_null(strstr(got, "      end_time_unix_nano: 18446744073709551615\n"));
	/* one non-zero byte is enough for a parent, and it is remote */
	cr_expect_not_null(strstr(got, "      flags: 768\n    }\n"), "%s", got);
	/* and esc(), which the other tests use, agrees with protoc */
	cr_expect_not_null(strstr(got, esc(tid, 16, buf)));
	free(got);
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

/* SPAN_ATTR_MAX attributes are written, the rest counted as dropped. */
Test(otlp_pb, max_attributes_dropped_count)
{
	static struct span s;
	const struct span *list[] = {&s};
	struct tbuf b = {0};
	char *got, *want = NULL, v[16];
	size_t wn;
	FILE *f;

	span_reset(&s);
	ids(&s, "TTTTTTTTTTTTTTT4", "SSSSSSS4", NULL);
	s.kind = SPAN_KIND_SERVER;
	s.start_ns = T0;
	s.end_ns = T0 + 1;
	for (int i = 0; i < SPAN_ATTR_MAX + 6; i++) {
		int n = snprintf(v, sizeof(v), "v%d", i);

		if (i % 2)
			span_attr_int(&s, (enum span_attr_key)(i % SPAN_A_N), i * 1000);
		else
			span_attr_str(&s, (enum span_attr_key)(i % SPAN_A_N), v, (size_t)n);
	}
	cr_assert_eq(s.n_attrs, SPAN_ATTR_MAX);
	cr_assert_eq(s.dropped_attrs, 6);
	encode_ok(&b, &full_res, list, 1);
	got = decode(&b);
	f = want_begin(&want, &wn, &full_res);
	fprintf(f, "    spans {\n"
	           "      trace_id: \"TTTTTTTTTTTTTTT4\"\n"
	           "      span_id: \"SSSSSSS4\"\n"
	           "      kind: SPAN_KIND_SERVER\n"
	           "      start_time_unix_nano: 1700000000123456789\n"
	           "      end_time_unix_nano: 1700000000123456790\n");
	for (int i = 0; i < SPAN_ATTR_MAX; i++) {
		snprintf(v, sizeof(v), "v%d", i);
		if (i % 2)
			want_int(f, span_attr_name[i % SPAN_A_N], i * 1000);
		else
			want_str(f, span_attr_name[i % SPAN_A_N], v);
	}
	fprintf(f, "      dropped_attributes_count: 6\n"
	           "      flags: 256\n"
	           "    }\n");
	want_end(f);
	cr_expect_str_eq(got, want);
	expect_canonical(&b, got);
	free(got);
	free(want);
	tbuf_free(&b);
}

/* Integers of every varint width, negative ones as ten bytes, and string
 * values either side of a one-byte length. */
Test(otlp_pb, int_and_length_widths)
{
	static const int64_t ints[] = {
	        0,         1,         127,       128,       16383,     16384,
	        2097151,   2097152,   1LL << 28, 1LL << 35, 1LL << 42, 1LL << 49,
	        1LL << 56, INT64_MAX, INT64_MIN, -1,
	};
	static struct span s;
	const struct span *list[] = {&s};
	static char v127[128], v128[129];
	struct tbuf b = {0};
	char *got, *want = NULL;
	size_t wn;
	FILE *f;
	int n = sizeof(ints) / sizeof(ints[0]);

	memset(v127, 'x', 127);
	memset(v128, 'y', 128);
	span_reset(&s);
	ids(&s, "TTTTTTTTTTTTTTT8", "SSSSSSS8", NULL);
	s.kind = SPAN_KIND_CLIENT;
	s.start_ns = T0;
	s.end_ns = T0;
	for (int i = 0; i < n; i++)
		span_attr_int(&s, (enum span_attr_key)i, ints[i]);
	STR(&s, SPAN_A_ERROR_TYPE, v127);
	STR(&s, SPAN_A_PEER_SERVICE, v128);
	encode_ok(&b, &full_res, list, 1);
	got = decode(&b);
	f = want_begin(&want, &wn, &full_res);
	fprintf(f, "    spans {\n"
	           "      trace_id: \"TTTTTTTTTTTTTTT8\"\n"
	           "      span_id: \"SSSSSSS8\"\n"
	           "      kind: SPAN_KIND_CLIENT\n"
	           "      start_time_unix_nano: 1700000000123456789\n"
	           "      end_time_unix_nano: 1700000000123456789\n");
	for (int i = 0; i < n; i++)
		want_int(f, span_attr_name[i], ints[i]);
	want_str(f, "error.type", v127);
	want_str(f, "peer.service", v128);
	fprintf(f, "      flags: 256\n"
	           "    }\n");
	want_end(f);
	cr_expect_str_eq(got, want);
	expect_canonical(&b, got);
	free(got);
	free(want);
	tbuf_free(&b);
}

/* A name that fills the string area: later values are cut to "", which is
 * still a value (AnyValue is a oneof), and a tracestate that does not fit
 * is left out whole. */
Test(otlp_pb, long_strings_cut)
{
	static struct span s;
	const struct span *list[] = {&s};
	static char name[2000], want_name[SPAN_STR_MAX + 1];
	struct tbuf b = {0};
	char *got, *want = NULL;
	size_t wn;
	FILE *f;

	for (size_t i = 0; i < sizeof(name); i++)
		name[i] = (char)('a' + i % 26);
	memcpy(want_name, name, SPAN_STR_MAX);
	span_reset(&s);
	ids(&s, "TTTTTTTTTTTTTTT5", "SSSSSSS5", "PPPPPPP5");
	s.kind = SPAN_KIND_SERVER;
	s.flags = 1;
	s.start_ns = T0;
	s.end_ns = T0 + 5;
	span_set_name(&s, name, sizeof(name));
	span_set_tracestate(&s, "a=b", 3);
	STR(&s, SPAN_A_URL_PATH, "/lost");
	span_attr_int(&s, SPAN_A_SERVER_PORT, 0);
	cr_assert_eq(s.name_len, SPAN_STR_MAX);
	cr_assert_eq(s.ts_len, 0);
	encode_ok(&b, &full_res, list, 1);
	got = decode(&b);
	f = want_begin(&want, &wn, &full_res);
	fprintf(f,
	        "    spans {\n"
	        "      trace_id: \"TTTTTTTTTTTTTTT5\"\n"
	        "      span_id: \"SSSSSSS5\"\n"
	        "      parent_span_id: \"PPPPPPP5\"\n"
	        "      name: \"%s\"\n"
	        "      kind: SPAN_KIND_SERVER\n"
	        "      start_time_unix_nano: 1700000000123456789\n"
	        "      end_time_unix_nano: 1700000000123456794\n",
	        want_name);
	want_str(f, "url.path", "");
	want_int(f, "server.port", 0);
	fprintf(f, "      flags: 769\n"
	           "    }\n");
	want_end(f);
	cr_expect_str_eq(got, want);
	expect_canonical(&b, got);
	free(got);
	free(want);
	tbuf_free(&b);
}

/* An empty tracestate is no tracestate. */
Test(otlp_pb, empty_tracestate)
{
	static struct span s;
	const struct span *list[] = {&s};
	struct tbuf b = {0};
	char *got;

	server_span(&s);
	s.ts_len = 0;
	span_set_tracestate(&s, "", 0);
	encode_ok(&b, &full_res, list, 1);
	got = decode(&b);
	cr_expect_null(strstr(got, "trace_state"), "%s", got);
	cr_expect_not_null(strstr(got, "      span_id: \"SSSSSSS1\"\n"
	                               "      parent_span_id: \"PPPPPPP1\"\n"));
	expect_canonical(&b, got);
	free(got);
	tbuf_free(&b);
}

/* Protobuf strings must be UTF-8 (protoc, like collectors, rejects the
 * whole body otherwise): valid text passes, each stray byte becomes
 * U+FFFD, including a character cut by the string cap. */
Test(otlp_pb, utf8_made_valid)
{
	static const struct {
		const char *in, *want; /* <want> as protoc prints it */
	} cases[] = {
	        {"caf\xc3\xa9", "caf\\303\\251"},
	        {"\xe2\x82\xac", "\\342\\202\\254"},
	        {"\xf0\x9f\x98\x80", "\\360\\237\\230\\200"},
	        {"a\xff", "a\\357\\277\\275"},
	        {"\xc3", "\\357\\277\\275"},
	        {"\xc0\xaf", "\\357\\277\\275\\357\\277\\275"},                    /* overlong */
	        {"\xe0\x80\xaf", "\\357\\277\\275\\357\\277\\275\\357\\277\\275"}, /* overlong */
	        {"\xed\xa0\x80", "\\357\\277\\275\\357\\277\\275\\357\\277\\275"}, /* surrogate */
	        {"\xf4\x90\x80\x80",
	         "\\357\\277\\275\\357\\277\\275\\357\\277\\275" /* > U+10FFFF */
	         "\\357\\277\\275"},
	        {"\xe2\x82x", "\\357\\277\\275\\357\\277\\275x"},
	        {"tab\t\x7f", "tab\\t\\177"},
	};
	static struct span s;
	const struct span *list[] = {&s};
	char want[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tbuf b = {0};
		char *got;

		span_reset(&s);
		ids(&s, "TTTTTTTTTTTTTTT6", "SSSSSSS6", NULL);
		s.kind = SPAN_KIND_SERVER;
		span_set_name(&s, cases[i].in, strlen(cases[i].in));
		span_set_tracestate(&s, cases[i].in, strlen(cases[i].in));
		STR(&s, SPAN_A_USER_AGENT, cases[i].in);
		encode_ok(&b, &full_res, list, 1);
		got = decode(&b);
		snprintf(want, sizeof(want), "      trace_state: \"%s\"\n", cases[i].want);
		cr_expect_not_null(strstr(got, want), "case %zu: %s", i, got);
		snprintf(want, sizeof(want), "      name: \"%s\"\n", cases[i].want);
		cr_expect_not_null(strstr(got, want), "case %zu: %s", i, got);
		snprintf(want, sizeof(want), "string_value: \"%s\"\n", cases[i].want);
		cr_expect_not_null(strstr(got, want), "case %zu: %s", i, got);
		expect_canonical(&b, got);
		free(got);
		tbuf_free(&b);
	}
}

/* The string cap cuts a two-byte character in half: the half is U+FFFD. */
Test(otlp_pb, utf8_cut_by_cap)
{
	static struct span s;
	const struct span *list[] = {&s};
	static char name[SPAN_STR_MAX - 1];
	struct tbuf b = {0};
	char *got;

	memset(name, 'n', sizeof(name));
	span_reset(&s);
	ids(&s, "TTTTTTTTTTTTTTT7", "SSSSSSS7", NULL);
	span_set_name(&s, name, sizeof(name));
	STR(&s, SPAN_A_USER_AGENT, "\xc3\xa9t\xc3\xa9");
	cr_assert_eq(s.attrs[0].len, 1);
	encode_ok(&b, &full_res, list, 1);
	got = decode(&b);
	cr_expect_not_null(strstr(got, "string_value: \"\\357\\277\\275\"\n"), "%s", got);
	free(got);
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
