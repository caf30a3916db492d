/* httpc.h: the exporters' HTTP/1.1 client: POST a body to one endpoint.
 *
 * Each exporter (OTLP/HTTP, Zipkin) owns one struct httpc on its own thread
 * and calls httpc_post() once per batch. The call blocks that thread only:
 * the socket is non-blocking inside, every wait is a poll() bounded by the
 * caller's deadline and interrupted by its cancel fd. One connection is
 * kept alive between posts; https:// always verifies the server.
 */
#ifndef TG_HTTPC_H
#define TG_HTTPC_H

#include <stddef.h>
#include <stdint.h>

struct httpc;

#define HTTPC_URL_MAX  2048  /* longest endpoint URL accepted */
#define HTTPC_HEAD_MAX 16384 /* longest response head; longer is -EPROTO */

/* One request. <hdrs> are extra header lines "Name: value" without CRLF
 * (authentication, tenant...); none may be Host, Content-Length,
 * Transfer-Encoding or Connection, which the client owns. */
struct httpc_req {
	const char *ctype; /* Content-Type */
	const char *cenc;  /* Content-Encoding, NULL for none */
	const char *const *hdrs;
	int n_hdrs;
	const void *body;
	size_t len;
};

/* The final response (interim 1xx responses are skipped). Filled by a
 * successful httpc_post(); nothing in it is meaningful after a failure. */
struct httpc_resp {
	int status;
	int64_t retry_after_ms; /* from Retry-After, -1 when absent or invalid */
	/* The start of the body, NUL-terminated for logs (it may hold binary
	 * bytes); the rest of the body is read and discarded. */
	char body[512];
	size_t body_len;
};

/* Parses <url>: "http://" or "https://", a host name, an IPv4 literal or an
 * [IPv6] literal, an optional port, and a path (with query) that defaults to
 * "/"; no user info, no fragment. For https:// prepares TLS with the trust
 * anchors of <ca_file> (PEM), or the system's default store when <ca_file> is
 * NULL (ignored for http://); the server's certificate and its name (or IP
 * address) are always verified. Connects nothing yet. Returns the client, or
 * NULL with a one-line reason in <err,errlen>. Any thread. */
struct httpc *httpc_new(const char *url, const char *ca_file, char *err, size_t errlen);

/* Closes the connection, if any, and frees <c> (NULL is fine). */
void httpc_free(struct httpc *c);

/* POSTs <q> (borrowed until return) to the endpoint and reads the response
 * into <r>. Reuses the kept connection when there is one; when that
 * connection turns out to have been closed by the server (the request cannot
 * be written, or the connection ends before any response byte), reconnects
 * once and sends the request again, so the server may see a request twice.
 * Returns 0 with <r> filled (whatever the status), or a negative errno with
 * httpc_last_error() saying why:
 *   -ECONNREFUSED  no server listens (every address of the host was tried)
 *   -EHOSTUNREACH  the host name does not resolve (or the route is missing)
 *   -ETIMEDOUT     not connected, or response not complete, by <deadline_ns>
 *                  (CLOCK_MONOTONIC, as util_mono_ns())
 *   -ECANCELED     <cancel_fd> (when >= 0) was readable while the call
 *                  waited for the network; it is polled, never read
 *   -ECONNRESET    the connection was lost, or a response body was cut short
 *   -EPROTO        the response is not HTTP/1.x we understand, or the TLS
 *                  handshake failed for a reason other than the certificate
 *   -EKEYREJECTED  the server's certificate failed verification
 *   -EINVAL        <q> holds a CR or LF, or a header the client owns
 *   -EMSGSIZE      the request head would exceed 8 KiB
 * Name resolution (getaddrinfo) blocks without the deadline. With TLS the
 * process must ignore SIGPIPE (gateway/main.c does): OpenSSL writes with
 * write(), which cannot take MSG_NOSIGNAL. The thread that owns <c> only. */
int httpc_post(struct httpc *c, const struct httpc_req *q, uint64_t deadline_ns, int cancel_fd,
               struct httpc_resp *r);

/* Returns the one-line reason of the last failed httpc_post() on <c>, or ""
 * after a success. Valid until the next call on <c>. */
const char *httpc_last_error(const struct httpc *c);

/* Parses a Retry-After value <v,len>: delta-seconds, or an IMF-fixdate
 * HTTP-date taken relative to <now_ns> (CLOCK_REALTIME) and clamped at 0.
 * Returns milliseconds, or -1 when the value is neither. Pure. */
int64_t httpc_retry_after_ms(const char *v, size_t len, uint64_t now_ns);

#endif
