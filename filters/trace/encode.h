/* encode.h: span batches as the backends want them.
 *
 * Each encoder appends one complete request body for <n> spans to a tbuf:
 * an OTLP ExportTraceServiceRequest in protobuf or in OTLP's JSON mapping,
 * or a Zipkin v2 span list. They run on the exporter threads, read the span
 * records (span.h) and the process's resource, and never fail except for
 * memory (the tbuf's <failed> flag).
 */
#ifndef TG_ENCODE_H
#define TG_ENCODE_H

#include "trace/span.h"
#include "trace/tbuf.h"

/* Who produced the spans: the OTel resource and instrumentation scope. */
struct export_resource {
	const char *service_name;    /* service.name; Zipkin's localEndpoint */
	const char *service_version; /* service.version; NULL = left out */
	const char *host_name;       /* host.name; NULL = left out */
	                             /* telemetry.sdk.name/language/version and the scope are fixed:
	                              * "tracegate", "c", TG_VERSION */
};

/* Appends the body to <b>; returns 0, or -1 when <b> ran out of memory. */
int otlp_pb_encode(struct tbuf *b, const struct export_resource *res,
                   const struct span *const *spans, int n);
int otlp_json_encode(struct tbuf *b, const struct export_resource *res,
                     const struct span *const *spans, int n);
int zipkin_encode(struct tbuf *b, const struct export_resource *res,
                  const struct span *const *spans, int n);

#endif
