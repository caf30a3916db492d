/* upstream.h: an [upstream] as one worker sees it: servers, balancing,
 * passive health. Per worker, so choosing a server takes no lock; each
 * worker learns on its own that a server is failing.
 *
 * A reload that leaves an upstream's settings as they were hands the same
 * struct ups, pool and health included, to the new generation: the worker's
 * generations that use it hold a reference each (ups_get(), ups_put()).
 */
#ifndef TG_UPSTREAM_H
#define TG_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "cfg.h"

struct gen;
struct h2u_conn;
struct ssl_session_st;
struct tls_up;
struct uconn;
struct worker;

struct ups_server {
	const struct cfg_addr *addr;
	struct ups *ups;
	TAILQ_HEAD(, uconn) idle; /* keep-alive pool, most recent first */
	uint32_t n_idle;
	TAILQ_HEAD(, h2u_conn) h2;       /* HTTP/2 connections (protocol = h2c | h2) */
	uint32_t active;                 /* requests in flight, for least_request */
	uint32_t fails;                  /* consecutive failures */
	uint64_t eject_until_ns;         /* monotonic; 0 = in service */
	struct ssl_session_st *tls_sess; /* last TLS session it gave us (tls_up.c) */
	uint64_t tls_sess_ctx;           /* the id of the context it came from */
};

struct ups {
	const struct cfg_upstream *cfg;
	struct worker *w;
	uint32_t rr; /* round-robin cursor */
	int n_srv;
	struct ups_server *srv;
	int mslot;          /* its metrics slot */
	uint32_t refs;      /* the worker's generations that use it */
	bool retired;       /* the current generation does not: pool nothing more */
	struct gen *gen;    /* whose config cfg points into (a reference) */
	struct tls_up *tls; /* gen's client context for it; NULL without tls = on */
};

/* Returns a new ups of worker <w> for upstream <i> of generation <g>, with
 * one reference; NULL on ENOMEM. */
struct ups *ups_new(struct worker *w, struct gen *g, int i);

/* Returns true when <u> runs as <c> says: same name and same settings. */
bool ups_same(const struct ups *u, const struct cfg_upstream *c);

/* Takes one more reference to <u> for generation <g>, whose upstream <i> is
 * the same as u->cfg by ups_same(): <u> reads that one from now on. */
void ups_get(struct ups *u, struct gen *g, int i);

/* Drops a reference; the last frees <u>, closing its pooled connections. */
void ups_put(struct ups *u);

/* Chooses a server of <u> by its balance, skipping ejected ones and <avoid>
 * (NULL for none). When every server is out, returns the one whose
 * ejection ends first rather than failing outright (panic routing). */
struct ups_server *ups_pick(struct ups *u, const struct ups_server *avoid);

/* Records the outcome of an attempt on <s>: <ok> resets the failure count;
 * max_fails consecutive failures eject <s> for fail_timeout_ms. */
void ups_report(struct ups_server *s, bool ok);

#endif
