/* h2c.c: HTTP/2 on the client side of a connection, with nghttp2.
 *
 * Every stream becomes a txn whose request head is the stream's header
 * list written out as an HTTP/1.1 head and parsed by the same strict parser
 * as HTTP/1 (so routes, filters, hop-by-hop rules and the upstream request
 * are the same whatever the client spoke). Bodies move through two
 * evbuffers per stream: DATA frames land in <in> and give their flow-control
 * credit back only once proxy.c moved them upstream (backpressure); the
 * response goes through <out>, which nghttp2's data source reads.
 *
 * nghttp2 runs in memory (mem_recv, mem_send); its callbacks may start,
 * answer or end txns but never frame output themselves: sending waits
 * until the outermost call returns (h2c_send). The connection is closed
 * from its timer, never from under a caller that still holds a txn.
 * What the client sends (heads, DATA, control frames) is read in
 * h2c_recv.c; this file has the connection, and the answers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <nghttp2/nghttp2.h>

#include "cfg.h"
#include "conn.h"
#include "grpc.h"
#include "h2c.h"
#include "h2c_int.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "txn.h"
#include "util.h"
#include "worker.h"

static const char h2c_magic[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int h2c_preface(struct evbuffer *in)
{
	size_t len = evbuffer_get_length(in), n = sizeof(h2c_magic) - 1;
	const unsigned char *p;

	if (len > n)
		len = n;
	p = evbuffer_pullup(in, (ssize_t)len);
	if (!p || memcmp(p, h2c_magic, len) != 0)
		return -1;
	return len == n ? 1 : 0;
}

/* ---- Timer and closing ---------------------------------------------------- */

void h2c_arm(struct h2c *h)
{
	const struct cfg_gateway *g = &h->c->w->cfg->gw;
	uint32_t ms = g->idle_timeout_ms;
	struct timeval tv;

	if (h->dead)
		ms = 0;
	else if (h->n_streams) {
		/* stalls are looked for a few times per client_timeout_ms */
		ms = g->client_timeout_ms / 4;
		ms = ms < 100 ? 100 : ms > 1000 ? 1000 : ms;
	}
	worker_tv(h->c->w, ms, &tv);
	evtimer_add(h->c->timer, &tv);
}

/* Marks <h> for closing once what it framed is out; the timer does it. */
static void h2c_kill(struct h2c *h)
{
	if (h->dead)
		return;
	h->dead = true;
	h2c_arm(h);
}

void h2c_abuse(struct h2c *h, enum metrics_conn what, const char *why)
{
	struct conn *c = h->c;

	metrics_conn_inc(c->w->m, what);
	log_at(LOG_INFO, c->w->id, c->id, 0, "HTTP/2 client %s:%d %s: GOAWAY", c->peer_ip,
	       c->peer_port, why);
	nghttp2_session_terminate_session(h->ss, NGHTTP2_ENHANCE_YOUR_CALM);
}

bool h2c_take(double *tokens, uint64_t *last_ns, uint32_t rate)
{
	uint64_t now = util_mono_ns();
	double burst = 2.0 * rate;

	*tokens += (double)(now - *last_ns) * rate / 1e9;
	if (*tokens > burst)
		*tokens = burst;
	*last_ns = now;
	if (*tokens < 1.0)
		return false;
	*tokens -= 1.0;
	return true;
}

/* ---- Output --------------------------------------------------------------- */

/* Frames what nghttp2 has to send into <h->out>, while it and the
 * socket's buffer hold less than H2C_OUT_HIGH, then tells the streams
 * whose response sink drained. */
static void h2c_send(struct h2c *h)
{
	struct evbuffer *out = bufferevent_get_output(h->c->bev);
	struct h2s *s, *next;

	if (h->busy) {
		h->want_send = true;
		return;
	}
	h->busy++;
	do {
		h->want_send = false;
		while (!h->dead &&
		       evbuffer_get_length(out) + evbuffer_get_length(h->out) < H2C_OUT_HIGH) {
			const uint8_t *data;
			ssize_t n = nghttp2_session_mem_send(h->ss, &data);

			if (n < 0) {
				log_at(LOG_WARN, h->c->w->id, h->c->id, 0, "HTTP/2: %s",
				       nghttp2_strerror((int)n));
				h2c_kill(h);
				break;
			}
			if (n == 0)
				break;
			evbuffer_add(h->out, data, (size_t)n);
		}
		/* the txns run with busy held: what they submit loops here */
		for (s = TAILQ_FIRST(&h->streams); s; s = next) {
			/* a txn that ends may take its (closed) stream along */
			next = TAILQ_NEXT(s, link);
			if (!s->wake)
				continue;
			s->wake = false;
			if (s->t)
				proxy_on_client_write(s->t);
		}
	} while (h->want_send && !h->dead);
	h->busy--;
	if (!nghttp2_session_want_read(h->ss) && !nghttp2_session_want_write(h->ss))
		h2c_kill(h);
	if (evbuffer_get_length(h->out))
		event_active(&h->flush_ev, EV_WRITE, 1); /* once per pass however often */
}

static void h2c_on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct h2c *h = arg;

	(void)fd;
	(void)what;
	/* a flush that wrote everything leaves no write callback to come, yet
	 * h2c_send() may have stopped framing at H2C_OUT_HIGH: frame the rest
	 * now (it flushes again next pass), or it waits for the client to send
	 * something */
	if (conn_send(h->c->bev, h->out) && !h->dead && nghttp2_session_want_write(h->ss))
		h2c_send(h);
}

/* ---- Streams -------------------------------------------------------------- */

struct h2s *h2c_stream(struct h2c *h, int32_t id)
{
	return nghttp2_session_get_stream_user_data(h->ss, id);
}

struct h2s *h2c_stream_new(struct h2c *h)
{
	struct worker *w = h->c->w;
	struct h2s *s = w->h2s_spare;

	if (s) {
		struct evbuffer *in = s->in, *out = s->out;
		char *hb = s->hb;
		size_t hb_cap = s->hb_cap;

		w->h2s_spare = s->next_spare;
		w->n_h2s_spare--;
		*s = (struct h2s){.in = in, .out = out, .hb = hb, .hb_cap = hb_cap};
	} else if (!(s = calloc(1, sizeof(*s))) || !(s->in = evbuffer_new()) ||
	           !(s->out = evbuffer_new())) {
		if (s && s->in)
			evbuffer_free(s->in);
		free(s);
		return NULL;
	}
	s->h = h;
	return s;
}

static void h2c_stream_free(struct h2s *s)
{
	evbuffer_free(s->in);
	evbuffer_free(s->out);
	free(s->hb);
	free(s);
}

/* Ends <s>: the worker keeps it, its buffers emptied, for a new stream of
 * any of its connections, or frees it. */
static void h2c_stream_end(struct h2s *s)
{
	struct worker *w = s->h->c->w;

	if (s->cookie)
		evbuffer_free(s->cookie);
	s->cookie = NULL;
	free(s->trl);
	s->trl = NULL;
	if (w->n_h2s_spare + 1 > H2C_SPARE) { /* + 1: no -Wtype-limits when UTIL_SPARE() is 0 */
		h2c_stream_free(s);
		return;
	}
	evbuffer_drain(s->in, evbuffer_get_length(s->in));
	evbuffer_drain(s->out, evbuffer_get_length(s->out));
	if (s->hb_cap > H2C_SPARE_HB) {
		free(s->hb);
		s->hb = NULL;
		s->hb_cap = 0;
	}
	s->next_spare = w->h2s_spare;
	w->h2s_spare = s;
	w->n_h2s_spare++;
}

void h2c_spare_free(struct worker *w)
{
	struct h2s *s;

	while ((s = w->h2s_spare)) {
		w->h2s_spare = s->next_spare;
		h2c_stream_free(s);
	}
	w->n_h2s_spare = 0;
}

void h2c_stream_drop(struct h2s *s)
{
	struct h2c *h = s->h;

	TAILQ_REMOVE(&h->streams, s, link);
	h2c_stream_end(s);
	if (--h->n_streams == 0)
		h2c_arm(h);
}

static ssize_t h2c_on_data_read(nghttp2_session *ss, int32_t id, uint8_t *buf, size_t len,
                                uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct h2s *s = src->ptr;
	int n = evbuffer_remove(s->out, buf, len);

	(void)arg;
	if (n < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (n > 0)
		s->progress_ns = util_mono_ns();
	if (evbuffer_get_length(s->out) == 0 && s->out_eof) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		/* the trailers end the stream instead (gRPC's status is there) */
		if (s->trl && !nghttp2_submit_trailer(ss, id, s->trl, s->n_trl))
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
		free(s->trl);
		s->trl = NULL;
		s->n_trl = 0;
	} else if (n == 0)
		return NGHTTP2_ERR_DEFERRED; /* h2c_flush() resumes it */
	if (s->t && evbuffer_get_length(s->out) < H2C_RESP_LOW)
		s->wake = true;
	return n;
}

/* Writes <m>'s end-to-end fields after ":status" <status> into <nv>, names
 * lowercased in the arena of <t>, with content-length <len> when <with_len>.
 * Returns the count, or -ENOMEM. */
static int h2c_nv(struct txn *t, const struct http_msg *m, int status, bool with_len, uint64_t len,
                  nghttp2_nv **nvp)
{
	bool conn_options = http_conn_options(m);
	size_t names = 0;
	nghttp2_nv *nv;
	char *st, *cl, *name;
	int n = 0;

	/* one allocation: the list, then :status, content-length and the
	 * lowercase names */
	for (unsigned i = 0; i < m->h.n_hdrs; i++)
		names += m->h.hdrs[i].name_len;
	nv = arena_alloc(&t->arena, sizeof(*nv) * (m->h.n_hdrs + 2) + 3 + UTIL_U64_DIGITS + names);
	if (!nv)
		return -ENOMEM;
	st = (char *)(nv + m->h.n_hdrs + 2);
	cl = st + 3;
	name = cl + UTIL_U64_DIGITS;
	st[0] = (char)('0' + status / 100 % 10);
	st[1] = (char)('0' + status / 10 % 10);
	st[2] = (char)('0' + status % 10);
	nv[n++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)st, 7, 3, NGHTTP2_NV_FLAG_NONE};
	for (unsigned i = 0; i < m->h.n_hdrs; i++) {
		const struct h1_hdr *f = &m->h.hdrs[i];

		if (!f->name_len || http_is_hop_by_hop(m, f, conn_options))
			continue;
		http_lower(name, f->name, f->name_len);
		nv[n++] = (nghttp2_nv){(uint8_t *)name, (uint8_t *)f->value, f->name_len,
		                       f->value_len, NGHTTP2_NV_FLAG_NONE};
		name += f->name_len;
	}
	if (with_len)
		nv[n++] = (nghttp2_nv){(uint8_t *)"content-length", (uint8_t *)cl, 14,
		                       util_u64_dec(cl, len), NGHTTP2_NV_FLAG_NONE};
	*nvp = nv;
	return n;
}

/* Submits the response head of <s>: with a body read from s->out when
 * <body>, else ending the stream. */
static int h2c_submit(struct h2s *s, nghttp2_nv *nv, int n, bool body)
{
	nghttp2_data_provider dp = {.source.ptr = s, .read_callback = h2c_on_data_read};

	return nghttp2_submit_response(s->h->ss, s->id, nv, (size_t)n, body ? &dp : NULL) ? -EIO
	                                                                                  : 0;
}

/* ---- The client side of an HTTP/2 txn (struct txn_client) ---------------- */

static struct evbuffer *h2c_req_in(struct txn *t)
{
	return t->h2s->in;
}

static struct evbuffer *h2c_resp_out(struct txn *t)
{
	return t->h2s->out;
}

static void h2c_req_read(struct txn *t, bool on)
{
	/* nothing to switch: the client's window only reopens as bytes move
	 * upstream (h2c_req_moved), so a slow upstream holds it back */
	(void)t, (void)on;
}

static void h2c_req_moved(struct txn *t, size_t n)
{
	struct h2s *s = t->h2s;

	s->unconsumed -= n;
	nghttp2_session_consume(s->h->ss, s->id, n);
	s->progress_ns = util_mono_ns();
	h2c_send(s->h);
}

static int h2c_write_head(struct txn *t)
{
	struct h2s *s = t->h2s;
	const struct h1_msg *m = &t->resp.h;
	bool body = true, with_len = false;
	nghttp2_nv *nv;
	int n;

	if ((t->flags & TXN_F_UP_NO_BODY) ||
	    http_resp_has_no_body(t->req.h.method, t->req.h.method_len, m->status)) {
		/* HEAD and 304 announce the length of the body they do not carry */
		with_len = (m->flags & H1_F_HAS_CL) && m->status != 204 && m->status >= 200;
		body = false;
		relay_init(&t->resp_body, RELAY_NONE, 0, RELAY_NONE);
	} else if (m->flags & H1_F_CHUNKED) {
		relay_init(&t->resp_body, RELAY_CHUNKED, 0, RELAY_LENGTH);
	} else if (m->flags & H1_F_HAS_CL) {
		with_len = true;
		relay_init(&t->resp_body, RELAY_LENGTH, (uint64_t)m->content_length, RELAY_LENGTH);
	} else {
		relay_init(&t->resp_body, RELAY_CLOSE, 0, RELAY_LENGTH);
	}
	n = h2c_nv(t, &t->resp, m->status, with_len, (uint64_t)m->content_length, &nv);
	if (n < 0 || h2c_submit(s, nv, n, body))
		return -ENOMEM;
	t->status = m->status;
	t->flags |= TXN_F_RESP_STARTED;
	h2c_send(s->h);
	return 0;
}

static void h2c_write_interim(struct txn *t)
{
	nghttp2_nv *nv;
	int n = h2c_nv(t, &t->resp, t->resp.h.status, false, 0, &nv);

	if (n > 0)
		nghttp2_submit_headers(t->h2s->h->ss, NGHTTP2_FLAG_NONE, t->h2s->id, NULL, nv,
		                       (size_t)n, NULL);
	h2c_send(t->h2s->h);
}

static void h2c_cut(struct txn *t)
{
	struct h2c *h = t->h2s->h;
	int32_t id = t->h2s->id;

	/* a reset, not END_STREAM: the client must not take it as complete */
	nghttp2_submit_rst_stream(h->ss, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
	txn_finish(t, TXN_END_ERROR); /* may free the stream */
	h2c_send(h);
}

/* A gateway answer to a gRPC call: a trailers-only response (HTTP 200,
 * grpc-status and grpc-message in the one HEADERS frame that ends the
 * stream), so that the client reads our reason instead of "received HTTP
 * status 502". Returns the header count of <nv>, or -ENOMEM. */
static int h2c_grpc_answer(struct txn *t, int status, const char *text, nghttp2_nv **nv)
{
	char code[4], msg[512];
	int clen = snprintf(code, sizeof(code), "%d", grpc_status_of_http(status));

	if (http_hdr_add(&t->resp, "content-type", "application/grpc", 16) ||
	    http_hdr_add(&t->resp, "grpc-status", code, (size_t)clen) ||
	    http_hdr_add(&t->resp, "grpc-message", msg,
	                 grpc_message_encode(text, msg, sizeof(msg))))
		return -ENOMEM;
	return h2c_nv(t, &t->resp, 200, false, 0, nv);
}

static void h2c_reply_local(struct txn *t, int status, const char *detail)
{
	struct h2s *s = t->h2s;
	struct h2c *h = s->h;
	bool is_head = t->req.h.method_len == 4 && memcmp(t->req.h.method, "HEAD", 4) == 0;
	char body[256];
	int blen, n;
	nghttp2_nv *nv;

	t->error = detail;
	t->flags |= TXN_F_LOCAL;
	if (t->flags & TXN_F_RESP_STARTED) {
		h2c_cut(t);
		return;
	}
	blen = snprintf(body, sizeof(body), "%d %s: %s\n", status, http_reason(status), detail);
	t->resp.h.n_hdrs = 0;
	t->resp.h.flags = 0;
	t->resp.h.status = status;
	if (t->flags & TXN_F_FILTERED)
		flt_response(t); /* filters that saw the request see our answer too */
	if (grpc_is_call(&t->req)) {
		n = h2c_grpc_answer(t, status, body, &nv);
		is_head = true; /* no body: the head ends the stream */
		blen = 0;
	} else {
		http_hdr_add(&t->resp, "content-type", "text/plain", 10);
		n = h2c_nv(t, &t->resp, status, true, (uint64_t)blen, &nv);
	}
	if (!is_head)
		evbuffer_add(s->out, body, (size_t)blen);
	s->out_eof = true;
	if (n < 0 || h2c_submit(s, nv, n, !is_head))
		nghttp2_submit_rst_stream(s->h->ss, NGHTTP2_FLAG_NONE, s->id,
		                          NGHTTP2_INTERNAL_ERROR);
	t->status = status;
	t->flags |= TXN_F_RESP_STARTED | TXN_F_RESP_DONE;
	t->bytes_out += is_head ? 0 : (uint64_t)blen;
	txn_finish(t, status >= 400 ? TXN_END_ERROR : TXN_END_OK); /* may free <s> */
	h2c_send(h);
}

static void h2c_flush(struct txn *t)
{
	struct h2s *s = t->h2s;

	if (evbuffer_get_length(s->out) || s->out_eof)
		nghttp2_session_resume_data(s->h->ss, s->id);
	h2c_send(s->h);
}

/* Copies the response trailers of <t> (an HTTP/2 upstream's) into <s>,
 * lowercased, to outlive <t>. */
static void h2c_keep_trailers(struct h2s *s, struct txn *t)
{
	const struct http_msg *m = &t->trailers;
	bool conn_options = http_conn_options(m);
	size_t bytes = 0, n = 0;
	char *p;

	for (unsigned i = 0; i < m->h.n_hdrs; i++)
		if (m->h.hdrs[i].name_len && !http_is_hop_by_hop(m, &m->h.hdrs[i], conn_options)) {
			bytes += m->h.hdrs[i].name_len + m->h.hdrs[i].value_len;
			n++;
		}
	if (!n || s->trl || !(s->trl = malloc(n * sizeof(*s->trl) + bytes)))
		return;
	p = (char *)(s->trl + n);
	for (unsigned i = 0; i < m->h.n_hdrs; i++) {
		const struct h1_hdr *f = &m->h.hdrs[i];
		nghttp2_nv *nv = &s->trl[s->n_trl];

		if (!f->name_len || http_is_hop_by_hop(m, f, conn_options))
			continue;
		*nv = (nghttp2_nv){(uint8_t *)p, (uint8_t *)p + f->name_len, f->name_len,
		                   f->value_len, NGHTTP2_NV_FLAG_NONE};
		http_lower(p, f->name, f->name_len);
		memcpy(p + f->name_len, f->value, f->value_len);
		p += f->name_len + f->value_len;
		s->n_trl++;
	}
}

static int h2c_finish(struct txn *t)
{
	struct h2s *s = t->h2s;
	struct h2c *h;

	/* the first call only: by a later one (more of <out> went out
	 * meanwhile) the data source may have sent the trailers and freed
	 * them, and a second copy would be written past its block */
	if (!s->out_eof)
		h2c_keep_trailers(s, t);
	s->out_eof = true;
	nghttp2_session_resume_data(s->h->ss, s->id);
	/* done once nghttp2 took the whole body; the data source ends the
	 * stream when it reads the end of <out> */
	if (evbuffer_get_length(s->out)) {
		h2c_send(s->h);
		return 0;
	}
	h = s->h;
	txn_finish(t, TXN_END_OK); /* may free <s> */
	h2c_send(h);
	return 1;
}

static void h2c_gone(struct txn *t)
{
	struct h2s *s = t->h2s;

	/* what it received and nobody will read gives its credit back */
	if (s->unconsumed)
		nghttp2_session_consume(s->h->ss, s->id, s->unconsumed);
	s->unconsumed = 0;
	evbuffer_drain(s->in, evbuffer_get_length(s->in));
	s->t = NULL;
	if (s->closed)
		h2c_stream_drop(s);
}

const struct txn_client h2c_client = {
        .req_in = h2c_req_in,
        .resp_out = h2c_resp_out,
        .req_read = h2c_req_read,
        .req_moved = h2c_req_moved,
        .write_head = h2c_write_head,
        .write_interim = h2c_write_interim,
        .reply_local = h2c_reply_local,
        .flush = h2c_flush,
        .finish = h2c_finish,
        .cut = h2c_cut,
        .gone = h2c_gone,
};

/* ---- The connection ------------------------------------------------------- */

static int h2c_session(struct h2c *h, const struct cfg_gateway *g)
{
	nghttp2_session_callbacks *cb = h2c_recv_callbacks();
	nghttp2_option *opt = NULL;
	nghttp2_settings_entry set[] = {
	        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, g->h2_max_concurrent_streams},
	        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2C_STREAM_WINDOW},
	        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, g->max_head_bytes},
	        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
	};
	int err = -ENOMEM;

	if (!cb || nghttp2_option_new(&opt))
		goto out;
	/* window credit goes back as bodies move upstream, not on arrival */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_max_continuations(opt, 8);
	nghttp2_option_set_max_settings(opt, 32);
	if (nghttp2_session_server_new2(&h->ss, cb, h, opt))
		goto out;
	if (nghttp2_submit_settings(h->ss, NGHTTP2_FLAG_NONE, set, sizeof(set) / sizeof(set[0])) ||
	    nghttp2_session_set_local_window_size(h->ss, NGHTTP2_FLAG_NONE, 0, H2C_CONN_WINDOW))
		goto out;
	err = 0;
out:
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	return err;
}

void h2c_start(struct conn *c)
{
	const struct cfg_gateway *g = &c->w->cfg->gw;
	struct h2c *h = calloc(1, sizeof(*h));

	if (!h) {
		conn_close(c);
		return;
	}
	h->c = c;
	TAILQ_INIT(&h->streams);
	event_assign(&h->flush_ev, c->w->base, -1, 0, h2c_on_flush, h);
	h->reset_ns = h->ctl_ns = util_mono_ns();
	h->reset_tokens = 2.0 * g->h2_max_resets_per_second;
	h->ctl_tokens = 2.0 * g->h2_max_control_frames_per_second;
	c->h2 = h;
	if (!(h->out = evbuffer_new()) || h2c_session(h, g)) {
		log_at(LOG_ERROR, c->w->id, c->id, 0, "cannot start HTTP/2: out of memory");
		conn_close(c);
		return;
	}
	c->state = CONN_ST_H2;
	c->head_start_ns = 0;
	metrics_conn_inc(c->w->m, METRICS_H2_CONNS);
	bufferevent_setwatermark(c->bev, EV_WRITE, H2C_OUT_LOW, 0);
	h2c_arm(h);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)))
		h2c_on_read(c);
	else
		h2c_send(h);
}

void h2c_on_read(struct conn *c)
{
	struct h2c *h = c->h2;
	struct evbuffer *in = bufferevent_get_input(c->bev);

	h->busy++;
	while (!h->dead && evbuffer_get_length(in)) {
		struct evbuffer_iovec v;
		ssize_t n;

		evbuffer_peek(in, -1, NULL, &v, 1);
		n = nghttp2_session_mem_recv(h->ss, v.iov_base, v.iov_len);
		if (n == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) {
			/* the session still frames: the client hears why (GOAWAY
			 * ENHANCE_YOUR_CALM), then h2c_send() closes */
			h2c_abuse(h, METRICS_H2_GOAWAY_PROTOCOL,
			          "splits a header block into too many CONTINUATION frames");
			evbuffer_drain(in, evbuffer_get_length(in));
			break;
		}
		if (n < 0) {
			metrics_conn_inc(c->w->m, METRICS_H2_GOAWAY_PROTOCOL);
			log_at(LOG_INFO, c->w->id, c->id, 0, "HTTP/2 client %s:%d: %s: closing",
			       c->peer_ip, c->peer_port, nghttp2_strerror((int)n));
			h2c_kill(h);
			break;
		}
		evbuffer_drain(in, (size_t)n);
	}
	/* bytes after the end are not read: the connection is closing */
	if (h->dead)
		evbuffer_drain(in, evbuffer_get_length(in));
	h->busy--;
	h2c_send(h);
}

void h2c_on_write(struct conn *c)
{
	h2c_send(c->h2);
}

void h2c_on_event(struct conn *c, short what)
{
	(void)what;
	conn_close(c); /* EOF or error: the streams end as client aborts */
}

/* Resets the streams that made no progress within client_timeout_ms
 * because of the client: a response it does not take (a window it keeps
 * shut), a body it does not send, a head it does not finish. */
static void h2c_reap(struct h2c *h)
{
	const struct cfg_gateway *g = &h->c->w->cfg->gw;
	uint64_t now = util_mono_ns(), limit = (uint64_t)g->client_timeout_ms * 1000000u;
	struct h2s *s, *next;

	for (s = TAILQ_FIRST(&h->streams); s; s = next) {
		struct txn *t = s->t;
		bool waits_out = evbuffer_get_length(s->out) > 0;
		bool waits_in = t ? !(t->flags & TXN_F_REQ_BODY_DONE) && !s->end_in &&
		                                evbuffer_get_length(s->in) == 0
		                  : !s->out_eof && !s->end_in && !waits_out;

		next = TAILQ_NEXT(s, link);
		if (!(waits_out || waits_in) || now - s->progress_ns < limit)
			continue;
		s->progress_ns = now; /* once */
		metrics_conn_inc(h->c->w->m, METRICS_H2_STALLED);
		log_at(LOG_DEBUG, h->c->w->id, h->c->id, t ? t->id : 0,
		       "HTTP/2 stream %d made no progress in client_timeout_ms: reset", s->id);
		if (t) {
			t->error = waits_out ? "client did not read the response within "
			                       "client_timeout_ms"
			                     : "client sent nothing within client_timeout_ms";
			proxy_abort(t);
		}
		nghttp2_submit_rst_stream(h->ss, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
	}
}

void h2c_on_timer(struct conn *c)
{
	struct h2c *h = c->h2;

	if (h->dead) {
		/* the GOAWAY, if any, goes out first */
		conn_send(c->bev, h->out);
		conn_close_after_flush(c);
		return;
	}
	if (h->n_streams == 0) {
		/* idle: say so, then close */
		nghttp2_session_terminate_session(h->ss, NGHTTP2_NO_ERROR);
		h2c_send(h);
		h2c_kill(h);
		return;
	}
	h->busy++;
	h2c_reap(h);
	h->busy--;
	h2c_send(h);
	h2c_arm(h);
}

void h2c_drain(struct conn *c)
{
	struct h2c *h = c->h2;

	if (h->goaway || h->dead)
		return;
	h->goaway = true;
	/* streams it opened so far finish; new ones are refused */
	nghttp2_submit_goaway(h->ss, NGHTTP2_FLAG_NONE,
	                      nghttp2_session_get_last_proc_stream_id(h->ss), NGHTTP2_NO_ERROR,
	                      NULL, 0);
	h2c_send(h);
}

void h2c_free(struct conn *c)
{
	struct h2c *h = c->h2;
	struct h2s *s;

	while ((s = TAILQ_FIRST(&h->streams))) {
		if (s->t) {
			s->closed = true; /* h2c_gone() drops it */
			proxy_abort(s->t);
			continue;
		}
		TAILQ_REMOVE(&h->streams, s, link);
		h2c_stream_end(s);
	}
	event_del(&h->flush_ev);
	if (h->out)
		evbuffer_free(h->out);
	nghttp2_session_del(h->ss);
	free(h);
	c->h2 = NULL;
}
