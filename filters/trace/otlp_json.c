/* otlp_json.c: a batch of spans as an OTLP ExportTraceServiceRequest in
 * OTLP's JSON mapping, the body the OTLP/HTTP exporter posts to /v1/traces
 * when protocol = json.
 *
 * Runs on an exporter thread. The mapping is proto3's JSON with OTLP's
 * changes: ids in hex, enums as numbers, 64-bit integers as decimal strings,
 * and fields at their default value left out, as protobuf would.
 */
#include "trace/encode.h"
#include "trace/jsonw.h"

/* Span.flags (OTLP's SpanFlags): bits 0-7 are the W3C trace-flags; these
 * say whether the parent, or the linked span, lives in another process. */
#define OTLP_JSON_F_HAS_IS_REMOTE 0x100u
#define OTLP_JSON_F_IS_REMOTE     0x200u

/* Appends one {"key":<k>,"value":{"stringValue":<v,n>}} element. */
static void otlp_json_kv_str(struct tbuf *b, const char *k, const char *v, size_t n)
{
	jsonw_sep(b);
	tbuf_lit(b, "{\"key\":");
	jsonw_cstr(b, k);
	tbuf_lit(b, ",\"value\":{\"stringValue\":");
	jsonw_str(b, v, n);
	tbuf_lit(b, "}}");
}

static void otlp_json_kv_int(struct tbuf *b, const char *k, int64_t v)
{
	jsonw_sep(b);
	tbuf_lit(b, "{\"key\":");
	jsonw_cstr(b, k);
	tbuf_lit(b, ",\"value\":{\"intValue\":");
	jsonw_qi64(b, v);
	tbuf_lit(b, "}}");
}

static void otlp_json_resource(struct tbuf *b, const struct export_resource *res)
{
	tbuf_lit(b, "\"resource\":{\"attributes\":[");
	if (res->service_name)
		otlp_json_kv_str(b, "service.name", res->service_name, strlen(res->service_name));
	if (res->service_version)
		otlp_json_kv_str(b, "service.version", res->service_version,
		                 strlen(res->service_version));
	if (res->host_name)
		otlp_json_kv_str(b, "host.name", res->host_name, strlen(res->host_name));
	otlp_json_kv_str(b, "telemetry.sdk.name", "tracegate", 9);
	otlp_json_kv_str(b, "telemetry.sdk.language", "c", 1);
	otlp_json_kv_str(b, "telemetry.sdk.version", TG_VERSION, strlen(TG_VERSION));
	tbuf_lit(b, "]}");
}

static void otlp_json_attrs(struct tbuf *b, const struct span *s)
{
	if (!s->n_attrs)
		return;
	jsonw_key(b, "attributes");
	tbuf_byte(b, '[');
	for (int i = 0; i < s->n_attrs; i++) {
		const struct span_attr *a = &s->attrs[i];

		if (a->type == SPAN_T_INT)
			otlp_json_kv_int(b, span_attr_name[a->key], a->i);
		else
			otlp_json_kv_str(b, span_attr_name[a->key], span_str(s, a->off), a->len);
	}
	tbuf_byte(b, ']');
	if (s->dropped_attrs) {
		jsonw_key(b, "droppedAttributesCount");
		jsonw_u64(b, s->dropped_attrs);
	}
}

static void otlp_json_events(struct tbuf *b, const struct span *s)
{
	bool open = false;

	for (int i = 0; i < SPAN_EV_N; i++) {
		if (!s->ev_ns[i])
			continue;
		if (!open) {
			jsonw_key(b, "events");
			tbuf_byte(b, '[');
			open = true;
		}
		jsonw_sep(b);
		tbuf_lit(b, "{\"timeUnixNano\":");
		jsonw_qu64(b, s->ev_ns[i]);
		tbuf_lit(b, ",\"name\":");
		jsonw_cstr(b, span_ev_name[i]);
		tbuf_byte(b, '}');
	}
	if (open)
		tbuf_byte(b, ']');
}

static void otlp_json_span(struct tbuf *b, const struct span *s)
{
	bool has_parent = span_has_parent(s);
	uint32_t flags = s->flags | OTLP_JSON_F_HAS_IS_REMOTE;

	/* a CLIENT span's parent is our own SERVER span; only a SERVER span
	 * continues a context that came from another process */
	if (has_parent && s->kind == SPAN_KIND_SERVER)
		flags |= OTLP_JSON_F_IS_REMOTE;
	jsonw_sep(b);
	tbuf_lit(b, "{\"traceId\":");
	jsonw_hex(b, s->trace_id, 16);
	tbuf_lit(b, ",\"spanId\":");
	jsonw_hex(b, s->span_id, 8);
	if (s->ts_len) {
		tbuf_lit(b, ",\"traceState\":");
		jsonw_str(b, span_str(s, s->ts_off), s->ts_len);
	}
	if (has_parent) {
		tbuf_lit(b, ",\"parentSpanId\":");
		jsonw_hex(b, s->parent_id, 8);
	}
	tbuf_lit(b, ",\"flags\":");
	jsonw_u64(b, flags);
	if (s->name_len) {
		tbuf_lit(b, ",\"name\":");
		jsonw_str(b, span_str(s, s->name_off), s->name_len);
	}
	if (s->kind) {
		tbuf_lit(b, ",\"kind\":");
		jsonw_u64(b, s->kind);
	}
	if (s->start_ns) {
		tbuf_lit(b, ",\"startTimeUnixNano\":");
		jsonw_qu64(b, s->start_ns);
	}
	if (s->end_ns) {
		tbuf_lit(b, ",\"endTimeUnixNano\":");
		jsonw_qu64(b, s->end_ns);
	}
	otlp_json_attrs(b, s);
	otlp_json_events(b, s);
	if (s->has_link) {
		/* the only link is to the caller's context that
		 * parent = restart_link set aside: a remote one */
		tbuf_lit(b, ",\"links\":[{\"traceId\":");
		jsonw_hex(b, s->link_trace_id, 16);
		tbuf_lit(b, ",\"spanId\":");
		jsonw_hex(b, s->link_span_id, 8);
		tbuf_lit(b, ",\"flags\":");
		jsonw_u64(b, s->link_flags | OTLP_JSON_F_HAS_IS_REMOTE | OTLP_JSON_F_IS_REMOTE);
		tbuf_lit(b, "}]");
	}
	if (s->status == SPAN_ST_OK || s->status == SPAN_ST_ERROR) {
		tbuf_lit(b, ",\"status\":{\"code\":");
		jsonw_u64(b, s->status);
		tbuf_byte(b, '}');
	}
	tbuf_byte(b, '}');
}

int otlp_json_encode(struct tbuf *b, const struct export_resource *res,
                     const struct span *const *spans, int n)
{
	/* an empty request is "{}": OTLP asks senders not to send empty
	 * envelopes, and every list here is an envelope */
	if (n <= 0) {
		tbuf_lit(b, "{}");
		return b->failed ? -1 : 0;
	}
	tbuf_lit(b, "{\"resourceSpans\":[{");
	otlp_json_resource(b, res);
	tbuf_lit(b, ",\"scopeSpans\":[{\"scope\":{\"name\":\"tracegate\",\"version\":");
	jsonw_cstr(b, TG_VERSION);
	tbuf_lit(b, "},\"spans\":[");
	for (int i = 0; i < n; i++)
		otlp_json_span(b, spans[i]);
	tbuf_lit(b, "]}]}]}");
	return b->failed ? -1 : 0;
}
