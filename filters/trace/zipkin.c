/* zipkin.c: a batch of spans as a Zipkin v2 JSON span list, the body the
 * Zipkin exporter posts to /api/v2/spans.
 *
 * Runs on an exporter thread. Zipkin counts time in microseconds, keeps tags
 * as strings, and names the peer in remoteEndpoint rather than in tags
 * alone. Links and tracestate have no Zipkin form and are left out.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "trace/encode.h"
#include "trace/jsonw.h"

/* Returns the last attribute <key> of <s> (the one its tag shows), or NULL. */
static const struct span_attr *zipkin_attr(const struct span *s, enum span_attr_key key)
{
	for (int i = s->n_attrs - 1; i >= 0; i--)
		if (s->attrs[i].key == key)
			return &s->attrs[i];
	return NULL;
}

/* Returns the Zipkin field ("ipv4" or "ipv6") for the address in string
 * attribute <a> and writes its text to <out>, or returns NULL. The form
 * picks the field; anything that is not a numeric address (a zone suffix, a
 * cut value) is left out rather than sent for Zipkin to reject. */
static const char *zipkin_ip(const struct span *s, const struct span_attr *a,
                             char out[INET6_ADDRSTRLEN])
{
	struct in6_addr a6;
	struct in_addr a4;

	if (!a || a->type != SPAN_T_STR || a->len >= INET6_ADDRSTRLEN)
		return NULL;
	memcpy(out, span_str(s, a->off), a->len);
	out[a->len] = '\0';
	if (inet_pton(AF_INET, out, &a4) == 1)
		return "ipv4";
	if (inet_pton(AF_INET6, out, &a6) != 1)
		return NULL;
	/* a dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; Zipkin
	 * wants those in ipv4 */
	if (IN6_IS_ADDR_V4MAPPED(&a6))
		return inet_ntop(AF_INET, &a6.s6_addr[12], out, INET6_ADDRSTRLEN) ? "ipv4" : NULL;
	return "ipv6";
}

/* Appends the remoteEndpoint: the upstream for a CLIENT span (named by
 * peer.service), the caller for a SERVER span. Left out when nothing is
 * known about the peer. */
static void zipkin_remote(struct tbuf *b, const struct span *s)
{
	bool client = s->kind == SPAN_KIND_CLIENT;
	const struct span_attr *svc = client ? zipkin_attr(s, SPAN_A_PEER_SERVICE) : NULL;
	const struct span_attr *port =
	        zipkin_attr(s, client ? SPAN_A_NET_PEER_PORT : SPAN_A_CLIENT_PORT);
	char ip[INET6_ADDRSTRLEN];
	const char *ip_field = zipkin_ip(
	        s, zipkin_attr(s, client ? SPAN_A_NET_PEER_ADDRESS : SPAN_A_CLIENT_ADDRESS), ip);

	if (svc && svc->type != SPAN_T_STR)
		svc = NULL;
	if (port && (port->type != SPAN_T_INT || port->i < 1 || port->i > 65535))
		port = NULL;
	if (!svc && !ip_field && !port)
		return;
	tbuf_lit(b, ",\"remoteEndpoint\":{");
	if (svc) {
		jsonw_key(b, "serviceName");
		jsonw_str(b, span_str(s, svc->off), svc->len);
	}
	if (ip_field) {
		jsonw_key(b, ip_field);
		jsonw_cstr(b, ip);
	}
	if (port) {
		jsonw_key(b, "port");
		jsonw_i64(b, port->i);
	}
	tbuf_byte(b, '}');
}

/* Returns a mask of the attributes to send as tags: Zipkin's tags are a map,
 * so of attributes that repeat a key only the last is kept, the value a
 * JSON reader that lets later keys win would have seen. */
static uint32_t zipkin_tag_mask(const struct span *s)
{
	uint32_t keep = 0, seen = 0;

	_Static_assert(SPAN_ATTR_MAX <= 32 && SPAN_A_N <= 32, "masks are 32 bits");
	for (int i = s->n_attrs - 1; i >= 0; i--) {
		if (seen & 1u << s->attrs[i].key)
			continue;
		seen |= 1u << s->attrs[i].key;
		keep |= 1u << i;
	}
	return keep;
}

/* Appends the tags: every attribute as a string, and "error" on a failed
 * span, valued with error.type when there is one (Zipkin marks failures with
 * that tag, not with a status). */
static void zipkin_tags(struct tbuf *b, const struct span *s)
{
	bool failed = s->status == SPAN_ST_ERROR;
	const struct span_attr *err = failed ? zipkin_attr(s, SPAN_A_ERROR_TYPE) : NULL;
	uint32_t keep = zipkin_tag_mask(s);

	if (!keep && !failed)
		return;
	tbuf_lit(b, ",\"tags\":{");
	for (int i = 0; i < s->n_attrs; i++) {
		const struct span_attr *a = &s->attrs[i];

		if (!(keep & 1u << i))
			continue;
		jsonw_key(b, span_attr_name[a->key]);
		if (a->type == SPAN_T_INT) {
			tbuf_byte(b, '"');
			jsonw_i64(b, a->i);
			tbuf_byte(b, '"');
		} else {
			jsonw_str(b, span_str(s, a->off), a->len);
		}
	}
	if (failed) {
		jsonw_key(b, "error");
		if (err && err->type == SPAN_T_STR)
			jsonw_str(b, span_str(s, err->off), err->len);
		else
			tbuf_lit(b, "\"true\"");
	}
	tbuf_byte(b, '}');
}

static void zipkin_annotations(struct tbuf *b, const struct span *s)
{
	bool open = false;

	for (int i = 0; i < SPAN_EV_N; i++) {
		if (!s->ev_ns[i])
			continue;
		if (!open) {
			tbuf_lit(b, ",\"annotations\":[");
			open = true;
		}
		jsonw_sep(b);
		tbuf_lit(b, "{\"timestamp\":");
		jsonw_u64(b, s->ev_ns[i] / 1000);
		tbuf_lit(b, ",\"value\":");
		jsonw_cstr(b, span_ev_name[i]);
		tbuf_byte(b, '}');
	}
	if (open)
		tbuf_byte(b, ']');
}

static void zipkin_span(struct tbuf *b, const struct export_resource *res, const struct span *s)
{
	jsonw_sep(b);
	tbuf_lit(b, "{\"traceId\":");
	jsonw_hex(b, s->trace_id, 16);
	tbuf_lit(b, ",\"id\":");
	jsonw_hex(b, s->span_id, 8);
	if (span_has_parent(s)) {
		tbuf_lit(b, ",\"parentId\":");
		jsonw_hex(b, s->parent_id, 8);
	}
	tbuf_lit(b, s->kind == SPAN_KIND_SERVER ? ",\"kind\":\"SERVER\"" : ",\"kind\":\"CLIENT\"");
	if (s->name_len) {
		tbuf_lit(b, ",\"name\":");
		jsonw_str(b, span_str(s, s->name_off), s->name_len);
	}
	tbuf_lit(b, ",\"timestamp\":");
	jsonw_u64(b, s->start_ns / 1000);
	/* the v2 API rounds a duration under a microsecond up to one (an
	 * absent one means unfinished); a clock stepped back mid-span leaves
	 * no duration to tell */
	if (s->end_ns >= s->start_ns) {
		uint64_t us = (s->end_ns - s->start_ns) / 1000;

		tbuf_lit(b, ",\"duration\":");
		jsonw_u64(b, us ? us : 1);
	}
	if (res->service_name) {
		tbuf_lit(b, ",\"localEndpoint\":{\"serviceName\":");
		jsonw_cstr(b, res->service_name);
		tbuf_byte(b, '}');
	}
	zipkin_remote(b, s);
	zipkin_annotations(b, s);
	zipkin_tags(b, s);
	tbuf_byte(b, '}');
}

int zipkin_encode(struct tbuf *b, const struct export_resource *res,
                  const struct span *const *spans, int n)
{
	tbuf_byte(b, '[');
	for (int i = 0; i < n; i++)
		zipkin_span(b, res, spans[i]);
	tbuf_byte(b, ']');
	return b->failed ? -1 : 0;
}
