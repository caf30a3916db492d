/* gen.h: configuration generations: what one loaded file became.
 *
 * The boot config is generation 1 and each reload that takes effect makes
 * the next. A generation holds the config, the metrics slots of its routes
 * and upstreams, and what each filter derived from it (flt_ops.gen_new).
 * A request runs to its end under the generation it started in, so an old
 * generation lives on until its last request is over: the main thread holds
 * a reference to the current one, each worker one to every generation it
 * still has requests in, and the last gen_put() frees it, on whichever
 * thread that happens.
 */
#ifndef TG_GEN_H
#define TG_GEN_H

#include <stdatomic.h>
#include <stdint.h>

#include "filter.h"

struct cfg;
struct metrics;
struct tls_srv;
struct tls_up;

struct gen {
	struct cfg *cfg;
	uint64_t serial; /* 1 = boot */
	atomic_uint refs;
	int *route_slot; /* [cfg->n_routes]: each route's metrics slot */
	int *ups_slot;   /* [cfg->n_upstreams] */
	const struct flt_ops *const *filters;
	void *flt[FLT_MAX];      /* filter i's gen_new() state, same index */
	struct tls_srv *tls;     /* the TLS listeners' contexts; NULL without any */
	struct tls_up **ups_tls; /* [cfg->n_upstreams]: client contexts; NULL where tls = off */
};

/* Makes generation <serial> of config <c>, which it owns from then on
 * (also on failure, when it frees it): takes metrics slots in <m> (NULL: a
 * slot is the config index) and calls every gen_new() of <chain>. Returns
 * it with one reference, or NULL with a negative errno in *<err> (a TLS
 * context, for the listeners or an upstream, that cannot be built is
 * logged here, with OpenSSL's reason). Main
 * thread. */
struct gen *gen_new(struct cfg *c, uint64_t serial, struct metrics *m,
                    const struct flt_ops *const *chain, int *err);

/* Takes one more reference to <g>. Any thread that holds one already. */
void gen_get(struct gen *g);

/* Drops a reference; the last one frees <g>, its config and what the
 * filters made of it. NULL is allowed. Any thread. */
void gen_put(struct gen *g);

/* The current generation for threads that are not workers (the admin's
 * /config): returns it with a reference the caller puts, or NULL before
 * boot. Any thread. */
struct gen *gen_current(void);

/* Makes <g> current, taking over the caller's reference, and puts the one
 * of the previous current generation (NULL: just forgets it). Main thread. */
void gen_set_current(struct gen *g);

#endif
