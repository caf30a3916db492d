/* trace.h: the tracing filter: its configuration ([tracing], overridable
 * per [route]; [exporter.*]) and its ops for the filter chain.
 *
 * The filter reads the caller's trace context (W3C, B3), decides sampling
 * per route, opens a SERVER span per request and a CLIENT span per upstream
 * attempt, rewrites the propagation headers and hands finished spans to the
 * export pipeline (export.h). Everything it keeps per request lives in the
 * txn's arena.
 */
#ifndef TG_TRACE_H
#define TG_TRACE_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "filter.h"

struct cfg;
struct cfg_route;

/* What to do with a caller's trace context (parent = ...). */
enum trace_parent {
	TRACE_PARENT_HONOR,        /* keep its trace-id and its sampled decision */
	TRACE_PARENT_IGNORE,       /* keep its trace-id, decide ourselves */
	TRACE_PARENT_RESTART,      /* new trace; the caller's context dropped */
	TRACE_PARENT_RESTART_LINK, /* new trace, linked to the caller's context */
};

/* Propagation formats, for extract (ordered) and inject (a set). */
#define TRACE_PROP_W3C     0x1u
#define TRACE_PROP_B3      0x2u /* single "b3" header */
#define TRACE_PROP_B3MULTI 0x4u /* X-B3-* headers */

/* Exporters, in the order [tracing] exporters knows them. */
enum trace_exp {
	TRACE_EXP_OTLP,
	TRACE_EXP_ZIPKIN,
	TRACE_EXP_JSONL,
	TRACE_EXP_MEMORY,
	TRACE_EXP_N,
};

#define TRACE_CIDR_MAX 16

struct trace_cidr {
	sa_family_t family;
	uint8_t bits;
	uint8_t addr[16];
};

struct trace_cidrs {
	int n;
	struct trace_cidr v[TRACE_CIDR_MAX];
};

/* [tracing]; each route sees its own copy with its overrides applied. */
struct trace_cfg {
	bool enabled;
	double sample_ratio;
	int parent; /* enum trace_parent */
	uint32_t max_traces_per_second;
	uint8_t extract[3]; /* TRACE_PROP_W3C / TRACE_PROP_B3, in order, 0-terminated */
	unsigned inject;    /* TRACE_PROP_* */
	bool server_timing;
	bool traceresponse;
	bool record_query;
	char *trace_id_header;
	char *force_header;
	struct trace_cidrs force_from;
	unsigned exporters; /* 1 << enum trace_exp */
	uint32_t ring_spans;
	uint32_t flush_timeout_ms;
};

/* The protocol and compression keys, in the order of their words. */
enum trace_otlp_proto { TRACE_OTLP_PROTOBUF, TRACE_OTLP_JSON };
enum trace_compression { TRACE_COMPRESS_NONE, TRACE_COMPRESS_GZIP };

/* [exporter.otlp], [exporter.zipkin] and [exporter.jsonl]: one struct, each
 * section's table naming the keys that apply to it. */
struct trace_exp_cfg {
	uint32_t queue_size; /* spans waiting for this exporter */
	uint32_t batch_size; /* spans per export */
	uint32_t delay_ms;   /* longest wait of a span before its batch goes */
	uint32_t timeout_ms; /* one export attempt */
	uint32_t retry_ms;   /* retries of one batch, in all */
	char *endpoint;      /* otlp, zipkin: the URL */
	int protocol;        /* otlp: enum trace_otlp_proto */
	int compression;     /* otlp, zipkin: enum trace_compression */
	char *headers;       /* otlp, zipkin: "name=value, ..." sent with each export */
	char *ca_file;       /* otlp, zipkin: trust anchors for https://; NULL = system */
	char *path;          /* jsonl: "stdout", "stderr" or a file */
	uint32_t max_traces; /* memory: traces kept */
	uint64_t max_bytes;  /* memory: bytes kept */
};

extern const struct flt_ops trace_flt_ops;

/* Registers [tracing] and the [exporter.*] sections with the config loader. Returns
 * 0 or a negative errno. Boot thread, before cfg_load(). */
int trace_cfg_declare(void);

/* Returns the [tracing] values of <c> (defaults when the section is absent),
 * or as route <r> sees them when <r> is not NULL. */
const struct trace_cfg *trace_cfg_get(const struct cfg *c, const struct cfg_route *r);

/* Returns the [exporter.<name of e>] values of <c> (defaults when the
 * section is absent), and the exporter's name in *<name> when not NULL. */
const struct trace_exp_cfg *trace_cfg_exporter(const struct cfg *c, enum trace_exp e,
                                               const char **name);

/* Per worker, spans the filter started and sampled: written by that
 * worker only (a relaxed load and store), summed by the metrics scrape. */
struct trace_counters {
	alignas(128) _Atomic uint64_t started;
	_Atomic uint64_t sampled;
};

/* Adds the filter's families to the process's metrics (metrics.h): the
 * counters of <cnt> (<n> workers) and the exporters'. Returns 0 or a
 * negative errno. Boot thread, after export_init(). */
int trace_metrics_init(struct trace_counters *cnt, int n);

/* OTLP posted to the admin listener (POST /v1/traces), for the metrics:
 * written by the admin thread only. */
struct trace_ingest_stats {
	_Atomic uint64_t requests; /* accepted */
	_Atomic uint64_t rejected; /* malformed: 400 */
	_Atomic uint64_t spans;    /* stored */
	_Atomic uint64_t skipped;  /* invalid spans left out of accepted requests */
};
extern struct trace_ingest_stats trace_ingest;

/* Adds the trace store's API to the admin listener when the store is on.
 * Returns 0 or a negative errno. Boot thread, after export_init(). */
int trace_admin_init(void);

/* Returns true when address <sa> is inside one of <set>. */
bool trace_cidrs_match(const struct trace_cidrs *set, const struct sockaddr *sa);

#endif
