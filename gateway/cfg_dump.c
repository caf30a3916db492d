/* cfg_dump.c: a loaded configuration written back as INI (cfg_write()),
 * for the admin listener's /config: every key of every section with its
 * effective value, defaults included, secrets redacted.
 */
#include <errno.h>
#include <string.h>

#include "cfg.h"

#define CFG_DUMP_VALUE 4096

/* Writes the keys of <sec> in the struct at <base>; with <unless>, only those
 * whose value differs from the struct at <unless> (a route's overrides). */
static void cfg_dump_keys(FILE *f, const struct cfg_section *sec, const void *base,
                          const void *unless)
{
	char v[CFG_DUMP_VALUE], w[CFG_DUMP_VALUE];

	for (const struct cfg_key *k = sec->keys; k->name; k++) {
		if (unless && (!(k->flags & CFG_K_ROUTE) ||
		               strcmp(cfg_key_show(k, base, v, sizeof(v)),
		                      cfg_key_show(k, unless, w, sizeof(w))) == 0))
			continue;
		cfg_key_show(k, base, v, sizeof(v));
		if (v[0])
			fprintf(f, "%s = %s\n", k->name, v);
		else
			fprintf(f, "; %s is not set\n", k->name);
	}
}

int cfg_write(const struct cfg *c, FILE *f)
{
	fprintf(f, "; %s, as loaded: every key with its effective value\n\n[gateway]\n", c->path);
	cfg_dump_keys(f, &cfg_sections_gateway, &c->gw, NULL);
	for (int i = 0; i < c->n_upstreams; i++) {
		fprintf(f, "\n[upstream %s]\n", c->upstreams[i].name);
		cfg_dump_keys(f, &cfg_sections_upstream, &c->upstreams[i], NULL);
	}
	for (int i = 0; i < c->n_routes; i++) {
		const struct cfg_route *r = &c->routes[i];

		fprintf(f, "\n[route %s]\n", r->name);
		cfg_dump_keys(f, &cfg_sections_route, r, NULL);
		for (const struct cfg_ext *e = r->ext; e; e = e->next)
			cfg_dump_keys(f, e->sec, e->obj, cfg_ext_get(c, e->sec->name, NULL));
	}
	for (const struct cfg_ext *e = c->ext; e; e = e->next) {
		if (e->name)
			fprintf(f, "\n[%s %s]\n", e->sec->name, e->name);
		else
			fprintf(f, "\n[%s]\n", e->sec->name);
		cfg_dump_keys(f, e->sec, e->obj, NULL);
	}
	return ferror(f) ? -EIO : 0;
}
