/* h2u.c: HTTP/2 to upstream servers, with nghttp2 as a client.
 *
 * Each worker keeps, per server, the HTTP/2 connections it opened; an
 * attempt takes a stream on the first one with room under the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS and opens a new connection only when
 * none has. A stream's request body is read from <req> by a data source
 * and its response DATA lands in <resp>; window credit goes back to the
 * server as proxy.c relays those bytes to the client, so a slow client
 * slows its stream, not the connection. What the server sends is taken in
 * by h2u_recv.c. As in h2c.c, callbacks never frame output and a
 * connection is freed from its timer only.
 */
#include <errno.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <nghttp2/nghttp2.h>

#include "cfg.h"
#include "conn.h"
#include "h2u.h"
#include "h2u_int.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "txn.h"
#include "upool.h"
#include "upstream.h"
#include "util.h"
#include "worker.h"

static void h2u_arm(struct h2u_conn *hc)
{
	const struct cfg_upstream *c = hc->srv->ups->cfg;
	uint32_t ms = c->idle_timeout_ms;
	struct timeval tv;

	if (hc->gone || (hc->dead && hc->n_streams == 0))
		ms = 0;
	else if (hc->n_streams) {
		ms = c->response_timeout_ms / 4;
		ms = ms < 100 ? 100 : ms > 1000 ? 1000 : ms;
	}
	worker_tv(hc->srv->ups->w, ms, &tv);
	evtimer_add(hc->timer, &tv);
}

/* No new streams on <hc>; it closes once its streams are over. */
static void h2u_kill(struct h2u_conn *hc)
{
	if (!hc->dead) {
		hc->dead = true;
		h2u_arm(hc);
	}
}

/* <hc> cannot go on: its timer fails what it carries and frees it (the
 * caller may be working on one of those txns). */
static void h2u_broken(struct h2u_conn *hc)
{
	hc->dead = hc->gone = true;
	h2u_arm(hc);
}

void h2u_stream_free(struct h2us *us)
{
	struct h2u_conn *hc = us->hc;

	TAILQ_REMOVE(&hc->streams, us, link);
	if (--hc->n_streams == 0) {
		hc->idle_since_ns = util_mono_ns();
		h2u_arm(hc);
	}
	evbuffer_free(us->req);
	evbuffer_free(us->resp);
	evbuffer_free(us->head);
	free(us);
}

static void h2u_send(struct h2u_conn *hc)
{
	struct evbuffer *out;
	struct h2us *us;

	if (hc->busy || !hc->connected || hc->gone) {
		hc->want_send = true;
		return;
	}
	out = bufferevent_get_output(hc->uc->bev);
	hc->busy++;
	do {
		hc->want_send = false;
		while (evbuffer_get_length(out) < H2U_OUT_HIGH) {
			const uint8_t *data;
			ssize_t n = nghttp2_session_mem_send(hc->ss, &data);

			if (n < 0) {
				log_at(LOG_WARN, hc->srv->ups->w->id, 0, 0, "%s: HTTP/2: %s",
				       hc->srv->addr->text, nghttp2_strerror((int)n));
				h2u_broken(hc);
				break;
			}
			if (n == 0)
				break;
			evbuffer_add(out, data, (size_t)n);
		}
		TAILQ_FOREACH(us, &hc->streams, link)
		{
			if (!us->wake_req || !us->t)
				continue;
			us->wake_req = false;
			us->t->cs->req_read(us->t, true);
			proxy_pump_request(us->t);
		}
	} while (hc->want_send && !hc->gone);
	hc->busy--;
	if (!nghttp2_session_want_read(hc->ss) && !nghttp2_session_want_write(hc->ss))
		h2u_kill(hc);
	if (evbuffer_get_length(out))
		event_active(&hc->flush_ev, EV_WRITE, 1);
}

static void h2u_on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct h2u_conn *hc = arg;

	(void)fd;
	(void)what;
	/* a flush that wrote everything leaves no write callback to come, yet
	 * h2u_send() may have stopped framing at H2U_OUT_HIGH: frame the rest
	 * now (it flushes again next pass), or it waits for the server to send
	 * something */
	if (conn_flush(hc->uc->bev) && !hc->gone && nghttp2_session_want_write(hc->ss))
		h2u_send(hc);
}

/* ---- Requests ------------------------------------------------------------- */

static ssize_t h2u_on_req_read(nghttp2_session *ss, int32_t id, uint8_t *buf, size_t len,
                               uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct h2us *us = src->ptr;
	int n;

	(void)ss, (void)id, (void)arg;
	if (!us->t) {
		*flags |= NGHTTP2_DATA_FLAG_EOF; /* released: a reset follows */
		return 0;
	}
	if ((n = evbuffer_remove(us->req, buf, len)) < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (n > 0)
		us->progress_ns = util_mono_ns();
	if (evbuffer_get_length(us->req) == 0 && (us->t->flags & TXN_F_REQ_BODY_DONE))
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	else if (n == 0)
		return NGHTTP2_ERR_DEFERRED;
	if (evbuffer_get_length(us->req) < H2U_REQ_LOW)
		us->wake_req = true;
	return n;
}

static bool h2u_has_trailers(const struct h1_hdr *te)
{
	const char *p = te->value, *tok;
	size_t n;

	while (h1_list_next(&p, te->value + te->value_len, &tok, &n))
		if (h1_name_eq(tok, n, "trailers"))
			return true;
	return false;
}

/* The request of <t> as an HTTP/2 header list in its arena; the count, or
 * -ENOMEM. */
static int h2u_nv(struct txn *t, bool tls, nghttp2_nv **nvp)
{
	const struct http_msg *m = &t->req;
	const struct h1_hdr *host = http_hdr_get(m, "host"), *te = http_hdr_get(m, "te");
	nghttp2_nv *nv = arena_alloc(&t->arena, sizeof(*nv) * (m->h.n_hdrs + 6));
	char *cl = arena_alloc(&t->arena, UTIL_U64_DIGITS);
	bool conn_options = http_conn_options(m);
	int n = 0;

#define H2U_NV(nm, nl, v, vl)                                                                      \
	(nv[n++] = (nghttp2_nv){(uint8_t *)(nm), (uint8_t *)(v), (nl), (vl), NGHTTP2_NV_FLAG_NONE})
	if (!nv || !cl)
		return -ENOMEM;
	H2U_NV(":method", 7, m->h.method, m->h.method_len);
	H2U_NV(":scheme", 7, tls ? "https" : "http", tls ? 5 : 4);
	if (host)
		H2U_NV(":authority", 10, host->value, host->value_len);
	H2U_NV(":path", 5, m->h.path, m->h.path_len);
	for (unsigned i = 0; i < m->h.n_hdrs; i++) {
		const struct h1_hdr *f = &m->h.hdrs[i];
		char *name;

		if (!f->name_len || f == host || http_is_hop_by_hop(m, f, conn_options))
			continue;
		if (!(name = arena_alloc(&t->arena, f->name_len)))
			return -ENOMEM;
		http_lower(name, f->name, f->name_len);
		H2U_NV(name, f->name_len, f->value, f->value_len);
	}
	/* the one TE value HTTP/2 allows, and gRPC servers ask for */
	if (te && h2u_has_trailers(te))
		H2U_NV("te", 2, "trailers", 8);
	if (t->req_body.in == RELAY_LENGTH)
		H2U_NV("content-length", 14, cl, util_u64_dec(cl, (uint64_t)m->h.content_length));
#undef H2U_NV
	*nvp = nv;
	return n;
}

/* Sends the request of <us> on its (connected) connection. */
static void h2u_submit(struct h2us *us)
{
	struct txn *t = us->t;
	struct h2u_conn *hc = us->hc;
	nghttp2_data_provider dp = {.source.ptr = us, .read_callback = h2u_on_req_read};
	bool body = !t->req_body.done;
	nghttp2_nv *nv;
	int n = h2u_nv(t, hc->srv->ups->cfg->tls, &nv);
	int32_t id;

	/* only a stream that waited for its connection saw it connect */
	if (t->flags & TXN_F_CONNECTING) {
		t->tm.connect_end_ns = hc->connect_ns;
		t->tm.tls_end_ns = hc->tls_ns;
	}
	t->flags &= ~TXN_F_CONNECTING;
	/* bodies go upstream as raw DATA, whatever framing the client used */
	t->req_body.out = RELAY_LENGTH;
	if (n < 0 ||
	    (id = nghttp2_submit_request(hc->ss, NULL, nv, (size_t)n, body ? &dp : NULL, us)) < 0) {
		proxy_fail(t, 500, "cannot send the request upstream");
		return;
	}
	us->id = id;
	us->progress_ns = util_mono_ns();
	t->flags |= TXN_F_HEAD_SENT;
	if (body)
		proxy_pump_request(t);
	h2u_send(hc);
}

/* ---- Connections ---------------------------------------------------------- */

static void h2u_free(struct h2u_conn *hc)
{
	struct h2us *us;

	TAILQ_REMOVE(&hc->srv->h2, hc, link);
	while ((us = TAILQ_FIRST(&hc->streams))) {
		us->closed = true;
		if (us->t)
			proxy_fail(us->t, 502, "upstream connection closed"); /* not expected */
		else
			h2u_stream_free(us);
	}
	nghttp2_session_del(hc->ss);
	event_free(hc->timer);
	event_del(&hc->flush_ev);
	upool_free(hc->uc);
	free(hc);
}

/* Fails the txns of <hc>, whose socket failed with <e> or timed out;
 * <why> (NULL for none) goes into each one's log line. */
static void h2u_fail_all(struct h2u_conn *hc, enum txn_ups_err e, const char *why)
{
	struct h2us *us;

	hc->dead = hc->gone = true;
	for (;;) {
		TAILQ_FOREACH(us, &hc->streams, link)
		if (us->t)
			break;
		if (!us)
			break;
		us->closed = true;
		if (us->t->flags & TXN_F_RESP_STARTED) {
			us->t->ups_err = e;
			proxy_cut(us->t, "upstream connection failed");
		} else {
			proxy_attempt_failed_why(us->t, e, why);
		}
	}
	h2u_arm(hc);
}

static void h2u_on_read(struct bufferevent *bev, void *arg)
{
	struct h2u_conn *hc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	hc->busy++;
	while (!hc->gone && evbuffer_get_length(in)) {
		struct evbuffer_iovec v;
		ssize_t n;

		evbuffer_peek(in, -1, NULL, &v, 1);
		n = nghttp2_session_mem_recv(hc->ss, v.iov_base, v.iov_len);
		if (n < 0) {
			log_at(LOG_WARN, hc->srv->ups->w->id, 0, 0, "%s: HTTP/2: %s",
			       hc->srv->addr->text, nghttp2_strerror((int)n));
			hc->busy--;
			h2u_fail_all(hc, TXN_UE_PROTOCOL, NULL);
			return;
		}
		evbuffer_drain(in, (size_t)n);
	}
	hc->busy--;
	h2u_send(hc);
}

static void h2u_on_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	h2u_send(arg);
}

static void h2u_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct h2u_conn *hc = arg;
	struct h2us *us, *next;
	char why[200];

	if ((what & BEV_EVENT_CONNECTED) && !hc->connected) {
		/* over TLS, this is the end of the handshake */
		hc->connect_ns = util_mono_ns();
		if (hc->uc->tls) {
			hc->tls_ns = hc->connect_ns;
			if (hc->uc->tcp_ns)
				hc->connect_ns = hc->uc->tcp_ns;
			if (upool_tls_established(hc->uc, why, sizeof(why))) {
				h2u_fail_all(hc, TXN_UE_TLS, why);
				return;
			}
		}
		hc->connected = true;
		bufferevent_set_timeouts(bev, NULL, NULL);
		for (us = TAILQ_FIRST(&hc->streams); us; us = next) {
			next = TAILQ_NEXT(us, link);
			if (us->t && us->id == 0)
				h2u_submit(us);
		}
		h2u_send(hc);
		return;
	}
	if (!hc->connected && hc->uc->tls && upool_tls_failed(hc->uc, what, why, sizeof(why)))
		h2u_fail_all(hc, TXN_UE_TLS, why);
	else if (!hc->connected)
		h2u_fail_all(hc,
		             (what & BEV_EVENT_TIMEOUT) ? TXN_UE_CONNECT_TIMEOUT : TXN_UE_REFUSED,
		             NULL);
	else if (hc->uc->tls && upool_tls_alert(hc->uc, why, sizeof(why)))
		h2u_fail_all(hc, TXN_UE_TLS, why);
	else
		h2u_fail_all(hc, TXN_UE_RESET, NULL);
}

/* Times out the streams whose server made no progress in
 * response_timeout_ms; closes the connection when dead or idle. */
static void h2u_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct h2u_conn *hc = arg;
	const struct cfg_upstream *c = hc->srv->ups->cfg;
	uint64_t now = util_mono_ns(), limit = (uint64_t)c->response_timeout_ms * 1000000u;
	struct h2us *us;

	(void)fd, (void)what;
	if (hc->gone) {
		h2u_fail_all(hc, hc->connected ? TXN_UE_RESET : TXN_UE_REFUSED, NULL);
		h2u_free(hc);
		return;
	}
	if (hc->dead && hc->n_streams == 0) {
		h2u_free(hc);
		return;
	}
	if (hc->n_streams == 0 &&
	    now - hc->idle_since_ns >= (uint64_t)c->idle_timeout_ms * 1000000u) {
		nghttp2_session_terminate_session(hc->ss, NGHTTP2_NO_ERROR);
		h2u_send(hc);
		h2u_free(hc);
		return;
	}
	hc->busy++;
	TAILQ_FOREACH(us, &hc->streams, link)
	{
		struct txn *t = us->t;

		if (!t || us->id == 0 || now - us->progress_ns < limit)
			continue;
		metrics_ups_inc(t->w->m, t->ups->mslot, METRICS_UPS_TIMEOUTS);
		t->ups_err = TXN_UE_TIMEOUT;
		if (t->flags & TXN_F_RESP_STARTED)
			proxy_cut(t, "upstream stalled mid-response");
		else
			proxy_attempt_failed(t, TXN_UE_TIMEOUT);
	}
	hc->busy--;
	h2u_send(hc);
	h2u_arm(hc);
}

static struct h2u_conn *h2u_connect(struct ups_server *s)
{
	const struct cfg_upstream *c = s->ups->cfg;
	struct h2u_conn *hc = calloc(1, sizeof(*hc));
	nghttp2_session_callbacks *cb = h2u_recv_callbacks();
	nghttp2_option *opt = NULL;
	nghttp2_settings_entry set[] = {
	        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
	        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2U_STREAM_WINDOW},
	};
	struct timeval tv;

	if (!hc || !cb || nghttp2_option_new(&opt))
		goto fail;
	nghttp2_option_set_no_auto_window_update(opt, 1);
	if (nghttp2_session_client_new2(&hc->ss, cb, hc, opt) ||
	    nghttp2_submit_settings(hc->ss, NGHTTP2_FLAG_NONE, set, 2) ||
	    nghttp2_session_set_local_window_size(hc->ss, NGHTTP2_FLAG_NONE, 0, H2U_CONN_WINDOW) ||
	    !(hc->timer = evtimer_new(s->ups->w->base, h2u_on_timer, hc)) ||
	    !(hc->uc = upool_connect(s)))
		goto fail;
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	hc->srv = s;
	TAILQ_INIT(&hc->streams);
	event_assign(&hc->flush_ev, s->ups->w->base, -1, 0, h2u_on_flush, hc);
	bufferevent_setcb(hc->uc->bev, h2u_on_read, h2u_on_write, h2u_on_event, hc);
	bufferevent_setwatermark(hc->uc->bev, EV_WRITE, H2U_OUT_HIGH / 4, 0);
	/* a handshake waits on reads too: connect_timeout_ms bounds both */
	worker_tv(s->ups->w, c->connect_timeout_ms, &tv);
	bufferevent_set_timeouts(hc->uc->bev, hc->uc->tls ? &tv : NULL, &tv);
	bufferevent_enable(hc->uc->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&s->h2, hc, link);
	h2u_arm(hc);
	return hc;
fail:
	if (hc) {
		if (hc->timer)
			event_free(hc->timer);
		nghttp2_session_del(hc->ss);
		free(hc);
	}
	nghttp2_option_del(opt);
	if (cb)
		nghttp2_session_callbacks_del(cb);
	return NULL;
}

/* A connection to <s> with room for one more stream, or NULL. */
static struct h2u_conn *h2u_pick(struct ups_server *s)
{
	struct h2u_conn *hc;

	TAILQ_FOREACH(hc, &s->h2, link)
	{
		uint32_t max = H2U_MAX_STREAMS;

		if (hc->dead || hc->gone)
			continue;
		if (hc->connected) {
			uint32_t peer = nghttp2_session_get_remote_settings(
			        hc->ss, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);

			max = peer < max ? peer : max;
		}
		if (hc->n_streams < max)
			return hc;
	}
	return NULL;
}

void h2u_attempt(struct txn *t)
{
	struct ups_server *s = t->srv;
	struct h2u_conn *hc = h2u_pick(s);
	struct h2us *us;
	bool reused = hc && hc->connected;

	metrics_ups_inc(t->w->m, t->ups->mslot,
	                hc ? METRICS_UPS_POOL_HITS : METRICS_UPS_POOL_MISSES);
	if (!hc && !(hc = h2u_connect(s))) {
		s->active--;
		t->ups_err = TXN_UE_REFUSED;
		ups_report(s, false);
		flt_attempt_end(t);
		t->cs->reply_local(t, 502, "cannot create an upstream socket");
		return;
	}
	if (!(us = calloc(1, sizeof(*us))) || !(us->req = evbuffer_new()) ||
	    !(us->resp = evbuffer_new()) || !(us->head = evbuffer_new())) {
		if (us) {
			if (us->req)
				evbuffer_free(us->req);
			if (us->resp)
				evbuffer_free(us->resp);
			free(us);
		}
		s->active--;
		flt_attempt_end(t);
		t->cs->reply_local(t, 500, "out of memory");
		return;
	}
	us->hc = hc;
	us->t = t;
	t->us = us;
	TAILQ_INSERT_TAIL(&hc->streams, us, link);
	if (hc->n_streams++ == 0)
		h2u_arm(hc);
	if (reused)
		t->flags |= TXN_F_REUSED_CONN;
	if (hc->connected) {
		h2u_submit(us);
		return;
	}
	t->flags |= TXN_F_CONNECTING; /* submitted once connected */
}

void h2u_release(struct txn *t, bool clean)
{
	struct h2us *us = t->us;
	struct h2u_conn *hc = us->hc;

	t->us = NULL;
	us->t = NULL;
	if (us->id == 0 || us->closed) {
		/* never sent, or nghttp2 is done with it: nothing to tell */
		if (us->id == 0)
			h2u_stream_free(us);
		return;
	}
	/* what arrived and nobody will read gives its credit back */
	nghttp2_session_consume(hc->ss, us->id, us->unconsumed);
	us->unconsumed = 0;
	evbuffer_drain(us->resp, evbuffer_get_length(us->resp));
	/* a clean end had the whole response: the server's END_STREAM follows
	 * the last DATA it counted by content-length */
	if (!clean)
		nghttp2_submit_rst_stream(hc->ss, NGHTTP2_FLAG_NONE, us->id, NGHTTP2_CANCEL);
	h2u_send(hc);
}

struct evbuffer *h2u_req_sink(struct txn *t)
{
	return t->us->req;
}

void h2u_req_flush(struct txn *t)
{
	struct h2us *us = t->us;

	if (us->id > 0)
		nghttp2_session_resume_data(us->hc->ss, us->id);
	h2u_send(us->hc);
}

struct evbuffer *h2u_resp_source(struct txn *t)
{
	return t->us->resp;
}

void h2u_resp_moved(struct txn *t, size_t n)
{
	struct h2us *us = t->us;

	us->unconsumed -= n;
	nghttp2_session_consume(us->hc->ss, us->id, n);
	h2u_send(us->hc);
}

void h2u_flush(struct ups_server *s)
{
	struct h2u_conn *hc;

	while ((hc = TAILQ_FIRST(&s->h2)))
		h2u_free(hc);
}
