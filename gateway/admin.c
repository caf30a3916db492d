/* admin.c: the admin listener: evhttp on its own thread and event base.
 *
 * Routes are a small table filled at boot and read-only once the thread
 * runs, so dispatching takes no lock. The thread is stopped through an
 * eventfd its loop watches: no other thread touches its event base.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin.h"
#include "gen.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define ADMIN_ROUTES_MAX 32

#define AD(m) CFG_FIELD(struct admin_cfg, m)

static const struct cfg_key admin_keys[] = {
        {"enabled", CFG_T_BOOL, AD(enabled), .def = "on",
         .doc = "off: no admin listener (no health checks, metrics or viewer)"},
        {"listen", CFG_T_ADDRS, AD(listen), .off_n = offsetof(struct admin_cfg, n_listen), .min = 0,
         .def = "127.0.0.1:9901", .unit = "host:port list",
         .doc = "addresses of the admin listener; keep it private"},
        {"max_body_bytes", CFG_T_SIZE, AD(max_body_bytes), .min = 1024, .max = 1ull << 30,
         .def = "8m", .unit = "bytes", .doc = "larger request bodies (OTLP exports) -> 413"},
        {.name = NULL},
};

static const struct cfg_section admin_section = {
        .name = "admin",
        .keys = admin_keys,
        .size = sizeof(struct admin_cfg),
        .doc = "health checks, Prometheus metrics, the trace viewer and its API",
        .restart = true,
};

struct admin_route {
	const char *path;
	size_t len;
	bool prefix;
	admin_fn fn;
	void *arg;
};

static struct {
	struct admin_route routes[ADMIN_ROUTES_MAX];
	int n_routes;
	struct event_base *base;
	struct evhttp *http;
	struct event *stop_ev;
	int stop_fd;
	pthread_t thread;
	bool running;
	atomic_bool draining;
} adm = {.stop_fd = -1};

int admin_declare(void)
{
	int err = cfg_register(&admin_section);

	return err == -EEXIST ? 0 : err;
}

int admin_route(const char *path, bool prefix, admin_fn fn, void *arg)
{
	if (adm.n_routes == ADMIN_ROUTES_MAX)
		return -ENOSPC;
	adm.routes[adm.n_routes++] = (struct admin_route){path, strlen(path), prefix, fn, arg};
	return 0;
}

void admin_set_draining(void)
{
	atomic_store(&adm.draining, true);
}

void admin_reply(struct evhttp_request *req, int status, const char *ctype, const void *body,
                 size_t len)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	if (b && len)
		evbuffer_add(b, body, len);
	evhttp_send_reply(req, status, NULL, b);
	if (b)
		evbuffer_free(b);
}

static void admin_text(struct evhttp_request *req, int status, const char *text)
{
	admin_reply(req, status, "text/plain; charset=utf-8", text, strlen(text));
}

static void admin_healthz(struct evhttp_request *req, void *arg)
{
	(void)arg;
	admin_text(req, 200, "ok\n");
}

/* Ready once the listeners are up and the config loaded (the thread only
 * runs then); not while draining, so a load balancer stops sending. */
static void admin_readyz(struct evhttp_request *req, void *arg)
{
	(void)arg;
	if (atomic_load(&adm.draining))
		admin_text(req, 503, "draining\n");
	else
		admin_text(req, 200, "ready\n");
}

static void admin_metrics(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = evbuffer_new();

	if (!b || metrics_render(arg, b) < 0) {
		admin_text(req, 500, "cannot render the metrics\n");
	} else {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		                  METRICS_CONTENT_TYPE);
		evhttp_send_reply(req, 200, NULL, b);
	}
	if (b)
		evbuffer_free(b);
}

/* The effective configuration, as INI, secrets redacted. */
/* The configuration new requests run under: the last reload's. */
static void admin_config(struct evhttp_request *req, void *arg)
{
	struct gen *g = gen_current();
	char *text = NULL;
	size_t len = 0;
	FILE *f = g ? open_memstream(&text, &len) : NULL;
	int err = !f || fprintf(f, "; generation %llu\n", (unsigned long long)g->serial) < 0 ||
	          cfg_write(g->cfg, f) < 0;

	if (f && fclose(f) != 0)
		err = 1;
	gen_put(g);
	if (err) {
		free(text);
		admin_text(req, 500, "cannot write the configuration\n");
		return;
	}
	admin_reply(req, 200, "text/plain; charset=utf-8", text, len);
	free(text);
}

static void admin_dispatch(struct evhttp_request *req, void *arg)
{
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	const struct admin_route *best = NULL;
	size_t len;

	(void)arg;
	if (!path)
		path = "/";
	len = strlen(path);
	for (int i = 0; i < adm.n_routes; i++) {
		const struct admin_route *r = &adm.routes[i];

		if (r->prefix ? len >= r->len && memcmp(path, r->path, r->len) == 0
		              : len == r->len && memcmp(path, r->path, len) == 0)
			if (!best || r->len > best->len)
				best = r;
	}
	if (best)
		best->fn(req, best->arg);
	else
		admin_text(req, 404, "not found\n");
}

static void admin_on_stop(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(adm.base);
}

static void *admin_main(void *arg)
{
	(void)arg;
	event_base_dispatch(adm.base);
	return NULL;
}

/* A non-blocking listening socket on <a>; its bound address in <bound>. */
static int admin_listen(const struct cfg_addr *a, struct sockaddr_storage *bound)
{
	socklen_t blen = sizeof(*bound);
	int one = 1, fd;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)bound, &blen) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void admin_free(void)
{
	if (adm.http)
		evhttp_free(adm.http);
	if (adm.stop_ev)
		event_free(adm.stop_ev);
	if (adm.base)
		event_base_free(adm.base);
	if (adm.stop_fd >= 0)
		close(adm.stop_fd);
	adm.http = NULL;
	adm.stop_ev = NULL;
	adm.base = NULL;
	adm.stop_fd = -1;
}

int admin_start(const struct cfg *c, struct metrics *m)
{
	const struct admin_cfg *ac = cfg_ext_get(c, "admin", NULL);
	int err = -ENOMEM;

	atomic_store(&adm.draining, false);
	if (!ac || !ac->enabled)
		return 0;
	admin_route("/healthz", false, admin_healthz, NULL);
	admin_route("/readyz", false, admin_readyz, NULL);
	admin_route("/config", false, admin_config, NULL);
	if (m)
		admin_route("/metrics", false, admin_metrics, m);
	adm.base = event_base_new();
	adm.http = adm.base ? evhttp_new(adm.base) : NULL;
	adm.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!adm.http || adm.stop_fd < 0)
		goto fail;
	adm.stop_ev = event_new(adm.base, adm.stop_fd, EV_READ, admin_on_stop, NULL);
	if (!adm.stop_ev || event_add(adm.stop_ev, NULL))
		goto fail;
	evhttp_set_gencb(adm.http, admin_dispatch, NULL);
	evhttp_set_max_body_size(adm.http, (ev_ssize_t)ac->max_body_bytes);
	evhttp_set_max_headers_size(adm.http, 16384);
	evhttp_set_timeout(adm.http, 30);
	evhttp_set_allowed_methods(adm.http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
	for (int i = 0; i < ac->n_listen; i++) {
		struct sockaddr_storage bound;
		char text[80];
		int fd = admin_listen(&ac->listen[i], &bound);

		if (fd < 0 || !evhttp_accept_socket_with_handle(adm.http, fd)) {
			err = fd < 0 ? fd : -ENOMEM;
			if (fd >= 0)
				close(fd);
			log_main(LOG_ERROR, "cannot listen on admin address %s: %s",
			         ac->listen[i].text, strerror(-err));
			goto fail;
		}
		log_main(LOG_INFO, "admin listening on %s",
		         util_addr_text((struct sockaddr *)&bound, text, sizeof(text)));
	}
	if ((err = -pthread_create(&adm.thread, NULL, admin_main, NULL)))
		goto fail;
	adm.running = true;
	return 0;
fail:
	if (err == -ENOMEM)
		log_main(LOG_ERROR, "cannot start the admin listener: out of memory");
	admin_free();
	adm.n_routes = 0;
	return err;
}

void admin_stop(void)
{
	uint64_t one = 1;

	if (adm.running) {
		if (write(adm.stop_fd, &one, sizeof(one)) < 0)
			log_main(LOG_WARN, "admin stop: %s", strerror(errno));
		pthread_join(adm.thread, NULL);
		adm.running = false;
	}
	admin_free();
	adm.n_routes = 0;
}
