/* httpc_conn.c: the exporters' HTTP client transport: TCP and TLS.
 *
 * httpc.c speaks HTTP over one struct httpc_conn. This file resolves and
 * connects, runs the verified TLS handshake, and reads and writes; the
 * socket is non-blocking and every wait is one poll() on the socket and the
 * caller's cancel fd, bounded by the post's deadline.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "util.h"
#include "trace/httpc_conn.h"

#define HTTPC_CONN_IOV_MAX 4

int httpc_conn_fail(struct httpc_conn *k, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(k->err, sizeof(k->err), fmt, ap);
	va_end(ap);
	return code;
}

/* The reason of the newest error on this thread's OpenSSL queue. */
static const char *httpc_conn_tls_reason(void)
{
	const char *s = ERR_reason_error_string(ERR_peek_last_error());

	return s ? s : "unknown TLS error";
}

SSL_CTX *httpc_conn_tls_ctx(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX *ctx;
	int ok;

	ERR_clear_error();
	if (!(ctx = SSL_CTX_new(TLS_client_method()))) {
		snprintf(err, errlen, "cannot create a TLS context: %s", httpc_conn_tls_reason());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file)
		ok = SSL_CTX_load_verify_locations(ctx, ca_file, NULL);
	else
		ok = SSL_CTX_set_default_verify_paths(ctx);
	if (!ok) {
		snprintf(err, errlen, "cannot load the trust anchors of %s: %s",
		         ca_file ? ca_file : "the system", httpc_conn_tls_reason());
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Waits until the socket is ready for <events>. On a timeout or a cancel,
 * describes it as happening while <doing> ("connecting to"...). */
static int httpc_conn_wait(struct httpc_conn *k, short events, const char *doing)
{
	struct pollfd p[2] = {
	        {.fd = k->fd, .events = events},
	        {.fd = k->cancel_fd, .events = POLLIN},
	};
	nfds_t n = k->cancel_fd >= 0 ? 2 : 1;

	for (;;) {
		uint64_t now = util_mono_ns(), ms;
		int rc;

		if (now >= k->deadline_ns)
			return httpc_conn_fail(k, -ETIMEDOUT, "%s %s: timed out", doing, k->peer);
		/* rounded up: waking before the deadline would spin */
		ms = (k->deadline_ns - now + 999999) / 1000000;
		rc = poll(p, n, ms > INT_MAX ? INT_MAX : (int)ms);
		if (rc < 0 && errno != EINTR)
			return httpc_conn_fail(k, -errno, "%s %s: poll: %s", doing, k->peer,
			                       strerror(errno));
		/* cancel wins over a ready socket: shutdown must stay bounded */
		if (n == 2 && p[1].revents)
			return httpc_conn_fail(k, -ECANCELED, "%s %s: canceled", doing, k->peer);
		if (rc > 0 && p[0].revents)
			return 0; /* errors and hang-ups surface in the next I/O call */
	}
}

/* A lost connection is one error to the caller, whichever way it was lost. */
static int httpc_conn_lost(int e)
{
	return e == EPIPE ? -ECONNRESET : -e;
}

/* Connects to <ai>, one address of <u>'s host. Returns 0 with <k->fd>
 * open, or an error with the socket closed. */
static int httpc_conn_tcp(struct httpc_conn *k, const struct httpc_url *u,
                          const struct addrinfo *ai)
{
	int one = 1, soerr = 0, err;
	socklen_t sl = sizeof(soerr);
	char ip[64];

	util_addr_ip(ai->ai_addr, ip, sizeof(ip));
	k->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (k->fd < 0)
		return httpc_conn_fail(k, -errno, "socket: %s", strerror(errno));
	/* a request head and its body leave in as few segments as written */
	setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(k->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			soerr = errno;
		} else if ((err = httpc_conn_wait(k, POLLOUT, "connecting to"))) {
			httpc_conn_close(k);
			return err;
		} else if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
			soerr = errno;
		}
	}
	if (!soerr)
		return 0;
	httpc_conn_close(k);
	if (u->host_is_ip)
		return httpc_conn_fail(k, -soerr, "connect to %s: %s", k->peer, strerror(soerr));
	return httpc_conn_fail(k, -soerr, "connect to %s (%s): %s", k->peer, ip, strerror(soerr));
}

/* Whether the last TLS call failed because the peer closed the TCP
 * connection, with SSL_get_error() = <e>. */
static bool httpc_conn_tls_eof(int e)
{
	if (e == SSL_ERROR_SYSCALL)
		return errno == 0;
	return e == SSL_ERROR_SSL &&
	       ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

/* Describes why SSL_connect() failed with SSL_get_error() = <e>. */
static int httpc_conn_tls_failed(struct httpc_conn *k, int e)
{
	long v = SSL_get_verify_result(k->ssl);

	if (v != X509_V_OK)
		return httpc_conn_fail(k, -EKEYREJECTED,
		                       "certificate verification failed for %s: %s", k->peer,
		                       X509_verify_cert_error_string(v));
	if (httpc_conn_tls_eof(e))
		return httpc_conn_fail(k, -ECONNRESET, "TLS handshake with %s: connection closed",
		                       k->peer);
	if (e == SSL_ERROR_SYSCALL)
		return httpc_conn_fail(k, httpc_conn_lost(errno), "TLS handshake with %s: %s",
		                       k->peer, strerror(errno));
	return httpc_conn_fail(k, -EPROTO, "TLS handshake with %s failed: %s", k->peer,
	                       httpc_conn_tls_reason());
}

/* Waits for what OpenSSL asked for with SSL_get_error() = <e>. Returns 0 to
 * call OpenSSL again, 1 when <e> is not a wait, or an error. */
static int httpc_conn_tls_want(struct httpc_conn *k, int e, const char *doing)
{
	if (e == SSL_ERROR_WANT_READ)
		return httpc_conn_wait(k, POLLIN, doing);
	if (e == SSL_ERROR_WANT_WRITE)
		return httpc_conn_wait(k, POLLOUT, doing);
	return 1;
}

static int httpc_conn_handshake(struct httpc_conn *k, const struct httpc_url *u, SSL_CTX *tls)
{
	X509_VERIFY_PARAM *vp;
	bool ok;

	ERR_clear_error();
	if (!(k->ssl = SSL_new(tls)) || !SSL_set_fd(k->ssl, k->fd))
		return httpc_conn_fail(k, -ENOMEM, "TLS setup: %s", httpc_conn_tls_reason());
	vp = SSL_get0_param(k->ssl);
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	/* RFC 6066 3: SNI carries host names only, never literal addresses */
	if (u->host_is_ip)
		ok = X509_VERIFY_PARAM_set1_ip_asc(vp, u->host);
	else
		ok = SSL_set_tlsext_host_name(k->ssl, u->host) && SSL_set1_host(k->ssl, u->host);
	if (!ok)
		return httpc_conn_fail(k, -ENOMEM, "TLS setup: %s", httpc_conn_tls_reason());
	for (;;) {
		int rc, e, err;

		ERR_clear_error();
		errno = 0;
		if ((rc = SSL_connect(k->ssl)) == 1)
			return 0;
		e = SSL_get_error(k->ssl, rc);
		if ((err = httpc_conn_tls_want(k, e, "TLS handshake with")) < 0)
			return err;
		if (err)
			return httpc_conn_tls_failed(k, e);
	}
}

int httpc_conn_open(struct httpc_conn *k, const struct httpc_url *u, SSL_CTX *tls)
{
	struct addrinfo hints =
	                        {
	                                .ai_socktype = SOCK_STREAM,
	                                .ai_flags = AI_NUMERICSERV |
	                                            (u->host_is_ip ? AI_NUMERICHOST : 0),
	                        },
	                *res, *ai;
	int rc, err = -EHOSTUNREACH;

	snprintf(k->peer, sizeof(k->peer), strchr(u->host, ':') ? "[%s]:%s" : "%s:%s", u->host,
	         u->port);
	rc = getaddrinfo(u->host, u->port, &hints, &res);
	if (rc)
		return httpc_conn_fail(k, -EHOSTUNREACH, "cannot resolve %s: %s", u->host,
		                       rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		err = httpc_conn_tcp(k, u, ai);
		/* another address cannot help once the deadline or a cancel hit */
		if (!err || err == -ETIMEDOUT || err == -ECANCELED)
			break;
	}
	freeaddrinfo(res);
	if (!err && tls && (err = httpc_conn_handshake(k, u, tls)))
		httpc_conn_close(k);
	return err;
}

static int httpc_conn_send(struct httpc_conn *k, struct iovec *iov, int n)
{
	while (n > 0) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(k->fd, &mh, MSG_NOSIGNAL);
		int err;

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			if ((err = httpc_conn_wait(k, POLLOUT, "sending the request to")))
				return err;
			continue;
		}
		if (w < 0)
			return httpc_conn_fail(k, httpc_conn_lost(errno),
			                       "sending the request to %s: %s", k->peer,
			                       strerror(errno));
		for (; n > 0 && (size_t)w >= iov->iov_len; iov++, n--)
			w -= (ssize_t)iov->iov_len;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Describes a TLS read or write that failed with SSL_get_error() = <e>.
 * Returns 0 at the end of the stream, otherwise a negative errno. */
static int httpc_conn_tls_io_failed(struct httpc_conn *k, int e, const char *doing)
{
	/* A peer that closes without close_notify is a plain end of stream
	 * here: HTTP framing, not TLS, tells whether a body is complete. */
	if (e == SSL_ERROR_ZERO_RETURN || httpc_conn_tls_eof(e))
		return 0;
	if (e == SSL_ERROR_SYSCALL)
		return httpc_conn_fail(k, httpc_conn_lost(errno), "%s %s: %s", doing, k->peer,
		                       strerror(errno));
	return httpc_conn_fail(k, -EPROTO, "%s %s: TLS: %s", doing, k->peer,
	                       httpc_conn_tls_reason());
}

static int httpc_conn_tls_send(struct httpc_conn *k, const void *buf, size_t len)
{
	const char *doing = "sending the request to";

	/* Without SSL_MODE_ENABLE_PARTIAL_WRITE a success means all of <len>;
	 * after a WANT_* the call is repeated with the same arguments. */
	for (;;) {
		size_t w;
		int e, err;

		ERR_clear_error();
		errno = 0;
		if (len == 0 || SSL_write_ex(k->ssl, buf, len, &w))
			return 0;
		e = SSL_get_error(k->ssl, 0);
		if ((err = httpc_conn_tls_want(k, e, doing)) == 0)
			continue;
		if (err > 0 && (err = httpc_conn_tls_io_failed(k, e, doing)) == 0)
			err = httpc_conn_fail(k, -ECONNRESET, "%s %s: connection closed", doing,
			                      k->peer);
		return err;
	}
}

int httpc_conn_write(struct httpc_conn *k, const struct iovec *iov, int n)
{
	struct iovec v[HTTPC_CONN_IOV_MAX];
	int err;

	if (n > HTTPC_CONN_IOV_MAX)
		return httpc_conn_fail(k, -EINVAL, "too many buffers");
	if (!k->ssl) {
		memcpy(v, iov, sizeof(*iov) * (size_t)n);
		return httpc_conn_send(k, v, n);
	}
	for (int i = 0; i < n; i++)
		if ((err = httpc_conn_tls_send(k, iov[i].iov_base, iov[i].iov_len)))
			return err;
	return 0;
}

ssize_t httpc_conn_read(struct httpc_conn *k, void *buf, size_t cap)
{
	const char *doing = "waiting for the response from";

	for (;;) {
		ssize_t n;
		size_t got;
		int e, err;

		if (!k->ssl) {
			n = recv(k->fd, buf, cap, 0);
			if (n >= 0)
				return n;
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return httpc_conn_fail(k, httpc_conn_lost(errno), "%s %s: %s",
				                       doing, k->peer, strerror(errno));
			if ((err = httpc_conn_wait(k, POLLIN, doing)))
				return err;
			continue;
		}
		ERR_clear_error();
		errno = 0;
		if (SSL_read_ex(k->ssl, buf, cap, &got))
			return (ssize_t)got;
		e = SSL_get_error(k->ssl, 0);
		if ((err = httpc_conn_tls_want(k, e, doing)) < 0)
			return err;
		if (err)
			return httpc_conn_tls_io_failed(k, e, doing);
	}
}

void httpc_conn_close(struct httpc_conn *k)
{
	/* no close_notify: HTTP framing already told the server where the
	 * exchange ended, and a write here could meet a dead connection */
	SSL_free(k->ssl);
	k->ssl = NULL;
	/* failures leave entries behind; the next OpenSSL user on this
	 * thread must find the queue empty for SSL_get_error() to work */
	ERR_clear_error();
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}
