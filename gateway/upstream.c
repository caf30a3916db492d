/* upstream.c: per-worker view of the [upstream] sections: choosing a server
 * (round robin or least request) and passive health (ejecting a server after
 * max_fails consecutive failures for fail_timeout_ms).
 */
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "log.h"
#include "h2u.h"
#include "tls_up.h"
#include "upool.h"
#include "upstream.h"
#include "util.h"
#include "worker.h"

struct ups *ups_new(struct worker *w, struct gen *g, int i)
{
	const struct cfg_upstream *c = &g->cfg->upstreams[i];
	struct ups *u = calloc(1, sizeof(*u));

	if (!u || !(u->srv = calloc((size_t)c->n_servers, sizeof(*u->srv)))) {
		free(u);
		return NULL;
	}
	u->cfg = c;
	u->w = w;
	u->n_srv = c->n_servers;
	u->mslot = g->ups_slot[i];
	u->refs = 1;
	u->gen = g;
	u->tls = g->ups_tls[i];
	gen_get(g);
	/* workers start at different servers so that a burst of new
	 * connections does not land on the first server only */
	u->rr = (uint32_t)w->id;
	for (int j = 0; j < u->n_srv; j++) {
		u->srv[j].addr = &c->servers[j];
		u->srv[j].ups = u;
		TAILQ_INIT(&u->srv[j].idle);
		TAILQ_INIT(&u->srv[j].h2);
	}
	return u;
}

bool ups_same(const struct ups *u, const struct cfg_upstream *c)
{
	return strcmp(u->cfg->name, c->name) == 0 &&
	       cfg_keys_same(&cfg_sections_upstream, u->cfg, c);
}

void ups_get(struct ups *u, struct gen *g, int i)
{
	const struct cfg_upstream *c = &g->cfg->upstreams[i];

	/* Same values at another address: the requests of older generations
	 * read the same settings through either. The reference keeps the
	 * memory <u> reads alive, whichever generation goes first. */
	gen_get(g);
	gen_put(u->gen);
	u->gen = g;
	u->cfg = c;
	/* the same settings built anew: new connections use the new context */
	u->tls = g->ups_tls[i];
	for (int j = 0; j < u->n_srv; j++)
		u->srv[j].addr = &c->servers[j];
	u->refs++;
	u->retired = false;
}

void ups_put(struct ups *u)
{
	if (--u->refs)
		return;
	for (int j = 0; j < u->n_srv; j++) {
		upool_flush(&u->srv[j]);
		h2u_flush(&u->srv[j]);
		tls_up_forget(&u->srv[j]);
	}
	free(u->srv);
	gen_put(u->gen);
	free(u);
}

/* Whether <s> takes requests; *<now> is read from the clock the first time
 * a server is ejected (most picks find none and need no clock). */
static bool ups_in_service(const struct ups_server *s, uint64_t *now)
{
	if (s->eject_until_ns == 0)
		return true;
	if (*now == 0)
		*now = util_mono_ns();
	return *now >= s->eject_until_ns;
}

struct ups_server *ups_pick(struct ups *u, const struct ups_server *avoid)
{
	uint64_t now = 0;
	struct ups_server *best = NULL, *soonest = NULL;

	for (int k = 0; k < u->n_srv; k++) {
		struct ups_server *s = &u->srv[(u->rr + (uint32_t)k) % (uint32_t)u->n_srv];

		if (s == avoid)
			continue;
		if (!ups_in_service(s, &now)) {
			if (!soonest || s->eject_until_ns < soonest->eject_until_ns)
				soonest = s;
			continue;
		}
		if (u->cfg->balance == CFG_BALANCE_ROUND_ROBIN) {
			best = s;
			break;
		}
		/* least_request: fewest in flight; ties go round robin */
		if (!best || s->active < best->active)
			best = s;
	}
	u->rr++;
	/* every server ejected: trying one beats refusing every request */
	return best ? best : soonest;
}

void ups_report(struct ups_server *s, bool ok)
{
	const struct cfg_upstream *c = s->ups->cfg;

	if (ok) {
		s->fails = 0;
		s->eject_until_ns = 0;
		return;
	}
	s->fails++;
	if (c->max_fails && s->fails >= c->max_fails) {
		if (s->fails == c->max_fails)
			log_at(LOG_WARN, s->ups->w->id, 0, 0,
			       "upstream %s: server %s ejected for %u ms after %u failures",
			       c->name, s->addr->text, c->fail_timeout_ms, s->fails);
		s->eject_until_ns = util_mono_ns() + (uint64_t)c->fail_timeout_ms * 1000000u;
	}
}
