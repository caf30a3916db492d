/* trace.c: the tracing filter's hooks in the request flow.
 *
 * on_request: read the caller's context (W3C, B3), decide sampling for the
 * route, pick the SERVER span's id; on_attempt: a CLIENT span id per upstream
 * attempt, written into the propagation headers sent upstream; on_attempt_end
 * and on_end: the finished spans go to this worker's export ring (sampled
 * requests only); on_log: trace_id, span_id and sampled in every access-log
 * line. Per request state lives in the txn's arena.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "arena.h"
#include "cfg.h"
#include "conn.h"
#include "grpc.h"
#include "log.h"
#include "trace/b3.h"
#include "trace/export.h"
#include "trace/sampler.h"
#include "trace/span.h"
#include "trace/trace.h"
#include "trace/tracectx.h"
#include "txn.h"
#include "upstream.h"
#include "util.h"
#include "worker.h"

#define TRACE_TS_LINES 32 /* tracestate field lines read; more is invalid */

/* Per configured route: its settings and sampler state. Made per config
 * generation (trace_gen_new()); only the rate cap's atomic word changes
 * after that. */
struct trace_route {
	const struct trace_cfg *tc;
	uint64_t threshold;
	struct sampler_rate rate;
};

static struct {
	struct trace_counters *cnt; /* one per worker */
} tr;

/* Adds one to a counter of worker <w>'s block, which only it writes. */
static void trace_count(struct txn *t, size_t off)
{
	_Atomic uint64_t *c = (_Atomic uint64_t *)((char *)&tr.cnt[t->w->id] + off);

	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

#define TRACE_COUNT(t, field) trace_count(t, offsetof(struct trace_counters, field))

/* One request's trace state. */
struct trace_txn {
	struct trace_route *rt; /* the route's settings and sampler */
	uint8_t trace_id[16];
	uint8_t server_id[8];
	uint8_t parent_id[8]; /* the caller's span; zero for a root span */
	uint8_t client_id[8]; /* current attempt */
	uint8_t flags;        /* our trace-flags */
	bool has_link;
	uint8_t link_trace_id[16];
	uint8_t link_span_id[8];
	uint8_t link_flags;
	const char *ts; /* tracestate sent upstream; NULL = none */
	size_t ts_len;
	uint64_t attempt_start_ns;
};

/* What the request carried, before any decision. */
struct trace_in {
	bool found;
	bool from_b3;
	enum b3_sampled b3;
	struct tracectx tc;
	struct tracestate_member ts[TRACESTATE_MAX_MEMBERS];
	int n_ts; /* -1: no usable tracestate */
};

static uint64_t trace_wall(const struct txn *t, uint64_t mono_ns)
{
	return t->tm.start_wall_ns + (mono_ns - t->tm.start_ns);
}

static bool trace_name_is(const struct h1_hdr *h, const char *name)
{
	return h->name_len && h1_name_eq(h->name, h->name_len, name);
}

/* W3C: exactly one valid traceparent; tracestate kept only when it is valid
 * as a whole. */
static void trace_extract_w3c(const struct http_msg *m, struct trace_in *in)
{
	const char *lines[TRACE_TS_LINES];
	size_t lens[TRACE_TS_LINES];
	const struct h1_hdr *tp = NULL;
	int n_tp = 0, n_lines = 0;

	for (unsigned i = 0; i < m->h.n_hdrs; i++) {
		const struct h1_hdr *h = &m->h.hdrs[i];

		if (trace_name_is(h, "traceparent")) {
			tp = h;
			n_tp++;
		} else if (trace_name_is(h, "tracestate")) {
			if (n_lines < TRACE_TS_LINES) {
				lines[n_lines] = h->value;
				lens[n_lines] = h->value_len;
			}
			n_lines++;
		}
	}
	if (n_tp != 1 || tracectx_parse(tp->value, tp->value_len, &in->tc) < 0)
		return;
	in->found = true;
	in->n_ts = n_lines > TRACE_TS_LINES ? -1 : tracestate_parse(lines, lens, n_lines, in->ts);
}

static void trace_extract_b3(const struct http_msg *m, struct trace_in *in)
{
	const struct h1_hdr *single = http_hdr_get(m, "b3");
	const struct h1_hdr *tid, *sid, *smp, *flg;

	if (single) {
		if (b3_parse_single(single->value, single->value_len, &in->tc, &in->b3) == 0)
			in->found = in->from_b3 = true;
		return;
	}
	tid = http_hdr_get(m, "x-b3-traceid");
	sid = http_hdr_get(m, "x-b3-spanid");
	smp = http_hdr_get(m, "x-b3-sampled");
	flg = http_hdr_get(m, "x-b3-flags");
	if (!tid && !sid)
		return;
	if (b3_parse_multi(
	            tid ? tid->value : NULL, tid ? tid->value_len : 0, sid ? sid->value : NULL,
	            sid ? sid->value_len : 0, smp ? smp->value : NULL, smp ? smp->value_len : 0,
	            flg ? flg->value : NULL, flg ? flg->value_len : 0, &in->tc, &in->b3) == 0)
		in->found = in->from_b3 = true;
}

/* Builds the tracestate to send: the caller's members, with the "ot" entry
 * rewritten to carry threshold <t> (SAMPLER_MAX_T removes th) when <set_th>.
 * An entry we change moves to the left; an unchanged list is sent as it came. */
static int trace_state_out(struct txn *t, struct trace_txn *x, struct trace_in *in, bool set_th,
                           uint64_t th)
{
	struct tracestate_member *m = in->ts;
	int n = in->n_ts > 0 ? in->n_ts : 0, ot = tracestate_find(m, n, "ot", 2), len;
	char otv[256];
	size_t cap;
	char *out;

	len = 0;
	if (set_th) {
		len = sampler_ot_format(ot >= 0 ? m[ot].val : NULL, ot >= 0 ? m[ot].val_len : 0, th,
		                        otv, sizeof(otv));
		if (len < 0)
			return len;
		if (len == 0 && ot >= 0) {
			memmove(&m[ot], &m[ot + 1], (size_t)(n - ot - 1) * sizeof(*m));
			n--;
		}
	}
	if (n == 0 && len == 0)
		return 0;
	cap = tracestate_format_len(2, (size_t)len, m, n);
	if (!(out = arena_alloc(&t->arena, cap)))
		return -ENOMEM;
	len = tracestate_format(out, cap, len ? "ot" : NULL, otv, (size_t)len, m, n);
	if (len < 0)
		return len;
	x->ts = out;
	x->ts_len = (size_t)len;
	return 0;
}

/* Decides sampling and the context we propagate. */
static int trace_decide(struct txn *t, struct trace_txn *x, struct trace_in *in, bool forced)
{
	struct trace_route *rt = x->rt;
	const struct trace_cfg *tc = rt->tc;
	bool restart = !in->found || tc->parent == TRACE_PARENT_RESTART ||
	               tc->parent == TRACE_PARENT_RESTART_LINK;
	bool sampled, set_th = false, decided = false;
	uint64_t th = rt->threshold, r;
	struct sampler_ot ot = {0};
	int i;

	if (restart) {
		if (tracectx_new_trace_id(x->trace_id))
			return -EIO;
		x->flags = TRACECTX_F_RANDOM;
		if (in->found && tc->parent == TRACE_PARENT_RESTART_LINK) {
			x->has_link = true;
			memcpy(x->link_trace_id, in->tc.trace_id, 16);
			memcpy(x->link_span_id, in->tc.span_id, 8);
			x->link_flags = in->tc.flags;
		}
		in->n_ts = 0; /* the caller's tracestate belongs to the caller's trace */
		sampled = sampler_keep(sampler_trace_r(x->trace_id), th);
		set_th = true;
	} else {
		memcpy(x->trace_id, in->tc.trace_id, 16);
		memcpy(x->parent_id, in->tc.span_id, 8);
		x->flags = in->tc.flags & TRACECTX_F_RANDOM;
		if (tc->parent == TRACE_PARENT_HONOR && !in->from_b3) {
			sampled = in->tc.flags & TRACECTX_F_SAMPLED;
			decided = true;
		} else if (tc->parent == TRACE_PARENT_HONOR && in->b3 != B3_DEFER) {
			sampled = in->b3 != B3_DENY;
			decided = true;
		}
		if (!decided) {
			/* ours to decide, over the trace's randomness */
			i = in->n_ts > 0 ? tracestate_find(in->ts, in->n_ts, "ot", 2) : -1;
			if (i >= 0)
				sampler_ot_parse(in->ts[i].val, in->ts[i].val_len, &ot);
			r = ot.has_rv ? ot.rv : sampler_trace_r(x->trace_id);
			sampled = sampler_keep(r, th);
			set_th = true;
		}
	}
	if (forced && !sampled) {
		sampled = true;
		set_th = true;
		th = SAMPLER_MAX_T; /* not a probability decision: no threshold to claim */
	}
	if (sampled && !forced && !sampler_rate_take(&rt->rate, util_mono_ns())) {
		sampled = false;
		set_th = true;
	}
	if (!sampled)
		th = SAMPLER_MAX_T; /* th describes sampled spans only */
	if (sampled)
		x->flags |= TRACECTX_F_SAMPLED;
	if (in->n_ts < 0)
		in->n_ts = 0; /* invalid: dropped as a whole */
	return trace_state_out(t, x, in, set_th, th);
}

/* Removes what we own of the incoming propagation headers: the formats we
 * read or write are ours to rewrite; the others pass untouched. */
static void trace_strip(struct http_msg *m, const struct trace_cfg *tc)
{
	unsigned own = tc->inject;

	for (int i = 0; tc->extract[i]; i++)
		own |= tc->extract[i];
	if (own & TRACE_PROP_W3C) {
		http_hdr_del(m, "traceparent");
		http_hdr_del(m, "tracestate");
	}
	if (own & (TRACE_PROP_B3 | TRACE_PROP_B3MULTI)) {
		http_hdr_del(m, "b3");
		http_hdr_del(m, "x-b3-traceid");
		http_hdr_del(m, "x-b3-spanid");
		http_hdr_del(m, "x-b3-parentspanid");
		http_hdr_del(m, "x-b3-sampled");
		http_hdr_del(m, "x-b3-flags");
	}
}

static int trace_on_request(struct txn *t, void *gen, void **ctx)
{
	struct trace_route *rt = (struct trace_route *)gen + (t->route - t->cfg->routes);
	const struct trace_cfg *tc = rt->tc;
	struct trace_in in = {.n_ts = 0};
	struct trace_txn *x = arena_alloc(&t->arena, sizeof(*x));
	bool forced = false;

	if (!tc->enabled || !x)
		return 0; /* tracing never refuses a request */
	memset(x, 0, sizeof(*x));
	x->rt = rt;
	for (int i = 0; tc->extract[i] && !in.found; i++) {
		if (tc->extract[i] == TRACE_PROP_W3C)
			trace_extract_w3c(&t->req, &in);
		else
			trace_extract_b3(&t->req, &in);
	}
	if (tc->force_header) {
		forced = http_hdr_get(&t->req, tc->force_header) &&
		         trace_cidrs_match(&tc->force_from, (const struct sockaddr *)&t->c->peer);
		http_hdr_del(&t->req, tc->force_header);
	}
	if (trace_decide(t, x, &in, forced) < 0 || tracectx_new_span_id(x->server_id)) {
		log_at(LOG_WARN, t->w->id, t->c->id, t->id, "tracing skipped: no trace context");
		return 0;
	}
	trace_strip(&t->req, tc);
	*ctx = x;
	TRACE_COUNT(t, started);
	if (x->flags & TRACECTX_F_SAMPLED)
		TRACE_COUNT(t, sampled);
	return 0;
}

static void trace_on_attempt(struct txn *t, void *ctx)
{
	struct trace_txn *x = ctx;
	const struct trace_cfg *tc;
	char v[B3_SINGLE_MAX + TRACECTX_TP_LEN];
	size_t n;

	if (!x)
		return;
	tc = x->rt->tc;
	x->attempt_start_ns = t->tm.connect_start_ns;
	TRACE_COUNT(t, started);
	if (x->flags & TRACECTX_F_SAMPLED)
		TRACE_COUNT(t, sampled);
	if (tracectx_new_span_id(x->client_id))
		memcpy(x->client_id, x->server_id, 8); /* keep the trace joined */
	if (tc->inject & TRACE_PROP_W3C) {
		tracectx_format(x->trace_id, x->client_id, x->flags, v);
		http_hdr_set(&t->req, "traceparent", v, TRACECTX_TP_LEN);
		if (x->ts_len && t->attempts == 1)
			http_hdr_set(&t->req, "tracestate", x->ts, x->ts_len);
	}
	if (tc->inject & TRACE_PROP_B3) {
		n = b3_format_single(x->trace_id, x->client_id, x->flags, v);
		http_hdr_set(&t->req, "b3", v, n);
	}
	if (tc->inject & TRACE_PROP_B3MULTI) {
		tracectx_hex(x->trace_id, 16, v);
		http_hdr_set(&t->req, "X-B3-TraceId", v, 32);
		tracectx_hex(x->client_id, 8, v);
		http_hdr_set(&t->req, "X-B3-SpanId", v, 16);
		tracectx_hex(x->server_id, 8, v);
		http_hdr_set(&t->req, "X-B3-ParentSpanId", v, 16);
		http_hdr_set(&t->req, "X-B3-Sampled", (x->flags & TRACECTX_F_SAMPLED) ? "1" : "0",
		             1);
	}
}

/* The value of a traceparent for our SERVER span: what a client can link to. */
static void trace_server_tp(const struct trace_txn *x, char *out)
{
	tracectx_format(x->trace_id, x->server_id, x->flags, out);
}

static void trace_on_response(struct txn *t, void *ctx)
{
	struct trace_txn *x = ctx;
	const struct trace_cfg *tc;
	char v[64 + TRACECTX_TP_LEN];

	if (!x)
		return;
	tc = x->rt->tc;
	if (tc->server_timing) {
		memcpy(v, "trace;desc=", 11);
		trace_server_tp(x, v + 11);
		http_hdr_add(&t->resp, "Server-Timing", v, 11 + TRACECTX_TP_LEN);
	}
	if (tc->traceresponse) {
		trace_server_tp(x, v);
		http_hdr_set(&t->resp, "traceresponse", v, TRACECTX_TP_LEN);
	}
	if (tc->trace_id_header) {
		tracectx_hex(x->trace_id, 16, v);
		http_hdr_set(&t->resp, tc->trace_id_header, v, 32);
	}
}

static void trace_on_log(struct txn *t, void *ctx, struct evbuffer *line)
{
	struct trace_txn *x = ctx;
	char v[96];

	if (!x) {
		evbuffer_add(line, " trace_id=- span_id=- sampled=0", 31);
		return;
	}
	memcpy(v, " trace_id=", 10);
	tracectx_hex(x->trace_id, 16, v + 10);
	memcpy(v + 42, " span_id=", 9);
	tracectx_hex(x->server_id, 8, v + 51);
	memcpy(v + 67, (x->flags & TRACECTX_F_SAMPLED) ? " sampled=1" : " sampled=0", 10);
	evbuffer_add(line, v, 77);
}

/* Whether the request's method is one HTTP defines (the semantic
 * conventions' list; we never proxy CONNECT). */
static bool trace_method_known(const struct h1_msg *m)
{
	return cfg_method_bit(m->method, m->method_len) != CFG_M_OTHER;
}

/* "GET" for the methods HTTP defines, else "_OTHER" (and the original in
 * its own attribute), as the semantic conventions ask. */
static void trace_method(struct span *s, const struct txn *t)
{
	const struct h1_msg *m = &t->req.h;

	if (trace_method_known(m)) {
		span_attr_str(s, SPAN_A_HTTP_REQUEST_METHOD, m->method, m->method_len);
		return;
	}
	span_attr_str(s, SPAN_A_HTTP_REQUEST_METHOD, "_OTHER", 6);
	span_attr_str(s, SPAN_A_HTTP_REQUEST_METHOD_ORIGINAL, m->method, m->method_len);
}

static void trace_span_ids(struct span *s, const struct trace_txn *x, const uint8_t *id,
                           const uint8_t *parent)
{
	memcpy(s->trace_id, x->trace_id, 16);
	memcpy(s->span_id, id, 8);
	memcpy(s->parent_id, parent, 8);
	s->flags = x->flags;
	if (x->ts_len)
		span_set_tracestate(s, x->ts, x->ts_len);
}

static const char *trace_ups_err(enum txn_ups_err e)
{
	switch (e) {
	case TXN_UE_REFUSED:
		return "connection_refused";
	case TXN_UE_CONNECT_TIMEOUT:
		return "connect_timeout";
	case TXN_UE_TIMEOUT:
		return "timeout";
	case TXN_UE_RESET:
		return "connection_reset";
	case TXN_UE_PROTOCOL:
		return "protocol_error";
	case TXN_UE_TLS:
		return "tls_error";
	default:
		return NULL;
	}
}

static void trace_status_code(struct span *s, int status, bool error_from_400)
{
	char code[8];
	int n;

	span_attr_int(s, SPAN_A_HTTP_RESPONSE_STATUS_CODE, status);
	if (status >= 500 || (error_from_400 && status >= 400)) {
		n = snprintf(code, sizeof(code), "%d", status);
		span_attr_str(s, SPAN_A_ERROR_TYPE, code, (size_t)n);
		s->status = SPAN_ST_ERROR;
	}
}

/* gRPC over the gateway (a request whose content-type is application/grpc):
 * rpc.* attributes from the path "/package.Service/Method", and the status
 * from the grpc-status trailer (or the head of a trailers-only response).
 * A status other than OK (0) makes the span an error, with the code as its
 * error.type unless it was an error already. */
static void trace_rpc(struct span *s, const struct txn *t)
{
	const struct h1_hdr *st;
	const char *p = t->req.h.path, *slash;
	size_t n = t->req.h.path_len;
	char code[8];
	int64_t v = 0;

	if (!grpc_is_call(&t->req))
		return;
	span_attr_str(s, SPAN_A_RPC_SYSTEM, "grpc", 4);
	if (n > 1 && p[0] == '/' && (slash = memchr(p + 1, '/', n - 1)) && slash > p + 1) {
		span_attr_str(s, SPAN_A_RPC_SERVICE, p + 1, (size_t)(slash - p - 1));
		span_attr_str(s, SPAN_A_RPC_METHOD, slash + 1, (size_t)(p + n - slash - 1));
	}
	st = http_hdr_get(&t->trailers, "grpc-status");
	/* ...or the head: the server's, or ours when the gateway answered */
	if (!st && (t->flags & (TXN_F_RESP_HEAD | TXN_F_LOCAL)))
		st = http_hdr_get(&t->resp, "grpc-status");
	if (!st || st->value_len == 0 || st->value_len > 2)
		return;
	for (size_t i = 0; i < st->value_len; i++) {
		if (st->value[i] < '0' || st->value[i] > '9')
			return;
		v = v * 10 + (st->value[i] - '0');
	}
	span_attr_int(s, SPAN_A_RPC_GRPC_STATUS_CODE, v);
	/* a span that is an error already (an HTTP 5xx with a gRPC status, from
	 * a proxy in front of the server) keeps its error.type: keys are unique */
	if (v != 0 && s->status != SPAN_ST_ERROR) {
		n = (size_t)snprintf(code, sizeof(code), "%d", (int)v);
		span_attr_str(s, SPAN_A_ERROR_TYPE, code, n);
		s->status = SPAN_ST_ERROR;
	}
}

/* The host part of a configured address's text ("10.0.0.1:80",
 * "[::1]:80"): no inet_ntop per span. */
static const char *trace_addr_host(const struct cfg_addr *a, size_t *len)
{
	const char *colon = strrchr(a->text, ':');

	if (a->text[0] == '[') {
		*len = colon && colon > a->text + 1 ? (size_t)(colon - a->text - 2) : 0;
		return a->text + 1;
	}
	*len = colon ? (size_t)(colon - a->text) : strlen(a->text);
	return a->text;
}

/* The attempt is over: its CLIENT span, from connect to last byte. */
static void trace_on_attempt_end(struct txn *t, void *ctx)
{
	const struct txn_timings *tm = &t->tm;
	struct trace_txn *x = ctx;
	const struct ups_server *srv = t->srv;
	const char *err = NULL;
	uint64_t now, evs[SPAN_EV_N] = {0};
	const char *ip;
	size_t ip_len;
	int port;
	struct span *s;

	if (!x || !(x->flags & TRACECTX_F_SAMPLED) || !(s = export_reserve(t->w->id)))
		return;
	now = util_mono_ns();
	trace_span_ids(s, x, x->client_id, x->server_id);
	s->kind = SPAN_KIND_CLIENT;
	span_set_name(s, t->req.h.method, t->req.h.method_len);
	s->start_ns = trace_wall(t, x->attempt_start_ns);
	s->end_ns = trace_wall(t, tm->last_byte_ns ? tm->last_byte_ns : now);
	evs[SPAN_EV_CONNECT_START] = x->attempt_start_ns;
	evs[SPAN_EV_CONNECT_END] = tm->connect_end_ns;
	evs[SPAN_EV_TLS_END] = tm->tls_end_ns;
	evs[SPAN_EV_REQUEST_SENT] = tm->request_sent_ns;
	evs[SPAN_EV_FIRST_BYTE] = tm->first_byte_ns;
	evs[SPAN_EV_LAST_BYTE] = tm->last_byte_ns;
	for (int i = 0; i < SPAN_EV_N; i++)
		s->ev_ns[i] = evs[i] ? trace_wall(t, evs[i]) : 0;

	trace_method(s, t);
	ip = trace_addr_host(srv->addr, &ip_len);
	port = util_addr_port((const struct sockaddr *)&srv->addr->ss);
	span_attr_str(s, SPAN_A_SERVER_ADDRESS, ip, ip_len);
	span_attr_int(s, SPAN_A_SERVER_PORT, port);
	span_attr_str(s, SPAN_A_NET_PEER_ADDRESS, ip, ip_len);
	span_attr_int(s, SPAN_A_NET_PEER_PORT, port);
	span_attr_str(s, SPAN_A_PEER_SERVICE, t->ups->cfg->name, strlen(t->ups->cfg->name));
	span_attr_str(s, SPAN_A_URL_SCHEME, t->ups->cfg->tls ? "https" : "http",
	              t->ups->cfg->tls ? 5 : 4);
	if (t->ups->cfg->protocol == CFG_PROTO_HTTP1)
		span_attr_str(s, SPAN_A_NET_PROTOCOL_VERSION, "1.1", 3);
	else
		span_attr_str(s, SPAN_A_NET_PROTOCOL_VERSION, "2", 1);
	if (t->attempts > 1)
		span_attr_int(s, SPAN_A_HTTP_RESEND_COUNT, t->attempts - 1);
	if (t->flags & TXN_F_RESP_HEAD)
		trace_status_code(s, t->resp.h.status, true);
	if (!(t->flags & (TXN_F_RESP_DONE | TXN_F_TUNNEL)) && (err = trace_ups_err(t->ups_err))) {
		span_attr_str(s, SPAN_A_ERROR_TYPE, err, strlen(err));
		s->status = SPAN_ST_ERROR;
	}
	trace_rpc(s, t);
	export_commit(t->w->id);
}

/* Host and port the client addressed, from the authority (Host). */
static void trace_server_addr(struct span *s, const struct txn *t)
{
	const char *a = t->req.h.authority, *colon = NULL;
	size_t n = t->req.h.authority_len, i;
	long port = 80;

	if (!a || !n)
		return;
	for (i = n; i > 0; i--) {
		if (a[i - 1] == ':') {
			colon = a + i - 1;
			break;
		}
		if (a[i - 1] == ']' || a[i - 1] < '0' || a[i - 1] > '9')
			break;
	}
	if (colon) {
		port = strtol(colon + 1, NULL, 10);
		n = (size_t)(colon - a);
	}
	if (n >= 2 && a[0] == '[' && a[n - 1] == ']') {
		a++;
		n -= 2;
	}
	span_attr_str(s, SPAN_A_SERVER_ADDRESS, a, n);
	span_attr_int(s, SPAN_A_SERVER_PORT, port);
}

/* The request is over: its SERVER span, from first byte to last. */
static void trace_server_span(struct txn *t, struct trace_txn *x, const struct trace_cfg *tc)
{
	const struct h1_msg *m = &t->req.h;
	const char *q = memchr(m->path, '?', m->path_len);
	const struct cfg_route *r = t->route;
	const struct h1_hdr *ua = http_hdr_get(&t->req, "user-agent");
	size_t plen = q ? (size_t)(q - m->path) : m->path_len;
	struct span *s = export_reserve(t->w->id);
	const char *err;
	char name[160];
	int n;

	if (!s)
		return;
	trace_span_ids(s, x, x->server_id, x->parent_id);
	s->kind = SPAN_KIND_SERVER;
	s->start_ns = t->tm.start_wall_ns;
	s->end_ns = trace_wall(t, t->tm.end_ns);
	if (x->has_link) {
		s->has_link = true;
		memcpy(s->link_trace_id, x->link_trace_id, 16);
		memcpy(s->link_span_id, x->link_span_id, 8);
		s->link_flags = x->link_flags;
	}
	/* "{method} {http.route}", "HTTP {http.route}" for other methods */
	n = snprintf(name, sizeof(name), "%.*s %s", trace_method_known(m) ? (int)m->method_len : 4,
	             trace_method_known(m) ? m->method : "HTTP", r->path_prefix);
	span_set_name(s, name, n < (int)sizeof(name) ? (size_t)n : sizeof(name) - 1);
	trace_method(s, t);
	span_attr_str(s, SPAN_A_URL_PATH, m->path, plen);
	if (q && tc->record_query)
		span_attr_str(s, SPAN_A_URL_QUERY, q + 1, m->path_len - plen - 1);
	span_attr_str(s, SPAN_A_URL_SCHEME, t->c->tls ? "https" : "http", t->c->tls ? 5 : 4);
	span_attr_str(s, SPAN_A_HTTP_ROUTE, r->path_prefix, strlen(r->path_prefix));
	span_attr_str(s, SPAN_A_TG_ROUTE, r->name, strlen(r->name));
	trace_server_addr(s, t);
	span_attr_str(s, SPAN_A_CLIENT_ADDRESS, t->c->peer_ip, strlen(t->c->peer_ip));
	span_attr_int(s, SPAN_A_CLIENT_PORT, t->c->peer_port);
	span_attr_str(s, SPAN_A_NET_PEER_ADDRESS, t->c->peer_ip, strlen(t->c->peer_ip));
	span_attr_int(s, SPAN_A_NET_PEER_PORT, t->c->peer_port);
	span_attr_str(s, SPAN_A_NET_PROTOCOL_VERSION, txn_http_version(t),
	              strlen(txn_http_version(t)));
	if (ua)
		span_attr_str(s, SPAN_A_USER_AGENT, ua->value, ua->value_len);
	if (t->ups)
		span_attr_str(s, SPAN_A_TG_UPSTREAM, t->ups->cfg->name, strlen(t->ups->cfg->name));
	if (t->status == 499) {
		/* the client went away: not the server's error, no status sent */
	} else if (t->status) {
		trace_status_code(s, t->status, false);
		/* the head went out, then the upstream failed: the client got a
		 * cut response (a gRPC call without its status), which is the
		 * server's error whatever the status code said */
		if (s->status != SPAN_ST_ERROR && !(t->flags & TXN_F_RESP_DONE) && t->error &&
		    (err = trace_ups_err(t->ups_err))) {
			span_attr_str(s, SPAN_A_ERROR_TYPE, err, strlen(err));
			s->status = SPAN_ST_ERROR;
		}
	} else if (t->error) {
		span_attr_str(s, SPAN_A_ERROR_TYPE, "_OTHER", 6);
		s->status = SPAN_ST_ERROR;
	}
	trace_rpc(s, t);
	export_commit(t->w->id);
}

static void trace_on_end(struct txn *t, void *ctx)
{
	struct trace_txn *x = ctx;

	if (x && (x->flags & TRACECTX_F_SAMPLED))
		trace_server_span(t, x, x->rt->tc);
}

static int trace_init(const struct cfg *c)
{
	const struct trace_cfg *tc = trace_cfg_get(c, NULL);
	int err;

	tr.cnt = aligned_alloc(alignof(struct trace_counters),
	                       (size_t)c->gw.workers * sizeof(*tr.cnt));
	if (!tr.cnt)
		return -ENOMEM;
	memset(tr.cnt, 0, (size_t)c->gw.workers * sizeof(*tr.cnt));
	if ((err = export_init(c, tc)) || (err = trace_admin_init()) ||
	    (err = trace_metrics_init(tr.cnt, c->gw.workers))) {
		export_deinit();
		free(tr.cnt);
		tr.cnt = NULL;
	}
	return err;
}

static void trace_deinit(void)
{
	export_deinit();
	free(tr.cnt);
	tr.cnt = NULL;
}

/* The routes of <c> as the sampler sees them, by route index. A reload
 * starts every max_traces_per_second bucket afresh. */
static int trace_gen_new(const struct cfg *c, void **state)
{
	struct trace_route *routes = calloc((size_t)c->n_routes + 1, sizeof(*routes));

	if (!routes)
		return -ENOMEM;
	for (int i = 0; i < c->n_routes; i++) {
		struct trace_route *rt = &routes[i];

		rt->tc = trace_cfg_get(c, &c->routes[i]);
		rt->threshold = sampler_threshold(rt->tc->sample_ratio);
		sampler_rate_init(&rt->rate, rt->tc->max_traces_per_second);
	}
	*state = routes;
	return 0;
}

const struct flt_ops trace_flt_ops = {
        .name = "trace",
        .declare = trace_cfg_declare,
        .init = trace_init,
        .deinit = trace_deinit,
        .gen_new = trace_gen_new,
        .gen_free = free,
        .reopen = export_reopen,
        .on_request = trace_on_request,
        .on_attempt = trace_on_attempt,
        .on_attempt_end = trace_on_attempt_end,
        .on_response = trace_on_response,
        .on_log = trace_on_log,
        .on_end = trace_on_end,
};
