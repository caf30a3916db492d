/* span.c: filling a span record (span.h) in place: names, tracestate and
 * attributes packed into the record's bounded string area. Runs on a worker
 * thread, writing straight into its export ring slot: no allocation.
 */
#include <string.h>

#include "trace/span.h"

const char *const span_attr_name[SPAN_A_N] = {
        [SPAN_A_HTTP_REQUEST_METHOD] = "http.request.method",
        [SPAN_A_HTTP_REQUEST_METHOD_ORIGINAL] = "http.request.method_original",
        [SPAN_A_URL_PATH] = "url.path",
        [SPAN_A_URL_QUERY] = "url.query",
        [SPAN_A_URL_SCHEME] = "url.scheme",
        [SPAN_A_HTTP_ROUTE] = "http.route",
        [SPAN_A_HTTP_RESPONSE_STATUS_CODE] = "http.response.status_code",
        [SPAN_A_HTTP_RESEND_COUNT] = "http.request.resend_count",
        [SPAN_A_SERVER_ADDRESS] = "server.address",
        [SPAN_A_SERVER_PORT] = "server.port",
        [SPAN_A_CLIENT_ADDRESS] = "client.address",
        [SPAN_A_CLIENT_PORT] = "client.port",
        [SPAN_A_USER_AGENT] = "user_agent.original",
        [SPAN_A_NET_PROTOCOL_VERSION] = "network.protocol.version",
        [SPAN_A_NET_PEER_ADDRESS] = "network.peer.address",
        [SPAN_A_NET_PEER_PORT] = "network.peer.port",
        [SPAN_A_ERROR_TYPE] = "error.type",
        [SPAN_A_PEER_SERVICE] = "peer.service",
        [SPAN_A_TG_ROUTE] = "tracegate.route",
        [SPAN_A_TG_UPSTREAM] = "tracegate.upstream",
        [SPAN_A_RPC_SYSTEM] = "rpc.system",
        [SPAN_A_RPC_SERVICE] = "rpc.service",
        [SPAN_A_RPC_METHOD] = "rpc.method",
        [SPAN_A_RPC_GRPC_STATUS_CODE] = "rpc.grpc.status_code",
};

const char *const span_ev_name[SPAN_EV_N] = {
        [SPAN_EV_CONNECT_START] = "connect_start", [SPAN_EV_CONNECT_END] = "connect_end",
        [SPAN_EV_TLS_END] = "tls_handshake_end",   [SPAN_EV_REQUEST_SENT] = "request_sent",
        [SPAN_EV_FIRST_BYTE] = "first_byte",       [SPAN_EV_LAST_BYTE] = "last_byte",
};

void span_reset(struct span *s)
{
	/* the string area is only read up to str_len: leave it as it is */
	memset(s, 0, offsetof(struct span, str));
}

/* Copies up to <len> bytes of <v> into the string area; returns the offset
 * and stores the length copied in *<got>. */
static uint16_t span_store(struct span *s, const char *v, size_t len, uint16_t *got)
{
	size_t room = (size_t)(SPAN_STR_MAX - s->str_len);
	uint16_t off = s->str_len;

	if (len > room)
		len = room;
	memcpy(s->str + off, v, len);
	s->str_len = (uint16_t)(s->str_len + len);
	*got = (uint16_t)len;
	return off;
}

void span_set_name(struct span *s, const char *v, size_t len)
{
	s->name_off = span_store(s, v, len, &s->name_len);
}

void span_set_tracestate(struct span *s, const char *v, size_t len)
{
	if (len > (size_t)(SPAN_STR_MAX - s->str_len))
		return;
	s->ts_off = span_store(s, v, len, &s->ts_len);
}

static struct span_attr *span_attr_new(struct span *s, enum span_attr_key key)
{
	struct span_attr *a;

	if (s->n_attrs == SPAN_ATTR_MAX) {
		s->dropped_attrs++;
		return NULL;
	}
	a = &s->attrs[s->n_attrs++];
	a->key = (uint8_t)key;
	return a;
}

void span_attr_str(struct span *s, enum span_attr_key key, const char *v, size_t len)
{
	struct span_attr *a = span_attr_new(s, key);

	if (!a)
		return;
	a->type = SPAN_T_STR;
	a->off = span_store(s, v, len, &a->len);
}

void span_attr_int(struct span *s, enum span_attr_key key, int64_t v)
{
	struct span_attr *a = span_attr_new(s, key);

	if (!a)
		return;
	a->type = SPAN_T_INT;
	a->i = v;
}
