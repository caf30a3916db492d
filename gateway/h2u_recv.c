/* h2u_recv.c: what an HTTP/2 upstream server sends, as nghttp2 reports it:
 * response heads and trailers written out as HTTP/1.1 lines for the same
 * parser as HTTP/1 responses, DATA into the stream's response buffer, the
 * end or reset of a stream, GOAWAY. h2u.c owns the connection and the
 * requests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include "cfg.h"
#include "conn.h"
#include "h2u_int.h"
#include "http.h"
#include "log.h"
#include "proxy.h"
#include "txn.h"
#include "upstream.h"
#include "util.h"
#include "worker.h"

static struct h2us *h2u_stream(struct h2u_conn *hc, int32_t id)
{
	return nghttp2_session_get_stream_user_data(hc->ss, id);
}

static int h2u_on_header(nghttp2_session *ss, const nghttp2_frame *f, const uint8_t *name,
                         size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *arg)
{
	struct h2u_conn *hc = arg;
	struct h2us *us = h2u_stream(hc, f->hd.stream_id);
	uint32_t max = hc->srv->ups->w->cfg->gw.max_head_bytes;

	(void)ss, (void)flags;
	if (!us || !us->t || us->too_large)
		return 0;
	if (nlen == 7 && memcmp(name, ":status", 7) == 0) {
		us->status = vlen == 3 ? atoi((const char *)value) : 0;
		return 0;
	}
	if (nlen && name[0] == ':')
		return 0;
	if (evbuffer_get_length(us->head) + nlen + vlen + 4 > max) {
		us->too_large = true;
		return 0;
	}
	evbuffer_add(us->head, name, nlen);
	evbuffer_add(us->head, ": ", 2);
	evbuffer_add(us->head, value, vlen);
	evbuffer_add(us->head, "\r\n", 2);
	return 0;
}

/* Parses the lines collected in us->head, after a status line for
 * us->status, into <m>. Returns 0 or -1. */
static int h2u_parse(struct h2us *us, struct http_msg *m)
{
	struct txn *t = us->t;
	const struct cfg_gateway *g = &t->cfg->gw;
	struct h1_limits lim = {g->max_head_bytes, g->max_target_bytes, g->max_headers};
	char line[32];
	int r;

	if (us->too_large || us->status < 100 || us->status > 999)
		return -1;
	snprintf(line, sizeof(line), "HTTP/1.1 %03d -\r\n", us->status);
	evbuffer_prepend(us->head, line, strlen(line));
	evbuffer_add(us->head, "\r\n", 2);
	m->h.content_length = -1;
	r = http_msg_parse(m, (const char *)evbuffer_pullup(us->head, -1),
	                   evbuffer_get_length(us->head), &lim, t->w->hdr_scratch, g->max_headers,
	                   true);
	evbuffer_drain(us->head, evbuffer_get_length(us->head));
	/* reason "-" is ours: the client gets the standard one */
	m->h.reason_len = 0;
	return r > 0 ? 0 : -1;
}

/* A complete HEADERS frame on <us>: an interim or final head, or trailers. */
static void h2u_on_headers(struct h2us *us, bool end)
{
	struct txn *t = us->t;

	if (!t->tm.first_byte_ns)
		t->tm.first_byte_ns = util_mono_ns();
	us->progress_ns = util_mono_ns();
	if (us->head_done) {
		/* trailers: kept for an HTTP/2 client (gRPC's status is here) */
		us->status = 200;
		if (h2u_parse(us, &t->trailers))
			t->trailers.h.n_hdrs = 0;
		return;
	}
	if (h2u_parse(us, &t->resp)) {
		t->ups_err = TXN_UE_PROTOCOL;
		log_at(LOG_WARN, t->w->id, t->c->id, t->id, "%s: invalid HTTP/2 response head",
		       t->srv->addr->text);
		proxy_fail(t, 502, "upstream sent an invalid response");
		return;
	}
	if (t->resp.h.status < 200) {
		if (t->resp.h.status != 101)
			t->cs->write_interim(t);
		return;
	}
	us->head_done = true;
	if (end)
		t->flags |= TXN_F_UP_NO_BODY;
	proxy_resp_head(t);
}

static int h2u_on_frame_recv(nghttp2_session *ss, const nghttp2_frame *f, void *arg)
{
	struct h2u_conn *hc = arg;
	struct h2us *us;
	bool end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;

	(void)ss;
	if (f->hd.type == NGHTTP2_GOAWAY) {
		/* streams past its last id are closed as REFUSED_STREAM: retried */
		hc->dead = true;
		return 0;
	}
	if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
	    !(us = h2u_stream(hc, f->hd.stream_id)) || !us->t)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS)
		h2u_on_headers(us, end);
	/* the txn may have failed above: look again */
	if (end && us->t) {
		us->end_in = true;
		if (us->t->flags & TXN_F_RESP_HEAD)
			proxy_resp_eof(us->t);
		else
			proxy_attempt_failed(us->t, TXN_UE_PROTOCOL);
	}
	return 0;
}

static int h2u_on_data(nghttp2_session *ss, uint8_t flags, int32_t id, const uint8_t *data,
                       size_t len, void *arg)
{
	struct h2u_conn *hc = arg;
	struct h2us *us = h2u_stream(hc, id);

	(void)flags;
	if (!us || !us->t || !(us->t->flags & TXN_F_RESP_HEAD)) {
		nghttp2_session_consume(ss, id, len);
		return 0;
	}
	if (evbuffer_add(us->resp, data, len))
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	us->unconsumed += len;
	us->progress_ns = util_mono_ns();
	proxy_pump_response(us->t);
	return 0;
}

static int h2u_on_stream_close(nghttp2_session *ss, int32_t id, uint32_t code, void *arg)
{
	struct h2u_conn *hc = arg;
	struct h2us *us = h2u_stream(hc, id);
	struct txn *t;

	if (!us)
		return 0;
	us->closed = true;
	if ((t = us->t) && !us->end_in) {
		t->ups_err = TXN_UE_RESET;
		if (t->flags & TXN_F_RESP_STARTED)
			proxy_cut(t, "upstream reset the stream");
		else
			proxy_attempt_failed(t, code == NGHTTP2_REFUSED_STREAM
			                                ? TXN_UE_REFUSED_STREAM
			                                : TXN_UE_RESET);
	}
	nghttp2_session_set_stream_user_data(ss, id, NULL);
	h2u_stream_free(us);
	return 0;
}

static int h2u_on_frame_send(nghttp2_session *ss, const nghttp2_frame *f, void *arg)
{
	struct h2u_conn *hc = arg;
	struct h2us *us;

	(void)ss;
	if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM) && (us = h2u_stream(hc, f->hd.stream_id)) &&
	    us->t) {
		us->t->flags |= TXN_F_REQ_SENT;
		us->t->tm.request_sent_ns = us->progress_ns = util_mono_ns();
	}
	return 0;
}

nghttp2_session_callbacks *h2u_recv_callbacks(void)
{
	nghttp2_session_callbacks *cb;

	if (nghttp2_session_callbacks_new(&cb))
		return NULL;
	nghttp2_session_callbacks_set_on_header_callback(cb, h2u_on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2u_on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2u_on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2u_on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, h2u_on_frame_send);
	return cb;
}
