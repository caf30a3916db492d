/* upool.h: upstream connections and the per-worker keep-alive pools.
 *
 * A uconn is one TCP connection to a server. While a txn uses it, the txn's
 * callbacks drive it (proxy.c); while idle in its server's pool, the pool
 * watches it: any byte or close from the server, or the idle timeout, frees
 * it, so a dead idle connection is never handed out.
 */
#ifndef TG_UPOOL_H
#define TG_UPOOL_H

#include <stdint.h>
#include <stdbool.h>
#include <sys/queue.h>

struct bufferevent;
struct ups_server;

struct uconn {
	struct bufferevent *bev;
	struct ups_server *srv;
	TAILQ_ENTRY(uconn) link;
	uint32_t uses; /* requests served, for logs */
};

/* Returns an idle connection to <s> taken out of the pool, or NULL. Its
 * close is seen by the loop, but one that arrived in the current loop turn
 * is not processed yet: with <probe>, a MSG_PEEK catches that too. The
 * probe costs a syscall per request, so only a request that could not be
 * retried on a reset asks for it. */
struct uconn *upool_get(struct ups_server *s, bool probe);

/* Starts a non-blocking connect to <s>. Returns the new uconn (callbacks
 * unset: the caller sets them before the loop runs) or NULL with errno. */
struct uconn *upool_connect(struct ups_server *s);

/* Returns <uc> to its server's pool if there is room, else frees it. The
 * caller guarantees the connection is clean: no pending bytes either way. */
void upool_put(struct uconn *uc);

/* Closes <uc> at once. */
void upool_free(struct uconn *uc);

/* Closes every idle connection of <s>. */
void upool_flush(struct ups_server *s);

#endif
