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
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "route.h"
#include "txn.h"
#include "util.h"
#include "worker.h"

#define H2C_OUT_HIGH      (256 * 1024) /* framed bytes waiting for the socket: stop framing */
#define H2C_OUT_LOW       (64 * 1024)  /* ...and start again below this */
#define H2C_STREAM_WINDOW (256 * 1024) /* request body bytes a stream may have in flight */
#define H2C_CONN_WINDOW   (1 << 20)    /* ...and all streams of a connection */
#define H2C_RESP_LOW      (64 * 1024)  /* a stream's response sink wakes its upstream below this */
#define H2C_PSEUDO_MAX    8192         /* one pseudo-header value */

static const char h2c_magic[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct h2s {
	struct h2c *h;
	int32_t id;
	struct txn *t;           /* NULL before the head is complete and once it ended */
	struct evbuffer *in;     /* request body bytes not moved upstream yet */
	struct evbuffer *out;    /* response body bytes not framed yet */
	struct evbuffer *head;   /* regular header fields as "name: value\r\n" lines */
	struct evbuffer *cookie; /* cookie crumbs, joined with "; " (RFC 9113 8.2.3) */
	char *method, *path, *authority;
	size_t hdr_bytes; /* header list size as SETTINGS_MAX_HEADER_LIST_SIZE counts it */
	unsigned n_hdrs;
	size_t unconsumed; /* bytes of <in> whose window credit the client waits for */
	uint64_t start_ns, progress_ns;
	bool too_large; /* the header list broke a limit: answered 431 */
	bool has_host;
	bool end_in;     /* the client ended its side */
	bool out_eof;    /* <out> holds the end of the response */
	bool wake;       /* <out> drained: tell the txn */
	bool sent_end;   /* our END_STREAM went out: the client has the whole response */
	bool closed;     /* nghttp2 closed it while its txn still runs */
	nghttp2_nv *trl; /* response trailers to send after <out>, one malloc'd block */
	size_t n_trl;
	TAILQ_ENTRY(h2s) link;
};

struct h2c {
	struct conn *c;
	nghttp2_session *ss;
	TAILQ_HEAD(, h2s) streams;
	uint32_t n_streams;
	int busy;       /* inside nghttp2 or h2c_send(): send later */
	bool want_send; /* something was submitted while busy */
	bool dead;      /* closing: the timer closes the connection */
	bool goaway;    /* draining: GOAWAY sent */
	/* writes what h2c_send() framed once the callbacks already due in this
	 * loop pass have run: a pass that brings responses for several streams
	 * (from as many upstream connections) then costs one write, not one
	 * per stream */
	struct event flush_ev;
	/* token buckets against rapid reset and control-frame floods */
	double reset_tokens, ctl_tokens;
	uint64_t reset_ns, ctl_ns;
};

static const struct txn_client h2c_client;

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

static void h2c_arm(struct h2c *h)
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
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
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

static void h2c_abuse(struct h2c *h, enum metrics_conn what, const char *why)
{
	struct conn *c = h->c;

	metrics_conn_inc(c->w->m, what);
	log_at(LOG_INFO, c->w->id, c->id, 0, "HTTP/2 client %s:%d %s: GOAWAY", c->peer_ip,
	       c->peer_port, why);
	nghttp2_session_terminate_session(h->ss, NGHTTP2_ENHANCE_YOUR_CALM);
}

/* Takes a token from a bucket of <rate> per second and a burst of twice
 * that. Returns false when it is empty. */
static bool h2c_take(double *tokens, uint64_t *last_ns, uint32_t rate)
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

/* Frames what nghttp2 has to send into the socket's buffer, up to
 * H2C_OUT_HIGH, then tells the streams whose response sink drained. */
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
		while (!h->dead && evbuffer_get_length(out) < H2C_OUT_HIGH) {
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
			evbuffer_add(out, data, (size_t)n);
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
	if (evbuffer_get_length(out))
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
	if (conn_flush(h->c->bev) && !h->dead && nghttp2_session_want_write(h->ss))
		h2c_send(h);
}

/* ---- Streams -------------------------------------------------------------- */

static struct h2s *h2c_stream(struct h2c *h, int32_t id)
{
	return nghttp2_session_get_stream_user_data(h->ss, id);
}

static void h2c_stream_free(struct h2s *s)
{
	evbuffer_free(s->in);
	evbuffer_free(s->out);
	if (s->head)
		evbuffer_free(s->head);
	if (s->cookie)
		evbuffer_free(s->cookie);
	free(s->trl);
	free(s->method);
	free(s->path);
	free(s->authority);
	free(s);
}

/* Forgets <s>, whose stream nghttp2 closed and whose txn is over. */
static void h2c_stream_drop(struct h2s *s)
{
	struct h2c *h = s->h;

	TAILQ_REMOVE(&h->streams, s, link);
	h2c_stream_free(s);
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
	nghttp2_nv *nv = arena_alloc(&t->arena, sizeof(*nv) * (m->h.n_hdrs + 2));
	char *st = arena_alloc(&t->arena, 4), *cl = arena_alloc(&t->arena, 24);
	int n = 0;

	if (!nv || !st || !cl)
		return -ENOMEM;
	snprintf(st, 4, "%03d", status);
	nv[n++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)st, 7, 3, NGHTTP2_NV_FLAG_NONE};
	for (unsigned i = 0; i < m->h.n_hdrs; i++) {
		const struct h1_hdr *f = &m->h.hdrs[i];
		char *name;

		if (!f->name_len || http_is_hop_by_hop(m, f))
			continue;
		if (!(name = arena_alloc(&t->arena, f->name_len)))
			return -ENOMEM;
		for (size_t k = 0; k < f->name_len; k++)
			name[k] = (char)(f->name[k] >= 'A' && f->name[k] <= 'Z' ? f->name[k] + 32
			                                                        : f->name[k]);
		nv[n++] = (nghttp2_nv){(uint8_t *)name, (uint8_t *)f->value, f->name_len,
		                       f->value_len, NGHTTP2_NV_FLAG_NONE};
	}
	if (with_len)
		nv[n++] = (nghttp2_nv){(uint8_t *)"content-length", (uint8_t *)cl, 14,
		                       (size_t)snprintf(cl, 24, "%llu", (unsigned long long)len),
		                       NGHTTP2_NV_FLAG_NONE};
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
	size_t bytes = 0, n = 0;
	char *p;

	for (unsigned i = 0; i < m->h.n_hdrs; i++)
		if (m->h.hdrs[i].name_len && !http_is_hop_by_hop(m, &m->h.hdrs[i])) {
			bytes += m->h.hdrs[i].name_len + m->h.hdrs[i].value_len;
			n++;
		}
	if (!n || s->trl || !(s->trl = malloc(n * sizeof(*s->trl) + bytes)))
		return;
	p = (char *)(s->trl + n);
	for (unsigned i = 0; i < m->h.n_hdrs; i++) {
		const struct h1_hdr *f = &m->h.hdrs[i];
		nghttp2_nv *nv = &s->trl[s->n_trl];

		if (!f->name_len || http_is_hop_by_hop(m, f))
			continue;
		*nv = (nghttp2_nv){(uint8_t *)p, (uint8_t *)p + f->name_len, f->name_len,
		                   f->value_len, NGHTTP2_NV_FLAG_NONE};
		for (size_t k = 0; k < f->name_len; k++)
			p[k] = (char)(f->name[k] >= 'A' && f->name[k] <= 'Z' ? f->name[k] + 32
			                                                     : f->name[k]);
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

static const struct txn_client h2c_client = {
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

/* ---- Requests ------------------------------------------------------------- */

/* Writes the header list of <s> as an HTTP/1.1 head into <b>. */
static int h2c_head_text(struct h2s *s, struct evbuffer *b)
{
	int err = evbuffer_add_printf(b, "%s %s HTTP/1.1\r\n", s->method, s->path) < 0;

	/* :authority stands for Host (RFC 9113 8.3.1) */
	if (s->authority && !s->has_host)
		err |= evbuffer_add_printf(b, "host: %s\r\n", s->authority) < 0;
	err |= evbuffer_add_buffer(b, s->head);
	if (s->cookie && evbuffer_get_length(s->cookie)) {
		err |= evbuffer_add(b, "cookie: ", 8);
		err |= evbuffer_add_buffer(b, s->cookie);
		err |= evbuffer_add(b, "\r\n", 2);
	}
	err |= evbuffer_add(b, "\r\n", 2);
	return err ? -ENOMEM : 0;
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
	struct evbuffer *b;
	struct txn *t;
	size_t len;
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
	if (!s->method || !s->path) {
		t->cs->reply_local(t, 400, "missing :method or :path");
		return;
	}
	if (strcmp(s->method, "CONNECT") == 0) {
		t->cs->reply_local(t, 501, "CONNECT is not supported");
		return;
	}
	if (!(b = evbuffer_new()) || h2c_head_text(s, b)) {
		if (b)
			evbuffer_free(b);
		t->cs->reply_local(t, 500, "out of memory");
		return;
	}
	len = evbuffer_get_length(b);
	err = len > g->max_head_bytes
	              ? H1_E_HEAD_TOO_LARGE
	              : http_msg_parse(&t->req, (const char *)evbuffer_pullup(b, -1), len, &lim,
	                               c->w->hdr_scratch, g->max_headers, false);
	evbuffer_free(b);
	evbuffer_free(s->head);
	s->head = NULL;
	t->head_len = len;
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
	s = calloc(1, sizeof(*s));
	if (!s || !(s->in = evbuffer_new()) || !(s->out = evbuffer_new()) ||
	    !(s->head = evbuffer_new())) {
		if (s) {
			if (s->in)
				evbuffer_free(s->in);
			if (s->out)
				evbuffer_free(s->out);
			free(s);
		}
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
	}
	s->h = h;
	s->id = f->hd.stream_id;
	s->start_ns = s->progress_ns = util_mono_ns();
	nghttp2_session_set_stream_user_data(ss, s->id, s);
	TAILQ_INSERT_TAIL(&h->streams, s, link);
	if (h->n_streams++ == 0)
		h2c_arm(h);
	return 0;
}

static int h2c_pseudo(char **field, const uint8_t *v, size_t len)
{
	if (*field || len > H2C_PSEUDO_MAX)
		return -1; /* nghttp2 refuses duplicates; the length is ours */
	*field = strndup((const char *)v, len);
	return *field ? 0 : -1;
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
	s->hdr_bytes += nlen + vlen + 32;
	if (s->hdr_bytes > g->max_head_bytes || ++s->n_hdrs > g->max_headers) {
		s->too_large = true;
		return 0;
	}
	s->progress_ns = util_mono_ns();
	if (nlen && name[0] == ':') {
		int err = 0;

		if (nlen == 7 && memcmp(name, ":method", 7) == 0)
			err = h2c_pseudo(&s->method, value, vlen);
		else if (nlen == 5 && memcmp(name, ":path", 5) == 0)
			err = h2c_pseudo(&s->path, value, vlen);
		else if (nlen == 10 && memcmp(name, ":authority", 10) == 0)
			err = h2c_pseudo(&s->authority, value, vlen);
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
	if (evbuffer_add(s->head, name, nlen) || evbuffer_add(s->head, ": ", 2) ||
	    evbuffer_add(s->head, value, vlen) || evbuffer_add(s->head, "\r\n", 2))
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

/* ---- The connection ------------------------------------------------------- */

static nghttp2_session_callbacks *h2c_callbacks(void)
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

static int h2c_session(struct h2c *h, const struct cfg_gateway *g)
{
	nghttp2_session_callbacks *cb = h2c_callbacks();
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
	if (h2c_session(h, g)) {
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
		conn_close_after_flush(c); /* the GOAWAY, if any, goes out first */
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
		h2c_stream_free(s);
	}
	event_del(&h->flush_ev);
	nghttp2_session_del(h->ss);
	free(h);
	c->h2 = NULL;
}
