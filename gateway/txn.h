/* txn.h: one request/response exchange, from its head to its last byte.
 *
 * A txn owns the per-request arena (request and response heads, filter
 * state), the timings filters read, and the body relays. It is created when
 * a request head is complete and ends in txn_finish(), its only exit, which
 * runs the filters' on_end exactly once and writes the access-log line.
 */
#ifndef TG_TXN_H
#define TG_TXN_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "filter.h"
#include "http.h"
#include "util.h"
#include "relay.h"

struct conn;
struct worker;
struct cfg;
struct cfg_route;
struct wgen;
struct ups;
struct ups_server;
struct uconn;
struct h2s;
struct h2us;
struct evbuffer;

/* Monotonic nanoseconds (util_mono_ns); 0 = did not happen (yet). The
 * upstream fields describe the current (last) attempt. */
struct txn_timings {
	uint64_t start_wall_ns;    /* wall clock at start, for span timestamps */
	uint64_t start_ns;         /* connection accepted, or first byte of a kept-alive request */
	uint64_t head_ns;          /* request head parsed */
	uint64_t connect_start_ns; /* upstream connect began (or pooled connection taken) */
	uint64_t connect_end_ns;   /* upstream TCP connected; 0 on a pooled connection */
	uint64_t tls_end_ns;       /* upstream TLS handshake done; 0 on a pooled one */
	uint64_t request_sent_ns;  /* request head and body handed to the upstream socket */
	uint64_t first_byte_ns;    /* first response byte from the upstream */
	uint64_t last_byte_ns;     /* last response byte from the upstream */
	uint64_t end_ns;           /* txn finished */
};

enum txn_end {
	TXN_END_OK = 0, /* response complete */
	TXN_END_ERROR,  /* the gateway answered with an error, or the upstream failed */
	TXN_END_ABORT,  /* the client went away */
};

/* Why an upstream attempt failed, for error.type and retries. */
enum txn_ups_err {
	TXN_UE_NONE = 0,
	TXN_UE_REFUSED, /* connect refused or failed */
	TXN_UE_CONNECT_TIMEOUT,
	TXN_UE_TIMEOUT,        /* no response (or body progress) in time */
	TXN_UE_RESET,          /* closed or reset before the response was complete */
	TXN_UE_PROTOCOL,       /* response not valid HTTP */
	TXN_UE_REFUSED_STREAM, /* HTTP/2 REFUSED_STREAM: never processed, safe to retry */
	TXN_UE_TLS,            /* TLS handshake failed, timed out, or chose the wrong ALPN */
};

#define TXN_F_KEEPALIVE     0x0001u /* the client connection may carry another request */
#define TXN_F_REQ_BODY_DONE 0x0002u /* request body fully read from the client */
#define TXN_F_REQ_SENT      0x0004u /* request fully handed to the upstream */
#define TXN_F_RESP_STARTED  0x0008u /* response head written to the client */
#define TXN_F_RESP_DONE     0x0010u /* response fully written to the client's buffer */
#define TXN_F_ENDED         0x0020u /* filters' on_end ran */
#define TXN_F_UPGRADE       0x0040u /* websocket upgrade requested */
#define TXN_F_TUNNEL        0x0080u /* 101 received: bytes flow both ways raw */
#define TXN_F_REUSED_CONN   0x0100u /* current attempt runs on a pooled connection */
#define TXN_F_BODY_SENT     0x0200u /* request body bytes went upstream: no retry */
#define TXN_F_CLIENT_EOF    0x0400u /* client half-closed after its request */
#define TXN_F_LOCAL         0x0800u /* answered by the gateway itself */
#define TXN_F_CONNECTING    0x1000u /* current attempt waits for its TCP connect */
#define TXN_F_HEAD_SENT     0x2000u /* request head written to the current attempt */
#define TXN_F_RESP_HEAD     0x4000u /* final response head received from the upstream */
#define TXN_F_FILTERED      0x8000u /* on_request ran: on_response will see our answers too */

#define TXN_F_REQ_IN_EOF 0x10000u /* HTTP/2: the client ended the request stream */
#define TXN_F_UP_NO_BODY 0x20000u /* HTTP/2 upstream: the response head ended the stream */

/* The client side of a txn: HTTP/1 on the connection (h1c.c) or one HTTP/2
 * stream (h2c.c). proxy.c moves bodies and answers through these and never
 * touches the client connection of an HTTP/2 txn. Optional hooks may be
 * NULL. Worker thread. */
struct txn_client {
	struct evbuffer *(*req_in)(struct txn *t);   /* request body source */
	struct evbuffer *(*resp_out)(struct txn *t); /* response body sink */
	/* proxying starts: client-side timeouts and watermarks (optional) */
	void (*start)(struct txn *t);
	/* reads what the client sent into req_in, up to <limit> bytes there
	 * (optional: HTTP/2 streams are fed as frames arrive) */
	void (*req_fill)(struct txn *t, size_t limit);
	/* turns reading the request body on or off (backpressure) */
	void (*req_read)(struct txn *t, bool on);
	/* <n> request body bytes left req_in for the upstream (optional) */
	void (*req_moved)(struct txn *t, size_t n);
	/* the request body was read whole (optional) */
	void (*req_done)(struct txn *t);
	/* writes the response head t->resp and sets t->resp_body; 0 or -errno */
	int (*write_head)(struct txn *t);
	/* forwards the informational (1xx) response t->resp */
	void (*write_interim)(struct txn *t);
	/* answers from the gateway: see h1c_reply_local(); finishes <t> */
	void (*reply_local)(struct txn *t, int status, const char *detail);
	/* response body bytes were added to resp_out: send them (optional) */
	void (*flush)(struct txn *t);
	/* the response is complete: finishes <t> once what it wrote is out and
	 * returns 1 (then <t> is gone), else 0 and tries again when more went
	 * out (proxy_on_client_write) */
	int (*finish)(struct txn *t);
	/* after a failure mid-response: finishes <t> as an error and makes sure
	 * the client sees the response as cut, not complete */
	void (*cut)(struct txn *t);
	/* txn_finish() is freeing <t> (optional) */
	void (*gone)(struct txn *t);
};

#define TXN_ARENA_INLINE 4096

struct txn {
	struct conn *c;
	const struct txn_client *cs;
	struct h2s *h2s; /* its HTTP/2 stream; NULL for HTTP/1 */
	struct worker *w;
	uint64_t id;           /* per connection, from 1 */
	struct wgen *wg;       /* the config generation it started in */
	const struct cfg *cfg; /* wg's config */
	const struct flt_ops *const *filters;
	void *const *flt_gen; /* each filter's state for that config (gen.h) */
	void *flt_ctx[FLT_MAX];

	struct http_msg req;
	struct http_msg resp;
	struct http_msg trailers; /* of the response, from an HTTP/2 upstream; no fields if none */
	const struct cfg_route *route;
	struct ups *ups;
	struct ups_server *srv;   /* current attempt's server */
	struct uconn *uc;         /* current attempt's connection (HTTP/1 upstream) */
	struct h2us *us;          /* current attempt's stream (HTTP/2 upstream, h2u.c) */
	int attempts;             /* upstream attempts started */
	int connect_retries;      /* attempts started because a connect failed */
	size_t resp_scanned;      /* h1_head_scan() resume point in the upstream input */
	enum txn_ups_err ups_err; /* last attempt's failure */

	struct relay req_body;  /* client -> upstream */
	struct relay resp_body; /* upstream -> client */
	struct txn_timings tm;
	unsigned flags;
	int status;         /* sent to the client; 0 until known */
	const char *error;  /* static text of what went wrong, NULL if nothing */
	uint64_t bytes_in;  /* request body bytes from the client */
	uint64_t bytes_out; /* bytes written to the client, head included */
	size_t head_len;    /* request head bytes */

	struct arena arena;
	struct txn *next_spare; /* in the worker's list of ended txns */
	alignas(16) char arena_buf[TXN_ARENA_INLINE];
};

#define TXN_SPARE UTIL_SPARE(64) /* ended txns a worker keeps for new ones */

/* Creates a txn on connection <c>, client side <cs>, for a head that started
 * at monotonic time <start_ns>. Returns NULL on ENOMEM. Worker thread. */
struct txn *txn_new(struct conn *c, const struct txn_client *cs, uint64_t start_ns);

/* Frees the ended txns worker <w> kept for reuse. */
void txn_spare_free(struct worker *w);

/* The protocol the client spoke: "1.0", "1.1" or "2". */
const char *txn_http_version(const struct txn *t);

/* Ends <t>: runs the filters' on_end once with <end>, writes the access-log
 * line and frees the txn and its arena (the worker may keep the txn itself
 * for a new one). <t> is gone on return. */
void txn_finish(struct txn *t, enum txn_end end);

/* Returns the CFG_M_* bit of the request's method. */
unsigned txn_method_bit(const struct txn *t);

#endif
