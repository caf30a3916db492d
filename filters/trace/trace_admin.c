/* trace_admin.c: what the tracing filter serves on the admin listener when
 * the trace store is on (exporters = memory): the JSON API of the viewer.
 *
 *   GET /api/traces?route=&service=&min_duration_ms=&errors=1&limit=
 *   GET /api/traces/<32 hex trace-id>
 *
 * Handlers run on the admin thread and read the store under its lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin.h"
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
	    (err = admin_route("/api/traces", false, trace_admin_list, NULL)) ||
	    (err = admin_route("/api/traces/", true, trace_admin_trace, NULL)))
		return err;
	return 0;
}
