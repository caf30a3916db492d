/* upool.c: upstream connections and the per-worker keep-alive pools.
 * An idle connection is watched: a byte, a close or the idle timeout frees
 * it; when taken, a MSG_PEEK can catch a close that is still in flight.
 * A connection to an upstream with tls = on is an OpenSSL bufferevent over
 * the socket (tls_up.c makes its SSL).
 */
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>

#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "tls_up.h"
#include "upool.h"
#include "upstream.h"
#include "worker.h"

static void upool_unlink(struct uconn *uc)
{
	TAILQ_REMOVE(&uc->srv->idle, uc, link);
	uc->srv->n_idle--;
}

static void upool_on_idle_read(struct bufferevent *bev, void *arg)
{
	struct uconn *uc = arg;

	/* an idle server has nothing to say; whatever it sent, the stream is
	 * no longer at a message boundary */
	upool_unlink(uc);
	upool_free(uc);
}

/* Is <ms> the read timeout of <uc>? */
static bool upool_read_timeout_is(const struct uconn *uc, uint32_t ms)
{
	struct timeval tv;

	worker_tv(uc->srv->ups->w, ms, &tv);
	return uc->bev->timeout_read.tv_sec == tv.tv_sec &&
	       uc->bev->timeout_read.tv_usec == tv.tv_usec;
}

static void upool_on_idle_event(struct bufferevent *bev, short what, void *arg)
{
	struct uconn *uc = arg;
	const struct cfg_upstream *c = uc->srv->ups->cfg;
	struct timeval tv;

	/* the response timeout upool_put() kept ran out: the idle timeout
	 * goes on for what it has more, once */
	if ((what & BEV_EVENT_TIMEOUT) && uc->idle_first_part) {
		uc->idle_first_part = false;
		worker_tv(uc->srv->ups->w, c->idle_timeout_ms - c->response_timeout_ms, &tv);
		bufferevent_set_timeouts(bev, &tv, NULL);
		bufferevent_enable(bev, EV_READ); /* the timeout turned reading off */
		return;
	}
	upool_unlink(uc);
	upool_free(uc);
}

/* Is the socket still open with nothing unread? */
static bool upool_is_alive(struct uconn *uc)
{
	char b;
	ssize_t n;

	/* ciphertext: a session ticket is no reason to drop the connection */
	if (uc->tls)
		return tls_up_is_alive(bufferevent_openssl_get_ssl(uc->bev));
	n = recv(bufferevent_getfd(uc->bev), &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

struct uconn *upool_get(struct ups_server *s, bool probe)
{
	struct uconn *uc;

	while ((uc = TAILQ_FIRST(&s->idle))) {
		upool_unlink(uc);
		if (!probe || upool_is_alive(uc)) {
			uc->uses++;
			/* the idle timeout may have fired in this loop turn, its
			 * callback still queued (libevent took the event out of
			 * epoll to run it): disabling drops it (changing the
			 * timeouts would not), or the new request would time out
			 * at once; the caller enables reading again. Otherwise
			 * reading stays on: off and on again in one pass would
			 * cost an epoll_ctl per request. A read queued instead
			 * is harmless: that callback reads what the socket holds */
			if (!event_pending(&uc->bev->ev_read, EV_READ, NULL))
				bufferevent_disable(uc->bev, EV_READ);
			return uc;
		}
		upool_free(uc);
	}
	return NULL;
}

/* The TLS flavour of upool_connect(): the connect is started here, on
 * socket <fd> (taken over), and the OpenSSL bufferevent handshakes once the
 * socket is writable. Its socket holds ciphertext: conn_own_reads() and
 * the direct reads and writes of conn.c stay away from it. */
static struct uconn *upool_connect_tls(struct uconn *uc, int fd)
{
	struct ups_server *s = uc->srv;
	struct worker *w = s->ups->w;
	SSL *ssl = tls_up_ssl(s->ups->tls, uc);

	/* a connect refused at once is left for the handshake to report, as
	 * libevent does for a plain one: the attempt fails through the event
	 * callback and may be retried on another server */
	(void)connect(fd, (const struct sockaddr *)&s->addr->ss, s->addr->len);
	if (!ssl) {
		close(fd);
		free(uc);
		errno = ENOMEM;
		return NULL;
	}
	/* with BEV_OPT_CLOSE_ON_FREE the bufferevent owns <ssl> and <fd> even
	 * when it fails to be made */
	uc->bev = bufferevent_openssl_socket_new(w->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
	                                         BEV_OPT_CLOSE_ON_FREE);
	if (!uc->bev) {
		free(uc);
		errno = ENOMEM;
		return NULL;
	}
	uc->tls = true;
	/* a server that closes without close_notify ends its stream, as on
	 * plain TCP: responses are framed, a cut one is still seen as cut */
	bufferevent_openssl_set_allow_dirty_shutdown(uc->bev, 1);
	bufferevent_set_max_single_read(uc->bev, CONN_IO_MAX);
	bufferevent_set_max_single_write(uc->bev, CONN_IO_MAX);
	metrics_ups_conns_add(w->m, s->ups->mslot, 1);
	return uc;
}

struct uconn *upool_connect(struct ups_server *s)
{
	struct worker *w = s->ups->w;
	const struct cfg_addr *a = s->addr;
	struct uconn *uc = calloc(1, sizeof(*uc));
	int one = 1, fd;

	if (!uc)
		return NULL;
	uc->srv = s;
	uc->uses = 1;
	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		free(uc);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (s->ups->tls)
		return upool_connect_tls(uc, fd);
	uc->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!uc->bev) {
		close(fd);
		free(uc);
		return NULL;
	}
	bufferevent_set_max_single_read(uc->bev, CONN_IO_MAX);
	bufferevent_set_max_single_write(uc->bev, CONN_IO_MAX);
	/* a refused connect is reported through the event callback later */
	if (bufferevent_socket_connect(uc->bev, (const struct sockaddr *)&a->ss, (int)a->len) < 0) {
		bufferevent_free(uc->bev);
		free(uc);
		errno = ECONNREFUSED;
		return NULL;
	}
	conn_own_reads(uc->bev);
	metrics_ups_conns_add(w->m, s->ups->mslot, 1);
	return uc;
}

int upool_tls_established(struct uconn *uc, char *why, size_t len)
{
	struct ups *u = uc->srv->ups;
	bool resumed;

	if (tls_up_established(bufferevent_openssl_get_ssl(uc->bev), u->cfg, &resumed, why, len)) {
		metrics_ups_inc(u->w->m, u->mslot, METRICS_UPS_TLS_FAILURES);
		return -1;
	}
	if (resumed)
		metrics_ups_inc(u->w->m, u->mslot, METRICS_UPS_TLS_RESUMED);
	return 0;
}

bool upool_tls_failed(struct uconn *uc, short what, char *why, size_t len)
{
	struct ups *u = uc->srv->ups;
	int err = errno;

	if (!uc->tcp_ns)
		return false;
	metrics_ups_inc(u->w->m, u->mslot, METRICS_UPS_TLS_FAILURES);
	tls_up_forget(uc->srv);
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, len, "handshake not done within connect_timeout_ms");
	else
		tls_up_error(uc->bev, err, why, len);
	return true;
}

bool upool_tls_alert(struct uconn *uc, char *why, size_t len)
{
	struct ups *u = uc->srv->ups;
	unsigned long e = tls_up_bev_error(uc->bev);

	if (!e)
		return false;
	metrics_ups_inc(u->w->m, u->mslot, METRICS_UPS_TLS_FAILURES);
	tls_up_forget(uc->srv);
	tls_up_reason(e, why, len);
	return true;
}

void upool_put(struct uconn *uc)
{
	struct ups_server *s = uc->srv;
	const struct cfg_upstream *c = s->ups->cfg;
	struct timeval tv;
	bool kept;

	if (s->n_idle >= c->keepalive || s->ups->w->draining || s->ups->retired) {
		upool_free(uc);
		return;
	}
	bufferevent_setcb(uc->bev, upool_on_idle_read, NULL, upool_on_idle_event, uc);
	/* A txn leaves response_timeout_ms on reads, counted from the last
	 * byte read. When the idle timeout is no shorter, that one serves as
	 * its first part and upool_on_idle_event() arms the rest: setting
	 * timeouts costs an event_add, and the txn that takes the connection
	 * sets its own again. */
	kept = c->idle_timeout_ms >= c->response_timeout_ms &&
	       upool_read_timeout_is(uc, c->response_timeout_ms);
	uc->idle_first_part = kept && c->idle_timeout_ms > c->response_timeout_ms;
	if (!kept) {
		worker_tv(s->ups->w, c->idle_timeout_ms, &tv);
		bufferevent_set_timeouts(uc->bev, &tv, NULL);
	}
	/* the watermarks stay the txn's: any byte still wakes the idle read */
	if (!(bufferevent_get_enabled(uc->bev) & EV_READ))
		bufferevent_enable(uc->bev, EV_READ);
	/* most recent first: warm connections stay warm, cold ones time out */
	TAILQ_INSERT_HEAD(&s->idle, uc, link);
	s->n_idle++;
}

void upool_free(struct uconn *uc)
{
	struct worker *w = uc->srv->ups->w;

	metrics_ups_conns_add(w->m, uc->srv->ups->mslot, -1);
	/* libevent may free the SSL later, from a finalizer: its callbacks
	 * must not find <uc> then */
	if (uc->tls)
		SSL_set_app_data(bufferevent_openssl_get_ssl(uc->bev), NULL);
	bufferevent_free(uc->bev);
	free(uc);
}

void upool_flush(struct ups_server *s)
{
	struct uconn *uc;

	while ((uc = TAILQ_FIRST(&s->idle))) {
		upool_unlink(uc);
		upool_free(uc);
	}
}
