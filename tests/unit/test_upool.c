/* test_upool.c: the keep-alive pool, with real sockets on 127.0.0.1 and one
 * event loop turn at a time: a connection taken out of the pool in the turn
 * its idle timeout fired in never reports that timeout to its new user. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cfg.h"
#include "upool.h"
#include "upstream.h"
#include "worker.h"

static struct worker w;
static struct cfg_upstream ucfg;
static struct ups_server srv;
static struct ups u;
static struct uconn *taken;
static short seen; /* what the connection reported to its user */

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	seen |= what;
}

/* A request arriving: takes the pooled connection, as proxy.c does. */
static void on_request(evutil_socket_t fd, short what, void *arg)
{
	taken = upool_get(&srv, false);
	cr_assert_not_null(taken, "the pool is empty");
	bufferevent_setcb(taken->bev, NULL, NULL, on_event, NULL);
	bufferevent_enable(taken->bev, EV_READ | EV_WRITE);
}

Test(upool, taken_in_the_turn_its_idle_timeout_fired)
{
	struct sockaddr_in *sa = (struct sockaddr_in *)&ucfg.servers[0].ss;
	socklen_t len = sizeof(*sa);
	int ls = socket(AF_INET, SOCK_STREAM, 0), peer;
	struct event *req;
	struct uconn *uc;

	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(ls, (struct sockaddr *)sa, len), 0);
	cr_assert_eq(listen(ls, 8), 0);
	cr_assert_eq(getsockname(ls, (struct sockaddr *)sa, &len), 0);
	ucfg.servers[0].len = len;
	ucfg.n_servers = 1;
	ucfg.keepalive = 1;
	ucfg.idle_timeout_ms = 1;
	w.base = event_base_new();
	u = (struct ups){.cfg = &ucfg, .w = &w, .n_srv = 1, .srv = &srv};
	srv.addr = &ucfg.servers[0];
	srv.ups = &u;
	TAILQ_INIT(&srv.idle);

	uc = upool_connect(&srv);
	cr_assert_not_null(uc);
	bufferevent_setcb(uc->bev, NULL, NULL, on_event, NULL);
	bufferevent_enable(uc->bev, EV_READ | EV_WRITE);
	while (!(seen & BEV_EVENT_CONNECTED))
		event_base_loop(w.base, EVLOOP_ONCE);
	peer = accept(ls, NULL, NULL);
	cr_assert_geq(peer, 0);
	seen = 0;
	upool_put(uc);
	cr_assert_eq(srv.n_idle, 1);

	/* the idle timeout (1 ms) is due: the next turn queues its callback
	 * after the request's, which was queued first */
	usleep(20 * 1000);
	req = event_new(w.base, -1, 0, on_request, NULL);
	event_active(req, EV_TIMEOUT, 0);
	event_base_loop(w.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	cr_assert_not_null(taken);
	for (int i = 0; i < 3; i++)
		event_base_loop(w.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	cr_expect_eq(seen, 0, "the new user got events 0x%x (a stale idle timeout)", seen);

	upool_free(taken);
	event_free(req);
	event_base_free(w.base);
	close(peer);
	close(ls);
}
