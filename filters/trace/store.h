/* store.h: the embedded trace store behind the viewer (exporters = memory).
 *
 * Keeps the most recent traces in memory, assembled by trace-id, bounded by
 * a number of traces and of bytes: the oldest trace goes first. Spans come
 * from the gateway's own export pipeline and from services that post OTLP
 * to the admin listener; the admin thread reads them back as the JSON of
 * /api/traces. One mutex: writers are the memory exporter's thread and the
 * admin thread, readers the admin thread, none of them on the request path.
 */
#ifndef TG_STORE_H
#define TG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/tbuf.h"

/* A span as the store takes it; strings need not be NUL-terminated and are
 * copied. <attrs_json> is a JSON object, <events_json> a JSON array (or
 * empty): rendered by the caller, kept as they are. */
struct store_span_in {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_id[8];
	bool has_parent;
	const char *name;
	size_t name_len;
	int kind;   /* OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer */
	int status; /* OTLP StatusCode: 0 unset, 1 ok, 2 error */
	uint64_t start_ns, end_ns;
	const char *service;
	size_t service_len;
	const char *attrs_json;
	size_t attrs_len;
	const char *events_json;
	size_t events_len;
	/* What the trace list shows, when the span knows it (our SERVER span):
	 * the route's name and the response status; NULL / 0 otherwise. */
	const char *route;
	size_t route_len;
	int http_status;
};

/* A /api/traces query; zero values filter nothing. */
struct store_query {
	const char *route;
	const char *service;
	uint64_t min_duration_ns;
	bool errors_only;
	int limit; /* at most this many traces, newest first */
};

/* Creates the store. Returns 0 or -ENOMEM. Boot thread. */
int store_init(uint32_t max_traces, uint64_t max_bytes);
void store_free(void);

/* Is there a store? */
bool store_enabled(void);

/* Adds <s> to its trace (created when new; evicting the oldest traces when
 * over the bounds). Returns 0 or -ENOMEM. Any thread. */
int store_add(const struct store_span_in *s);

/* Appends {"traces":[...],"total":N} for <q> to <out>. Any thread. */
void store_list_json(struct tbuf *out, const struct store_query *q);

/* Appends {"traceId":..,"spans":[...]} for <trace_id> to <out>; returns
 * false when the store does not hold that trace. Any thread. */
bool store_trace_json(struct tbuf *out, const uint8_t trace_id[16]);

/* Totals since store_init(), for metrics and tests. Any thread. */
struct store_stats {
	uint64_t traces, spans, bytes; /* held now */
	uint64_t evicted;              /* traces evicted to stay in bounds */
};
void store_stats(struct store_stats *st);

#endif
