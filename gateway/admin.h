/* admin.h: the admin listener ([admin] listen, 127.0.0.1:9901 by default).
 *
 * A small HTTP server (libevent's evhttp) on a thread of its own, away from
 * the workers: /healthz, /readyz, plus what the rest of the process adds
 * with admin_route() at boot (metrics, the trace store's API and viewer).
 * Its handlers run on the admin thread, so whatever they read must be safe
 * to read from there.
 */
#ifndef TG_ADMIN_H
#define TG_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

struct evhttp_request;
struct metrics;

/* [admin] */
struct admin_cfg {
	bool enabled;
	struct cfg_addr listen[CFG_MAX_LISTEN];
	int n_listen;
	uint64_t max_body_bytes; /* request bodies (OTLP posted to the admin port) */
};

/* Answers <req>. Runs on the admin thread. */
typedef void (*admin_fn)(struct evhttp_request *req, void *arg);

/* Registers [admin] with the config loader. Boot thread, before cfg_load(). */
int admin_declare(void);

/* Serves <path> (every path under it when <prefix>, e.g. "/api/traces/")
 * with <fn>. The longest match wins. Returns 0 or -ENOSPC. Boot thread,
 * before admin_start(). */
int admin_route(const char *path, bool prefix, admin_fn fn, void *arg);

/* Binds the admin listeners of <c> and starts the admin thread, serving
 * /metrics from <m> (NULL: no /metrics). Returns 0
 * (also when [admin] is disabled) or a negative errno, having logged why.
 * Boot thread. */
int admin_start(const struct cfg *c, struct metrics *m);

/* Makes /readyz answer 503: the process is draining. Any thread. */
void admin_set_draining(void);

/* Stops the admin thread and closes its listeners; forgets the routes.
 * Boot thread. */
void admin_stop(void);

/* Sends <body,len> as a <status> response of type <ctype>. */
void admin_reply(struct evhttp_request *req, int status, const char *ctype, const void *body,
                 size_t len);

#endif
