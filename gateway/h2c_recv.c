/* h2c_recv.c: what an HTTP/2 client sends, as nghttp2 reports it: header
 * blocks checked against the limits and written out as an HTTP/1.1 head for
 * the strict parser, then a txn per stream; DATA into the stream's body
 * buffer; resets, SETTINGS and PING counted against the flood buckets.
 * h2c.c owns the connection and the answers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include "arena.h"
#include "cfg.h"
#include "conn.h"
#include "h2c_int.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "route.h"
#include "txn.h"
#include "util.h"
#include "worker.h"

/* ---- Requests ------------------------------------------------------------- */

/* Writes the header list of <s> as an HTTP/1.1 head for the strict parser,
 * in the arena of <t>: the request line, the fields, Host from :authority
 * when there is no Host (RFC 9113 8.3.1) and the cookie crumbs as one field
 * (8.2.3). Sets *<head> and returns its length, 0 when it would be longer
 * than max_head_bytes, or -ENOMEM. */
static ssize_t h2c_head_text(struct h2s *s, struct txn *t, char **head)
{
	size_t cookie = s->cookie ? evbuffer_get_length(s->cookie) : 0;
	bool host = s->authority.set && !s->has_host;
	size_t len = s->method.len + 1 + s->path.len + sizeof(" HTTP/1.1\r\n") - 1 +
	             (host ? sizeof("host: \r\n") - 1 + s->authority.len : 0) +
	             (s->hb_len - s->lines) + (cookie ? sizeof("cookie: \r\n") - 1 + cookie : 0) +
	             2;
	char *p;

	if (len > t->cfg->gw.max_head_bytes)
		return 0;
	if (!(*head = p = arena_alloc(&t->arena, len)))
		return -ENOMEM;
	p = util_put(p, s->hb + s->method.off, s->method.len);
	*p++ = ' ';
	p = util_put(p, s->hb + s->path.off, s->path.len);
	p = UTIL_PUT_LIT(p, " HTTP/1.1\r\n");
	if (host) {
		p = UTIL_PUT_LIT(p, "host: ");
		p = util_put(p, s->hb + s->authority.off, s->authority.len);
		p = UTIL_PUT_LIT(p, "\r\n");
	}
	p = util_put(p, s->hb + s->lines, s->hb_len - s->lines);
	if (cookie) {
		p = UTIL_PUT_LIT(p, "cookie: ");
		evbuffer_copyout(s->cookie, p, cookie);
		p = UTIL_PUT_LIT(p + cookie, "\r\n");
	}
	UTIL_PUT_LIT(p, "\r\n");
	return (ssize_t)len;
}

/* Sets the request body framing of <t>. Returns 0 or a status. */
static int h2c_framing(struct txn *t, struct h2s *s)
{
	const struct h1_msg *m = &t->req.h;
	uint64_t max = t->cfg->gw.max_body_bytes;

	if (s->end_in) {
		relay_init(&t->req_body, RELAY_NONE, 0, RELAY_NONE);
		t->flags |= TXN_F_REQ_IN_EOF;
	} else if (m->flags & H1_F_HAS_CL) {
		if (max && (uint64_t)m->content_length > max)
			return 413;
		relay_init(&t->req_body, RELAY_LENGTH, (uint64_t)m->content_length, RELAY_LENGTH);
	} else {
		/* no length: the stream's end ends it, chunked upstream */
		relay_init(&t->req_body, RELAY_CLOSE, 0, RELAY_CHUNKED);
	}
	if (t->req_body.done)
		t->flags |= TXN_F_REQ_BODY_DONE;
	return 0;
}

/* The header list of <s> is complete: its txn starts. */
static void h2c_request(struct h2c *h, struct h2s *s)
{
	struct conn *c = h->c;
	const struct cfg_gateway *g = &c->w->cfg->gw;
	struct h1_limits lim = {g->max_head_bytes, g->max_target_bytes, g->max_headers};
	const struct cfg_route *r;
	struct txn *t;
	char *head;
	ssize_t len;
	int err, status;

	if (!(t = txn_new(c, &h2c_client, s->start_ns))) {
		nghttp2_submit_rst_stream(h->ss, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	t->h2s = s;
	s->t = t;
	t->tm.head_ns = util_mono_ns();
	metrics_conn_inc(c->w->m, METRICS_H2_STREAMS);
	if (s->too_large) {
		t->cs->reply_local(t, 431, "request header fields too large");
		return;
	}
	if (!s->method.set || !s->path.set) {
		t->cs->reply_local(t, 400, "missing :method or :path");
		return;
	}
	if (s->method.len == 7 && memcmp(s->hb + s->method.off, "CONNECT", 7) == 0) {
		t->cs->reply_local(t, 501, "CONNECT is not supported");
		return;
	}
	len = h2c_head_text(s, t, &head);
	err = len == 0  ? H1_E_HEAD_TOO_LARGE
	      : len < 0 ? HTTP_NOMEM
	                : http_msg_parse_inplace(&t->req, head, (size_t)len, &lim,
	                                         c->w->hdr_scratch, g->max_headers, false);
	t->head_len = len > 0 ? (size_t)len : 0;
	if (err == HTTP_NOMEM) {
		t->cs->reply_local(t, 500, "out of memory");
		return;
	}
	if (err <= 0) {
		err = err ? err : H1_E_SYNTAX;
		log_at(LOG_DEBUG, c->w->id, c->id, t->id, "bad request: %s", h1_err_str(err));
		t->cs->reply_local(t, h1_err_status(err), h1_err_str(err));
		return;
	}
	if ((status = h2c_framing(t, s))) {
		t->cs->reply_local(t, status, "request body larger than max_body_bytes");
		return;
	}
	r = route_match(t->cfg, t->req.h.authority, t->req.h.authority_len, t->req.h.path,
	                t->req.h.path_len, txn_method_bit(t));
	if (!r) {
		t->cs->reply_local(t, 404, "no route matches this request");
		return;
	}
	t->route = r;
	proxy_start(t);
}

/* ---- nghttp2 callbacks ---------------------------------------------------- */

static int h2c_on_begin_headers(nghttp2_session *ss, const nghttp2_frame *f, void *arg)
{
	struct h2c *h = arg;
	struct h2s *s;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	if (!(s = h2c_stream_new(h)))
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
	s->id = f->hd.stream_id;
	s->start_ns = s->progress_ns = util_mono_ns();
	nghttp2_session_set_stream_user_data(ss, s->id, s);
	TAILQ_INSERT_TAIL(&h->streams, s, link);
	if (h->n_streams++ == 0)
		h2c_arm(h);
	return 0;
}

/* Appends <p,n> to the header list of <s>. Returns 0 or -ENOMEM. */
static int h2c_keep(struct h2s *s, const void *p, size_t n)
{
	if (s->hb_len + n > s->hb_cap) {
		size_t cap = s->hb_cap ? s->hb_cap : 256;
		char *hb;

		while (cap < s->hb_len + n)
			cap *= 2;
		if (!(hb = realloc(s->hb, cap)))
			return -ENOMEM;
		s->hb = hb;
		s->hb_cap = cap;
	}
	memcpy(s->hb + s->hb_len, p, n);
	s->hb_len += n;
	return 0;
}

/* Keeps pseudo-header value <v,len> as <val> of <s>. */
static int h2c_pseudo(struct h2s *s, struct h2s_val *val, const uint8_t *v, size_t len)
{
	/* nghttp2 refuses duplicates and a pseudo-header after a regular
	 * field, which would break the layout of s->hb; the length is ours */
	if (val->set || s->lines != s->hb_len || len > H2C_PSEUDO_MAX)
		return -1;
	*val = (struct h2s_val){(uint32_t)s->hb_len, (uint32_t)len, true};
	if (h2c_keep(s, v, len))
		return -1;
	s->lines = s->hb_len;
	return 0;
}

static int h2c_on_header(nghttp2_session *ss, const nghttp2_frame *f, const uint8_t *name,
                         size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *arg)
{
	struct h2c *h = arg;
	struct h2s *s = h2c_stream(h, f->hd.stream_id);
	const struct cfg_gateway *g = &h->c->w->cfg->gw;

	(void)ss, (void)flags;
	/* trailers of a request body have nowhere to go over HTTP/1.1 */
	if (!s || s->t || f->headers.cat != NGHTTP2_HCAT_REQUEST || s->too_large)
		return 0;
	/* the bound keeps what s->hb holds within max_head_bytes too */
	s->hdr_bytes += nlen + vlen + 32;
	if (s->hdr_bytes > g->max_head_bytes || ++s->n_hdrs > g->max_headers) {
		s->too_large = true;
		return 0;
	}
	if (nlen && name[0] == ':') {
		int err = 0;

		if (nlen == 7 && memcmp(name, ":method", 7) == 0)
			err = h2c_pseudo(s, &s->method, value, vlen);
		else if (nlen == 5 && memcmp(name, ":path", 5) == 0)
			err = h2c_pseudo(s, &s->path, value, vlen);
		else if (nlen == 10 && memcmp(name, ":authority", 10) == 0)
			err = h2c_pseudo(s, &s->authority, value, vlen);
		if (err)
			s->too_large = true;
		return 0;
	}
	if (nlen == 6 && memcmp(name, "cookie", 6) == 0) {
		if (!s->cookie && !(s->cookie = evbuffer_new()))
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		if (evbuffer_get_length(s->cookie))
			evbuffer_add(s->cookie, "; ", 2);
		evbuffer_add(s->cookie, value, vlen);
		return 0;
	}
	s->has_host |= nlen == 4 && memcmp(name, "host", 4) == 0;
	if (h2c_keep(s, name, nlen) || h2c_keep(s, ": ", 2) || h2c_keep(s, value, vlen) ||
	    h2c_keep(s, "\r\n", 2))
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

/* The client ended the request stream of <s>. */
static void h2c_end_in(struct h2s *s)
{
	s->end_in = true;
	if (s->t) {
		s->t->flags |= TXN_F_REQ_IN_EOF;
		proxy_on_client_read(s->t);
	}
}

static int h2c_on_frame_recv(nghttp2_session *ss, const nghttp2_frame *f, void *arg)
{
	struct h2c *h = arg;
	const struct cfg_gateway *g = &h->c->w->cfg->gw;
	struct h2s *s;
	bool control = false;

	(void)ss;
	switch (f->hd.type) {
	case NGHTTP2_HEADERS:
		if (!(s = h2c_stream(h, f->hd.stream_id)))
			break;
		if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
			s->end_in = true;
		if (f->headers.cat == NGHTTP2_HCAT_REQUEST)
			h2c_request(h, s);
		else if (s->end_in)
			h2c_end_in(s); /* trailers end the body */
		break;
	case NGHTTP2_DATA:
		if ((s = h2c_stream(h, f->hd.stream_id)) && (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
			h2c_end_in(s);
		/* empty DATA frames cost us work and move nothing */
		control = f->hd.length == 0 && !(f->hd.flags & NGHTTP2_FLAG_END_STREAM);
		break;
	case NGHTTP2_RST_STREAM:
		if (!h2c_take(&h->reset_tokens, &h->reset_ns, g->h2_max_resets_per_second))
			h2c_abuse(h, METRICS_H2_GOAWAY_RAPID_RESET, "resets streams too fast");
		break;
	case NGHTTP2_SETTINGS:
	case NGHTTP2_PING:
		control = !(f->hd.flags & NGHTTP2_FLAG_ACK);
		break;
	case NGHTTP2_PRIORITY:
		control = true;
		break;
	default:
		break;
	}
	if (control && !h2c_take(&h->ctl_tokens, &h->ctl_ns, g->h2_max_control_frames_per_second))
		h2c_abuse(h, METRICS_H2_GOAWAY_FLOOD, "floods control frames");
	return 0;
}

static int h2c_on_data(nghttp2_session *ss, uint8_t flags, int32_t id, const uint8_t *data,
                       size_t len, void *arg)
{
	struct h2c *h = arg;
	struct h2s *s = h2c_stream(h, id);

	(void)flags;
	if (!s || !s->t) {
		/* answered already, or never a request: drop it, credit back */
		nghttp2_session_consume(ss, id, len);
		return 0;
	}
	if (evbuffer_add(s->in, data, len))
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	s->unconsumed += len;
	s->progress_ns = util_mono_ns();
	proxy_on_client_read(s->t);
	return 0;
}

static int h2c_on_stream_close(nghttp2_session *ss, int32_t id, uint32_t code, void *arg)
{
	struct h2c *h = arg;
	struct h2s *s = h2c_stream(h, id);

	if (!s)
		return 0;
	nghttp2_session_set_stream_user_data(ss, id, NULL);
	if (s->t && s->sent_end && code == NGHTTP2_NO_ERROR) {
		/* the client has the whole response, which came ahead of what
		 * its txn waits for (an HTTP/2 upstream's END_STREAM): the txn
		 * ends as it would have, then frees the stream */
		s->closed = true;
		return 0;
	}
	if (s->t) {
		s->t->error = code ? "client reset the stream" : NULL;
		proxy_abort(s->t); /* finishes it; h2c_gone() detaches it */
	}
	h2c_stream_drop(s);
	return 0;
}

static int h2c_on_frame_send(nghttp2_session *ss, const nghttp2_frame *f, void *arg)
{
	struct h2c *h = arg;
	struct h2s *s;

	(void)ss;
	if ((f->hd.flags & NGHTTP2_FLAG_END_STREAM) && (s = h2c_stream(h, f->hd.stream_id)))
		s->sent_end = true;
	/* nghttp2 ended the connection for a protocol error of the client */
	if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR &&
	    f->goaway.error_code != NGHTTP2_ENHANCE_YOUR_CALM) {
		metrics_conn_inc(h->c->w->m, METRICS_H2_GOAWAY_PROTOCOL);
		log_at(LOG_DEBUG, h->c->w->id, h->c->id, 0, "HTTP/2: GOAWAY %s",
		       nghttp2_http2_strerror(f->goaway.error_code));
	}
	return 0;
}

nghttp2_session_callbacks *h2c_recv_callbacks(void)
{
	nghttp2_session_callbacks *cb;

	if (nghttp2_session_callbacks_new(&cb))
		return NULL;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, h2c_on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, h2c_on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2c_on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2c_on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2c_on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, h2c_on_frame_send);
	return cb;
}
