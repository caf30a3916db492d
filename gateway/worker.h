/* worker.h: one thread, one event_base, its listeners, connections and pools.
 *
 * Nothing here is shared between workers: each accepts on its own
 * SO_REUSEPORT socket and keeps its own upstream pools and health state, so
 * the request path takes no lock. The main thread talks to a worker only
 * through worker_stop() and worker_update(), each an eventfd the worker's
 * loop reads.
 *
 * Reloads: a worker runs one current configuration generation (gen.h) and
 * keeps the older ones its requests in flight started in (struct wgen).
 */
#ifndef TG_WORKER_H
#define TG_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/queue.h>

#include "cfg.h"
#include "filter.h"
#include "h1.h"

struct conn;
struct gen;
struct h2s;
struct txn;
struct ups;

/* A generation as one worker uses it: its upstreams, pools and passive
 * health, and how many of the worker's requests started under it. */
struct wgen {
	struct gen *g;     /* a reference */
	uint32_t users;    /* txns, plus one while it is the worker's current */
	struct ups *ups[]; /* one per g->cfg upstream, same index */
};

/* What worker_update() hands over. */
struct worker_update {
	struct gen *g; /* a reference, the worker's from then on */
	/* by g->cfg listen index: a new socket to accept on, or -1 where the
	 * worker keeps the listener it has on the same address (cfg_gw_listener()
	 * order) */
	int fds[CFG_MAX_LISTENERS];
};

struct worker {
	int id;
	pthread_t thread;
	struct event_base *base;
	struct wgen *cur;      /* what new requests start in */
	const struct cfg *cfg; /* cur's config */
	const struct flt_ops *const *filters;

	int listen_fds[CFG_MAX_LISTENERS]; /* listen, then listen_tls (cfg_gw_listener()) */
	struct evconnlistener *listeners[CFG_MAX_LISTENERS];
	int n_listen;
	bool paused; /* listeners disabled at max_connections */

	struct metrics_w *m;        /* this worker's counters (metrics.h) */
	struct h1_hdr *hdr_scratch; /* max_headers slots: heads parse here first */
	/* a request head on its way upstream, outside any bufferevent (one
	 * conn_send() and it is empty again) */
	struct evbuffer *head_out;
	struct h2s *h2s_spare; /* ended HTTP/2 streams kept for new ones (h2c.c) */
	unsigned n_h2s_spare;
	struct txn *txn_spare; /* ended txns kept for new ones (txn.c) */
	unsigned n_txn_spare;

	/* the timeout durations of the config as libevent common timeouts
	 * (worker_tv()), ms and the timeval libevent gave for it */
#define WORKER_TVS 32
	struct worker_tv {
		uint32_t ms;
		struct timeval tv;
	} tvs[WORKER_TVS];
	unsigned n_tvs;

	TAILQ_HEAD(, conn) conns;
	uint32_t n_conns;
	uint64_t next_conn_id;

	int alog_fd;           /* access log, -1 when off */
	struct evbuffer *alog; /* lines waiting for one write() */
	struct event *alog_timer;

	int stop_fd;           /* eventfd: worker_stop() writes it */
	struct event *stop_ev; /* reads it */
	struct event *drain_timer;
	struct event *accept_timer; /* accepting again after EMFILE */
	bool draining;

	/* hashes of client addresses whose failed TLS handshake was logged */
#define WORKER_TLS_LOGGED 256
	uint32_t tls_logged[WORKER_TLS_LOGGED];

	int update_fd; /* eventfd: worker_update() writes it */
	struct event *update_ev;
	struct worker_update *_Atomic update;
	_Atomic uint64_t serial; /* of the generation it runs */
};

/* Sets up <w> for generation <g> (taking over one reference) and filter
 * chain <filters>, taking ownership of listening sockets <fds,n>. Returns 0
 * or a negative errno. Boot thread. */
int worker_init(struct worker *w, int id, struct gen *g, const struct flt_ops *const *filters,
                const int *fds, int n, int alog_fd);

/* Runs <w> in a new thread. Returns 0 or a negative errno. */
int worker_start(struct worker *w);

/* Asks <w> to stop accepting and drain: requests in flight finish (bounded
 * by drain_timeout_ms), then the thread returns. Any thread. */
void worker_stop(struct worker *w);

/* Hands <u> (malloc'd, the worker frees it) to <w>: its new requests start
 * in generation u->g once its loop reads it, and worker_serial() says so.
 * The previous update must have been taken. Main thread. */
void worker_update(struct worker *w, struct worker_update *u);

/* The serial of the generation <w> runs. Any thread. */
static inline uint64_t worker_serial(struct worker *w)
{
	return atomic_load_explicit(&w->serial, memory_order_acquire);
}

/* A new request of <w> starts in its current generation: returns it, with
 * one more user. Worker thread. */
static inline struct wgen *worker_gen_take(struct worker *w)
{
	w->cur->users++;
	return w->cur;
}

/* A request that started in <wg> is over; the last user of a generation
 * that is no longer current frees the worker's view of it. Worker thread. */
void worker_gen_release(struct worker *w, struct wgen *wg);

/* Waits for <w>'s thread and frees what it owns. Boot thread. */
void worker_join(struct worker *w);

/* Connection bookkeeping for conn.c: resumes accepting when below the cap,
 * and ends the loop when draining and the last connection is gone. */
void worker_conn_closed(struct worker *w);

/* Sets *<tv> to a timeout of <ms> for the events of <w>. Connection and
 * request timeouts take a handful of durations from the config, each
 * re-armed on every read and write: as a libevent common timeout (one per
 * duration, up to WORKER_TVS) re-arming moves the event to the end of a
 * queue instead of through the timer heap. */
void worker_tv(struct worker *w, uint32_t ms, struct timeval *tv);

/* One access-log line was appended to w->alog: writes the batch out once it
 * is large; a timer writes smaller batches within a fraction of a second. */
void worker_alog_commit(struct worker *w);

#endif
