/* metrics.h: per-worker counters and the Prometheus text exposition.
 *
 * Each worker owns a block of counters that only its thread writes, so an
 * increment is a relaxed load and a relaxed store on an _Atomic uint64_t: a
 * plain mov on x86-64, no lock prefix, no fence, and still no data race with
 * the admin thread, which reads every block and sums them at scrape time.
 * Routes and upstreams have slots: arrays of counters indexed by a slot
 * number. metrics_new() gives the boot config's routes and upstreams the
 * slots of their config indexes and keeps spare ones; a reload that brings
 * a new name takes a spare slot (metrics_route_slot()), and a name keeps its
 * slot for the process's life. Nothing is hashed or allocated per request.
 *
 * The scrape (metrics_render) writes Prometheus text format 0.0.4 into an
 * evbuffer, which evhttp sends as it is. Other modules add their own
 * families at scrape time through metrics_add_source() and the same
 * metrics_write_* helpers, so the core knows nothing about what they count.
 */
#ifndef TG_METRICS_H
#define TG_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct evbuffer;
struct metrics;

/* The Content-Type of what metrics_render() writes. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* metrics_req()'s <route> for a request that matched no route (404, or a
 * head rejected before routing); any index out of range counts there too. */
#define METRICS_NO_ROUTE -1
/* Its route label. Parentheses never occur in a config name, so it cannot
 * be mistaken for a route. */
#define METRICS_NO_ROUTE_NAME "(none)"

#define METRICS_CODE_N    5          /* status classes 1xx..5xx */
#define METRICS_DUR_N     14         /* duration buckets, +Inf included */
#define METRICS_SOURCES   8          /* metrics_add_source() calls at most */
#define METRICS_MAX_BYTES (4u << 20) /* a scrape larger than this fails */

/* The upper bounds (le) of the duration buckets in nanoseconds, ascending:
 * 1ms 2.5ms 5ms 10ms 25ms 50ms 100ms 250ms 500ms 1s 2.5s 5s 10s (+Inf). */
extern const uint64_t metrics_dur_le_ns[METRICS_DUR_N - 1];

/* Per-upstream counters, the <what> of metrics_ups_inc(). */
enum metrics_ups {
	METRICS_UPS_CONNECT_FAILURES, /* tracegate_upstream_connect_failures_total */
	METRICS_UPS_TIMEOUTS,         /* tracegate_upstream_timeouts_total */
	METRICS_UPS_RETRIES,          /* tracegate_upstream_retries_total */
	METRICS_UPS_POOL_HITS,        /* tracegate_upstream_pool_hits_total */
	METRICS_UPS_POOL_MISSES,      /* tracegate_upstream_pool_misses_total */
	METRICS_UPS_TLS_FAILURES,     /* tracegate_upstream_tls_failures_total */
	METRICS_UPS_TLS_RESUMED,      /* tracegate_upstream_tls_resumed_total */
	METRICS_UPS_CONNS,            /* tracegate_upstream_connections (gauge) */
	METRICS_UPS_N,
};

/* One worker's counters. The pointers are set by metrics_new() and read-only
 * after it; the counters they point to are written by the worker's thread
 * only (a second writer would lose increments) and read by the scrape.
 * Gauges hold this worker's net change (ups minus downs) as two's complement:
 * a connection opens and closes on the same worker, so each block is exact
 * on its own and the scrape adds them up. */
/* Client connection events, summed over the workers. */
enum metrics_conn {
	METRICS_TLS_HANDSHAKES,        /* tracegate_tls_handshakes_total */
	METRICS_TLS_RESUMED,           /* tracegate_tls_resumed_total */
	METRICS_TLS_FAILURES,          /* tracegate_tls_handshake_failures_total */
	METRICS_H2_CONNS,              /* tracegate_h2_connections_total */
	METRICS_H2_STREAMS,            /* tracegate_h2_streams_total */
	METRICS_H2_GOAWAY_RAPID_RESET, /* tracegate_h2_abuse_total{kind="rapid_reset"} */
	METRICS_H2_GOAWAY_FLOOD,       /* ...{kind="control_flood"} */
	METRICS_H2_GOAWAY_PROTOCOL,    /* ...{kind="protocol"}: nghttp2 refused the peer */
	METRICS_H2_STALLED,            /* ...{kind="stalled_stream"}: reset for no progress */
	METRICS_CONN_N,
};

struct metrics_w {
	int n_routes;             /* configured; slot n_routes is METRICS_NO_ROUTE */
	int n_ups;                /* configured upstreams */
	_Atomic uint64_t *req;    /* [(n_routes + 1) * METRICS_CODE_N] */
	_Atomic uint64_t *dur;    /* [(n_routes + 1) * METRICS_DUR_N], per bucket, not cumulative */
	_Atomic uint64_t *dur_ns; /* [n_routes + 1]: sum of the durations */
	_Atomic uint64_t *ups;    /* [n_ups * METRICS_UPS_N] */
	_Atomic uint64_t client;  /* gauge: client connections */
	_Atomic uint64_t conn_ev[METRICS_CONN_N];
};

/* Adds <n> to <c>. Single writer: the owner's load sees its own last store,
 * so load + store is exact without a read-modify-write instruction. */
static inline void metrics_bump(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

/* Returns the index of the duration bucket of <ns>: the first whose bound is
 * >= <ns> (a value on a bound belongs to that bucket, as "le" says), or
 * METRICS_DUR_N - 1 (+Inf). Most requests are fast, so a linear scan from
 * the small end usually stops within a few well-predicted compares. */
static inline int metrics_dur_bucket(uint64_t ns)
{
	int b = 0;

	while (b < METRICS_DUR_N - 1 && ns > metrics_dur_le_ns[b])
		b++;
	return b;
}

/* Counts one request answered on route <route> (an index of the config's
 * routes, or METRICS_NO_ROUTE) with status <status>, which took <dur_ns>
 * nanoseconds. A status below 200 counts as 1xx, one above 599 as 5xx.
 * <mw> may be NULL (no metrics): nothing is counted. <mw>'s thread only. */
static inline void metrics_req(struct metrics_w *mw, int route, int status, uint64_t dur_ns)
{
	int cls = status < 200 ? 0 : status >= 500 ? 4 : status / 100 - 1;

	if (!mw)
		return;
	if ((unsigned)route >= (unsigned)mw->n_routes)
		route = mw->n_routes;
	metrics_bump(&mw->req[route * METRICS_CODE_N + cls], 1);
	metrics_bump(&mw->dur[route * METRICS_DUR_N + metrics_dur_bucket(dur_ns)], 1);
	metrics_bump(&mw->dur_ns[route], dur_ns);
}

/* Adds one to counter <what> of upstream <ups> (a config upstream index);
 * the gauge METRICS_UPS_CONNS moves with metrics_ups_conns_add(). An <ups>
 * out of range or a NULL <mw> counts nothing. <mw>'s thread only. */
static inline void metrics_ups_inc(struct metrics_w *mw, int ups, enum metrics_ups what)
{
	if (!mw || (unsigned)ups >= (unsigned)mw->n_ups)
		return;
	metrics_bump(&mw->ups[ups * METRICS_UPS_N + what], 1);
}

/* Adds <delta> (+1 opened, -1 closed) to the upstream connections gauge of
 * <ups>. As metrics_ups_inc() otherwise. */
static inline void metrics_ups_conns_add(struct metrics_w *mw, int ups, int64_t delta)
{
	if (!mw || (unsigned)ups >= (unsigned)mw->n_ups)
		return;
	metrics_bump(&mw->ups[ups * METRICS_UPS_N + METRICS_UPS_CONNS], (uint64_t)delta);
}

/* Adds <delta> (+1 accepted, -1 closed) to the client connections gauge.
 * <mw> may be NULL. <mw>'s thread only. */
static inline void metrics_conn_inc(struct metrics_w *mw, enum metrics_conn what)
{
	if (mw)
		metrics_bump(&mw->conn_ev[what], 1);
}

static inline void metrics_client_conns_add(struct metrics_w *mw, int64_t delta)
{
	if (mw)
		metrics_bump(&mw->client, (uint64_t)delta);
}

/* Creates the counters of <n_workers> workers for <n_routes> routes named
 * <route_names> and <n_ups> upstreams named <ups_names>, all zero. The names
 * are copied; index i of each array is the index metrics_req() and
 * metrics_ups_inc() take. Returns NULL with errno EINVAL (a count below zero,
 * or over 65536, no worker, a NULL name) or ENOMEM. Boot thread. */
struct metrics *metrics_new(int n_workers, int n_routes, const char *const *route_names, int n_ups,
                            const char *const *ups_names);

/* Frees <m> (NULL is fine). No worker may use its handles any more and no
 * scrape may run. Boot thread. */
void metrics_free(struct metrics *m);

/* The process's registry, for the modules that add sources to it (the
 * filters, in their init()); NULL before main.c sets it. Boot thread. */
void metrics_set_process(struct metrics *m);
struct metrics *metrics_process(void);

/* Returns the counters of worker <w> (0..n_workers-1), or NULL when <w> is
 * out of range. Each block is aligned to and padded to its own cache lines,
 * so workers never write a line another worker writes. Any thread. */
struct metrics_w *metrics_worker(struct metrics *m, int w);

/* Counts one configuration reload: one that took effect when <ok>
 * (tracegate_config_reloads_total), else one that was refused
 * (tracegate_config_reload_failures_total). Any thread. */
void metrics_config_reload(struct metrics *m, bool ok);

/* Returns the slot of route (upstream) <name>: the one it had, or a spare
 * one named now, which the scrape shows from then on. Returns -ENOSPC when
 * no spare slot is left (a restart starts over) or -ENOMEM. Main thread,
 * before any worker counts on the slot. */
int metrics_route_slot(struct metrics *m, const char *name);
int metrics_ups_slot(struct metrics *m, const char *name);

/* A source of extra families for the scrape: appends them to <out> through
 * the metrics_write_* helpers, each family's samples together after its
 * metrics_write_family(), and no family name used elsewhere. Returns 0 or a
 * negative errno, which fails the scrape. Runs on the thread that calls
 * metrics_render(), concurrently with the workers. */
typedef int (*metrics_source_fn)(struct evbuffer *out, void *arg);

/* Has metrics_render() call <fn>(out, <arg>) after the core families, in
 * the order of registration. Returns 0, or -ENOSPC past METRICS_SOURCES.
 * Boot thread, before the first metrics_render(). */
int metrics_add_source(struct metrics *m, metrics_source_fn fn, void *arg);

/* Appends the whole exposition to <out>: the sums over all workers of every
 * core family (every route and upstream, zeros included, so that rate()
 * sees a series from its start), then each source's families. Counters are
 * read one by one while the workers go on, so a scrape is no snapshot of one
 * instant: a counter shows a value between its totals at the scrape's start
 * and end, and a histogram's _count is always its +Inf bucket.
 * Returns 0, -ENOMEM, -EMSGSIZE when <out> grew past METRICS_MAX_BYTES, or
 * a source's error; <out> then holds a partial text to drop. One thread at
 * a time (the admin's). */
int metrics_render(struct metrics *m, struct evbuffer *out);

/* ---- Writers of text format 0.0.4, for the core and for sources ----
 *
 * <name> must match [a-zA-Z_:][a-zA-Z0-9_:]*. <labels> is NULL or an array
 * of name, value pairs ended by a NULL name: {"exporter", "otlp", NULL}.
 * Label names must match [a-zA-Z_][a-zA-Z0-9_]* and not start with "__";
 * values may hold any UTF-8 (backslash, double quote and newline are
 * escaped). Each returns 0, -EINVAL for a bad name (nothing is written), or
 * -ENOMEM. Any thread, on an <out> of its own. */

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

/* Writes the "# HELP" and "# TYPE" lines of family <name>; <help> is one
 * line of text (backslash and newline are escaped). */
int metrics_write_family(struct evbuffer *out, const char *name, enum metrics_type type,
                         const char *help);

/* Writes one sample of <name> with <labels> and value <v>. */
int metrics_write_u64(struct evbuffer *out, const char *name, const char *const *labels,
                      uint64_t v);
int metrics_write_i64(struct evbuffer *out, const char *name, const char *const *labels, int64_t v);
/* NaN, +Inf and -Inf as Prometheus spells them; otherwise the shortest text
 * that reads back as <v>. */
int metrics_write_f64(struct evbuffer *out, const char *name, const char *const *labels, double v);

/* Writes the samples of one histogram of family <name> with <labels> (no
 * "le" among them): <n_le> ascending bounds <le_ns> in nanoseconds, shown in
 * seconds; <counts> holds <n_le> + 1 per-bucket counts (the last for +Inf),
 * written cumulative; <sum_ns> the sum of the observations. Prints
 * name_bucket for each bound and +Inf, then name_sum and name_count. */
int metrics_write_histogram(struct evbuffer *out, const char *name, const char *const *labels,
                            const uint64_t *le_ns, int n_le, const uint64_t *counts,
                            uint64_t sum_ns);

#endif
