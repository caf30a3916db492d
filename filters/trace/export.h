/* export.h: from finished spans on the workers to the exporters.
 *
 * Each worker owns a single-producer ring of span records; it fills a slot in
 * place and publishes it with one release store: no lock, no allocation, no
 * syscall (except a wake-up write when the ring crosses half full). A drain
 * thread empties every ring into one bounded queue per exporter, and each
 * exporter runs on a thread of its own: it takes up to batch_size spans, or
 * what waited delay_ms, and sends them. A full ring or queue drops the span
 * and counts it; a slow or dead backend holds up its own queue only, and a
 * request never waits for any of it.
 */
#ifndef TG_EXPORT_H
#define TG_EXPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "trace/span.h"

struct cfg;
struct trace_cfg;
struct trace_exp_cfg;

/* Why spans were lost, for the counters. */
enum export_drop {
	EXPORT_DROP_QUEUE_FULL,    /* a worker ring or the exporter's queue was full */
	EXPORT_DROP_EXPORT_FAILED, /* retries ran out, or the backend cannot be reached */
	EXPORT_DROP_NON_RETRYABLE, /* the backend refused the batch (400...) */
	EXPORT_DROP_SHUTDOWN,      /* still queued when flush_timeout_ms ran out */
	EXPORT_DROP_N,
};

extern const char *const export_drop_name[EXPORT_DROP_N];

/* Starts the pipeline for <c> (one ring per worker), the exporters named in
 * <tc> and their threads. Returns 0 or a negative errno, having logged why.
 * Boot thread. */
int export_init(const struct cfg *c, const struct trace_cfg *tc);

/* Drains the rings one last time, gives the exporters flush_timeout_ms to
 * send what they hold, stops the threads and logs the counters. Boot
 * thread, after the workers have stopped. */
void export_deinit(void);

/* Has every running exporter that writes a file reopen it. Main thread. */
void export_reopen(void);

/* Returns the next free slot of worker <worker>'s ring, reset for filling,
 * or NULL when the ring is full (the span is dropped and counted). The slot
 * is published by export_commit(); until then the exporter does not see it.
 * One call before each commit. Worker <worker>'s thread only. */
struct span *export_reserve(int worker);
void export_commit(int worker);

/* What an exporter's send() returns for its batch. */
enum export_status {
	EXPORT_SENT,     /* the backend acknowledged it */
	EXPORT_FAILED,   /* given up: retries ran out, or no way to deliver */
	EXPORT_REJECTED, /* the backend answered that it will never take it */
	EXPORT_STOPPED,  /* shutdown began (stop_fd) or the flush deadline came */
};

/* The bounds of one send() call. */
struct export_ctl {
	int stop_fd;               /* polled, never read: readable once shutdown began; -1 = none */
	uint64_t deadline_ns;      /* CLOCK_MONOTONIC; 0 = none: the flush deadline at shutdown */
	_Atomic uint64_t *retries; /* send() adds its retries here (relaxed, single writer) */
};

/* An exporter: where batches of spans go. Its hooks run on its own thread
 * only, so they may block, bounded by their own timeouts and <ctl>. */
struct exporter_ops {
	/* Returns 0 and its state in *<st>, or a negative errno (logged). */
	int (*open)(const struct cfg *c, const struct trace_exp_cfg *ec, void **st);
	enum export_status (*send)(void *st, const struct span *const *spans, int n,
	                           const struct export_ctl *ctl);
	void (*close)(void *st);
	/* Optional, main thread, concurrently with send(): reopens the file
	 * written to (SIGUSR1). */
	void (*reopen)(void *st);
};

extern const struct exporter_ops otlp_exporter;
extern const struct exporter_ops zipkin_exporter;
extern const struct exporter_ops jsonl_exporter;
extern const struct exporter_ops memory_exporter;

/* One exporter's counters since export_init(). */
struct export_stats {
	const char *name; /* "otlp", "zipkin", "jsonl", "memory" */
	uint64_t queued;  /* waiting now */
	uint64_t exported;
	uint64_t dropped[EXPORT_DROP_N];
	uint64_t sends;   /* send() calls: batches */
	uint64_t send_ns; /* time spent in them, retries included */
	uint64_t retries; /* attempts after a batch's first */
};

/* Fills <st> for the <i>th running exporter; returns false past the last.
 * Any thread. */
bool export_stats(int i, struct export_stats *st);

#endif
