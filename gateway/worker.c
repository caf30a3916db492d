/* worker.c: a worker thread: its event_base, its SO_REUSEPORT listeners, its
 * connections and upstream pools, its batch of access-log lines, the
 * switch to a reloaded configuration, and the graceful drain on stop.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "conn.h"
#include "gen.h"
#include "h2c.h"
#include "log.h"
#include "txn.h"
#include "upstream.h"
#include "worker.h"

#define WORKER_ALOG_BATCH (32 * 1024)
#define WORKER_ALOG_MS    200

static void worker_alog_flush(struct worker *w)
{
	while (evbuffer_get_length(w->alog)) {
		/* a failed log write must not stall requests: drop the batch */
		if (evbuffer_write(w->alog, w->alog_fd) <= 0) {
			evbuffer_drain(w->alog, evbuffer_get_length(w->alog));
			break;
		}
	}
}

static void worker_on_alog_timer(evutil_socket_t fd, short what, void *arg)
{
	worker_alog_flush(arg);
}

void worker_alog_commit(struct worker *w)
{
	struct timeval tv = {0, WORKER_ALOG_MS * 1000};

	if (evbuffer_get_length(w->alog) >= WORKER_ALOG_BATCH)
		worker_alog_flush(w);
	else if (!evtimer_pending(w->alog_timer, NULL))
		evtimer_add(w->alog_timer, &tv);
}

static void worker_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                             int len, void *arg)
{
	struct worker *w = arg;
	bool tls = false;

	/* the current config says what each listener speaks: a reload may turn
	 * an address kept open from cleartext to TLS */
	for (int i = 0; i < w->n_listen; i++)
		if (w->listeners[i] == l) {
			tls = cfg_gw_listener_tls(&w->cfg->gw, i);
			break;
		}
	if (conn_accept(w, fd, sa, len, tls) < 0) {
		log_at(LOG_ERROR, w->id, 0, 0, "cannot set up an accepted connection: %s",
		       strerror(ENOMEM));
		return;
	}
	if (w->n_conns >= w->cfg->gw.max_connections && !w->paused) {
		log_at(LOG_WARN, w->id, 0, 0, "max_connections (%u) reached: pausing accept",
		       w->cfg->gw.max_connections);
		for (int i = 0; i < w->n_listen; i++)
			evconnlistener_disable(w->listeners[i]);
		w->paused = true;
	}
}

/* Accepting again after a pause for want of descriptors. */
static void worker_on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	if (w->paused || w->draining)
		return; /* max_connections holds them; a closed connection resumes */
	for (int i = 0; i < w->n_listen; i++)
		evconnlistener_enable(w->listeners[i]);
}

static void worker_on_accept_error(struct evconnlistener *l, void *arg)
{
	struct worker *w = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = {0, 100 * 1000};

	/* EMFILE and friends: the listener stays readable, so accepting again
	 * at once would spin; pause while connections free descriptors */
	if (!evtimer_pending(w->accept_timer, NULL))
		log_at(LOG_ERROR, w->id, 0, 0, "accept: %s: pausing accept for 100 ms",
		       evutil_socket_error_to_string(err));
	for (int i = 0; i < w->n_listen; i++)
		evconnlistener_disable(w->listeners[i]);
	evtimer_add(w->accept_timer, &tv);
}

static void worker_close_listeners(struct worker *w)
{
	for (int i = 0; i < w->n_listen; i++) {
		if (w->listeners[i]) {
			evconnlistener_free(w->listeners[i]);
			w->listeners[i] = NULL;
		} else if (w->listen_fds[i] >= 0) {
			close(w->listen_fds[i]);
		}
		w->listen_fds[i] = -1;
	}
}

void worker_conn_closed(struct worker *w)
{
	if (w->paused && !w->draining && w->n_conns < w->cfg->gw.max_connections) {
		for (int i = 0; i < w->n_listen; i++)
			evconnlistener_enable(w->listeners[i]);
		w->paused = false;
	}
	if (w->draining && w->n_conns == 0)
		event_base_loopexit(w->base, NULL);
}

static void worker_on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct conn *c;

	log_at(LOG_WARN, w->id, 0, 0, "drain_timeout_ms reached: closing %u connections",
	       w->n_conns);
	while ((c = TAILQ_FIRST(&w->conns)))
		conn_close(c);
	event_base_loopexit(w->base, NULL);
}

/* ---- configuration generations ---- */

static void worker_wgen_free(struct wgen *wg)
{
	for (int i = 0; i < wg->g->cfg->n_upstreams; i++)
		ups_put(wg->ups[i]);
	gen_put(wg->g);
	free(wg);
}

void worker_gen_release(struct worker *w, struct wgen *wg)
{
	if (--wg->users == 0)
		worker_wgen_free(wg);
}

/* The ups of the current generation that runs as <c> says, or NULL. */
static struct ups *worker_ups_same(struct worker *w, const struct cfg_upstream *c)
{
	for (int j = 0; w->cur && j < w->cfg->n_upstreams; j++)
		if (ups_same(w->cur->ups[j], c))
			return w->cur->ups[j];
	return NULL;
}

/* The worker's view of generation <g>: the upstreams whose settings did not
 * change come over from the current view with their pools and health; the
 * others start afresh. NULL on ENOMEM (nothing taken). */
static struct wgen *worker_wgen_new(struct worker *w, struct gen *g)
{
	const struct cfg *c = g->cfg;
	struct wgen *wg = calloc(1, sizeof(*wg) + (size_t)c->n_upstreams * sizeof(wg->ups[0]));
	int i;

	if (!wg)
		return NULL;
	/* first what can fail: the new ones */
	for (i = 0; i < c->n_upstreams; i++)
		if (!worker_ups_same(w, &c->upstreams[i]) && !(wg->ups[i] = ups_new(w, g, i)))
			break;
	if (i < c->n_upstreams) {
		while (i--)
			if (wg->ups[i])
				ups_put(wg->ups[i]);
		free(wg);
		return NULL;
	}
	for (i = 0; i < c->n_upstreams; i++) {
		if (!wg->ups[i]) {
			wg->ups[i] = worker_ups_same(w, &c->upstreams[i]);
			ups_get(wg->ups[i], g, i);
		}
	}
	wg->g = g;
	wg->users = 1;
	return wg;
}

static struct evconnlistener *worker_listener(struct worker *w, int fd)
{
	/* backlog 0: the socket is listening already, with main.c's backlog
	 * (-1 would make libevent listen() again, with 128) */
	struct evconnlistener *l =
	        evconnlistener_new(w->base, worker_on_accept, w, LEV_OPT_CLOSE_ON_FREE, 0, fd);

	if (l) {
		evconnlistener_set_error_cb(l, worker_on_accept_error);
		if (w->paused)
			evconnlistener_disable(l);
	}
	return l;
}

/* Accepts on the addresses of <gw> from now on: keeps the listeners on
 * addresses it had, takes the new sockets <fds>, closes the rest. */
static void worker_relisten(struct worker *w, const struct cfg_gateway *gw, const int *fds)
{
	struct evconnlistener *nl[CFG_MAX_LISTENERS] = {NULL};
	int nfd[CFG_MAX_LISTENERS], n = cfg_gw_n_listeners(gw);

	for (int i = 0; i < n; i++) {
		nfd[i] = fds[i];
		if (fds[i] >= 0) {
			if (w->draining || !(nl[i] = worker_listener(w, fds[i]))) {
				close(fds[i]); /* draining: accepting no more */
				nfd[i] = -1;
			}
			continue;
		}
		for (int j = 0; j < w->n_listen; j++) {
			if (w->listen_fds[j] >= 0 && strcmp(cfg_gw_listener(&w->cfg->gw, j)->text,
			                                    cfg_gw_listener(gw, i)->text) == 0) {
				nl[i] = w->listeners[j];
				nfd[i] = w->listen_fds[j];
				w->listeners[j] = NULL;
				w->listen_fds[j] = -1;
				break;
			}
		}
	}
	worker_close_listeners(w);
	w->n_listen = n;
	for (int i = 0; i < n; i++) {
		w->listeners[i] = nl[i];
		w->listen_fds[i] = nfd[i];
	}
}

/* Frees an update <u> (NULL is fine) that no worker will take. */
static void worker_update_drop(struct worker_update *u)
{
	if (!u)
		return;
	for (int i = 0; i < cfg_gw_n_listeners(&u->g->cfg->gw); i++)
		if (u->fds[i] >= 0)
			close(u->fds[i]);
	gen_put(u->g);
	free(u);
}

static void worker_on_update(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct worker_update *u;
	struct wgen *wg, *old = w->cur;
	uint64_t n, serial;

	if (read(fd, &n, sizeof(n)) < 0 ||
	    !(u = atomic_exchange_explicit(&w->update, NULL, memory_order_acquire)))
		return;
	serial = u->g->serial;
	if (!(wg = worker_wgen_new(w, u->g))) {
		log_at(LOG_ERROR, w->id, 0, 0,
		       "configuration %llu: out of memory; this worker keeps configuration %llu",
		       (unsigned long long)serial, (unsigned long long)old->g->serial);
		worker_update_drop(u);
	} else {
		for (int j = 0; j < w->cfg->n_upstreams; j++)
			old->ups[j]->retired = true;
		for (int i = 0; i < wg->g->cfg->n_upstreams; i++)
			wg->ups[i]->retired = false;
		worker_relisten(w, &wg->g->cfg->gw, u->fds);
		w->cur = wg;
		w->cfg = wg->g->cfg;
		worker_gen_release(w, old);
		worker_conn_closed(w); /* max_connections may have changed */
		free(u);
	}
	/* serial moves on either way: the main thread waits for it */
	atomic_store_explicit(&w->serial, serial, memory_order_release);
}

void worker_update(struct worker *w, struct worker_update *u)
{
	uint64_t one = 1;

	atomic_store_explicit(&w->update, u, memory_order_release);
	if (write(w->update_fd, &one, sizeof(one)) < 0)
		log_main(LOG_ERROR, "cannot update worker %d: %s", w->id, strerror(errno));
}

static void worker_on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval tv;
	struct conn *c, *next;
	uint32_t ms = w->cfg->gw.drain_timeout_ms;

	if (w->draining)
		return;
	w->draining = true;
	worker_close_listeners(w);
	/* idle keep-alive connections go now; busy ones after their response */
	for (c = TAILQ_FIRST(&w->conns); c; c = next) {
		next = TAILQ_NEXT(c, link);
		conn_drain(c);
	}
	if (w->n_conns == 0) {
		event_base_loopexit(w->base, NULL);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(w->drain_timer, &tv);
}

int worker_init(struct worker *w, int id, struct gen *g, const struct flt_ops *const *filters,
                const int *fds, int n, int alog_fd)
{
	const struct cfg *c = g->cfg;
	struct event_config *cfg_ev;

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->stop_fd = -1;
	w->update_fd = -1;
	w->filters = filters;
	w->alog_fd = alog_fd;
	w->n_listen = n;
	TAILQ_INIT(&w->conns);
	for (int i = 0; i < n; i++)
		w->listen_fds[i] = fds[i];
	/* the changelist folds an event added and deleted within one loop turn
	 * into nothing: see conn_flush() */
	cfg_ev = event_config_new();
	if (!cfg_ev || event_config_set_flag(cfg_ev, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) ||
	    event_config_set_flag(cfg_ev, EVENT_BASE_FLAG_NOLOCK))
		w->base = NULL;
	else
		w->base = event_base_new_with_config(cfg_ev);
	if (cfg_ev)
		event_config_free(cfg_ev);
	if (!w->base)
		return -ENOMEM;
	w->alog = evbuffer_new();
	w->head_out = evbuffer_new();
	w->alog_timer = evtimer_new(w->base, worker_on_alog_timer, w);
	w->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->stop_ev = event_new(w->base, w->stop_fd, EV_READ, worker_on_stop, w);
	w->drain_timer = evtimer_new(w->base, worker_on_drain_timeout, w);
	w->accept_timer = evtimer_new(w->base, worker_on_accept_retry, w);
	w->update_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->update_ev = event_new(w->base, w->update_fd, EV_READ | EV_PERSIST, worker_on_update, w);
	if ((w->cur = worker_wgen_new(w, g))) {
		w->cfg = c;
		atomic_init(&w->serial, g->serial);
	} else {
		gen_put(g);
	}
	w->hdr_scratch = calloc(c->gw.max_headers, sizeof(*w->hdr_scratch));
	if (!w->hdr_scratch || !w->alog || !w->head_out || !w->alog_timer || w->stop_fd < 0 ||
	    !w->stop_ev || !w->drain_timer || !w->accept_timer || !w->cur || w->update_fd < 0 ||
	    !w->update_ev || event_add(w->stop_ev, NULL) || event_add(w->update_ev, NULL))
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (!(w->listeners[i] = worker_listener(w, fds[i])))
			return -ENOMEM;
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	return NULL;
}

int worker_start(struct worker *w)
{
	return -pthread_create(&w->thread, NULL, worker_main, w);
}

void worker_stop(struct worker *w)
{
	uint64_t one = 1;

	/* a write the worker's loop sees as a read event: the bases have no
	 * locks, so no other thread may touch their events */
	if (write(w->stop_fd, &one, sizeof(one)) < 0)
		log_main(LOG_ERROR, "cannot stop worker %d: %s", w->id, strerror(errno));
}

void worker_tv(struct worker *w, uint32_t ms, struct timeval *tv)
{
	const struct timeval *common;

	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
	if (ms == 0)
		return;
	for (unsigned i = 0; i < w->n_tvs; i++)
		if (w->tvs[i].ms == ms) {
			*tv = w->tvs[i].tv;
			return;
		}
	/* more durations than that (reloads that keep changing them): the
	 * others go through the heap, as any timeout does */
	if (w->n_tvs == WORKER_TVS || !(common = event_base_init_common_timeout(w->base, tv)))
		return;
	w->tvs[w->n_tvs++] = (struct worker_tv){ms, *common};
	*tv = *common;
}

void worker_join(struct worker *w)
{
	struct conn *c;

	pthread_join(w->thread, NULL);
	while ((c = TAILQ_FIRST(&w->conns)))
		conn_close(c);
	worker_close_listeners(w);
	if (w->cur)
		worker_gen_release(w, w->cur);
	worker_update_drop(atomic_exchange(&w->update, NULL)); /* came too late */
	free(w->hdr_scratch);
	h2c_spare_free(w);
	txn_spare_free(w);
	if (w->alog_fd >= 0)
		worker_alog_flush(w);
	evbuffer_free(w->alog);
	if (w->head_out)
		evbuffer_free(w->head_out);
	event_free(w->alog_timer);
	event_free(w->stop_ev);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	if (w->update_ev)
		event_free(w->update_ev);
	if (w->update_fd >= 0)
		close(w->update_fd);
	event_free(w->drain_timer);
	if (w->accept_timer)
		event_free(w->accept_timer);
	event_base_free(w->base);
}
