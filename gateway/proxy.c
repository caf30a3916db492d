/* proxy.c: the upstream leg of a txn, and both sockets while it runs.
 *
 * proxy_start() runs the filters and the first attempt: a server chosen by
 * the upstream's balance, a pooled keep-alive connection or a new one, the
 * request head and body out, the response head in (strictly parsed), the
 * body relayed with watermarks both ways. A failed connect is retried once
 * on another server for idempotent requests; a pooled connection that dies
 * before answering is retried on a fresh one. Each failure maps to one
 * status (502, 504) or, once the client has a head, to a cut connection.
 */
#include <errno.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cfg.h"
#include "conn.h"
#include "h1c.h"
#include "h2u.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "txn.h"
#include "upool.h"
#include "upstream.h"
#include "util.h"
#include "worker.h"

/* A sink buffer above HIGH stops reading its source until it drains to LOW:
 * memory per txn stays bounded whatever the body size. */
#define PROXY_HIGH         (256 * 1024)
#define PROXY_LOW          (64 * 1024)
#define PROXY_MAX_ATTEMPTS 3

static void proxy_attempt(struct txn *t, const struct ups_server *avoid);
static void proxy_on_up_read(struct bufferevent *bev, void *arg);
static void proxy_on_up_write(struct bufferevent *bev, void *arg);
static void proxy_on_up_event(struct bufferevent *bev, short what, void *arg);

static struct evbuffer *proxy_client_out(struct txn *t)
{
	return t->cs->resp_out(t);
}

/* Ends the current attempt: the connection goes back to the pool when
 * <clean> and the exchange left it at a message boundary, else it closes. */
static void proxy_release(struct txn *t, bool clean)
{
	struct uconn *uc = t->uc;

	if (t->us) {
		h2u_release(t, clean);
		t->srv->active--;
		flt_attempt_end(t);
		return;
	}
	if (!uc)
		return;
	t->uc = NULL;
	t->srv->active--;
	if (clean && (t->flags & TXN_F_REQ_SENT) && !(t->resp.h.flags & H1_F_CONN_CLOSE) &&
	    t->resp_body.in != RELAY_CLOSE &&
	    evbuffer_get_length(bufferevent_get_input(uc->bev)) == 0)
		upool_put(uc);
	else
		upool_free(uc);
	flt_attempt_end(t);
}

int proxy_try_finish(struct txn *t)
{
	if (!(t->flags & TXN_F_RESP_DONE))
		return 0;
	return t->cs->finish(t);
}

void proxy_fail(struct txn *t, int status, const char *detail)
{
	if (t->uc || t->us) {
		proxy_release(t, false);
		ups_report(t->srv, false);
	}
	t->cs->reply_local(t, status, detail);
}

static const char *proxy_err_text(enum txn_ups_err e)
{
	switch (e) {
	case TXN_UE_REFUSED:
		return "upstream connection refused";
	case TXN_UE_CONNECT_TIMEOUT:
		return "upstream connect timed out";
	case TXN_UE_TIMEOUT:
		return "upstream did not respond in time";
	case TXN_UE_RESET:
		return "upstream closed the connection before responding";
	case TXN_UE_PROTOCOL:
		return "upstream sent an invalid response";
	case TXN_UE_TLS:
		return "upstream TLS handshake failed";
	default:
		return "upstream failed";
	}
}

/* The index of <t>'s upstream in the config, for the metrics. */
static int proxy_ups_index(const struct txn *t)
{
	return t->ups->mslot;
}

void proxy_attempt_failed(struct txn *t, enum txn_ups_err e)
{
	proxy_attempt_failed_why(t, e, NULL);
}

void proxy_attempt_failed_why(struct txn *t, enum txn_ups_err e, const char *why)
{
	struct ups_server *s = t->srv;
	bool reused = t->flags & TXN_F_REUSED_CONN;
	/* a stream the server refused never reached its application */
	bool refused = e == TXN_UE_REFUSED_STREAM;
	bool idempotent = http_method_is_idempotent(t->req.h.method, t->req.h.method_len);
	bool untouched = idempotent && !(t->flags & TXN_F_BODY_SENT) && t->tm.first_byte_ns == 0 &&
	                 t->attempts < PROXY_MAX_ATTEMPTS;
	/* a failed handshake is a failed connect, counted on its own */
	bool connect_failed = e == TXN_UE_REFUSED || e == TXN_UE_CONNECT_TIMEOUT || e == TXN_UE_TLS;

	if (refused)
		e = TXN_UE_RESET;
	t->ups_err = e;
	if (connect_failed && e != TXN_UE_TLS)
		metrics_ups_inc(t->w->m, proxy_ups_index(t), METRICS_UPS_CONNECT_FAILURES);
	else if (e == TXN_UE_TIMEOUT)
		metrics_ups_inc(t->w->m, proxy_ups_index(t), METRICS_UPS_TIMEOUTS);
	proxy_release(t, false);
	/* a pooled connection the server closed meanwhile is a keep-alive
	 * race, not a sign of a sick server */
	if (!(reused && e == TXN_UE_RESET))
		ups_report(s, false);
	log_at(LOG_WARN, t->w->id, t->c->id, t->id, "%s: %s%s%s (attempt %d)", s->addr->text,
	       proxy_err_text(e), why ? ": " : "", why ? why : "", t->attempts);

	if (untouched && (refused || (reused && e == TXN_UE_RESET))) {
		proxy_attempt(t, NULL);
		return;
	}
	if (untouched && connect_failed && t->ups->cfg->retry_connect && t->connect_retries == 0 &&
	    t->ups->n_srv > 1) {
		t->connect_retries++;
		proxy_attempt(t, s);
		return;
	}
	t->cs->reply_local(t, e == TXN_UE_TIMEOUT ? 504 : 502, proxy_err_text(e));
}

/* Adds "X-Forwarded-For: <list>, <client>" replacing the fields received. */
static int proxy_set_xff(struct txn *t)
{
	struct http_msg *m = &t->req;
	size_t len = strlen(t->c->peer_ip);
	char *v, *p;

	for (unsigned i = 0; i < m->h.n_hdrs; i++)
		if (m->h.hdrs[i].name_len &&
		    h1_name_eq(m->h.hdrs[i].name, m->h.hdrs[i].name_len, "x-forwarded-for"))
			len += m->h.hdrs[i].value_len + 2;
	p = v = arena_alloc(&t->arena, len);
	if (!v)
		return -ENOMEM;
	for (unsigned i = 0; i < m->h.n_hdrs; i++) {
		const struct h1_hdr *h = &m->h.hdrs[i];

		if (!h->name_len || !h1_name_eq(h->name, h->name_len, "x-forwarded-for") ||
		    !h->value_len)
			continue;
		memcpy(p, h->value, h->value_len);
		p += h->value_len;
		memcpy(p, ", ", 2);
		p += 2;
	}
	memcpy(p, t->c->peer_ip, strlen(t->c->peer_ip));
	p += strlen(t->c->peer_ip);
	return http_hdr_set_ref(m, "X-Forwarded-For", v, (size_t)(p - v));
}

/* Edits the request once, before its first attempt: the forwarding fields
 * and the Host the upstream must see. */
static int proxy_prepare_request(struct txn *t)
{
	struct http_msg *m = &t->req;
	const char *host_header = t->ups->cfg->host_header;
	struct h1_hdr *host = (struct h1_hdr *)http_hdr_get(m, "host");
	int err;

	/* RFC 9112 3.2.2: an absolute-form target's authority replaces Host */
	if (host_header || (m->h.flags & H1_F_ABSOLUTE_FORM) || !host) {
		const char *v = host_header      ? host_header
		                : m->h.authority ? m->h.authority
		                                 : t->srv->addr->text;
		size_t vlen = host_header      ? strlen(host_header)
		              : m->h.authority ? m->h.authority_len
		                               : strlen(t->srv->addr->text);

		if (host) {
			host->value = v;
			host->value_len = vlen;
		} else if ((err = http_hdr_add(m, "Host", v, vlen))) {
			return err;
		}
	}
	if ((err = proxy_set_xff(t)) ||
	    (err = http_hdr_set_ref(m, "X-Forwarded-Proto", t->c->tls ? "https" : "http",
	                            t->c->tls ? 5 : 4)))
		return err;
	if (m->h.authority)
		return http_hdr_set_ref(m, "X-Forwarded-Host", m->h.authority, m->h.authority_len);
	return 0;
}

/* Writes the request head for the attempt's connection into <out>, in one
 * reservation: an evbuffer_add() per piece showed in profiles. */
static int proxy_write_head(struct txn *t, struct evbuffer *out)
{
	const struct h1_msg *m = &t->req.h;
	const struct h1_hdr *up = NULL;
	struct evbuffer_iovec v;
	size_t room;
	char *p;

	if (t->flags & TXN_F_UPGRADE)
		up = http_hdr_get(&t->req, "upgrade");
	room = m->method_len + m->path_len + sizeof(" HTTP/1.1\r\n") + http_fields_room(&t->req) +
	       (up ? sizeof("Connection: Upgrade\r\nUpgrade: \r\n") + up->value_len : 0) +
	       sizeof("Transfer-Encoding: chunked\r\n") + HTTP_LENGTH_ROOM + 2;
	if (evbuffer_reserve_space(out, (ev_ssize_t)room, &v, 1) != 1)
		return -ENOMEM;
	p = util_put(v.iov_base, m->method, m->method_len);
	*p++ = ' ';
	p = util_put(p, m->path, m->path_len);
	p = UTIL_PUT_LIT(p, " HTTP/1.1\r\n");
	p = http_put_fields(&t->req, NULL, p);
	if (up) {
		p = UTIL_PUT_LIT(p, "Connection: Upgrade\r\nUpgrade: ");
		p = util_put(p, up->value, up->value_len);
		p = UTIL_PUT_LIT(p, "\r\n");
	}
	/* an HTTP/2 body of unannounced length goes upstream chunked */
	if (t->req_body.out == RELAY_CHUNKED)
		p = UTIL_PUT_LIT(p, "Transfer-Encoding: chunked\r\n");
	else if (t->req_body.in == RELAY_LENGTH)
		p = http_put_length(p, (uint64_t)m->content_length);
	p = UTIL_PUT_LIT(p, "\r\n");
	v.iov_len = (size_t)(p - (char *)v.iov_base);
	return evbuffer_commit_space(out, &v, 1) ? -ENOMEM : 0;
}

/* Moves request body bytes from the client to the upstream. */
void proxy_pump_request(struct txn *t)
{
	struct evbuffer *in = t->cs->req_in(t);
	struct evbuffer *out = t->us ? h2u_req_sink(t) : bufferevent_get_output(t->uc->bev);
	uint64_t max = t->cfg->gw.max_body_bytes;
	size_t before;
	int r;

	if ((t->flags & TXN_F_REQ_BODY_DONE) || !(t->flags & TXN_F_HEAD_SENT))
		return;
	if (evbuffer_get_length(out) < PROXY_HIGH && t->cs->req_fill)
		t->cs->req_fill(t, PROXY_HIGH);
	before = evbuffer_get_length(in);
	r = relay_move(&t->req_body, in, out);
	/* a stream ended by the client ends a body of unannounced length */
	if (r == 0 && (t->flags & TXN_F_REQ_IN_EOF) && evbuffer_get_length(in) == 0)
		r = relay_eof(&t->req_body, out) == 1 ? 1 : H1_E_SYNTAX;
	if (t->cs->req_moved && before > evbuffer_get_length(in))
		t->cs->req_moved(t, before - evbuffer_get_length(in));
	if (t->req_body.bytes) {
		t->flags |= TXN_F_BODY_SENT;
		t->bytes_in = t->req_body.bytes;
	}
	if (r < 0) {
		proxy_fail(t, 400, h1_err_str(r));
		return;
	}
	if (max && t->req_body.bytes > max) {
		proxy_fail(t, 413, "request body larger than max_body_bytes");
		return;
	}
	if (r == 1) {
		t->flags |= TXN_F_REQ_BODY_DONE;
		if (t->cs->req_done)
			t->cs->req_done(t);
		if (t->us)
			h2u_req_flush(t);
		else if (evbuffer_get_length(out) == 0)
			proxy_on_up_write(t->uc->bev, t);
		return;
	}
	if (evbuffer_get_length(out) >= PROXY_HIGH)
		t->cs->req_read(t, false);
	if (t->us)
		h2u_req_flush(t);
}

/* The connection of the current attempt is usable: send the request. */
static void proxy_send(struct txn *t)
{
	struct bufferevent *bev = t->uc->bev;
	bool body = !(t->flags & TXN_F_REQ_BODY_DONE);
	/* a head with no body to follow is written past the bufferevent's
	 * output, whose callbacks would arm the write event for nothing in
	 * the common case; a body joins its head there, for one write */
	struct evbuffer *head = body ? bufferevent_get_output(bev) : t->w->head_out;
	struct timeval tv;

	t->flags &= ~TXN_F_CONNECTING;
	if (proxy_write_head(t, head)) {
		proxy_fail(t, 500, "out of memory");
		return;
	}
	t->flags |= TXN_F_HEAD_SENT;
	/* until the request is out, the upstream owes us nothing; a stalled
	 * write is the timeout that counts */
	worker_tv(t->w, t->ups->cfg->response_timeout_ms, &tv);
	if (body) {
		bufferevent_set_timeouts(bev, NULL, &tv);
		proxy_pump_request(t);
		return;
	}
	/* a request the socket took whole, the common case, goes straight
	 * to the response's timeouts: setting them twice costs event_adds */
	if (!conn_send(bev, head))
		bufferevent_set_timeouts(bev, NULL, &tv);
	proxy_on_up_write(bev, t);
}

static void proxy_attempt(struct txn *t, const struct ups_server *avoid)
{
	struct ups_server *s = ups_pick(t->ups, avoid);
	struct uconn *uc;
	struct timeval tv;

	if (!s) {
		t->cs->reply_local(t, 502, proxy_err_text(t->ups_err));
		return;
	}
	t->attempts++;
	if (t->attempts > 1)
		metrics_ups_inc(t->w->m, proxy_ups_index(t), METRICS_UPS_RETRIES);
	t->srv = s;
	t->ups_err = TXN_UE_NONE; /* from here on, this attempt's */
	s->active++;
	t->flags &= ~(TXN_F_REUSED_CONN | TXN_F_HEAD_SENT | TXN_F_REQ_SENT | TXN_F_CONNECTING);
	t->resp_scanned = 0;
	t->tm.connect_start_ns = util_mono_ns();
	t->tm.connect_end_ns = t->tm.tls_end_ns = t->tm.request_sent_ns = 0;
	t->tm.first_byte_ns = t->tm.last_byte_ns = 0;
	if (t->attempts == 1 && proxy_prepare_request(t)) {
		s->active--;
		t->cs->reply_local(t, 500, "out of memory");
		return;
	}
	flt_attempt(t);
	if (t->ups->cfg->protocol != CFG_PROTO_HTTP1) {
		h2u_attempt(t);
		return;
	}

	/* an idempotent request is retried when a reused connection turns
	 * out closed (proxy_attempt_failed): no need to probe it first */
	uc = upool_get(s, !http_method_is_idempotent(t->req.h.method, t->req.h.method_len) ||
	                          t->attempts >= PROXY_MAX_ATTEMPTS);
	metrics_ups_inc(t->w->m, proxy_ups_index(t),
	                uc ? METRICS_UPS_POOL_HITS : METRICS_UPS_POOL_MISSES);
	if (uc) {
		t->flags |= TXN_F_REUSED_CONN;
	} else if (!(uc = upool_connect(s))) {
		t->uc = NULL;
		s->active--;
		t->ups_err = TXN_UE_REFUSED;
		ups_report(s, false);
		flt_attempt_end(t);
		t->cs->reply_local(t, 502, "cannot create an upstream socket");
		return;
	}
	t->uc = uc;
	bufferevent_setcb(uc->bev, proxy_on_up_read, proxy_on_up_write, proxy_on_up_event, t);
	/* a pooled connection keeps its watermarks and what it had enabled
	 * (setting them again would cost an event_add each) */
	if (!(t->flags & TXN_F_REUSED_CONN)) {
		bufferevent_setwatermark(uc->bev, EV_WRITE, PROXY_LOW, 0);
		conn_read_high(uc->bev, PROXY_HIGH);
	}
	if ((bufferevent_get_enabled(uc->bev) & (EV_READ | EV_WRITE)) != (EV_READ | EV_WRITE))
		bufferevent_enable(uc->bev, EV_READ | EV_WRITE);
	if (t->flags & TXN_F_REUSED_CONN) {
		proxy_send(t);
		return;
	}
	t->flags |= TXN_F_CONNECTING;
	/* a handshake waits on reads too: connect_timeout_ms bounds both */
	worker_tv(t->w, t->ups->cfg->connect_timeout_ms, &tv);
	bufferevent_set_timeouts(uc->bev, uc->tls ? &tv : NULL, &tv);
}

void proxy_start(struct txn *t)
{
	int status = flt_request(t);

	t->flags |= TXN_F_FILTERED;
	if (status) {
		t->cs->reply_local(t, status, "refused by a filter");
		return;
	}
	t->ups = t->wg->ups[t->route->upstream - t->cfg->upstreams];
	if (t->cs->start)
		t->cs->start(t);
	proxy_attempt(t, NULL);
}

/* The response is complete on the upstream side. */
void proxy_resp_done(struct txn *t)
{
	t->tm.last_byte_ns = util_mono_ns();
	t->flags |= TXN_F_RESP_DONE;
	ups_report(t->srv, true);
	proxy_release(t, true);
	/* the response came before all of the request: the rest of the body
	 * is unread, so this connection cannot carry another request */
	if (!(t->flags & TXN_F_REQ_BODY_DONE))
		t->flags &= ~TXN_F_KEEPALIVE;
	proxy_try_finish(t);
}

/* Cuts the client connection after a failure once its response started. */
void proxy_cut(struct txn *t, const char *why)
{
	t->error = why;
	proxy_release(t, false);
	ups_report(t->srv, false);
	log_at(LOG_WARN, t->w->id, t->c->id, t->id, "%s after the response started: cutting", why);
	t->cs->cut(t);
}

/* Relays response body bytes; finishes the txn when the body is complete.
 * Returns 1 when <t> is gone (finished or cut), else 0. */
int proxy_pump_response(struct txn *t)
{
	struct evbuffer *out = proxy_client_out(t);
	struct evbuffer *src = t->us ? h2u_resp_source(t) : bufferevent_get_input(t->uc->bev);
	size_t before = evbuffer_get_length(out), src_before;
	int r;

	if (!t->us && evbuffer_get_length(out) < PROXY_HIGH)
		conn_read_more(t->uc->bev, PROXY_HIGH);
	src_before = evbuffer_get_length(src);
	if (t->flags & TXN_F_TUNNEL) {
		evbuffer_add_buffer(out, src);
		r = 0;
	} else {
		r = relay_move(&t->resp_body, src, out);
	}
	/* an HTTP/2 upstream's window reopens by what moved on */
	if (t->us && src_before > evbuffer_get_length(src))
		h2u_resp_moved(t, src_before - evbuffer_get_length(src));
	t->bytes_out += evbuffer_get_length(out) - before;
	if (r < 0) {
		t->ups_err = TXN_UE_PROTOCOL;
		proxy_cut(t, "upstream sent invalid chunked framing");
		return 1;
	}
	if (r == 1) {
		proxy_resp_done(t);
		return 1;
	}
	if (!t->us && evbuffer_get_length(out) >= PROXY_HIGH)
		bufferevent_disable(t->uc->bev, EV_READ);
	if (t->cs->flush)
		t->cs->flush(t);
	return 0;
}

/* Starts the websocket tunnel after a 101: raw bytes both ways. */
static void proxy_start_tunnel(struct txn *t)
{
	t->flags |= TXN_F_TUNNEL | TXN_F_REQ_BODY_DONE;
	t->flags &= ~TXN_F_KEEPALIVE;
	/* idle tunnels live as long as both ends want; no read timeouts */
	bufferevent_set_timeouts(t->c->bev, NULL, NULL);
	bufferevent_set_timeouts(t->uc->bev, NULL, NULL);
	bufferevent_enable(t->c->bev, EV_READ);
	evbuffer_add_buffer(bufferevent_get_output(t->uc->bev), bufferevent_get_input(t->c->bev));
}

/* Parses response heads (1xx interim ones included) from the upstream
 * input. Returns 1 when the final head is in, 0 when more is needed, -1
 * when <t> was failed. */
static int proxy_read_head(struct txn *t)
{
	const struct cfg_gateway *g = &t->cfg->gw;
	struct evbuffer *in = bufferevent_get_input(t->uc->bev);
	struct h1_limits lim = {g->max_head_bytes, g->max_target_bytes, g->max_headers};

	for (;;) {
		size_t len = evbuffer_get_length(in), want, n;
		const char *p;
		int r;

		if (len == 0)
			return 0;
		want = len <= g->max_head_bytes ? len : (size_t)g->max_head_bytes + 1;
		p = (const char *)evbuffer_pullup(in, (ssize_t)want);
		n = h1_head_scan(p, want, &t->resp_scanned);
		if (n == 0 && want <= g->max_head_bytes)
			return 0;
		r = http_msg_parse(&t->resp, p, n ? n : want, &lim, t->w->hdr_scratch,
		                   g->max_headers, true);
		if (r == HTTP_NOMEM) {
			proxy_fail(t, 502, "upstream response head too large");
			return -1;
		}
		if (r <= 0) {
			log_at(LOG_WARN, t->w->id, t->c->id, t->id, "%s: invalid response: %s",
			       t->srv->addr->text, r ? h1_err_str(r) : "head too large");
			t->ups_err = TXN_UE_PROTOCOL;
			proxy_fail(t, 502, proxy_err_text(TXN_UE_PROTOCOL));
			return -1;
		}
		evbuffer_drain(in, (size_t)r);
		t->resp_scanned = 0;
		if (t->resp.h.status >= 200 || t->resp.h.status == 101)
			return 1;
		t->cs->write_interim(t);
	}
}

int proxy_resp_head(struct txn *t)
{
	if (t->resp.h.status == 101 && !(t->flags & TXN_F_UPGRADE)) {
		proxy_fail(t, 502, "upstream switched protocols unasked");
		return -1;
	}
	t->flags |= TXN_F_RESP_HEAD;
	flt_response(t);
	if (t->cs->write_head(t)) {
		proxy_fail(t, 500, "out of memory");
		return -1;
	}
	return 0;
}

void proxy_resp_eof(struct txn *t)
{
	struct evbuffer *out = proxy_client_out(t);
	size_t before;

	if (proxy_pump_response(t))
		return;
	before = evbuffer_get_length(out);
	if (relay_eof(&t->resp_body, out) == 1) {
		t->bytes_out += evbuffer_get_length(out) - before;
		proxy_resp_done(t);
	} else {
		t->ups_err = TXN_UE_RESET;
		proxy_cut(t, "upstream closed mid-response");
	}
}

static void proxy_on_up_read(struct bufferevent *bev, void *arg)
{
	struct txn *t = arg;
	int r;

	/* an OpenSSL bufferevent may run its write callback after the answer
	 * is in: the answer says the request went out */
	if ((t->flags & (TXN_F_HEAD_SENT | TXN_F_REQ_BODY_DONE | TXN_F_REQ_SENT)) ==
	            (TXN_F_HEAD_SENT | TXN_F_REQ_BODY_DONE) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		proxy_on_up_write(bev, t);
	if (!t->tm.first_byte_ns)
		t->tm.first_byte_ns = util_mono_ns();
	if (!(t->flags & TXN_F_RESP_HEAD)) {
		r = proxy_read_head(t);
		if (r <= 0)
			return;
		if (proxy_resp_head(t))
			return;
		if (t->resp.h.status == 101)
			proxy_start_tunnel(t);
	}
	proxy_pump_response(t);
}

static void proxy_on_up_write(struct bufferevent *bev, void *arg)
{
	struct txn *t = arg;
	struct evbuffer *out = bufferevent_get_output(bev);
	struct timeval tv;

	if (t->flags & TXN_F_TUNNEL) {
		bufferevent_enable(t->c->bev, EV_READ);
		evbuffer_add_buffer(out, bufferevent_get_input(t->c->bev));
		return;
	}
	if (!(t->flags & TXN_F_REQ_BODY_DONE)) {
		t->cs->req_read(t, true);
		proxy_pump_request(t);
		return;
	}
	if (evbuffer_get_length(out) || (t->flags & TXN_F_REQ_SENT) ||
	    !(t->flags & TXN_F_HEAD_SENT))
		return;
	t->flags |= TXN_F_REQ_SENT;
	t->tm.request_sent_ns = util_mono_ns();
	/* from here the upstream owes an answer within response_timeout_ms */
	worker_tv(t->w, t->ups->cfg->response_timeout_ms, &tv);
	bufferevent_set_timeouts(bev, &tv, &tv);
}

static void proxy_on_up_event(struct bufferevent *bev, short what, void *arg)
{
	struct txn *t = arg;

	if (t->flags & TXN_F_CONNECTING) {
		struct uconn *uc = t->uc;
		char why[200];

		if (what & BEV_EVENT_CONNECTED) {
			/* over TLS, this is the end of the handshake */
			t->tm.connect_end_ns = util_mono_ns();
			if (uc->tls) {
				t->tm.tls_end_ns = t->tm.connect_end_ns;
				if (uc->tcp_ns)
					t->tm.connect_end_ns = uc->tcp_ns;
				if (upool_tls_established(uc, why, sizeof(why))) {
					proxy_attempt_failed_why(t, TXN_UE_TLS, why);
					return;
				}
			}
			proxy_send(t);
			return;
		}
		/* TCP connected, then the handshake failed: the span shows both */
		if (uc->tls && uc->tcp_ns)
			t->tm.connect_end_ns = uc->tcp_ns;
		if (uc->tls && upool_tls_failed(uc, what, why, sizeof(why))) {
			proxy_attempt_failed_why(t, TXN_UE_TLS, why);
			return;
		}
		proxy_attempt_failed(t, (what & BEV_EVENT_TIMEOUT) ? TXN_UE_CONNECT_TIMEOUT
		                                                   : TXN_UE_REFUSED);
		return;
	}
	if (t->flags & TXN_F_TUNNEL) {
		/* one side ended the tunnel: flush what the client has, then close */
		struct conn *c = t->c;

		proxy_pump_response(t);
		proxy_release(t, false);
		ups_report(t->srv, true);
		txn_finish(t, TXN_END_OK);
		conn_txn_done(c, false);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (t->flags & TXN_F_RESP_STARTED) {
			metrics_ups_inc(t->w->m, proxy_ups_index(t), METRICS_UPS_TIMEOUTS);
			t->ups_err = TXN_UE_TIMEOUT;
			proxy_cut(t, "upstream stalled mid-response");
		} else {
			proxy_attempt_failed(t, TXN_UE_TIMEOUT);
		}
		return;
	}
	/* EOF or error: a close-delimited body ends here; anything else is cut */
	if (t->flags & TXN_F_RESP_HEAD) {
		proxy_resp_eof(t);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_input(bev))) {
		/* bytes but no complete head before the close */
		t->ups_err = TXN_UE_PROTOCOL;
		proxy_fail(t, 502, "upstream closed mid-head");
		return;
	}
	/* an alert may end a write as well as a read (as an EOF then, since
	 * dirty shutdowns are allowed): OpenSSL's error says which it was */
	if (t->uc->tls) {
		char why[200];

		if (upool_tls_alert(t->uc, why, sizeof(why))) {
			proxy_attempt_failed_why(t, TXN_UE_TLS, why);
			return;
		}
	}
	proxy_attempt_failed(t, TXN_UE_RESET);
}

void proxy_on_client_read(struct txn *t)
{
	if (!t->uc && !t->us)
		return; /* no connection yet: bytes wait in the input buffer */
	if (t->flags & TXN_F_TUNNEL) {
		struct evbuffer *out = bufferevent_get_output(t->uc->bev);

		evbuffer_add_buffer(out, bufferevent_get_input(t->c->bev));
		if (evbuffer_get_length(out) >= PROXY_HIGH)
			bufferevent_disable(t->c->bev, EV_READ);
		return;
	}
	proxy_pump_request(t);
}

void proxy_on_client_write(struct txn *t)
{
	if (proxy_try_finish(t))
		return;
	if (t->uc && (t->flags & TXN_F_RESP_HEAD)) {
		bufferevent_enable(t->uc->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_input(t->uc->bev)))
			proxy_pump_response(t);
	} else if (t->us && (t->flags & TXN_F_RESP_HEAD) &&
	           evbuffer_get_length(h2u_resp_source(t))) {
		proxy_pump_response(t);
	}
}

void proxy_on_client_event(struct txn *t, short what)
{
	struct conn *c = t->c;

	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    (t->flags & TXN_F_REQ_BODY_DONE) && !(t->flags & TXN_F_TUNNEL)) {
		/* half-close after a complete request: the answer still goes out */
		t->flags |= TXN_F_CLIENT_EOF;
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    !(t->flags & TXN_F_RESP_STARTED)) {
		if (t->uc)
			proxy_release(t, false);
		t->cs->reply_local(t, 408, "request body not received within client_timeout_ms");
		return;
	}
	conn_close(c); /* aborts <t> through proxy_abort() */
}

void proxy_abort(struct txn *t)
{
	t->error = t->error ? t->error : "client closed the connection";
	proxy_release(t, false);
	/* closing is how a websocket tunnel normally ends */
	txn_finish(t, (t->flags & (TXN_F_RESP_DONE | TXN_F_TUNNEL)) ? TXN_END_OK : TXN_END_ABORT);
}
