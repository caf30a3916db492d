/* h2c_int.h: what h2c.c (the connection, the streams' output and their
 * txn side) and h2c_recv.c (what the client sends: heads, bodies, frames)
 * share. Not for other modules: h2c.h is the interface.
 */
#ifndef TG_H2C_INT_H
#define TG_H2C_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event_struct.h>
#include <nghttp2/nghttp2.h>

#include "metrics.h"
#include "util.h"

struct conn;
struct evbuffer;
struct txn;

#define H2C_OUT_HIGH      (256 * 1024) /* framed bytes waiting for the socket: stop framing */
#define H2C_OUT_LOW       (64 * 1024)  /* ...and start again below this */
#define H2C_STREAM_WINDOW (256 * 1024) /* request body bytes a stream may have in flight */
#define H2C_CONN_WINDOW   (1 << 20)    /* ...and all streams of a connection */
#define H2C_RESP_LOW      (64 * 1024)  /* a stream's response sink wakes its upstream below this */
#define H2C_PSEUDO_MAX    8192         /* one pseudo-header value */
#define H2C_SPARE         UTIL_SPARE(128) /* ended streams a worker keeps for new ones */
#define H2C_SPARE_HB      1024            /* ...with a header block buffer this large at most */

struct h2s {
	struct h2c *h;
	int32_t id;
	struct txn *t;           /* NULL before the head is complete and once it ended */
	struct evbuffer *in;     /* request body bytes not moved upstream yet */
	struct evbuffer *out;    /* response body bytes not framed yet */
	struct evbuffer *cookie; /* cookie crumbs, joined with "; " (RFC 9113 8.2.3) */
	/* the header list until the request starts: the pseudo-header values,
	 * then the regular fields as "name: value\r\n" lines from <lines>
	 * on (nghttp2 lets no pseudo-header follow a regular field); one
	 * malloc'd block, bounded by max_head_bytes */
	char *hb;
	size_t hb_len, hb_cap, lines;
	struct h2s_val {
		uint32_t off, len;
		bool set;
	} method, path, authority;
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
	struct h2s *next_spare; /* in the worker's list of ended streams */
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
	/* what h2c_send() framed, kept out of the socket's output: there,
	 * each frame added would run the bufferevent's callbacks and re-arm
	 * its write event */
	struct evbuffer *out;
	/* writes <out> once the callbacks already due in this loop pass have
	 * run: a pass that brings responses for several streams (from as many
	 * upstream connections) then costs one write, not one per stream */
	struct event flush_ev;
	/* token buckets against rapid reset and control-frame floods */
	double reset_tokens, ctl_tokens;
	uint64_t reset_ns, ctl_ns;
};

extern const struct txn_client h2c_client;

/* Arms the connection timer of <h>: idle, stall checks, or closing. */
void h2c_arm(struct h2c *h);

/* Counts abuse <what>, logs <why> and sends GOAWAY ENHANCE_YOUR_CALM. */
void h2c_abuse(struct h2c *h, enum metrics_conn what, const char *why);

/* Takes a token from a bucket of <rate> per second and a burst of twice
 * that. Returns false when it is empty. */
bool h2c_take(double *tokens, uint64_t *last_ns, uint32_t rate);

/* A new stream of <h> with empty buffers: an ended one the worker kept
 * (no malloc), or a new one. NULL on ENOMEM. */
struct h2s *h2c_stream_new(struct h2c *h);

/* The stream <id> of <h>, or NULL. */
struct h2s *h2c_stream(struct h2c *h, int32_t id);

/* Forgets <s>, whose stream nghttp2 closed and whose txn is over. */
void h2c_stream_drop(struct h2s *s);

/* The callbacks through which nghttp2 tells what the client sent
 * (h2c_recv.c). NULL on ENOMEM; the caller frees them. */
nghttp2_session_callbacks *h2c_recv_callbacks(void);

#endif
