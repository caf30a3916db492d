/* upstream.h: an [upstream] as one worker sees it: servers, balancing,
 * passive health. Per worker, so choosing a server takes no lock; each
 * worker learns on its own that a server is failing.
 */
#ifndef TG_UPSTREAM_H
#define TG_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "cfg.h"

struct uconn;
struct worker;

struct ups_server {
	const struct cfg_addr *addr;
	struct ups *ups;
	TAILQ_HEAD(, uconn) idle; /* keep-alive pool, most recent first */
	uint32_t n_idle;
	uint32_t active;         /* requests in flight, for least_request */
	uint32_t fails;          /* consecutive failures */
	uint64_t eject_until_ns; /* monotonic; 0 = in service */
};

struct ups {
	const struct cfg_upstream *cfg;
	struct worker *w;
	uint32_t rr; /* round-robin cursor */
	int n_srv;
	struct ups_server *srv;
};

/* Returns an array of one struct ups per upstream of <c>, or NULL. */
struct ups *ups_new_all(struct worker *w, const struct cfg *c);

/* Frees what ups_new_all() returned, closing pooled connections. */
void ups_free_all(struct ups *u, int n);

/* Chooses a server of <u> by its balance, skipping ejected ones and <avoid>
 * (NULL for none). When every server is out, returns the one whose
 * ejection ends first rather than failing outright (panic routing). */
struct ups_server *ups_pick(struct ups *u, const struct ups_server *avoid);

/* Records the outcome of an attempt on <s>: <ok> resets the failure count;
 * max_fails consecutive failures eject <s> for fail_timeout_ms. */
void ups_report(struct ups_server *s, bool ok);

#endif
