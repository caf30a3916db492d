/* span.h: a finished span as the exporters see it.
 *
 * A fixed-size record, filled in place in a worker's export ring and read by
 * the exporter thread: ids, kind, status, unix-nanosecond times, the client
 * attempt's timing events, at most one link, and attributes whose keys come
 * from a fixed table of OpenTelemetry semantic-convention names and whose
 * string values share one bounded byte area. Nothing in it points outside
 * the record, so it crosses threads by value.
 */
#ifndef TG_SPAN_H
#define TG_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SPAN_ATTR_MAX 32
#define SPAN_STR_MAX  1024 /* name, tracestate and string attribute values */

/* OTLP's SpanKind and StatusCode numbers. */
enum span_kind { SPAN_KIND_SERVER = 2, SPAN_KIND_CLIENT = 3 };
enum span_status { SPAN_ST_UNSET = 0, SPAN_ST_OK = 1, SPAN_ST_ERROR = 2 };

/* Events of an upstream attempt, in the order they happen. */
enum span_ev {
	SPAN_EV_CONNECT_START,
	SPAN_EV_CONNECT_END,
	SPAN_EV_TLS_END,
	SPAN_EV_REQUEST_SENT,
	SPAN_EV_FIRST_BYTE,
	SPAN_EV_LAST_BYTE,
	SPAN_EV_N,
};

enum span_attr_key {
	SPAN_A_HTTP_REQUEST_METHOD,
	SPAN_A_HTTP_REQUEST_METHOD_ORIGINAL,
	SPAN_A_URL_PATH,
	SPAN_A_URL_QUERY,
	SPAN_A_URL_SCHEME,
	SPAN_A_HTTP_ROUTE,
	SPAN_A_HTTP_RESPONSE_STATUS_CODE,
	SPAN_A_HTTP_RESEND_COUNT,
	SPAN_A_SERVER_ADDRESS,
	SPAN_A_SERVER_PORT,
	SPAN_A_CLIENT_ADDRESS,
	SPAN_A_CLIENT_PORT,
	SPAN_A_USER_AGENT,
	SPAN_A_NET_PROTOCOL_VERSION,
	SPAN_A_NET_PEER_ADDRESS,
	SPAN_A_NET_PEER_PORT,
	SPAN_A_ERROR_TYPE,
	SPAN_A_PEER_SERVICE,
	SPAN_A_TG_ROUTE,
	SPAN_A_TG_UPSTREAM,
	SPAN_A_RPC_SYSTEM,
	SPAN_A_RPC_SERVICE,
	SPAN_A_RPC_METHOD,
	SPAN_A_RPC_GRPC_STATUS_CODE,
	SPAN_A_N,
};

enum span_attr_type { SPAN_T_STR, SPAN_T_INT };

struct span_attr {
	uint8_t key;  /* enum span_attr_key */
	uint8_t type; /* enum span_attr_type */
	uint16_t len; /* SPAN_T_STR: bytes at str + off */
	uint16_t off;
	int64_t i; /* SPAN_T_INT */
};

struct span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_id[8]; /* all zero for a root span */
	uint8_t flags;        /* W3C trace-flags sent with this span's context */
	uint8_t kind;         /* enum span_kind */
	uint8_t status;       /* enum span_status */
	uint8_t n_attrs;
	uint8_t dropped_attrs; /* did not fit: counted, as OTLP wants */
	bool has_link;
	uint8_t link_trace_id[16];
	uint8_t link_span_id[8];
	uint8_t link_flags;
	uint16_t name_off, name_len;
	uint16_t ts_off, ts_len;   /* tracestate, as propagated */
	uint64_t start_ns, end_ns; /* unix nanoseconds */
	uint64_t ev_ns[SPAN_EV_N]; /* unix nanoseconds; 0 = did not happen */
	struct span_attr attrs[SPAN_ATTR_MAX];
	uint16_t str_len;
	char str[SPAN_STR_MAX];
};

/* The semantic-convention name of each attribute key ("http.request.method"). */
extern const char *const span_attr_name[SPAN_A_N];

/* The event names ("connect_start", ...). */
extern const char *const span_ev_name[SPAN_EV_N];

/* Clears <s> for reuse: no attributes, no strings, no events, no link. */
void span_reset(struct span *s);

/* Sets the span name to <v,len> (cut to what fits). */
void span_set_name(struct span *s, const char *v, size_t len);

/* Stores the tracestate <v,len> the span's context carried (left out when it
 * does not fit whole: a cut tracestate would be a wrong one). */
void span_set_tracestate(struct span *s, const char *v, size_t len);

/* Adds string attribute <key> = <v,len>. A value that does not fit in what
 * is left of the string area is cut; an attribute beyond SPAN_ATTR_MAX is
 * dropped and counted. */
void span_attr_str(struct span *s, enum span_attr_key key, const char *v, size_t len);
void span_attr_int(struct span *s, enum span_attr_key key, int64_t v);

/* Does <s> have a parent? A root span's parent_id is all zero. */
static inline bool span_has_parent(const struct span *s)
{
	uint64_t v;

	memcpy(&v, s->parent_id, sizeof(v));
	return v != 0;
}

/* Returns the string of <s> at <off,len> as a pointer into the record. */
static inline const char *span_str(const struct span *s, uint16_t off)
{
	return s->str + off;
}

#endif
