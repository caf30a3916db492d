/* otlp_decode.h: reading OTLP/HTTP trace exports sent to the gateway.
 *
 * The services behind the gateway may point their OpenTelemetry SDKs at its
 * admin listener (POST /v1/traces), so that their spans join ours in the
 * embedded trace store. These decoders turn the body of such a request, an
 * ExportTraceServiceRequest in protobuf or in OTLP's JSON mapping, into one
 * flat record per span. The body comes from the network: every length is
 * checked, nesting is bounded, and a malformed body is refused whole.
 */
#ifndef TG_OTLP_DECODE_H
#define TG_OTLP_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hard cap on a body, whatever the caller allows: a sanity bound, since
 * the JSON decoder builds a tree several times the body's size. */
#define OTLP_DECODE_BODY_MAX (32u << 20)

/* Array and key-value-list attribute values nested deeper than this refuse
 * the request. */
#define OTLP_DECODE_DEPTH 16

/* Members kept per JSON object rendered (a span's attributes, an event's,
 * a key-value list): the OpenTelemetry SDKs' default attribute count
 * limit. Further ones, repeated keys (the first is kept) and keys with a
 * NUL byte are left out, and counted in <dropped_attrs> when they are the
 * span's own. */
#define OTLP_DECODE_MEMBERS 128

/* One span, as the callback sees it. The pointers are borrowed: they stay
 * valid until the callback returns, and are not NUL-terminated. */
struct otlp_span_in {
	uint8_t trace_id[16];      /* never all zero */
	uint8_t span_id[8];        /* never all zero */
	uint8_t parent_id[8];      /* all zero when !has_parent */
	bool has_parent;           /* a parent_span_id of 8 bytes, not all zero */
	int kind;                  /* OTLP SpanKind, 0..5; unknown numbers read as 0 */
	int status;                /* OTLP StatusCode, 0..2; unknown numbers read as 0 */
	uint64_t start_ns, end_ns; /* unix nanoseconds, as sent (0 when absent) */
	uint32_t dropped_attrs;    /* the sender's count plus the members left out here */
	const char *name;          /* as sent: protobuf strings are not checked */
	size_t name_len;           /* for UTF-8, so write them with jsonw_str() */
	const char *service;       /* the resource's service.name; may be empty */
	size_t service_len;
	/* The attributes as one JSON object, {"key":value,...}: strings, numbers
	 * (ints exact, doubles shortest, NaN and infinities as "NaN",
	 * "Infinity", "-Infinity"), booleans, bytes as base64 strings, arrays,
	 * key-value lists as objects, an empty value as null. Valid JSON: bytes
	 * that are not UTF-8 become U+FFFD. */
	const char *attrs_json;
	size_t attrs_len;
	/* The events, [{"name":"..","timeUnixNano":"..","attributes":{..}},...],
	 * "attributes" only when the event has some; "[]" when none. */
	const char *events_json;
	size_t events_len;
};

/* Called once per valid span with <arg> as given; 0 goes on, nonzero stops
 * the decoding (the spans after it are not delivered). */
typedef int (*otlp_span_cb)(void *arg, const struct otlp_span_in *s);

/* Decodes the ExportTraceServiceRequest at <body,len>: protobuf
 * (application/x-protobuf) or OTLP/JSON (application/json). OTLP/JSON is
 * proto3's JSON mapping with lowerCamelCase keys and unknown keys ignored;
 * ids may be hex (OTLP) or base64 (proto3); enums numbers or names; 64-bit
 * integers strings or numbers (a number past INT64_MAX refuses the body:
 * jansson reads no larger integer). JSON text that is not UTF-8, or with a
 * repeated key, is refused. An empty protobuf body is an empty request.
 *
 * The whole body is checked before any span is delivered, so -1 means
 * that <cb> was never called. A body is refused when it is not well-formed
 * protobuf (truncated, a varint over 10 bytes, a length past the end of its
 * message, a group or reserved wire type) or JSON, when a field that the
 * decoder reads has the wrong wire type or JSON type, or when a value nests
 * deeper than OTLP_DECODE_DEPTH. Fields it does not read (links, scopes,
 * trace_state, flags, schema URLs) are skipped unchecked.
 *
 * A span with an invalid id (a trace_id that is not 16 bytes, a span_id
 * that is not 8, either all zero, a parent_span_id neither empty nor 8
 * bytes) is skipped, not delivered: OTLP asks receivers to drop such spans.
 * The count goes to *<skipped> when <skipped> is not NULL.
 *
 * Returns the number of spans <cb> returned 0 for (with <cb> NULL: only
 * checks, and returns the number of valid spans), or -1 with a one-line
 * reason in <err> (at most <errlen> bytes with the NUL; <err> may be NULL).
 * On success <err> holds why the first skipped span was skipped, or "" if
 * none was: what an OTLP partial_success.error_message would say.
 *
 * Any thread may call these; nothing is shared between calls. A call takes
 * about 9 KiB of stack and a few buffers, freed before it returns; the JSON
 * decoder also holds the body's jansson tree for the call, and jansson's
 * parser recurses once per nesting level, to its limit of 2048: up to
 * about 200 KiB of stack (measured), so not for a thread with a small one.
 */
int otlp_decode_pb(const void *body, size_t len, otlp_span_cb cb, void *arg, size_t *skipped,
                   char *err, size_t errlen);
int otlp_decode_json(const void *body, size_t len, otlp_span_cb cb, void *arg, size_t *skipped,
                     char *err, size_t errlen);

#endif
