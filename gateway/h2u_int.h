/* h2u_int.h: what h2u.c (the connections, the requests going out, the
 * txn side) and h2u_recv.c (what the server sends: heads, trailers, DATA,
 * resets) share. Not for other modules: h2u.h is the interface.
 */
#ifndef TG_H2U_INT_H
#define TG_H2U_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event_struct.h>
#include <nghttp2/nghttp2.h>

struct evbuffer;
struct txn;
struct uconn;
struct ups_server;

#define H2U_OUT_HIGH      (256 * 1024)
#define H2U_STREAM_WINDOW (256 * 1024)
#define H2U_CONN_WINDOW   (1 << 20)
#define H2U_REQ_LOW       (64 * 1024) /* a stream's request sink asks the client for more */
#define H2U_MAX_STREAMS   128         /* per connection, whatever the server allows */

struct h2u_conn {
	struct ups_server *srv;
	struct uconn *uc;
	nghttp2_session *ss;
	struct event *timer;
	TAILQ_HEAD(, h2us) streams;
	uint32_t n_streams;
	uint64_t idle_since_ns;
	uint64_t connect_ns; /* TCP connected, for the streams that waited for it */
	uint64_t tls_ns;     /* TLS handshake done; 0 in cleartext */
	int busy;
	bool want_send;
	bool connected;
	bool dead; /* takes no new stream; freed from the timer once empty or dead */
	bool gone; /* the socket failed: free at once */
	/* writes what h2u_send() framed after the callbacks already due in
	 * this loop pass: the requests a client's read started go out in one
	 * write (as in h2c.c) */
	struct event flush_ev;
	TAILQ_ENTRY(h2u_conn) link;
};

struct h2us {
	struct h2u_conn *hc;
	struct txn *t;         /* NULL once released */
	int32_t id;            /* 0 until submitted */
	struct evbuffer *req;  /* request body bytes for DATA frames */
	struct evbuffer *resp; /* response DATA not relayed yet */
	struct evbuffer *head; /* response head or trailers, as HTTP/1 lines */
	int status;
	size_t unconsumed;
	uint64_t progress_ns;
	bool head_done;
	bool end_in;    /* the server ended the stream */
	bool closed;    /* nghttp2 closed it */
	bool wake_req;  /* <req> drained: ask the client for more */
	bool too_large; /* the response head broke max_head_bytes */
	TAILQ_ENTRY(h2us) link;
};

/* Forgets <us>, a stream of its connection that nghttp2 closed or never
 * opened and whose txn is released. */
void h2u_stream_free(struct h2us *us);

/* The callbacks through which nghttp2 tells what the server sent
 * (h2u_recv.c). NULL on ENOMEM; the caller frees them. */
nghttp2_session_callbacks *h2u_recv_callbacks(void);

#endif
