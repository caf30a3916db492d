/* upstream.c: per-worker view of the [upstream] sections: choosing a server
 * (round robin or least request) and passive health (ejecting a server after
 * max_fails consecutive failures for fail_timeout_ms).
 */
#include <stdlib.h>

#include "log.h"
#include "upool.h"
#include "upstream.h"
#include "util.h"
#include "worker.h"

struct ups *ups_new_all(struct worker *w, const struct cfg *c)
{
	struct ups *all = calloc((size_t)c->n_upstreams ? (size_t)c->n_upstreams : 1, sizeof(*all));

	if (!all)
		return NULL;
	for (int i = 0; i < c->n_upstreams; i++) {
		struct ups *u = &all[i];

		u->cfg = &c->upstreams[i];
		u->w = w;
		u->n_srv = u->cfg->n_servers;
		u->srv = calloc((size_t)u->n_srv, sizeof(*u->srv));
		if (!u->srv) {
			ups_free_all(all, i);
			return NULL;
		}
		/* workers start at different servers so that a burst of new
		 * connections does not land on the first server only */
		u->rr = (uint32_t)w->id;
		for (int j = 0; j < u->n_srv; j++) {
			u->srv[j].addr = &u->cfg->servers[j];
			u->srv[j].ups = u;
			TAILQ_INIT(&u->srv[j].idle);
		}
	}
	return all;
}

void ups_free_all(struct ups *all, int n)
{
	if (!all)
		return;
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < all[i].n_srv && all[i].srv; j++)
			upool_flush(&all[i].srv[j]);
		free(all[i].srv);
	}
	free(all);
}

static bool ups_in_service(const struct ups_server *s, uint64_t now)
{
	return s->eject_until_ns == 0 || now >= s->eject_until_ns;
}

struct ups_server *ups_pick(struct ups *u, const struct ups_server *avoid)
{
	uint64_t now = util_mono_ns();
	struct ups_server *best = NULL, *soonest = NULL;

	for (int k = 0; k < u->n_srv; k++) {
		struct ups_server *s = &u->srv[(u->rr + (uint32_t)k) % (uint32_t)u->n_srv];

		if (s == avoid)
			continue;
		if (!ups_in_service(s, now)) {
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
