/* otlp_decode_testlib.h: what the OTLP decoder suites share
 * (test_otlp_decode.c, test_otlp_decode_pb.c, test_otlp_decode_json.c): a
 * callback that keeps copies of the spans and checks their renderings, the
 * decode wrapper that checks the contract, protoc, our own spans, and the
 * request every kind of value is sent in. Test code only: static inline
 * functions (a suite that leaves one unused gets no warning), one copy per
 * suite. */
#ifndef TG_OTLP_DECODE_TESTLIB_H
#define TG_OTLP_DECODE_TESTLIB_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trace/encode.h"
#include "trace/otlp_decode.h"
#ifndef TG_SOURCE_DIR
#error "define TG_SOURCE_DIR to the repository root"
#endif

#define PROTO_DIR TG_SOURCE_DIR "/tests/support/otlp"
#define PROTO     PROTO_DIR "/opentelemetry/proto/collector/trace/v1/trace_service.proto"
#define REQ       "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"
#define ENCODE    "--encode=" REQ " -I " PROTO_DIR " " PROTO
#define T0        1700000000123456789ull
#define N_OF(a)   (sizeof(a) / sizeof((a)[0]))

/* ---- what the callback saw -------------------------------------------- */

/* A delivered span, its strings copied and NUL-terminated. */
struct got_span {
	struct otlp_span_in s;
	char *name, *service, *attrs, *events;
};

struct got {
	struct got_span sp[64];
	int n;
	int stop_at; /* the callback returns 1 for span number <stop_at> (1-based); 0 never */
	int calls;
};

static inline char *dup_n(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	cr_assert_not_null(s);
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* The renderings must be strict JSON: parsed by jansson, which refuses
 * text that is not UTF-8 and, so told, repeated keys. */
static inline void expect_strict_json(const char *p, size_t n, bool array)
{
	json_error_t je;
	json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);

	cr_expect_not_null(v, "not strict JSON (%s): %.*s", je.text, (int)n, p);
	if (v)
		cr_expect(array ? json_is_array(v) : json_is_object(v), "%.*s", (int)n, p);
	json_decref(v);
}

static inline int on_span(void *arg, const struct otlp_span_in *s)
{
	struct got *g = arg;
	struct got_span *o;

	g->calls++;
	if (g->stop_at && g->calls == g->stop_at)
		return 1;
	cr_assert_lt(g->n, (int)N_OF(g->sp));
	expect_strict_json(s->attrs_json, s->attrs_len, false);
	expect_strict_json(s->events_json, s->events_len, true);
	o = &g->sp[g->n++];
	o->s = *s;
	o->name = dup_n(s->name ? s->name : "", s->name_len);
	o->service = dup_n(s->service ? s->service : "", s->service_len);
	o->attrs = dup_n(s->attrs_json, s->attrs_len);
	o->events = dup_n(s->events_json, s->events_len);
	return 0;
}

static inline void got_free(struct got *g)
{
	for (int i = 0; i < g->n; i++) {
		free(g->sp[i].name);
		free(g->sp[i].service);
		free(g->sp[i].attrs);
		free(g->sp[i].events);
	}
	g->n = 0;
	g->calls = 0;
}

typedef int (*decode_fn)(const void *body, size_t len, otlp_span_cb cb, void *arg, size_t *skipped,
                         char *err, size_t errlen);

/* Decodes <body,len> with <fn> into <g>; returns what <fn> did, with the
 * skipped count in *<skipped> and the message in <err> (256 bytes). */
static inline int decode(decode_fn fn, const void *body, size_t len, struct got *g, size_t *skipped,
                         char *err)
{
	size_t sk = 12345;
	int rc;

	got_free(g);
	rc = fn(body, len, on_span, g, &sk, err, 256);
	if (rc < 0) {
		/* refused: nothing delivered, a reason given */
		cr_expect_eq(g->calls, 0, "%d spans delivered before -1", g->calls);
		cr_expect_neq(err[0], '\0');
		cr_expect_null(strchr(err, '\n'), "%s", err);
	} else {
		cr_expect_eq(rc, g->n);
		cr_expect_neq(sk, (size_t)12345);
	}
	if (skipped)
		*skipped = sk;
	return rc;
}

/* Both records the same, field by field. */
static inline void expect_same(const struct got_span *a, const struct got_span *b, int i)
{
	cr_expect_eq(memcmp(a->s.trace_id, b->s.trace_id, 16), 0, "span %d", i);
	cr_expect_eq(memcmp(a->s.span_id, b->s.span_id, 8), 0, "span %d", i);
	cr_expect_eq(memcmp(a->s.parent_id, b->s.parent_id, 8), 0, "span %d", i);
	cr_expect_eq(a->s.has_parent, b->s.has_parent, "span %d", i);
	cr_expect_eq(a->s.kind, b->s.kind, "span %d", i);
	cr_expect_eq(a->s.status, b->s.status, "span %d", i);
	cr_expect_eq(a->s.start_ns, b->s.start_ns, "span %d", i);
	cr_expect_eq(a->s.end_ns, b->s.end_ns, "span %d", i);
	cr_expect_eq(a->s.dropped_attrs, b->s.dropped_attrs, "span %d", i);
	cr_expect_str_eq(a->name, b->name, "span %d", i);
	cr_expect_str_eq(a->service, b->service, "span %d", i);
	cr_expect_str_eq(a->attrs, b->attrs, "span %d", i);
	cr_expect_str_eq(a->events, b->events, "span %d", i);
}

/* ---- protoc ------------------------------------------------------------- */

/* protoc --encode of the text-format request <text>; the body (malloc'd)
 * and its length in *<len>. */
static inline uint8_t *protoc_encode(const char *text, size_t *len)
{
	char ipath[] = "/tmp/tg-otlpd-in-XXXXXX", opath[] = "/tmp/tg-otlpd-out-XXXXXX";
	int ifd = mkstemp(ipath), ofd = mkstemp(opath), rc;
	char cmd[1024];
	uint8_t *out;
	FILE *f;
	long n;

	cr_assert(ifd >= 0 && ofd >= 0);
	cr_assert_eq(write(ifd, text, strlen(text)), (ssize_t)strlen(text));
	close(ifd);
	close(ofd);
	snprintf(cmd, sizeof(cmd), "protoc %s < %s > %s", ENCODE, ipath, opath);
	rc = system(cmd);
	cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "protoc failed (%d)", rc);
	cr_assert_not_null(f = fopen(opath, "rb"));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	out = malloc((size_t)n + 1);
	cr_assert_eq(fread(out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	unlink(ipath);
	unlink(opath);
	*len = (size_t)n;
	return out;
}

/* ---- our own spans ------------------------------------------------------- */

static const struct export_resource full_res = {
        .service_name = "checkout",
        .service_version = "2.4.1",
        .host_name = "gw-1",
};

#define STR(s, k, v) span_attr_str(s, k, v, strlen(v))

static inline void ids(struct span *s, const char *trace, const char *span, const char *parent)
{
	memcpy(s->trace_id, trace, 16);
	memcpy(s->span_id, span, 8);
	if (parent)
		memcpy(s->parent_id, parent, 8);
}

/* A SERVER span with a remote parent, a link, a tracestate and status 502. */
static inline void server_span(struct span *s)
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
	STR(s, SPAN_A_USER_AGENT, "caf\xc3\xa9/1");
	span_attr_int(s, SPAN_A_CLIENT_PORT, 51234);
	span_attr_int(s, SPAN_A_HTTP_RESPONSE_STATUS_CODE, 502);
	span_attr_int(s, SPAN_A_HTTP_RESEND_COUNT, -1);
	s->has_link = true;
	memcpy(s->link_trace_id, "LLLLLLLLLLLLLLL1", 16);
	memcpy(s->link_span_id, "KKKKKKK1", 8);
	s->link_flags = 0x01;
}

#define SERVER_ATTRS                                                                               \
	"{\"http.request.method\":\"GET\",\"url.path\":\"/api/orders/42\","                        \
	"\"url.query\":\"id=7&x=\\\"y\\\"\",\"user_agent.original\":\"caf\xc3\xa9/1\","            \
	"\"client.port\":51234,\"http.response.status_code\":502,"                                 \
	"\"http.request.resend_count\":-1}"

/* Its CLIENT span: five timing events, status unset. */
static inline void client_span(struct span *s)
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
	STR(s, SPAN_A_SERVER_ADDRESS, "127.0.0.1");
	span_attr_int(s, SPAN_A_SERVER_PORT, 9001);
}

static inline void expect_server(const struct got_span *g)
{
	cr_expect_eq(memcmp(g->s.trace_id, "TTTTTTTTTTTTTTT1", 16), 0);
	cr_expect_eq(memcmp(g->s.span_id, "SSSSSSS1", 8), 0);
	cr_expect_eq(memcmp(g->s.parent_id, "PPPPPPP1", 8), 0);
	cr_expect(g->s.has_parent);
	cr_expect_str_eq(g->name, "GET /api");
	cr_expect_eq(g->s.kind, 2);
	cr_expect_eq(g->s.status, 2);
	cr_expect_eq(g->s.start_ns, T0);
	cr_expect_eq(g->s.end_ns, T0 + 1500000);
	cr_expect_eq(g->s.dropped_attrs, 0);
	cr_expect_str_eq(g->service, "checkout");
	cr_expect_str_eq(g->attrs, SERVER_ATTRS);
	cr_expect_str_eq(g->events, "[]");
}

static inline void expect_client(const struct got_span *g)
{
	char want[512];

	cr_expect_eq(memcmp(g->s.trace_id, "TTTTTTTTTTTTTTT1", 16), 0);
	cr_expect_eq(memcmp(g->s.span_id, "CCCCCCC1", 8), 0);
	cr_expect_eq(memcmp(g->s.parent_id, "SSSSSSS1", 8), 0);
	cr_expect(g->s.has_parent);
	cr_expect_str_eq(g->name, "GET");
	cr_expect_eq(g->s.kind, 3);
	cr_expect_eq(g->s.status, 0);
	cr_expect_eq(g->s.start_ns, T0 + 100);
	cr_expect_eq(g->s.end_ns, T0 + 1400000);
	cr_expect_str_eq(g->service, "checkout");
	cr_expect_str_eq(g->attrs, "{\"server.address\":\"127.0.0.1\",\"server.port\":9001}");
	snprintf(want, sizeof(want),
	         "[{\"name\":\"connect_start\",\"timeUnixNano\":\"%llu\"},"
	         "{\"name\":\"connect_end\",\"timeUnixNano\":\"%llu\"},"
	         "{\"name\":\"request_sent\",\"timeUnixNano\":\"%llu\"},"
	         "{\"name\":\"first_byte\",\"timeUnixNano\":\"%llu\"},"
	         "{\"name\":\"last_byte\",\"timeUnixNano\":\"%llu\"}]",
	         T0 + 100, T0 + 1100, T0 + 3100, T0 + 4100, T0 + 5100);
	cr_expect_str_eq(g->events, want);
}

/* ---- what other SDKs send ------------------------------------------------- */

/* Three resources (one without a resource at all), two scopes in the
 * first, every kind of attribute value, events with attributes, fields we
 * do not read (trace_state, links, flags, dropped counts, scope attributes,
 * schema URLs), and a status with a message. */
static const char protoc_request[] =
        "resource_spans {\n"
        "  resource {\n"
        "    attributes { key: \"host.arch\" value { string_value: \"amd64\" } }\n"
        "    attributes { key: \"service.name\" value { string_value: \"inventory\" } }\n"
        "    attributes { key: \"service.name\" value { string_value: \"second\" } }\n"
        "    dropped_attributes_count: 2\n"
        "  }\n"
        "  scope_spans {\n"
        "    scope { name: \"io.opentelemetry.jdbc\" version: \"2.1.0\"\n"
        "            attributes { key: \"x\" value { int_value: 1 } } }\n"
        "    spans {\n"
        "      trace_id: \"\\x0a\\xf7\\x65\\x19\\x16\\xcd\\x43\\xdd\\x84\\x48\\xeb\\x21\\x1c\\x80"
        "\\x31\\x9c\"\n"
        "      span_id: \"\\x92\\x59\\x29\\xf7\\x23\\x46\\x25\\x2c\"\n"
        "      trace_state: \"vendor=1\"\n"
        "      parent_span_id: \"\\xb7\\xad\\x6b\\x71\\x69\\x20\\x33\\x31\"\n"
        "      name: \"SELECT stock\"\n"
        "      kind: SPAN_KIND_CLIENT\n"
        "      start_time_unix_nano: 1795603063026000000\n"
        "      end_time_unix_nano: 1795603063032857222\n"
        "      attributes { key: \"db.system\" value { string_value: \"postgresql\" } }\n"
        "      attributes { key: \"db.rows\" value { int_value: -42 } }\n"
        "      attributes { key: \"ratio\" value { double_value: 0.1 } }\n"
        "      attributes { key: \"big\" value { double_value: -1.5e300 } }\n"
        "      attributes { key: \"nan\" value { double_value: nan } }\n"
        "      attributes { key: \"inf\" value { double_value: -inf } }\n"
        "      attributes { key: \"cached\" value { bool_value: true } }\n"
        "      attributes { key: \"tags\" value { array_value {\n"
        "        values { string_value: \"a\" } values { int_value: 7 }\n"
        "        values { bool_value: false } values { } } } }\n"
        "      attributes { key: \"blob\" value { bytes_value: \"\\x00\\x01\\xfe\\xff\" } }\n"
        "      attributes { key: \"nested\" value { kvlist_value {\n"
        "        values { key: \"k\" value { array_value { values { double_value: 1.5 } } } }\n"
        "        values { key: \"e\" } } } }\n"
        "      attributes { key: \"empty\" value { } }\n"
        "      attributes { key: \"db.rows\" value { int_value: 99 } }\n"
        "      attributes { key: \"odd \\\"key\\\"\\n\\xc3\\xa9\" value { string_value: "
        "\"a\\x01\\xc3\\xa9\" } }\n"
        "      dropped_attributes_count: 3\n"
        "      events { time_unix_nano: 1795603063027000000 name: \"exception\"\n"
        "        attributes { key: \"exception.message\" value { string_value: \"boom\" } } }\n"
        "      events { time_unix_nano: 1795603063028000000 name: \"retry\" }\n"
        "      dropped_events_count: 1\n"
        "      links { trace_id: \"LLLLLLLLLLLLLLLL\" span_id: \"KKKKKKKK\" flags: 1 }\n"
        "      status { message: \"db down\" code: STATUS_CODE_ERROR }\n"
        "      flags: 769\n"
        "    }\n"
        "  }\n"
        "  scope_spans {\n"
        "    scope { name: \"manual\" }\n"
        "    spans {\n"
        "      trace_id: \"AAAAAAAAAAAAAAA2\" span_id: \"BBBBBBB2\" name: \"work\"\n"
        "      kind: SPAN_KIND_INTERNAL start_time_unix_nano: 5 end_time_unix_nano: 6\n"
        "      status { code: STATUS_CODE_OK }\n"
        "    }\n"
        "    schema_url: \"https://opentelemetry.io/schemas/1.21.0\"\n"
        "  }\n"
        "  schema_url: \"https://opentelemetry.io/schemas/1.21.0\"\n"
        "}\n"
        "resource_spans {\n"
        "  resource { attributes { key: \"service.name\" value { string_value: \"billing\" } } }\n"
        "  scope_spans { spans {\n"
        "    trace_id: \"AAAAAAAAAAAAAAA3\" span_id: \"BBBBBBB3\" parent_span_id: \"\"\n"
        "    name: \"POST /pay\" kind: SPAN_KIND_SERVER\n"
        "  } }\n"
        "}\n"
        "resource_spans {\n"
        "  scope_spans { spans { trace_id: \"AAAAAAAAAAAAAAA4\" span_id: \"BBBBBBB4\"\n"
        "    kind: SPAN_KIND_CONSUMER } }\n"
        "}\n";

#define PROTOC_ATTRS                                                                               \
	"{\"db.system\":\"postgresql\",\"db.rows\":-42,\"ratio\":0.1,\"big\":-1.5e+300,"           \
	"\"nan\":\"NaN\",\"inf\":\"-Infinity\",\"cached\":true,\"tags\":[\"a\",7,false,null],"     \
	"\"blob\":\"AAH+/w==\",\"nested\":{\"k\":[1.5],\"e\":null},\"empty\":null,"                \
	"\"odd \\\"key\\\"\\u000a\xc3\xa9\":\"a\\u0001\xc3\xa9\"}"

#define PROTOC_EVENTS                                                                              \
	"[{\"name\":\"exception\",\"timeUnixNano\":\"1795603063027000000\","                       \
	"\"attributes\":{\"exception.message\":\"boom\"}},"                                        \
	"{\"name\":\"retry\",\"timeUnixNano\":\"1795603063028000000\"}]"

static inline void expect_protoc_spans(const struct got *g)
{
	static const uint8_t tid[16] = {0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd,
	                                0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c};
	static const uint8_t sid[8] = {0x92, 0x59, 0x29, 0xf7, 0x23, 0x46, 0x25, 0x2c};
	static const uint8_t pid[8] = {0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31};
	const struct got_span *s = &g->sp[0];

	cr_assert_eq(g->n, 4);
	cr_expect_eq(memcmp(s->s.trace_id, tid, 16), 0);
	cr_expect_eq(memcmp(s->s.span_id, sid, 8), 0);
	cr_expect_eq(memcmp(s->s.parent_id, pid, 8), 0);
	cr_expect(s->s.has_parent);
	cr_expect_str_eq(s->name, "SELECT stock");
	cr_expect_eq(s->s.kind, 3);
	cr_expect_eq(s->s.status, 2);
	cr_expect_eq(s->s.start_ns, 1795603063026000000ull);
	cr_expect_eq(s->s.end_ns, 1795603063032857222ull);
	/* the sender's 3, and the repeated db.rows */
	cr_expect_eq(s->s.dropped_attrs, 4);
	cr_expect_str_eq(s->service, "inventory");
	cr_expect_str_eq(s->attrs, PROTOC_ATTRS);
	cr_expect_str_eq(s->events, PROTOC_EVENTS);

	s = &g->sp[1];
	cr_expect_eq(memcmp(s->s.trace_id, "AAAAAAAAAAAAAAA2", 16), 0);
	cr_expect_eq(memcmp(s->s.span_id, "BBBBBBB2", 8), 0);
	cr_expect_not(s->s.has_parent);
	cr_expect_str_eq(s->name, "work");
	cr_expect_eq(s->s.kind, 1);
	cr_expect_eq(s->s.status, 1);
	cr_expect_eq(s->s.start_ns, 5);
	cr_expect_eq(s->s.end_ns, 6);
	cr_expect_str_eq(s->service, "inventory");
	cr_expect_str_eq(s->attrs, "{}");
	cr_expect_str_eq(s->events, "[]");

	s = &g->sp[2];
	cr_expect_eq(memcmp(s->s.span_id, "BBBBBBB3", 8), 0);
	cr_expect_not(s->s.has_parent);
	cr_expect_eq(s->s.kind, 2);
	cr_expect_eq(s->s.status, 0);
	cr_expect_eq(s->s.start_ns, 0);
	cr_expect_str_eq(s->service, "billing");

	s = &g->sp[3];
	cr_expect_eq(memcmp(s->s.span_id, "BBBBBBB4", 8), 0);
	cr_expect_eq(s->s.kind, 5);
	cr_expect_str_eq(s->name, "");
	cr_expect_str_eq(s->service, "");
}

/* ---- broken protobuf ---------------------------------------------------------- */

/* Every prefix of a valid body: refused, or (cut between two of the
 * request's own fields) fewer spans; never a crash, never a span
 * delivered from a body then refused. Under the sanitizer build, a read
 * one byte too far is an error. */
static inline void cut_everywhere(decode_fn fn, const uint8_t *body, size_t len, int full)
{
	static struct got g;
	char err[256];

	for (size_t n = 0; n < len; n++) {
		/* a copy of exactly <n> bytes, so that reading past it is caught */
		uint8_t *p = malloc(n ? n : 1);
		int rc;

		memcpy(p, body, n);
		rc = decode(fn, p, n, &g, NULL, err);
		cr_expect(rc == -1 || (rc >= 0 && rc < full), "cut at %zu: %d", n, rc);
		free(p);
	}
	got_free(&g);
	cr_expect_eq(decode(fn, body, len, &g, NULL, err), full, "%s", err);
	got_free(&g);
}

#endif
