/* cfg_dump.c: a loaded configuration written back as INI (cfg_write()),
 * for the admin listener's /config: every key of every section with its
 * effective value, defaults included, secrets redacted. And two configs
 * compared key by key, for reloads (cfg_keys_same(), cfg_restart_diff()).
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

bool cfg_keys_same(const struct cfg_section *sec, const void *a, const void *b)
{
	char v[CFG_DUMP_VALUE], w[CFG_DUMP_VALUE];

	for (const struct cfg_key *k = sec->keys; k->name; k++)
		if (strcmp(cfg_key_show(k, a, v, sizeof(v)), cfg_key_show(k, b, w, sizeof(w))))
			return false;
	return true;
}

static bool cfg_key_restarts(const struct cfg_section *sec, const struct cfg_key *k)
{
	return (k->flags & CFG_K_RESTART) || (sec->restart && !(k->flags & CFG_K_ROUTE));
}

/* Compares the restart-only keys of one section's two instances; <a> or <b>
 * NULL when the section is absent there (every key then holds its default,
 * which <dflt> has). */
static int cfg_restart_keys(const struct cfg *new, const struct cfg_section *sec, const char *name,
                            const void *a, const void *b, int line, FILE *err)
{
	char v[CFG_DUMP_VALUE], w[CFG_DUMP_VALUE];
	int n = 0;

	for (const struct cfg_key *k = sec->keys; k->name; k++) {
		if (!cfg_key_restarts(sec, k))
			continue;
		if (a && b &&
		    strcmp(cfg_key_show(k, a, v, sizeof(v)), cfg_key_show(k, b, w, sizeof(w))) == 0)
			continue;
		if (line)
			fprintf(err, "%s:%d: ", new->path, line);
		else
			fprintf(err, "%s: ", new->path);
		fprintf(err, "[%s%s%s] %s: changed; takes a restart\n", sec->name, name ? " " : "",
		        name ? name : "", k->name);
		n++;
		if (!a || !b)
			break; /* one line says the section came or went */
	}
	return n;
}

static const struct cfg_ext *cfg_ext_find(const struct cfg *c, const struct cfg_section *sec,
                                          const char *name)
{
	for (const struct cfg_ext *e = c->ext; e; e = e->next)
		if (e->sec == sec &&
		    (e->name == name || (e->name && name && !strcmp(e->name, name))))
			return e;
	return NULL;
}

int cfg_restart_diff(const struct cfg *old, const struct cfg *new, FILE *err)
{
	int n = cfg_restart_keys(new, &cfg_sections_gateway, NULL, &old->gw, &new->gw, 0, err);

	for (const struct cfg_ext *e = new->ext; e; e = e->next) {
		const struct cfg_ext *o = cfg_ext_find(old, e->sec, e->name);

		n += cfg_restart_keys(new, e->sec, e->name, o ? o->obj : NULL, e->obj, e->line,
		                      err);
	}
	for (const struct cfg_ext *o = old->ext; o; o = o->next)
		if (!cfg_ext_find(new, o->sec, o->name))
			n += cfg_restart_keys(new, o->sec, o->name, o->obj, NULL, 0, err);
	return n;
}
