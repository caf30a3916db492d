/* worker.h: one thread, one event_base, its listeners, connections and pools.
 *
 * Nothing here is shared between workers: each accepts on its own
 * SO_REUSEPORT socket and keeps its own upstream pools and health state, so
 * the request path takes no lock. The main thread talks to a worker only
 * through worker_stop() (an event activated across threads).
 */
#ifndef TG_WORKER_H
#define TG_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "cfg.h"
#include "filter.h"
#include "h1.h"

struct conn;
struct ups;

struct worker {
	int id;
	pthread_t thread;
	struct event_base *base;
	const struct cfg *cfg;
	const struct flt_ops *const *filters;

	int listen_fds[CFG_MAX_LISTEN];
	struct evconnlistener *listeners[CFG_MAX_LISTEN];
	int n_listen;
	bool paused; /* listeners disabled at max_connections */

	struct ups *ups;            /* one per cfg upstream, same index */
	struct metrics_w *m;        /* this worker's counters (metrics.h) */
	struct h1_hdr *hdr_scratch; /* max_headers slots: heads parse here first */

	TAILQ_HEAD(, conn) conns;
	uint32_t n_conns;
	uint64_t next_conn_id;

	int alog_fd;           /* access log, -1 when off */
	struct evbuffer *alog; /* lines waiting for one write() */
	struct event *alog_timer;

	int stop_fd;           /* eventfd: worker_stop() writes it */
	struct event *stop_ev; /* reads it */
	struct event *drain_timer;
	bool draining;
};

/* Sets up <w> for config <c> and filter chain <filters>, taking ownership of
 * listening sockets <fds,n>. Returns 0 or a negative errno. Boot thread. */
int worker_init(struct worker *w, int id, const struct cfg *c, const struct flt_ops *const *filters,
                const int *fds, int n, int alog_fd);

/* Runs <w> in a new thread. Returns 0 or a negative errno. */
int worker_start(struct worker *w);

/* Asks <w> to stop accepting and drain: requests in flight finish (bounded
 * by drain_timeout_ms), then the thread returns. Any thread. */
void worker_stop(struct worker *w);

/* Waits for <w>'s thread and frees what it owns. Boot thread. */
void worker_join(struct worker *w);

/* Connection bookkeeping for conn.c: resumes accepting when below the cap,
 * and ends the loop when draining and the last connection is gone. */
void worker_conn_closed(struct worker *w);

/* One access-log line was appended to w->alog: writes the batch out once it
 * is large; a timer writes smaller batches within a fraction of a second. */
void worker_alog_commit(struct worker *w);

#endif
