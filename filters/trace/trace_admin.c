/* trace_admin.c: what the tracing filter serves on the admin listener when
 * the trace store is on (exporters = memory):
 *
 *   GET /                      the viewer (filters/trace/ui/index.html)
 *   GET /api/traces?route=&service=&min_duration_ms=&errors=1&limit=
 *   GET /api/traces/<32 hex trace-id>
 *   POST /v1/traces            OTLP/HTTP from the services behind the gateway,
 *                              protobuf or JSON, gzip or not: their spans
 *                              join the gateway's in the store
 *
 * Handlers run on the admin thread and read the store under its lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin.h"
#include "trace/jsonw.h"
#include "trace/otlp_decode.h"
#include "trace/store.h"
#include "trace/trace.h"
#include "trace/tracectx.h"
#include "trace/ui.h"

#define TRACE_ADMIN_LIMIT     50   /* traces listed when the query says nothing */
#define TRACE_ADMIN_LIMIT_MAX 1000 /* traces listed at most */

static void trace_admin_json(struct evhttp_request *req, int status, struct tbuf *b)
{
	if (b->failed)
		admin_reply(req, 500, "application/json", "{\"error\":\"out of memory\"}", 25);
	else
		admin_reply(req, status, "application/json", b->p, b->len);
	tbuf_free(b);
}

static void trace_admin_error(struct evhttp_request *req, int status, const char *msg)
{
	struct tbuf b = {0};

	tbuf_lit(&b, "{\"error\":\"");
	tbuf_lit(&b, msg); /* our own literals: nothing to escape */
	tbuf_lit(&b, "\"}");
	trace_admin_json(req, status, &b);
}

/* Reads the unsigned decimal <v>; false when it is not one. */
static bool trace_admin_uint(const char *v, unsigned long long *out)
{
	char *end;

	if (!v || !*v || strspn(v, "0123456789") != strlen(v))
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno == 0;
}

static void trace_admin_list(struct evhttp_request *req, void *arg)
{
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct store_query q = {.limit = TRACE_ADMIN_LIMIT};
	struct evkeyvalq kv = {0};
	struct tbuf b = {0};
	unsigned long long n;
	const char *v;

	(void)arg;
	if (query && evhttp_parse_query_str(query, &kv) < 0) {
		trace_admin_error(req, 400, "malformed query string");
		return;
	}
	q.route = evhttp_find_header(&kv, "route");
	q.service = evhttp_find_header(&kv, "service");
	if ((v = evhttp_find_header(&kv, "errors")))
		q.errors_only = strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
	if ((v = evhttp_find_header(&kv, "min_duration_ms"))) {
		if (!trace_admin_uint(v, &n) || n > 86400000ull) {
			trace_admin_error(req, 400, "min_duration_ms: milliseconds expected");
			goto out;
		}
		q.min_duration_ns = n * 1000000ull;
	}
	if ((v = evhttp_find_header(&kv, "limit"))) {
		if (!trace_admin_uint(v, &n) || n == 0 || n > TRACE_ADMIN_LIMIT_MAX) {
			trace_admin_error(req, 400, "limit: 1 to 1000 expected");
			goto out;
		}
		q.limit = (int)n;
	}
	if (q.route && !*q.route)
		q.route = NULL;
	if (q.service && !*q.service)
		q.service = NULL;
	store_list_json(&b, &q);
	trace_admin_json(req, 200, &b);
out:
	evhttp_clear_headers(&kv);
}

static void trace_admin_trace(struct evhttp_request *req, void *arg)
{
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	const char *id = path + strlen("/api/traces/");
	uint8_t trace_id[16];
	struct tbuf b = {0};

	(void)arg;
	if (strlen(id) != 32 || tracectx_unhex(id, 16, trace_id) < 0) {
		trace_admin_error(req, 400, "a trace-id is 32 lowercase hex digits");
		return;
	}
	if (!store_trace_json(&b, trace_id)) {
		tbuf_free(&b);
		trace_admin_error(req, 404, "no such trace in the store");
		return;
	}
	trace_admin_json(req, 200, &b);
}

/* ---- POST /v1/traces: OTLP from the services behind the gateway -------- */

struct trace_ingest_stats trace_ingest;

static void trace_ingest_bump(_Atomic uint64_t *c, uint64_t n)
{
	/* the admin thread is the only writer */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

static int trace_ingest_span(void *arg, const struct otlp_span_in *in)
{
	struct store_span_in s = {
	        .has_parent = in->has_parent,
	        .name = in->name,
	        .name_len = in->name_len,
	        .kind = in->kind,
	        .status = in->status,
	        .start_ns = in->start_ns,
	        .end_ns = in->end_ns,
	        .service = in->service,
	        .service_len = in->service_len,
	        .attrs_json = in->attrs_json,
	        .attrs_len = in->attrs_len,
	        .events_json = in->events_json,
	        .events_len = in->events_len,
	};

	(void)arg;
	memcpy(s.trace_id, in->trace_id, 16);
	memcpy(s.span_id, in->span_id, 8);
	memcpy(s.parent_id, in->parent_id, 8);
	if (store_add(&s) == 0)
		trace_ingest_bump(&trace_ingest.spans, 1);
	return 0;
}

/* Inflates the gzip body <in,len> into <out>, at most OTLP_DECODE_BODY_MAX
 * bytes. Returns 0, or -1 for a body that is not gzip or too large. */
static int trace_ingest_gunzip(const void *in, size_t len, struct tbuf *out)
{
	z_stream z = {.next_in = (Bytef *)in, .avail_in = (uInt)len};
	int r = Z_OK;

	if (len > UINT32_MAX || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -1;
	while (r == Z_OK) {
		if (!tbuf_reserve(out, 65536) || out->len >= OTLP_DECODE_BODY_MAX) {
			r = Z_MEM_ERROR;
			break;
		}
		z.next_out = (Bytef *)out->p + out->len;
		z.avail_out = (uInt)(out->cap - out->len);
		r = inflate(&z, Z_NO_FLUSH);
		out->len = out->cap - z.avail_out;
	}
	inflateEnd(&z);
	return r == Z_STREAM_END ? 0 : -1;
}

/* The ExportTraceServiceResponse: empty, or partial_success (field 1) with
 * rejected_spans (1) and error_message (2) when spans were skipped. */
static void trace_ingest_reply(struct evhttp_request *req, bool json, size_t skipped,
                               const char *why)
{
	struct tbuf b = {0};
	size_t wlen = strlen(why) < 200 ? strlen(why) : 200;

	if (json) {
		tbuf_byte(&b, '{');
		if (skipped) {
			tbuf_lit(&b, "\"partialSuccess\":{\"rejectedSpans\":");
			jsonw_qu64(&b, skipped);
			tbuf_lit(&b, ",\"errorMessage\":");
			jsonw_str(&b, why, wlen);
			tbuf_byte(&b, '}');
		}
		tbuf_byte(&b, '}');
	} else if (skipped) {
		uint8_t m[2 + 10 + 2 + 200 + 2], *p = m + 2;

		*p++ = 0x08; /* rejected_spans, varint */
		for (uint64_t v = skipped;; v >>= 7) {
			*p++ = (uint8_t)(v & 0x7f) | (v >= 0x80 ? 0x80 : 0);
			if (v < 0x80)
				break;
		}
		*p++ = 0x12; /* error_message, length-delimited */
		*p++ = (uint8_t)wlen;
		memcpy(p, why, wlen);
		p += wlen;
		m[0] = 0x0a; /* partial_success */
		m[1] = (uint8_t)(p - m - 2);
		tbuf_add(&b, m, (size_t)(p - m));
	}
	admin_reply(req, 200, json ? "application/json" : "application/x-protobuf", b.p, b.len);
	tbuf_free(&b);
}

static void trace_admin_ingest(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *ctype = evhttp_find_header(h, "Content-Type");
	const char *cenc = evhttp_find_header(h, "Content-Encoding");
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in), skipped = 0;
	const void *body = len ? (const void *)evbuffer_pullup(in, -1) : "";
	struct tbuf plain = {0};
	char why[256] = "";
	bool json;
	int n;

	(void)arg;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		trace_admin_error(req, 405, "POST an OTLP ExportTraceServiceRequest");
		return;
	}
	json = ctype && strncasecmp(ctype, "application/json", 16) == 0;
	if (!json && !(ctype && strncasecmp(ctype, "application/x-protobuf", 22) == 0)) {
		trace_admin_error(req, 415,
		                  "Content-Type: application/x-protobuf or application/json");
		return;
	}
	if (cenc && strcasecmp(cenc, "identity") != 0) {
		if (strcasecmp(cenc, "gzip") != 0) {
			trace_admin_error(req, 415, "Content-Encoding: gzip or none");
			return;
		}
		if (trace_ingest_gunzip(body, len, &plain) < 0) {
			tbuf_free(&plain);
			trace_ingest_bump(&trace_ingest.rejected, 1);
			trace_admin_error(req, 400,
			                  "the gzip body does not inflate (or is too large)");
			return;
		}
		body = plain.p;
		len = plain.len;
	}
	n = (json ? otlp_decode_json : otlp_decode_pb)(body, len, trace_ingest_span, NULL, &skipped,
	                                               why, sizeof(why));
	tbuf_free(&plain);
	if (n < 0) {
		struct tbuf b = {0};

		trace_ingest_bump(&trace_ingest.rejected, 1);
		tbuf_lit(&b, "{\"error\":");
		jsonw_cstr(&b, why);
		tbuf_byte(&b, '}');
		trace_admin_json(req, 400, &b);
		return;
	}
	trace_ingest_bump(&trace_ingest.requests, 1);
	trace_ingest_bump(&trace_ingest.skipped, skipped);
	trace_ingest_reply(req, json, skipped, why);
}

/* The viewer: one page from the binary that reads the API above. */
static void trace_admin_viewer(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	(void)arg;
	/* the page only ever talks to its own origin */
	evhttp_add_header(h, "Content-Security-Policy",
	                  "default-src 'none'; style-src 'unsafe-inline'; "
	                  "script-src 'unsafe-inline'; connect-src 'self'; img-src data:");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	admin_reply(req, 200, "text/html; charset=utf-8", trace_ui_index_html,
	            trace_ui_index_html_len);
}

int trace_admin_init(void)
{
	int err;

	if (!store_enabled())
		return 0;
	if ((err = admin_route("/", false, trace_admin_viewer, NULL)) ||
	    (err = admin_route("/v1/traces", false, trace_admin_ingest, NULL)) ||
	    (err = admin_route("/api/traces", false, trace_admin_list, NULL)) ||
	    (err = admin_route("/api/traces/", true, trace_admin_trace, NULL)))
		return err;
	return 0;
}
