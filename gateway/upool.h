/* upool.h: upstream connections and the per-worker keep-alive pools.
 *
 * A uconn is one TCP connection to a server. While a txn uses it, the txn's
 * callbacks drive it (proxy.c); while idle in its server's pool, the pool
 * watches it: any byte or close from the server, or the idle timeout, frees
 * it, so a dead idle connection is never handed out.
 */
#ifndef TG_UPOOL_H
#define TG_UPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct bufferevent;
struct ups_server;

struct uconn {
	struct bufferevent *bev; /* a socket one, or an OpenSSL one when tls */
	struct ups_server *srv;
	TAILQ_ENTRY(uconn) link;
	uint32_t uses; /* requests served, for logs */
	bool tls;      /* TLS (tls_up.c): BEV_EVENT_CONNECTED = handshake done */
	/* idle on the response timeout its txn left: the rest of the idle
	 * timeout follows it (upool_put()) */
	bool idle_first_part;
	uint64_t tcp_ns; /* TLS: monotonic time TCP was connected (ClientHello sent) */
};

/* Returns an idle connection to <s> taken out of the pool, or NULL. Its
 * close is seen by the loop, but one that arrived in the current loop turn
 * is not processed yet: with <probe>, a MSG_PEEK catches that too (over
 * TLS an SSL_peek, which takes in session tickets and sees a close_notify).
 * The probe costs a syscall per request, so only a request that could not
 * be retried on a reset asks for it. The connection keeps the idle
 * timeout, its callbacks and its watermarks until the caller sets its own;
 * reading may be off (the caller enables it). */
struct uconn *upool_get(struct ups_server *s, bool probe);

/* Starts a non-blocking connect to <s>, then the TLS handshake when its
 * upstream has a client context (s->ups->tls): the bufferevent reports
 * BEV_EVENT_CONNECTED once the connection is usable, after the handshake,
 * which the caller bounds with read and write timeouts. Returns the new
 * uconn (callbacks unset: the caller sets them before the loop runs) or
 * NULL with errno. */
struct uconn *upool_connect(struct ups_server *s);

/* The handshake of TLS connection <uc> completed: counts a resumed
 * session. Returns 0, or -1 with <why,len> set when the connection cannot
 * be used (protocol = h2 but ALPN did not choose h2): it counts as a failed
 * handshake then. */
int upool_tls_established(struct uconn *uc, char *why, size_t len);

/* The connect of TLS connection <uc> failed with bufferevent event <what>.
 * Returns true when TCP had connected and the handshake failed (counted,
 * its reason in <why,len>, the server's cached session forgotten), false
 * when the TCP connect itself failed or timed out. */
bool upool_tls_failed(struct uconn *uc, short what, char *why, size_t len);

/* TLS connection <uc>, past its handshake, failed before a response: when
 * OpenSSL says why (an alert from the server, e.g. TLS 1.3's "certificate
 * required", which comes after our side of the handshake is done), counts
 * a failed handshake, writes the reason into <why,len> and returns true. */
bool upool_tls_alert(struct uconn *uc, char *why, size_t len);

/* Returns <uc> to its server's pool if there is room, else frees it. The
 * caller guarantees the connection is clean: no pending bytes either way. */
void upool_put(struct uconn *uc);

/* Closes <uc> at once. */
void upool_free(struct uconn *uc);

/* Closes every idle connection of <s>. */
void upool_flush(struct ups_server *s);

#endif
