/* httpc_conn.h: the transport under httpc.c: one TCP connection, plain or
 * TLS, with every wait bounded by a deadline and a cancel fd.
 *
 * Internal to the exporters' HTTP client; nothing else includes it.
 */
#ifndef TG_HTTPC_CONN_H
#define TG_HTTPC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <openssl/ssl.h>

#include "trace/httpc.h"

#define HTTPC_HOST_MAX 253 /* longest DNS name; literals are shorter */

/* A parsed endpoint URL (httpc_new() fills it). */
struct httpc_url {
	bool tls;                           /* https:// */
	bool host_is_ip;                    /* an IPv4 or IPv6 literal */
	char host[HTTPC_HOST_MAX + 1];      /* without the brackets of IPv6 */
	char port[6];                       /* decimal, always set */
	char authority[HTTPC_HOST_MAX + 9]; /* for Host: brackets, port unless default */
	char path[HTTPC_URL_MAX + 1];       /* origin-form target, "/" at least */
};

struct httpc_conn {
	int fd;                        /* -1 when closed */
	SSL *ssl;                      /* NULL for plain TCP */
	uint64_t deadline_ns;          /* of the current post, CLOCK_MONOTONIC */
	int cancel_fd;                 /* of the current post, -1 for none */
	char peer[HTTPC_HOST_MAX + 9]; /* "host:port" for messages */
	char err[256];                 /* why the last operation failed, "" otherwise */
};

/* Returns a TLS client context that verifies servers against <ca_file>
 * (PEM), or the system's store when NULL; NULL with a reason in <err,errlen>
 * when the trust anchors cannot be loaded. */
SSL_CTX *httpc_conn_tls_ctx(const char *ca_file, char *err, size_t errlen);

/* Resolves <u>'s host, connects to its addresses in turn and, when <tls> is
 * set, completes a verified TLS handshake. <k>'s deadline and cancel fd bound
 * every wait. Returns 0 with <k> open, or a negative errno (see httpc_post())
 * with <k> closed and <k->err> set. */
int httpc_conn_open(struct httpc_conn *k, const struct httpc_url *u, SSL_CTX *tls);

/* Writes all <n> buffers of <iov>. Returns 0, or a negative errno with
 * <k->err> set; a connection the peer has closed is -ECONNRESET. */
int httpc_conn_write(struct httpc_conn *k, const struct iovec *iov, int n);

/* Reads at most <cap> bytes into <buf>, waiting for at least one. Returns
 * the count, 0 at the end of the stream, or a negative errno with <k->err>
 * set; a reset is -ECONNRESET. */
ssize_t httpc_conn_read(struct httpc_conn *k, void *buf, size_t cap);

/* Closes <k> if open; idempotent. Keeps <k->err>. */
void httpc_conn_close(struct httpc_conn *k);

/* Describes a failure in <k->err> and returns <code>, for one-line returns. */
int httpc_conn_fail(struct httpc_conn *k, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
