/* conn.c: client connections: accept, the idle/header timer, the socket
 * callbacks that hand bytes to the HTTP/1 code or the running txn, and the
 * one place a connection is freed.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "conn.h"
#include "h1c.h"
#include "h2c.h"
#include "log.h"
#include "metrics.h"
#include "gen.h"
#include "proxy.h"
#include "tls.h"
#include "txn.h"
#include "util.h"
#include "worker.h"

/* The input buffer stops growing here; a pipelining or uploading client
 * waits on TCP flow control while the gateway works through it. */
#define CONN_READ_HIGH    (256 * 1024)
#define CONN_TLS_COALESCE (16 * 1024) /* plaintext of one full TLS record */

static void conn_set_timer(struct conn *c, uint32_t ms)
{
	struct timeval tv;

	worker_tv(c->w, ms, &tv);
	evtimer_add(c->timer, &tv);
}

static void conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_ST_H2) {
		h2c_on_timer(c);
		return;
	}
	if (c->state != CONN_ST_HEAD) {
		/* CONN_ST_CLOSING: the client does not read its last response */
		conn_close(c);
		return;
	}
	if (c->head_start_ns)
		h1c_head_timeout(c);
	else
		conn_close(c); /* idle keep-alive connection: close quietly */
}

static void conn_on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	switch (c->state) {
	case CONN_ST_HEAD:
		if (c->n_req == 0 && c->w->cfg->gw.http2 && !c->tls) {
			int r = h2c_preface(bufferevent_get_input(bev));

			if (r == 0)
				break; /* could still be either: wait for more */
			if (r > 0) {
				h2c_start(c);
				break;
			}
		}
		h1c_on_head_bytes(c);
		break;
	case CONN_ST_H2:
		h2c_on_read(c);
		break;
	case CONN_ST_TXN:
		proxy_on_client_read(c->txn);
		break;
	case CONN_ST_CLOSING:
		/* a closing connection reads nothing more: discard */
		evbuffer_drain(bufferevent_get_input(bev),
		               evbuffer_get_length(bufferevent_get_input(bev)));
		break;
	}
}

static void conn_on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_ST_TXN)
		proxy_on_client_write(c->txn);
	else if (c->state == CONN_ST_H2)
		h2c_on_write(c);
	else if (c->state == CONN_ST_CLOSING &&
	         evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_close(c);
}

/* Logs a failed handshake from <c>'s address unless this worker logged one
 * from it recently: a scanner or a broken client must not flood the log. */
static void conn_tls_failed(struct conn *c)
{
	struct worker *w = c->w;
	uint32_t h = 2166136261u;
	unsigned long e;
	char why[160];

	metrics_conn_inc(w->m, METRICS_TLS_FAILURES);
	/* the bufferevent took OpenSSL's errors off the thread's queue; the
	 * first is the cause */
	if ((e = bufferevent_get_openssl_error(c->bev))) {
		ERR_error_string_n(e, why, sizeof(why));
		while (bufferevent_get_openssl_error(c->bev))
			;
	} else {
		snprintf(why, sizeof(why), "%s", errno ? strerror(errno) : "connection closed");
	}
	for (const char *p = c->peer_ip; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	if (w->tls_logged[h % WORKER_TLS_LOGGED] == h)
		return;
	w->tls_logged[h % WORKER_TLS_LOGGED] = h;
	log_at(LOG_INFO, w->id, c->id, 0, "TLS handshake with %s:%d failed: %s", c->peer_ip,
	       c->peer_port, why);
}

/* The TLS handshake of <c> completed: HTTP/2 if ALPN chose it. */
static void conn_tls_done(struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	c->tls_done = true;
	metrics_conn_inc(c->w->m, METRICS_TLS_HANDSHAKES);
	if (SSL_session_reused(ssl))
		metrics_conn_inc(c->w->m, METRICS_TLS_RESUMED);
	if (tls_is_h2(ssl))
		h2c_start(c);
}

static void conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		conn_tls_done(c);
		return;
	}
	if (c->tls && !c->tls_done) {
		conn_tls_failed(c);
		conn_close(c);
		return;
	}
	if (c->state == CONN_ST_H2) {
		h2c_on_event(c, what);
		return;
	}
	if (c->state == CONN_ST_TXN) {
		proxy_on_client_event(c->txn, what);
		return;
	}
	if (c->state == CONN_ST_HEAD && (what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		/* half-closed after a partial head: nothing more can complete it */
		if (evbuffer_get_length(bufferevent_get_input(bev)))
			log_at(LOG_DEBUG, c->w->id, c->id, 0, "client closed mid-head");
		/* a half-closed client still reads: the answers written to it
		 * (a local reply is not on the wire yet) go out first */
		conn_close_after_flush(c);
		return;
	}
	conn_close(c);
}

/* A bufferevent for accepted socket <fd>, TLS when <tls>; the socket is
 * closed on failure. */
static struct bufferevent *conn_bev(struct worker *w, int fd, bool tls)
{
	struct bufferevent *bev;
	SSL *ssl;

	if (!tls) {
		if (!(bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE)))
			close(fd);
		else
			conn_own_reads(bev);
		return bev;
	}
	if (!w->cur->g->tls || !(ssl = tls_srv_ssl(w->cur->g->tls))) {
		close(fd);
		return NULL;
	}
	/* with BEV_OPT_CLOSE_ON_FREE the bufferevent owns <ssl> and <fd> even
	 * when it fails to be made */
	bev = bufferevent_openssl_socket_new(w->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                     BEV_OPT_CLOSE_ON_FREE);
	if (bev)
		/* a client that closes without close_notify ends its stream, as
		 * on plain TCP: every body is framed, nothing can be truncated
		 * unnoticed */
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

int conn_accept(struct worker *w, int fd, const struct sockaddr *peer, int peer_len, bool tls)
{
	const struct cfg_gateway *g = &w->cfg->gw;
	struct conn *c;
	int one = 1;

	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->w = w;
	c->id = ++w->next_conn_id;
	memcpy(&c->peer, peer,
	       (size_t)peer_len < sizeof(c->peer) ? (size_t)peer_len : sizeof(c->peer));
	util_addr_ip((const struct sockaddr *)&c->peer, c->peer_ip, sizeof(c->peer_ip));
	c->peer_port = util_addr_port((const struct sockaddr *)&c->peer);
	c->tls = tls;
	c->bev = conn_bev(w, fd, tls);
	c->timer = evtimer_new(w->base, conn_on_timer, c);
	if (!c->bev || !c->timer) {
		if (c->bev)
			bufferevent_free(c->bev);
		if (c->timer)
			event_free(c->timer);
		free(c);
		return -ENOMEM;
	}
	bufferevent_setcb(c->bev, conn_on_read, conn_on_write, conn_on_event, c);
	conn_read_high(c->bev, CONN_READ_HIGH);
	/* libevent's 16 kB default splits a 1 MiB body into 64 reads and 64
	 * writes, each with its own epoll round; big bodies want big syscalls */
	bufferevent_set_max_single_read(c->bev, CONN_IO_MAX);
	bufferevent_set_max_single_write(c->bev, CONN_IO_MAX);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&w->conns, c, link);
	w->n_conns++;
	metrics_client_conns_add(w->m, 1);
	/* the first head is held to header_timeout from accept: a connection
	 * that never sends anything is a slowloris too */
	c->head_start_ns = util_mono_ns();
	conn_set_timer(c, g->header_timeout_ms);
	log_at(LOG_DEBUG, w->id, c->id, 0, "accepted from %s:%d", c->peer_ip, c->peer_port);
	return 0;
}

/* Ends the TLS session of <c> with a close_notify alert when all that was
 * written went out. Without one, OpenSSL drops the session from the cache
 * as it frees the connection (resumption by session id would never work),
 * and the client cannot tell our close from a cut. Never waits for the
 * client's alert. */
static void conn_tls_goodbye(struct conn *c)
{
	SSL *ssl;

	if (!c->tls || !c->tls_done || evbuffer_get_length(bufferevent_get_output(c->bev)))
		return;
	ssl = bufferevent_openssl_get_ssl(c->bev);
	/* a peer gone already (EPIPE) leaves errors: not this thread's next */
	if (ssl && SSL_shutdown(ssl) < 0)
		ERR_clear_error();
}

void conn_close(struct conn *c)
{
	struct worker *w = c->w;

	if (c->txn)
		proxy_abort(c->txn); /* finishes the txn as a client abort */
	if (c->h2)
		h2c_free(c); /* aborts the txn of every open stream */
	conn_tls_goodbye(c);
	TAILQ_REMOVE(&w->conns, c, link);
	w->n_conns--;
	metrics_client_conns_add(w->m, -1);
	event_free(c->timer);
	bufferevent_free(c->bev);
	free(c);
	worker_conn_closed(w);
}

void conn_close_after_flush(struct conn *c)
{
	struct timeval tv;
	uint32_t ms = c->w->cfg->gw.client_timeout_ms;

	c->state = CONN_ST_CLOSING;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_close(c);
		return;
	}
	/* stop reading: a client that keeps sending cannot keep us busy */
	bufferevent_disable(c->bev, EV_READ);
	worker_tv(c->w, ms, &tv);
	evtimer_add(c->timer, &tv);
}

void conn_txn_done(struct conn *c, bool keepalive)
{
	c->txn = NULL;
	if (!keepalive || c->w->draining) {
		conn_close_after_flush(c);
		return;
	}
	c->state = CONN_ST_HEAD;
	c->head_scanned = 0;
	c->head_start_ns = 0;
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_enable(c->bev, EV_READ);
	conn_set_timer(c, c->w->cfg->gw.idle_timeout_ms);
	/* a pipelined request may already be buffered */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)))
		h1c_on_head_bytes(c);
}

void conn_drain(struct conn *c)
{
	if (c->state == CONN_ST_H2) {
		h2c_drain(c);
		return;
	}
	if (c->state == CONN_ST_HEAD && evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
		conn_close(c);
}

/* What one read callback takes at most, as libevent 2.1 does: a head fits;
 * a body tops up with conn_read_more(). */
#define CONN_FIRST_READ 4096

/* Reads at most <want> bytes from <fd> onto the end of <in>, which the
 * caller has unfrozen, committing exactly what arrived across the reserved
 * extents. Returns what readv() returned: 0 at EOF, -1 with errno. */
static ssize_t conn_readv(evutil_socket_t fd, struct evbuffer *in, size_t want)
{
	struct evbuffer_iovec v[2];
	int nv = evbuffer_reserve_space(in, (ev_ssize_t)want, v, 2), err;
	ssize_t n;

	if (nv <= 0) {
		errno = ENOMEM;
		return -1;
	}
	if (v[0].iov_len >= want) {
		v[0].iov_len = want;
		nv = 1;
	} else if (nv > 1 && v[0].iov_len + v[1].iov_len > want) {
		v[1].iov_len = want - v[0].iov_len;
	}
	/* one stretch, the common case: recv() spares the kernel the iovec
	 * import readv() costs */
	n = nv == 1 ? recv(fd, v[0].iov_base, v[0].iov_len, 0) : readv(fd, (struct iovec *)v, nv);
	if (n <= 0) {
		err = errno;
		evbuffer_commit_space(in, v, 0);
		errno = err;
		return n;
	}
	if ((size_t)n <= v[0].iov_len) {
		v[0].iov_len = (size_t)n;
		nv = 1;
	} else {
		v[1].iov_len = (size_t)n - v[0].iov_len;
	}
	evbuffer_commit_space(in, v, nv);
	return n;
}

/* Reads what the socket of <bev> has, as libevent 2.1's socket bufferevent
 * read callback does, minus the FIONREAD ioctl evbuffer_read() makes before
 * every read to size it: a reserve of CONN_FIRST_READ bytes serves a
 * request or response head in one readv(), and bodies top up through
 * conn_read_more(). Watermarks, timeouts and callbacks behave as libevent
 * documents them: a read at or above the low watermark runs the read
 * callback, EOF, an error or the read timeout disable reading and run the
 * event callback. Nothing touches <bev> after a callback, which may free it. */
static void conn_on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct bufferevent *bev = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	short ev = BEV_EVENT_READING;
	size_t want = CONN_FIRST_READ, len = evbuffer_get_length(in);
	ssize_t n;
	int err;

	if (what == EV_TIMEOUT) {
		ev |= BEV_EVENT_TIMEOUT;
		goto fail;
	}
	/* at the high watermark reading stops (an enable may have added the
	 * event again); conn_on_input() resumes it below the mark */
	if (bev->wm_read.high) {
		if (len >= bev->wm_read.high) {
			event_del(&bev->ev_read);
			return;
		}
		if (want > bev->wm_read.high - len)
			want = bev->wm_read.high - len;
	}
	/* a bufferevent freezes the end of its input: only it may add there */
	evbuffer_unfreeze(in, 0);
	n = conn_readv(fd, in, want);
	evbuffer_freeze(in, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		ev |= n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR;
		goto fail;
	}
	if (bev->wm_read.high && evbuffer_get_length(in) >= bev->wm_read.high)
		event_del(&bev->ev_read);
	if (bev->readcb && evbuffer_get_length(in) >= bev->wm_read.low)
		bev->readcb(bev, bev->cbarg);
	return;
fail:
	err = errno;
	bufferevent_disable(bev, EV_READ);
	errno = err; /* for the callback's error text */
	if (bev->errorcb)
		bev->errorcb(bev, ev, bev->cbarg);
}

/* The input of <bev>, an own-read bufferevent, changed: when it fell below
 * the high watermark at which conn_on_readable() stopped reading, reading
 * resumes (if it is enabled). Any other change costs this test only. */
static void conn_on_input(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	struct bufferevent *bev = arg;
	size_t high = bev->wm_read.high;

	if (high && info->orig_size >= high && evbuffer_get_length(in) < high &&
	    (bev->enabled & EV_READ))
		event_add(&bev->ev_read,
		          evutil_timerisset(&bev->timeout_read) ? &bev->timeout_read : NULL);
}

void conn_own_reads(struct bufferevent *bev)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	/* the flags libevent 2.1 gives its own read event */
	event_assign(&bev->ev_read, bufferevent_get_base(bev), bufferevent_getfd(bev),
	             EV_READ | EV_PERSIST | EV_FINALIZE, conn_on_readable, bev);
	evbuffer_remove_cb(in, conn_on_input, bev); /* once, if called again */
	evbuffer_add_cb(in, conn_on_input, bev);
}

void conn_read_high(struct bufferevent *bev, size_t high)
{
	if (event_get_callback(&bev->ev_read) != conn_on_readable) {
		bufferevent_setwatermark(bev, EV_READ, 0, high);
		return;
	}
	/* libevent's own watermark callback would re-add the read event, and
	 * re-arm its timeout, on every change of the input: each read, each
	 * head parsed, each body moved. conn_on_readable() and
	 * conn_on_input() keep the mark instead */
	bev->wm_read.high = high;
}

size_t conn_read_more(struct bufferevent *bev, size_t limit)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	evutil_socket_t fd = bufferevent_getfd(bev);
	size_t total = 0;

	/* the read callback just took up to 4 kB: less means it drained the
	 * socket, and another read would only cost a syscall to say EAGAIN.
	 * A TLS socket holds ciphertext: only its bufferevent reads it. */
	if (evbuffer_get_length(in) < CONN_FIRST_READ || bufferevent_openssl_get_ssl(bev))
		return 0;
	evbuffer_unfreeze(in, 0);
	while (evbuffer_get_length(in) < limit) {
		size_t want = limit - evbuffer_get_length(in);
		ssize_t n;

		if (want > CONN_IO_MAX)
			want = CONN_IO_MAX;
		n = conn_readv(fd, in, want);
		if (n <= 0)
			break;
		total += (size_t)n;
		if ((size_t)n < want)
			break; /* drained: the next read would say EAGAIN */
	}
	evbuffer_freeze(in, 0);
	return total;
}

/* Used by h1c.c when a head starts or a request begins. */
void conn_arm_header_timer(struct conn *c)
{
	conn_set_timer(c, c->w->cfg->gw.header_timeout_ms);
}

/* Writes what it can of <out> to socket <fd> and drains it: one chain,
 * the common case, by send(), which spares the kernel the iovec import of
 * writev(). Returns the bytes written, or -1 with errno. */
static int conn_write(struct evbuffer *out, evutil_socket_t fd)
{
	struct evbuffer_iovec v;
	ssize_t n;

	/* with the whole length, evbuffer_peek() counts the chains it spans
	 * (with -1 it would stop at the one vector it fills) */
	if (evbuffer_peek(out, (ev_ssize_t)evbuffer_get_length(out), NULL, &v, 1) != 1)
		return evbuffer_write(out, fd);
	n = send(fd, v.iov_base, v.iov_len, MSG_NOSIGNAL);
	if (n > 0)
		evbuffer_drain(out, (size_t)n);
	return (int)n;
}

bool conn_send(struct bufferevent *bev, struct evbuffer *buf)
{
	struct evbuffer *out = bufferevent_get_output(bev);

	/* bytes already waiting go first, and OpenSSL frames its own */
	if (evbuffer_get_length(out) || bufferevent_openssl_get_ssl(bev)) {
		evbuffer_add_buffer(out, buf);
		return conn_flush(bev);
	}
	/* a failed or short write leaves the rest to the write event, which
	 * also reports an error */
	if (conn_write(buf, bufferevent_getfd(bev)) > 0 && evbuffer_get_length(buf) == 0)
		return true;
	evbuffer_add_buffer(out, buf);
	return false;
}

bool conn_flush(struct bufferevent *bev)
{
	struct evbuffer *out = bufferevent_get_output(bev);
	size_t n_out = evbuffer_get_length(out);
	SSL *ssl;
	int n;

	if (n_out == 0)
		return true;
	if ((ssl = bufferevent_openssl_get_ssl(bev))) {
		/* OpenSSL must frame it: the bufferevent's write callback does,
		 * one record and one write per chain. A short response is a head
		 * and a body moved in as a chain of its own: made one chain, it
		 * costs one record. That callback runs in this loop pass rather
		 * than once epoll saw the socket writable: the write event it
		 * removes when done was added in this pass, and the changelist
		 * folds both into no epoll_ctl at all (see the cleartext path) */
		if (n_out <= CONN_TLS_COALESCE)
			evbuffer_pullup(out, -1);
		if (SSL_is_init_finished(ssl) && event_pending(&bev->ev_write, EV_WRITE, NULL))
			event_active(&bev->ev_write, EV_WRITE, 1);
		return false;
	}
	/* a bufferevent freezes the start of its output: only its own write
	 * callback may drain there, and so do we, on its behalf. A failed
	 * write leaves the bytes: the write event reports the error. */
	evbuffer_unfreeze(out, 1);
	n = conn_write(out, bufferevent_getfd(bev));
	evbuffer_freeze(out, 1);
	if (n <= 0 || evbuffer_get_length(out))
		return false;
	event_del(&bev->ev_write); /* what libevent does once the output is empty */
	return true;
}
