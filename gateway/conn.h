/* conn.h: a client connection: its socket, timers and the txn it carries.
 *
 * Created on accept, freed when the socket closes. Plain TCP or TLS (tls.c)
 * underneath; HTTP/1 (h1c.c, one txn at a time) or HTTP/2 (h2c.c, a txn per
 * stream) on top, chosen by ALPN or by the HTTP/2 connection preface.
 */
#ifndef TG_CONN_H
#define TG_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

/* Largest single read or write on a socket, client or upstream. */
#define CONN_IO_MAX (256 * 1024)

struct bufferevent;
struct evbuffer;
struct event;
struct h2c;
struct txn;
struct worker;

enum conn_state {
	CONN_ST_HEAD = 0, /* waiting for a request head */
	CONN_ST_TXN,      /* a txn is in progress */
	CONN_ST_CLOSING,  /* flushing the last bytes, then close */
	CONN_ST_H2,       /* HTTP/2: h2c.c runs the connection */
};

struct conn {
	struct worker *w;
	uint64_t id;
	struct bufferevent *bev;
	struct event *timer; /* idle or header timeout while in CONN_ST_HEAD */
	enum conn_state state;
	struct txn *txn;
	uint64_t n_req;         /* requests started */
	uint64_t head_start_ns; /* first byte of the head being read, 0 if none */
	size_t head_scanned;    /* h1_head_scan() resume point */
	struct sockaddr_storage peer;
	char peer_ip[48];
	int peer_port;
	bool tls;       /* accepted on a TLS listener */
	bool tls_done;  /* its handshake completed */
	struct h2c *h2; /* HTTP/2 on this connection (h2c.c); NULL for HTTP/1 */
	TAILQ_ENTRY(conn) link;
};

/* Takes ownership of accepted socket <fd> from <peer> and starts reading a
 * request, after a TLS handshake when <tls>. Returns 0 or a negative errno
 * (the socket is then closed). */
int conn_accept(struct worker *w, int fd, const struct sockaddr *peer, int peer_len, bool tls);

/* Closes <c> at once, aborting its txn if any. <c> is gone on return. */
void conn_close(struct conn *c);

/* Closes <c> once its output buffer is flushed (bounded by client_timeout_ms). */
void conn_close_after_flush(struct conn *c);

/* Called when the txn of <c> finished: reads the next request (pipelined
 * bytes may already be buffered) or closes if the txn said so. */
void conn_txn_done(struct conn *c, bool keepalive);

/* Reads what socket <bev> holds into its input buffer until the buffer has
 * <limit> bytes or the socket is drained. libevent 2.1 reads at most 4 kB
 * per wakeup; a body relay calls this from its read callback so a 1 MiB
 * body costs a few large reads instead of 256 loop rounds. An end of
 * stream seen here is left for libevent to report on its next read (TCP
 * keeps answering 0). Returns the bytes read; 0 for a TLS bufferevent, whose
 * socket holds ciphertext only OpenSSL may read. */
size_t conn_read_more(struct bufferevent *bev, size_t limit);

/* Makes <bev>, a socket bufferevent whose reading is not enabled yet, read
 * with conn.c's read callback instead of libevent's, which costs one ioctl
 * per read (see conn_on_readable). Call again after anything that gives
 * <bev> a new socket. */
void conn_own_reads(struct bufferevent *bev);

/* Sets the read high watermark of <bev> (0 for none): reading stops while
 * its input holds <high> bytes or more, and resumes below. For a
 * bufferevent conn_own_reads() made ours, without libevent's watermark
 * callback (see conn_read_high() in conn.c); libevent's watermark
 * otherwise. The low watermark stays 0. */
void conn_read_high(struct bufferevent *bev, size_t high);

/* Writes what the output of <bev> holds now, from the callback that put it
 * there, rather than one loop turn later. Returns true when nothing is left:
 * the write event armed when the bytes were added is then disarmed, and
 * with the epoll changelist (worker.c) neither change reaches the kernel,
 * which saves two epoll_ctl calls per response. The caller acts as the
 * write callback would have; when bytes are left, the write event does.
 * A TLS bufferevent is left to write on its own (returns false). */
bool conn_flush(struct bufferevent *bev);

/* Writes <buf>, bytes framed outside the output of <bev> (so that adding
 * them cost no bufferevent callback), and drains it: straight to the
 * socket when the output is empty, the rest appended to the output for
 * the write event. A TLS bufferevent takes it all, then as conn_flush().
 * Returns true when nothing is left to write, as conn_flush(). */
bool conn_send(struct bufferevent *bev, struct evbuffer *buf);

/* Starts the header_timeout_ms clock for the head being read on <c>. */
void conn_arm_header_timer(struct conn *c);

/* Worker drain: closes <c> now if it is idle between requests. */
void conn_drain(struct conn *c);

#endif
