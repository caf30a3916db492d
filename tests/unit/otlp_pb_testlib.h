/* otlp_pb_testlib.h: what the OTLP/protobuf encoder suites share
 * (test_otlp_pb.c, test_otlp_pb_wire.c): protoc run on a body, to decode it
 * with the schema in tests/support/otlp and to encode the text back, the
 * escapes protoc prints bytes with, the SERVER and CLIENT spans of one
 * request, and the expected text of a request up to its spans. Test code
 * only: static inline functions (a suite that leaves one unused gets no
 * warning; esc() is marked unused instead), one copy per suite. */
#ifndef TG_OTLP_PB_TESTLIB_H
#define TG_OTLP_PB_TESTLIB_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trace/encode.h"
#ifndef TG_SOURCE_DIR
#error "define TG_SOURCE_DIR to the repository root"
#endif

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
static inline char *protoc(const char *args, const void *in, size_t n, size_t *outlen)
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

static inline char *decode(const struct tbuf *b)
{
	return protoc(DECODE, b->p, b->len, NULL);
}

/* protoc's own encoding of what it decoded must be our bytes: same field
 * order, shortest varints, no default value written. */
static inline void expect_canonical(const struct tbuf *b, const char *text)
{
	size_t len;
	char *again = protoc(ENCODE, text, strlen(text), &len);

	cr_expect(len == b->len && memcmp(again, b->p, len) == 0,
	          "protoc re-encodes differently (%zu bytes, ours %zu)", len, b->len);
	free(again);
}

static inline void encode_ok(struct tbuf *b, const struct export_resource *res,
                             const struct span *const *spans, int n)
{
	cr_assert_eq(otlp_pb_encode(b, res, spans, n), 0);
	cr_assert_gt(b->len, 0);
}

/* <p,n> as protoc prints a bytes or string field: C escapes, octal for
 * anything not printable ASCII. Never inlined (so not "inline", which GCC
 * refuses with noinline; "unused" stands in for it): where a suite calls it
 * once, GCC would see the caller's buffer through it and warn that an
 * snprintf of the result may be cut (-Wformat-truncation), which sixteen
 * bytes at four characters each never are. */
static __attribute__((noinline, unused)) char *esc(const void *p, size_t n, char *out)
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

static inline void ids(struct span *s, const char *trace, const char *span, const char *parent)
{
	memcpy(s->trace_id, trace, 16);
	memcpy(s->span_id, span, 8);
	if (parent)
		memcpy(s->parent_id, parent, 8);
}

/* A SERVER span for a request a traced caller sent, answered 502. */
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
static inline void want_str(FILE *f, const char *k, const char *v)
{
	fprintf(f,
	        "      attributes {\n        key: \"%s\"\n        value {\n"
	        "          string_value: \"%s\"\n        }\n      }\n",
	        k, v);
}

static inline void want_int(FILE *f, const char *k, long long v)
{
	fprintf(f,
	        "      attributes {\n        key: \"%s\"\n        value {\n"
	        "          int_value: %lld\n        }\n      }\n",
	        k, v);
}

/* Starts the expected text of a whole request in *<buf>, up to the first
 * span, as protoc prints it: the caller prints its spans into the stream
 * returned, then calls want_end(). */
static inline FILE *want_begin(char **buf, size_t *len, const struct export_resource *r)
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

static inline void want_end(FILE *f)
{
	fprintf(f, "  }\n}\n");
	fclose(f);
}

#endif
