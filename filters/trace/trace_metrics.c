/* trace_metrics.c: the tracing filter's families on /metrics, added to the
 * process's registry as a source (metrics_add_source()): the core knows
 * nothing of spans. Runs on the admin thread at scrape time, reading the
 * workers' counter blocks and the exporters' counters without locks.
 */
#include <errno.h>

#include "metrics.h"
#include "trace/export.h"
#include "trace/store.h"
#include "trace/trace.h"

static struct {
	struct trace_counters *cnt;
	int n;
} tm;

/* Writes one family of one sample per exporter, <value> picking it. */
static int trace_metrics_per_exporter(struct evbuffer *out, const char *name,
                                      enum metrics_type type, const char *help,
                                      uint64_t (*value)(const struct export_stats *st))
{
	struct export_stats st;
	int err = metrics_write_family(out, name, type, help);

	for (int i = 0; !err && export_stats(i, &st); i++) {
		const char *labels[] = {"exporter", st.name, NULL};

		err = metrics_write_u64(out, name, labels, value(&st));
	}
	return err;
}

static uint64_t trace_metrics_exported(const struct export_stats *st)
{
	return st->exported;
}

static uint64_t trace_metrics_queued(const struct export_stats *st)
{
	return st->queued;
}

static uint64_t trace_metrics_retries(const struct export_stats *st)
{
	return st->retries;
}

static uint64_t trace_metrics_sends(const struct export_stats *st)
{
	return st->sends;
}

/* OTLP the services posted to the admin listener. */
static int trace_metrics_ingest(struct evbuffer *out)
{
	const char *ok[] = {"result", "accepted", NULL}, *bad[] = {"result", "rejected", NULL};
	struct trace_ingest_stats *in = &trace_ingest;
	int err;

	if ((err = metrics_write_family(out, "tracegate_ingest_requests_total", METRICS_COUNTER,
	                                "OTLP exports posted to the admin listener")) ||
	    (err = metrics_write_u64(out, "tracegate_ingest_requests_total", ok,
	                             atomic_load_explicit(&in->requests, memory_order_relaxed))) ||
	    (err = metrics_write_u64(out, "tracegate_ingest_requests_total", bad,
	                             atomic_load_explicit(&in->rejected, memory_order_relaxed))) ||
	    (err = metrics_write_family(out, "tracegate_ingest_spans_total", METRICS_COUNTER,
	                                "spans from services stored for the viewer")) ||
	    (err = metrics_write_u64(out, "tracegate_ingest_spans_total", NULL,
	                             atomic_load_explicit(&in->spans, memory_order_relaxed))) ||
	    (err = metrics_write_family(out, "tracegate_ingest_invalid_spans_total",
	                                METRICS_COUNTER, "posted spans left out: invalid ids")))
		return err;
	return metrics_write_u64(out, "tracegate_ingest_invalid_spans_total", NULL,
	                         atomic_load_explicit(&in->skipped, memory_order_relaxed));
}

static int trace_metrics_source(struct evbuffer *out, void *arg)
{
	uint64_t started = 0, sampled = 0;
	struct export_stats st;
	int err;

	(void)arg;
	for (int i = 0; i < tm.n; i++) {
		started += atomic_load_explicit(&tm.cnt[i].started, memory_order_relaxed);
		sampled += atomic_load_explicit(&tm.cnt[i].sampled, memory_order_relaxed);
	}
	if ((err = metrics_write_family(out, "tracegate_spans_started_total", METRICS_COUNTER,
	                                "SERVER and CLIENT spans begun, sampled or not")) ||
	    (err = metrics_write_u64(out, "tracegate_spans_started_total", NULL, started)) ||
	    (err = metrics_write_family(out, "tracegate_spans_sampled_total", METRICS_COUNTER,
	                                "spans begun with the sampled flag: recorded")) ||
	    (err = metrics_write_u64(out, "tracegate_spans_sampled_total", NULL, sampled)))
		return err;
	if ((err = trace_metrics_per_exporter(out, "tracegate_spans_exported_total",
	                                      METRICS_COUNTER, "spans the backend acknowledged",
	                                      trace_metrics_exported)) ||
	    (err = trace_metrics_per_exporter(out, "tracegate_export_queue_spans", METRICS_GAUGE,
	                                      "spans waiting for the exporter",
	                                      trace_metrics_queued)) ||
	    (err = trace_metrics_per_exporter(out, "tracegate_export_retries_total",
	                                      METRICS_COUNTER, "export attempts after a first",
	                                      trace_metrics_retries)) ||
	    (err = trace_metrics_per_exporter(out, "tracegate_exports_total", METRICS_COUNTER,
	                                      "batches handed to the exporter",
	                                      trace_metrics_sends)))
		return err;
	if ((err = metrics_write_family(out, "tracegate_export_seconds_total", METRICS_COUNTER,
	                                "time spent exporting batches, retries included")))
		return err;
	for (int i = 0; !err && export_stats(i, &st); i++) {
		const char *labels[] = {"exporter", st.name, NULL};

		err = metrics_write_f64(out, "tracegate_export_seconds_total", labels,
		                        (double)st.send_ns / 1e9);
	}
	if (err ||
	    (err = metrics_write_family(out, "tracegate_spans_dropped_total", METRICS_COUNTER,
	                                "spans lost, by exporter and reason")))
		return err;
	for (int i = 0; !err && export_stats(i, &st); i++) {
		for (int d = 0; !err && d < EXPORT_DROP_N; d++) {
			const char *labels[] = {"exporter", st.name, "reason", export_drop_name[d],
			                        NULL};

			err = metrics_write_u64(out, "tracegate_spans_dropped_total", labels,
			                        st.dropped[d]);
		}
	}
	if (!err && store_enabled()) {
		struct store_stats ss;

		store_stats(&ss);
		if ((err = metrics_write_family(out, "tracegate_store_traces", METRICS_GAUGE,
		                                "traces the viewer's store holds")) ||
		    (err = metrics_write_u64(out, "tracegate_store_traces", NULL, ss.traces)) ||
		    (err = metrics_write_family(out, "tracegate_store_bytes", METRICS_GAUGE,
		                                "memory the viewer's store uses")) ||
		    (err = metrics_write_u64(out, "tracegate_store_bytes", NULL, ss.bytes)) ||
		    (err = metrics_write_family(out, "tracegate_store_evicted_traces_total",
		                                METRICS_COUNTER,
		                                "traces evicted to stay in bounds")))
			return err;
		err = metrics_write_u64(out, "tracegate_store_evicted_traces_total", NULL,
		                        ss.evicted);
	}
	if (!err && store_enabled())
		err = trace_metrics_ingest(out);
	return err;
}

int trace_metrics_init(struct trace_counters *cnt, int n)
{
	struct metrics *m = metrics_process();

	tm.cnt = cnt;
	tm.n = n;
	/* unit tests and tools run the filter without a registry */
	return m ? metrics_add_source(m, trace_metrics_source, NULL) : 0;
}
