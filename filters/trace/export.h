/* export.h: from finished spans on the workers to the exporters.
 *
 * Each worker owns a single-producer ring of span records; it fills a slot in
 * place and publishes it with one release store: no lock, no allocation, no
 * syscall (except a wake-up write when the ring crosses half full). One
 * exporter thread drains every ring every delay_ms, or sooner when woken, and
 * hands the spans to the configured exporters. A full ring drops the span
 * and counts it: a request never waits for an exporter.
 */
#ifndef TG_EXPORT_H
#define TG_EXPORT_H

#include <stdint.h>

#include "trace/span.h"

struct cfg;
struct trace_cfg;

/* Why spans were lost, for the counters. */
enum export_drop {
	EXPORT_DROP_QUEUE_FULL,
	EXPORT_DROP_EXPORT_FAILED,
	EXPORT_DROP_N,
};

/* Starts the pipeline for <c> (one ring per worker) and the exporters named
 * in <tc>. Returns 0 or a negative errno, having logged why. Boot thread. */
int export_init(const struct cfg *c, const struct trace_cfg *tc);

/* Drains the rings one last time, flushes the exporters, stops the thread
 * and logs the span counters. Boot thread, after the workers have stopped. */
void export_deinit(void);

/* Returns the next free slot of worker <worker>'s ring, reset for filling,
 * or NULL when the ring is full (the span is dropped and counted). The slot
 * is published by export_commit(); until then the exporter does not see it.
 * One call before each commit. Worker <worker>'s thread only. */
struct span *export_reserve(int worker);
void export_commit(int worker);

/* An exporter: where batches of spans go. Its hooks run on the exporter
 * thread only, so they may block (bounded by their own timeouts). */
struct exporter_ops {
	const char *name;
	/* Returns 0 and its state in *<st>, or a negative errno (logged). */
	int (*open)(const struct cfg *c, void **st);
	/* Takes <n> spans; returns how many it accepted (the rest are counted
	 * as export_failed). */
	int (*write)(void *st, const struct span *const *spans, int n);
	void (*close)(void *st);
};

extern const struct exporter_ops jsonl_exporter;

/* Totals since export_init(), for tests and logs. Any thread. */
uint64_t export_exported(void);
uint64_t export_dropped(enum export_drop why);

#endif
