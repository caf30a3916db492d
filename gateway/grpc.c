/* grpc.c: gRPC's words for the gateway: which requests are gRPC calls, the
 * status a gateway answer of an HTTP status becomes, and grpc-message's
 * encoding. Pure functions; any thread.
 */
#include <strings.h>

#include "grpc.h"
#include "http.h"

bool grpc_is_call(const struct http_msg *req)
{
	const struct h1_hdr *ct = http_hdr_get(req, "content-type");

	return ct && ct->value_len >= 16 && strncasecmp(ct->value, "application/grpc", 16) == 0;
}

int grpc_status_of_http(int status)
{
	switch (status) {
	case 400:
		return 13; /* INTERNAL */
	case 401:
		return 16; /* UNAUTHENTICATED */
	case 403:
		return 7; /* PERMISSION_DENIED */
	case 404:
		return 12; /* UNIMPLEMENTED */
	case 429:
	case 502:
	case 503:
	case 504:
		return 14; /* UNAVAILABLE */
	default:
		return 2; /* UNKNOWN */
	}
}

size_t grpc_message_encode(const char *text, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *text && *text != '\n' && n + 3 < len; text++) {
		unsigned char ch = (unsigned char)*text;

		if (ch < 0x20 || ch > 0x7e || ch == '%') {
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		} else {
			out[n++] = (char)ch;
		}
	}
	if (len)
		out[n] = '\0';
	return n;
}
