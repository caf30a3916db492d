/* h1c.c: HTTP/1.x on the client side of a connection.
 *
 * Turns buffered bytes into a txn once a head is complete and valid (the
 * head is copied into the txn's arena and parsed there, so nothing points
 * into socket buffers), answers broken requests with the status the parser's
 * error maps to, and writes response heads with the framing the client can
 * take. What happens between request and response is proxy.c's.
 */
#include <errno.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cfg.h"
#include "conn.h"
#include "h1c.h"
#include "log.h"
#include "proxy.h"
#include "route.h"
#include "txn.h"
#include "util.h"
#include "worker.h"

static struct h1_limits h1c_limits(const struct cfg_gateway *g)
{
	struct h1_limits lim = {
	        .max_head_bytes = g->max_head_bytes,
	        .max_target_bytes = g->max_target_bytes,
	        .max_headers = g->max_headers,
	};
	return lim;
}

/* Parses the first <len> buffered bytes as the request head of <t>. */
static int h1c_parse_into(struct txn *t, const char *p, size_t len)
{
	const struct cfg_gateway *g = &t->cfg->gw;
	struct h1_limits lim = h1c_limits(g);

	return http_msg_parse(&t->req, p, len, &lim, t->w->hdr_scratch, g->max_headers, false);
}

/* Sets keep-alive, upgrade and body framing of a parsed request. Returns 0,
 * or a status to answer with. */
static int h1c_prepare(struct txn *t)
{
	const struct h1_msg *m = &t->req.h;
	const struct cfg_gateway *g = &t->cfg->gw;

	if (m->version_minor == 1 ? !(m->flags & H1_F_CONN_CLOSE)
	                          : (m->flags & H1_F_CONN_KEEPALIVE) != 0)
		t->flags |= TXN_F_KEEPALIVE;
	if (m->flags & H1_F_CONN_UPGRADE) {
		const struct h1_hdr *up = http_hdr_get(&t->req, "upgrade");
		const char *p, *tok;
		size_t tl;

		p = up->value;
		while (h1_list_next(&p, up->value + up->value_len, &tok, &tl))
			if (h1_name_eq(tok, tl, "websocket"))
				t->flags |= TXN_F_UPGRADE;
	}
	if (m->flags & H1_F_CHUNKED) {
		relay_init(&t->req_body, RELAY_CHUNKED, 0, RELAY_CHUNKED);
	} else if (m->content_length > 0) {
		if (g->max_body_bytes && (uint64_t)m->content_length > g->max_body_bytes)
			return 413;
		relay_init(&t->req_body, RELAY_LENGTH, (uint64_t)m->content_length, RELAY_LENGTH);
	} else {
		relay_init(&t->req_body, RELAY_NONE, 0, RELAY_NONE);
	}
	if (t->req_body.done)
		t->flags |= TXN_F_REQ_BODY_DONE;
	return 0;
}

/* RFC 9112 2.2: a server SHOULD ignore empty lines received before a
 * request-line; clients send a stray CRLF after a body. */
static void h1c_skip_empty_lines(struct evbuffer *in)
{
	for (;;) {
		unsigned char *p = evbuffer_pullup(in, 2);

		if (!p || p[0] != '\r' || p[1] != '\n')
			return;
		evbuffer_drain(in, 2);
	}
}

void h1c_on_head_bytes(struct conn *c)
{
	const struct cfg_gateway *g = &c->w->cfg->gw;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t len, want, n;
	const struct cfg_route *r;
	struct txn *t;
	const char *p;
	int err, status;

	if (c->head_scanned == 0)
		h1c_skip_empty_lines(in);
	len = evbuffer_get_length(in);
	if (len == 0)
		return;
	if (!c->head_start_ns) {
		c->head_start_ns = util_mono_ns();
		conn_arm_header_timer(c);
	}
	want = len <= g->max_head_bytes ? len : (size_t)g->max_head_bytes + 1;
	p = (const char *)evbuffer_pullup(in, (ssize_t)want);
	n = h1_head_scan(p, want, &c->head_scanned);
	if (n == 0 && want <= g->max_head_bytes)
		return; /* incomplete and within bounds: wait for more */

	t = txn_new(c, &h1c_client, c->head_start_ns);
	if (!t) {
		log_at(LOG_ERROR, c->w->id, c->id, 0, "out of memory for a request");
		conn_close(c);
		return;
	}
	event_del(c->timer);
	c->state = CONN_ST_TXN;
	c->txn = t;
	c->head_start_ns = 0;
	c->head_scanned = 0;
	t->tm.head_ns = util_mono_ns();

	err = h1c_parse_into(t, p, n ? n : want);
	if (err <= 0) {
		if (err == 0)
			err = n ? H1_E_SYNTAX : H1_E_HEAD_TOO_LARGE;
		if (err == HTTP_NOMEM) {
			h1c_reply_local(t, 500, "out of memory");
			return;
		}
		t->head_len = n;
		log_at(LOG_DEBUG, c->w->id, c->id, t->id, "bad request: %s", h1_err_str(err));
		h1c_reply_local(t, h1_err_status(err), h1_err_str(err));
		return;
	}
	evbuffer_drain(in, (size_t)err);
	t->head_len = (size_t)err;

	status = h1c_prepare(t);
	if (status) {
		h1c_reply_local(t, status, "request body larger than max_body_bytes");
		return;
	}
	r = route_match(t->cfg, t->req.h.authority, t->req.h.authority_len, t->req.h.path,
	                t->req.h.path_len, txn_method_bit(t));
	if (!r) {
		h1c_reply_local(t, 404, "no route matches this request");
		return;
	}
	t->route = r;
	proxy_start(t);
}

void h1c_head_timeout(struct conn *c)
{
	struct txn *t = txn_new(c, &h1c_client, c->head_start_ns);

	if (!t) {
		conn_close(c);
		return;
	}
	c->state = CONN_ST_TXN;
	c->txn = t;
	h1c_reply_local(t, 408, "request head not received within header_timeout_ms");
}

void h1c_reply_local(struct txn *t, int status, const char *detail)
{
	struct conn *c = t->c;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const char *reason = http_reason(status);
	bool is_head = t->req.h.method_len == 4 && memcmp(t->req.h.method, "HEAD", 4) == 0;
	bool keepalive;
	size_t before = evbuffer_get_length(out);
	char body[256];
	int blen;

	t->error = detail;
	t->flags |= TXN_F_LOCAL;
	if (t->flags & TXN_F_RESP_STARTED) {
		/* the client has a head already: only a cut connection tells it
		 * the body is incomplete */
		txn_finish(t, TXN_END_ERROR);
		conn_close_after_flush(c);
		return;
	}
	/* TXN_F_KEEPALIVE is only set once a head parsed: after a parse error
	 * the stream position is unknown. An unread body would be taken for
	 * the next request. */
	keepalive =
	        (t->flags & TXN_F_KEEPALIVE) && (t->flags & TXN_F_REQ_BODY_DONE) && !c->w->draining;
	blen = snprintf(body, sizeof(body), "%d %s: %s\n", status, reason, detail);
	evbuffer_add_printf(
	        out, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s",
	        status, reason, blen, keepalive ? "" : "Connection: close\r\n");
	if (t->flags & TXN_F_FILTERED) {
		/* filters that saw the request see our answer too (trace headers
		 * matter most on a 502); an upstream head parsed so far is gone */
		t->resp.h.n_hdrs = 0;
		t->resp.h.flags = 0;
		t->resp.h.status = status;
		flt_response(t);
		http_write_fields(&t->resp, NULL, out);
	}
	evbuffer_add(out, "\r\n", 2);
	if (!is_head)
		evbuffer_add(out, body, (size_t)blen);
	t->status = status;
	t->flags |= TXN_F_RESP_STARTED | TXN_F_RESP_DONE;
	t->bytes_out += evbuffer_get_length(out) - before;
	txn_finish(t, status >= 400 ? TXN_END_ERROR : TXN_END_OK);
	conn_txn_done(c, keepalive);
}

int h1c_write_resp_head(struct txn *t)
{
	struct conn *c = t->c;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const struct h1_msg *m = &t->resp.h;
	bool client11 = t->req.h.version_minor == 1;
	bool keepalive = (t->flags & TXN_F_KEEPALIVE) && !c->w->draining;
	const char *reason = m->reason_len ? m->reason : http_reason(m->status);
	size_t reason_len = m->reason_len ? m->reason_len : strlen(reason);
	bool tunnel = m->status == 101;
	bool no_body = http_resp_has_no_body(t->req.h.method, t->req.h.method_len, m->status);
	const struct h1_hdr *up = tunnel ? http_hdr_get(&t->resp, "upgrade") : NULL;
	struct evbuffer_iovec v;
	size_t room;
	char *p;

	/* one reservation for the head: an evbuffer_add() per piece, each
	 * running the output's callbacks, showed in profiles */
	room = sizeof("HTTP/1.1 000 \r\n") + reason_len + http_fields_room(&t->resp) +
	       sizeof("Connection: Upgrade\r\nUpgrade: \r\n") + (up ? up->value_len : 0) +
	       sizeof("Transfer-Encoding: chunked\r\n") + HTTP_LENGTH_ROOM +
	       sizeof("Connection: keep-alive\r\n") + 2;
	if (evbuffer_reserve_space(out, (ev_ssize_t)room, &v, 1) != 1)
		return -ENOMEM;
	p = UTIL_PUT_LIT(v.iov_base, "HTTP/1.1 ");
	/* the parser took exactly three digits */
	*p++ = (char)('0' + m->status / 100);
	*p++ = (char)('0' + m->status / 10 % 10);
	*p++ = (char)('0' + m->status % 10);
	*p++ = ' ';
	p = util_put(p, reason, reason_len);
	p = UTIL_PUT_LIT(p, "\r\n");
	p = http_put_fields(&t->resp, NULL, p);

	if (tunnel) {
		p = UTIL_PUT_LIT(p, "Connection: Upgrade\r\nUpgrade: ");
		if (up)
			p = util_put(p, up->value, up->value_len);
		p = UTIL_PUT_LIT(p, "\r\n");
		relay_init(&t->resp_body, RELAY_NONE, 0, RELAY_NONE);
		keepalive = false;
	} else if ((t->flags & TXN_F_UP_NO_BODY) && !(m->flags & H1_F_HAS_CL) && !no_body) {
		/* an HTTP/2 upstream ended the stream with the head */
		p = UTIL_PUT_LIT(p, "Content-Length: 0\r\n");
		relay_init(&t->resp_body, RELAY_NONE, 0, RELAY_NONE);
	} else if (no_body) {
		/* HEAD and 304 announce the length of the body they do not carry */
		if ((m->flags & H1_F_HAS_CL) && m->status != 204 && m->status >= 200)
			p = http_put_length(p, (uint64_t)m->content_length);
		relay_init(&t->resp_body, RELAY_NONE, 0, RELAY_NONE);
	} else if (m->flags & H1_F_CHUNKED) {
		if (client11)
			p = UTIL_PUT_LIT(p, "Transfer-Encoding: chunked\r\n");
		else
			keepalive = false;
		relay_init(&t->resp_body, RELAY_CHUNKED, 0, client11 ? RELAY_CHUNKED : RELAY_CLOSE);
	} else if (m->flags & H1_F_HAS_CL) {
		p = http_put_length(p, (uint64_t)m->content_length);
		relay_init(&t->resp_body, RELAY_LENGTH, (uint64_t)m->content_length, RELAY_LENGTH);
	} else {
		/* close-delimited upstream body: re-frame it so the client
		 * connection survives, if the client speaks 1.1 */
		if (client11)
			p = UTIL_PUT_LIT(p, "Transfer-Encoding: chunked\r\n");
		else
			keepalive = false;
		relay_init(&t->resp_body, RELAY_CLOSE, 0, client11 ? RELAY_CHUNKED : RELAY_CLOSE);
	}
	if (!tunnel) {
		if (!keepalive)
			p = UTIL_PUT_LIT(p, "Connection: close\r\n");
		else if (!client11)
			p = UTIL_PUT_LIT(p, "Connection: keep-alive\r\n");
	}
	p = UTIL_PUT_LIT(p, "\r\n");
	v.iov_len = (size_t)(p - (char *)v.iov_base);
	if (evbuffer_commit_space(out, &v, 1))
		return -ENOMEM;
	if (!keepalive)
		t->flags &= ~TXN_F_KEEPALIVE;
	t->status = m->status;
	t->flags |= TXN_F_RESP_STARTED;
	t->bytes_out += v.iov_len;
	return 0;
}

void h1c_write_interim(struct txn *t)
{
	struct evbuffer *out = bufferevent_get_output(t->c->bev);
	const struct h1_msg *m = &t->resp.h;

	/* an HTTP/1.0 client does not know 1xx (RFC 9110 15.2) */
	if (t->req.h.version_minor == 0)
		return;
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", m->status, http_reason(m->status));
	http_write_fields(&t->resp, NULL, out);
	evbuffer_add(out, "\r\n", 2);
}

/* ---- The client side of an HTTP/1 txn (struct txn_client) ---------------- */

static struct evbuffer *h1c_req_in(struct txn *t)
{
	return bufferevent_get_input(t->c->bev);
}

static struct evbuffer *h1c_resp_out(struct txn *t)
{
	return bufferevent_get_output(t->c->bev);
}

static void h1c_req_fill(struct txn *t, size_t limit)
{
	conn_read_more(t->c->bev, limit);
}

static void h1c_start(struct txn *t)
{
	struct timeval tv;

	/* a client that stops sending its body or stops reading the response
	 * is cut after client_timeout_ms of no progress */
	worker_tv(t->w, t->cfg->gw.client_timeout_ms, &tv);
	bufferevent_set_timeouts(t->c->bev, (t->flags & TXN_F_REQ_BODY_DONE) ? NULL : &tv, &tv);
	bufferevent_setwatermark(t->c->bev, EV_WRITE, H1C_OUT_LOW, 0);
}

static void h1c_req_read(struct txn *t, bool on)
{
	if (on)
		bufferevent_enable(t->c->bev, EV_READ);
	else
		bufferevent_disable(t->c->bev, EV_READ);
}

static void h1c_req_done(struct txn *t)
{
	/* the client now waits for the answer: silence is fine */
	bufferevent_set_timeouts(t->c->bev, NULL, NULL);
}

static int h1c_finish(struct txn *t)
{
	struct conn *c = t->c;
	bool keepalive;

	if (!conn_flush(c->bev))
		return 0;
	/* a client that half-closed after pipelining still gets an answer to
	 * every request that arrived before its FIN: the next one is buffered,
	 * and the EOF is seen again once it is underway */
	keepalive = (t->flags & TXN_F_KEEPALIVE) && (t->flags & TXN_F_REQ_BODY_DONE) &&
	            (!(t->flags & TXN_F_CLIENT_EOF) ||
	             evbuffer_get_length(bufferevent_get_input(c->bev)));
	txn_finish(t, TXN_END_OK);
	conn_txn_done(c, keepalive);
	return 1;
}

static void h1c_cut(struct txn *t)
{
	struct conn *c = t->c;

	txn_finish(t, TXN_END_ERROR);
	/* what the client has so far still goes out; the close marks the cut */
	conn_close_after_flush(c);
}

const struct txn_client h1c_client = {
        .req_in = h1c_req_in,
        .resp_out = h1c_resp_out,
        .start = h1c_start,
        .req_fill = h1c_req_fill,
        .req_read = h1c_req_read,
        .req_done = h1c_req_done,
        .write_head = h1c_write_resp_head,
        .write_interim = h1c_write_interim,
        .reply_local = h1c_reply_local,
        .finish = h1c_finish,
        .cut = h1c_cut,
};
