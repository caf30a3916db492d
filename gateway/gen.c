/* gen.c: configuration generations, their references, and the pointer to
 * the current one that the admin thread reads.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "cfg.h"
#include "gen.h"
#include "log.h"
#include "metrics.h"
#include "tls.h"
#include "tls_up.h"

/* Only the admin thread and the main thread take it, a few times a reload
 * or a /config: a lock is simpler than any lock-free scheme here. */
static pthread_mutex_t gen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gen *gen_cur;

static void gen_free(struct gen *g)
{
	for (int i = 0; g->filters && i < FLT_MAX && g->filters[i]; i++)
		if (g->flt[i] && g->filters[i]->gen_free)
			g->filters[i]->gen_free(g->flt[i]);
	tls_srv_free(g->tls);
	for (int i = 0; g->ups_tls && i < g->cfg->n_upstreams; i++)
		tls_up_free(g->ups_tls[i]);
	free(g->ups_tls);
	free(g->route_slot);
	free(g->ups_slot);
	cfg_free(g->cfg);
	free(g);
}

/* Fills <slot,n> with the metrics slots of <n> names (the config index
 * without a registry). */
static int gen_slots(int *slot, int n, struct metrics *m,
                     int (*get)(struct metrics *, const char *),
                     const char *(*name)(const struct cfg *, int), const struct cfg *c)
{
	for (int i = 0; i < n; i++) {
		slot[i] = m ? get(m, name(c, i)) : i;
		if (slot[i] < 0)
			return slot[i];
	}
	return 0;
}

static const char *gen_route_name(const struct cfg *c, int i)
{
	return c->routes[i].name;
}

static const char *gen_ups_name(const struct cfg *c, int i)
{
	return c->upstreams[i].name;
}

struct gen *gen_new(struct cfg *c, uint64_t serial, struct metrics *m,
                    const struct flt_ops *const *chain, int *err)
{
	struct gen *g = calloc(1, sizeof(*g));

	if (!g) {
		cfg_free(c);
		*err = -ENOMEM;
		return NULL;
	}
	g->cfg = c;
	g->serial = serial;
	atomic_init(&g->refs, 1);
	g->route_slot = calloc((size_t)c->n_routes + 1, sizeof(*g->route_slot));
	g->ups_slot = calloc((size_t)c->n_upstreams + 1, sizeof(*g->ups_slot));
	g->ups_tls = calloc((size_t)c->n_upstreams + 1, sizeof(*g->ups_tls));
	*err = !g->route_slot || !g->ups_slot || !g->ups_tls ? -ENOMEM : 0;
	if (!*err)
		*err = gen_slots(g->route_slot, c->n_routes, m, metrics_route_slot, gen_route_name,
		                 c);
	if (!*err)
		*err = gen_slots(g->ups_slot, c->n_upstreams, m, metrics_ups_slot, gen_ups_name, c);
	if (!*err) {
		char msg[400];

		g->tls = tls_srv_new(c, err, msg, sizeof(msg));
		if (*err)
			log_main(LOG_ERROR, "%s: TLS: %s", c->path, msg);
	}
	for (int i = 0; !*err && i < c->n_upstreams; i++) {
		char msg[400];

		if (!c->upstreams[i].tls)
			continue;
		if (!(g->ups_tls[i] = tls_up_new(&c->upstreams[i], msg, sizeof(msg)))) {
			log_main(LOG_ERROR, "%s: [upstream %s] TLS: %s", c->path,
			         c->upstreams[i].name, msg);
			*err = -EINVAL;
		}
	}
	g->filters = chain;
	for (int i = 0; !*err && i < FLT_MAX && chain[i]; i++)
		if (chain[i]->gen_new)
			*err = chain[i]->gen_new(c, &g->flt[i]);
	if (*err) {
		gen_free(g);
		return NULL;
	}
	return g;
}

void gen_get(struct gen *g)
{
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
}

void gen_put(struct gen *g)
{
	/* release: what this thread did with <g> happens before the free;
	 * acquire on the last one: the free sees all of it */
	if (g && atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
		gen_free(g);
}

struct gen *gen_current(void)
{
	struct gen *g;

	pthread_mutex_lock(&gen_lock);
	if ((g = gen_cur))
		gen_get(g);
	pthread_mutex_unlock(&gen_lock);
	return g;
}

void gen_set_current(struct gen *g)
{
	struct gen *old;

	pthread_mutex_lock(&gen_lock);
	old = gen_cur;
	gen_cur = g;
	pthread_mutex_unlock(&gen_lock);
	gen_put(old);
}
