/* httpc_testsrv.h: the scripted HTTP server and client helpers that the
 * httpc unit suites share (test_httpc.c, test_httpc_tls.c). Test code only:
 * static functions, one copy per suite.
 *
 * The server is a thread with blocking sockets on the loopback, plain or
 * TLS. Each test gives it a script: one step per request it reads (reply,
 * reply and close, close unanswered, hang), and reads back what it saw.
 */
#ifndef TG_HTTPC_TESTSRV_H
#define TG_HTTPC_TESTSRV_H

#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "util.h"
#include "trace/httpc.h"

#define MS 1000000ull

/* ---- the scripted server ------------------------------------------------ */

/* What the server does once it has read a whole request. */
enum srv_act {
	SRV_REPLY,       /* send <resp>, keep the connection */
	SRV_REPLY_CLOSE, /* send <resp>, close */
	SRV_CLOSE,       /* close without a response */
	SRV_HANG,        /* send <resp> (may be ""), wait until the client goes away */
};

struct srv_step {
	enum srv_act act;
	const char *resp;
	bool dribble; /* one byte per send(), to feed the parser in pieces */
};

/* Script steps, one per request the server reads. */
/* clang-format off */
#define SRV_REPLY_(resp)       {SRV_REPLY, (resp), false}
#define SRV_DRIBBLE(resp)      {SRV_REPLY, (resp), true}
#define SRV_REPLY_CLOSE_(resp) {SRV_REPLY_CLOSE, (resp), false}
#define SRV_CLOSE_()           {SRV_CLOSE, NULL, false}
#define SRV_HANG_(resp)        {SRV_HANG, (resp), false}
/* clang-format on */

#define SRV_MAX_REQS 8
#define SRV_REQ_MAX  16384

struct srv_conn {
	int fd;
	SSL *ssl;
};

static struct {
	bool running;
	int lfd, stop[2], port;
	SSL_CTX *tls; /* NULL: plain TCP */
	pthread_t th;
	const struct srv_step *steps;
	int n_steps;
	/* written by the server thread; read by the test once it stopped, or
	 * while it runs through the atomics */
	atomic_int conns, closed, n_reqs;
	char reqs[SRV_MAX_REQS][SRV_REQ_MAX];
	size_t req_len[SRV_MAX_REQS];   /* whole request, head included */
	size_t req_body[SRV_MAX_REQS];  /* body bytes */
	uint64_t req_sum[SRV_MAX_REQS]; /* sum of the body bytes */
	int req_conn[SRV_MAX_REQS];
	char sni[256];
} S;

/* Waits until <fd> is readable; false when the test stops the server or
 * after 5 s, so that no test can hang on its server. */
static inline bool srv_wait(int fd)
{
	struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = S.stop[0], .events = POLLIN}};

	return poll(p, 2, 5000) > 0 && !p[1].revents;
}

static inline ssize_t srv_read(struct srv_conn *k, char *buf, size_t n)
{
	int r;

	if (!(k->ssl && SSL_pending(k->ssl)) && !srv_wait(k->fd))
		return -1;
	if (!k->ssl)
		return recv(k->fd, buf, n, 0);
	r = SSL_read(k->ssl, buf, (int)n);
	return r > 0 ? r : (SSL_get_error(k->ssl, r) == SSL_ERROR_ZERO_RETURN ? 0 : -1);
}

static inline void srv_write(struct srv_conn *k, const char *s, bool dribble)
{
	size_t n = strlen(s);

	for (size_t off = 0; off < n;) {
		size_t len = dribble ? 1 : n - off;
		ssize_t w = k->ssl ? SSL_write(k->ssl, s + off, (int)len)
		                   : send(k->fd, s + off, len, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

/* Reads one request (head and Content-Length body) into the next slot: the
 * first SRV_REQ_MAX - 1 bytes are kept, the body bytes counted and summed.
 * False when the client closed the connection first. */
static inline bool srv_read_request(struct srv_conn *k, int conn)
{
	static char spill[65536];
	int i = atomic_load(&S.n_reqs);
	char *b = S.reqs[i], *eoh;
	size_t len = 0, need = 0, head = 0;
	uint64_t sum = 0;

	while (!need || len < need) {
		bool keep = len < SRV_REQ_MAX - 1;
		char *dst = keep ? b + len : spill;
		ssize_t n = srv_read(k, dst, keep ? SRV_REQ_MAX - 1 - len : sizeof(spill));

		if (n <= 0)
			return false;
		len += (size_t)n;
		if (keep)
			b[len < SRV_REQ_MAX - 1 ? len : SRV_REQ_MAX - 1] = '\0';
		if (head) {
			for (ssize_t j = 0; j < n; j++)
				sum += (unsigned char)dst[j];
		} else if ((eoh = memmem(b, len, "\r\n\r\n", 4))) {
			char *cl;

			*eoh = '\0'; /* search the head only */
			cl = strcasestr(b, "\r\nContent-Length:");
			*eoh = '\r';
			head = (size_t)(eoh + 4 - b);
			need = head + (cl ? strtoul(cl + 17, NULL, 10) : 0);
			for (size_t j = head; j < len; j++)
				sum += (unsigned char)b[j];
		}
	}
	S.req_len[i] = len;
	S.req_body[i] = len - head;
	S.req_sum[i] = sum;
	S.req_conn[i] = conn;
	atomic_store(&S.n_reqs, i + 1);
	return true;
}

static inline bool srv_tls_accept(struct srv_conn *k)
{
	const char *sni;

	k->ssl = SSL_new(S.tls);
	SSL_set_fd(k->ssl, k->fd);
	if (SSL_accept(k->ssl) != 1)
		return false;
	sni = SSL_get_servername(k->ssl, TLSEXT_NAMETYPE_host_name);
	snprintf(S.sni, sizeof(S.sni), "%s", sni ? sni : "");
	return true;
}

static inline void srv_close(struct srv_conn *k)
{
	if (k->ssl) {
		SSL_shutdown(k->ssl);
		SSL_free(k->ssl);
	}
	close(k->fd);
	atomic_fetch_add(&S.closed, 1);
}

static void *srv_main(void *arg)
{
	int step = 0;

	(void)arg;
	while (step < S.n_steps && srv_wait(S.lfd)) {
		struct timeval tv = {.tv_sec = 3};
		struct srv_conn k = {.fd = accept(S.lfd, NULL, NULL)};
		int one = 1, conn;

		if (k.fd < 0)
			break;
		conn = atomic_fetch_add(&S.conns, 1) + 1;
		setsockopt(k.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(k.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(k.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (S.tls && !srv_tls_accept(&k)) {
			srv_close(&k);
			continue;
		}
		while (step < S.n_steps && srv_read_request(&k, conn)) {
			const struct srv_step *s = &S.steps[step++];

			if (s->act != SRV_CLOSE)
				srv_write(&k, s->resp, s->dribble);
			if (s->act == SRV_HANG)
				srv_wait(k.fd);
			if (s->act != SRV_REPLY)
				break;
		}
		srv_close(&k);
	}
	return NULL;
}

/* Starts the server on 127.0.0.1 (or ::1 when <v6>) port 0 with <n> steps.
 * Returns false when the address cannot be bound. */
static inline bool srv_start_at(const struct srv_step *steps, int n, SSL_CTX *tls, bool v6)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	S.steps = steps;
	S.n_steps = n;
	S.tls = tls;
	S.lfd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(S.lfd, 0);
	if (v6 ? bind(S.lfd, (struct sockaddr *)&a6, sizeof(a6))
	       : bind(S.lfd, (struct sockaddr *)&a4, sizeof(a4))) {
		close(S.lfd);
		return false;
	}
	cr_assert_eq(listen(S.lfd, 8), 0);
	cr_assert_eq(getsockname(S.lfd, (struct sockaddr *)&ss, &sl), 0);
	S.port = util_addr_port((struct sockaddr *)&ss);
	cr_assert_eq(pipe(S.stop), 0);
	cr_assert_eq(pthread_create(&S.th, NULL, srv_main, NULL), 0);
	S.running = true;
	return true;
}

static inline void srv_start(const struct srv_step *steps, int n)
{
	srv_start_at(steps, n, NULL, false);
}

static inline void srv_stop(void)
{
	if (!S.running)
		return;
	S.running = false;
	cr_assert_eq(write(S.stop[1], "x", 1), 1);
	pthread_join(S.th, NULL);
	close(S.stop[0]);
	close(S.stop[1]);
	close(S.lfd);
}

/* Waits up to 1 s for the server to have closed <n> connections. */
static inline void srv_wait_closed(int n)
{
	for (int i = 0; i < 200 && atomic_load(&S.closed) < n; i++)
		usleep(5000);
	cr_assert_geq(atomic_load(&S.closed), n);
}

/* ---- client helpers ----------------------------------------------------- */

static inline struct httpc *client_at(const char *fmt, const char *ca_file)
{
	char url[256], err[256] = "";
	struct httpc *c;

	snprintf(url, sizeof(url), fmt, S.port);
	c = httpc_new(url, ca_file, err, sizeof(err));
	cr_assert_not_null(c, "%s: %s", url, err);
	return c;
}

static inline struct httpc *client(void)
{
	return client_at("http://127.0.0.1:%d/v1/traces", NULL);
}

static inline int post(struct httpc *c, const char *body, unsigned timeout_ms, int cancel_fd,
                       struct httpc_resp *r)
{
	struct httpc_req q = {.ctype = "application/json", .body = body, .len = strlen(body)};

	return httpc_post(c, &q, util_mono_ns() + timeout_ms * MS, cancel_fd, r);
}

/* Posts and expects a response with <status> and <body>. */
static inline void post_ok(struct httpc *c, int status, const char *body)
{
	struct httpc_resp r;
	int rc = post(c, "{}", 2000, -1, &r);

	cr_assert_eq(rc, 0, "post: %s (%s)", strerror(-rc), httpc_last_error(c));
	cr_expect_eq(r.status, status);
	cr_expect_eq(r.body_len, strlen(body));
	cr_expect_str_eq(r.body, body);
	cr_expect_str_eq(httpc_last_error(c), "");
}

/* Posts a 3 MiB body (more than the socket buffers hold, so the client
 * waits to write) and checks that the server read exactly it. */
static inline void post_big_body(struct httpc *c)
{
	size_t len = 3u << 20;
	unsigned char *body = malloc(len);
	struct httpc_req q = {.ctype = "application/x-protobuf", .body = body, .len = len};
	struct httpc_resp r;
	uint64_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += body[i] = (unsigned char)(i * 7 + i / 4099);
	cr_assert_eq(httpc_post(c, &q, util_mono_ns() + 5000 * MS, -1, &r), 0, "%s",
	             httpc_last_error(c));
	cr_expect_eq(r.status, 200);
	srv_stop();
	cr_expect_eq(S.req_body[0], len);
	cr_expect_eq(S.req_sum[0], sum);
	free(body);
}

#endif
