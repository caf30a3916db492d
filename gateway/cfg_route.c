/* cfg_route.c: filter keys set per route.
 *
 * A registered section flags the keys a [route] may override (CFG_K_ROUTE):
 * "sample_ratio = 0.25" in [route checkout] overrides [tracing]'s value for
 * that route only. The loader records such keys here; once the whole file is
 * read (the [tracing] section may come after the routes), each route gets its
 * own copy of the section: the section's text values, then the route's.
 * The core stays ignorant of what the keys mean.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cfg_ld.h"

/* Finds the registered section whose CFG_K_ROUTE key is called <key>. */
static const struct cfg_section *cfg_route_owner(const char *key, int *idx)
{
	const struct cfg_section *sec;
	int i, k;

	for (i = 0; (sec = cfg_section_at(i)); i++) {
		if (sec->named)
			continue;
		k = cfg_key_index(sec, key);
		if (k >= 0 && (sec->keys[k].flags & CFG_K_ROUTE)) {
			*idx = k;
			return sec;
		}
	}
	return NULL;
}

static bool cfg_route_has_keys(const struct cfg_section *sec)
{
	const struct cfg_key *k;

	if (sec->named)
		return false;
	for (k = sec->keys; k->name; k++)
		if (k->flags & CFG_K_ROUTE)
			return true;
	return false;
}

bool cfg_route_key(struct cfg_ld *ld, struct cfg_inst *in, const char *key, const char *value)
{
	const struct cfg_section *sec;
	struct cfg_ovr *o, **tail;
	char msg[512];
	void *scratch;
	int k, rc;

	if (!(sec = cfg_route_owner(key, &k)))
		return false;
	for (tail = &in->ovr; *tail; tail = &(*tail)->next) {
		if ((*tail)->sec == sec && (*tail)->key == k) {
			cfg_err(ld, ld->line, in->label, NULL,
			        "duplicate key \"%s\" (first set at line %d)", key, (*tail)->line);
			in->n_errs++;
			return true;
		}
	}
	/* check the value now, so that its error points at this line */
	if (!(scratch = calloc(1, sec->size))) {
		ld->oom = true;
		return true;
	}
	rc = cfg_key_set(&sec->keys[k], scratch, value, msg, sizeof(msg));
	cfg_key_free(sec->keys, scratch);
	free(scratch);
	if (rc < 0) {
		cfg_err(ld, ld->line, in->label, key, "%s", msg);
		in->n_errs++;
		return true;
	}
	o = calloc(1, sizeof(*o));
	if (!o || !(o->val = strdup(value))) {
		free(o);
		ld->oom = true;
		return true;
	}
	o->sec = sec;
	o->key = k;
	o->line = ld->line;
	*tail = o;
	return true;
}

void cfg_route_nearest(const char *key, const char **best, int *best_d)
{
	const struct cfg_section *sec;
	const struct cfg_key *k;

	for (int i = 0; (sec = cfg_section_at(i)); i++)
		if (cfg_route_has_keys(sec))
			for (k = sec->keys; k->name; k++)
				if (k->flags & CFG_K_ROUTE)
					cfg_nearest(key, k->name, best, best_d);
}

static struct cfg_inst *cfg_route_find_sec(struct cfg_ld *ld, const struct cfg_section *sec)
{
	for (struct cfg_inst *in = ld->insts; in; in = in->next)
		if (in->sec == sec)
			return in;
	return NULL;
}

/* Builds <sec> as route <rt> sees it. Returns NULL on OOM. */
static struct cfg_inst *cfg_route_merge_one(struct cfg_ld *ld, struct cfg_inst *rt,
                                            const struct cfg_section *sec)
{
	struct cfg_inst *base = cfg_route_find_sec(ld, sec), *m;
	bool overridden = false;
	const struct cfg_ovr *o;
	char msg[512];
	size_t n = 0;

	while (sec->keys[n].name)
		n++;
	if (!(m = calloc(1, sizeof(*m))))
		return NULL;
	m->ld = ld;
	m->sec = sec;
	m->line = rt->line;
	m->obj = calloc(1, sec->size);
	m->key_line = calloc(n + 1, sizeof(int));
	if (!m->obj || !m->key_line) {
		cfg_inst_free(m);
		return NULL;
	}
	/* errors found by the section's check belong to the route */
	memcpy(m->label, rt->label, sizeof(m->label));
	for (size_t i = 0; i < n; i++) {
		const struct cfg_key *k = &sec->keys[i];
		const char *val = k->def;

		if (base && base->key_line[i] > 0) {
			val = base->key_val[i];
			m->key_line[i] = base->key_line[i];
		}
		for (o = rt->ovr; o; o = o->next) {
			if (o->sec == sec && o->key == (int)i) {
				val = o->val;
				m->key_line[i] = o->line;
				overridden = true;
			}
		}
		/* each value parsed once already: only memory can fail here */
		if (val && cfg_key_set(k, m->obj, val, msg, sizeof(msg)) < 0)
			cfg_err(ld, m->key_line[i], m->label, k->name, "%s", msg);
	}
	if (overridden && sec->check)
		sec->check(m, m->obj);
	if (m->n_errs)
		rt->n_errs += m->n_errs;
	return m;
}

void cfg_route_merge(struct cfg_ld *ld)
{
	const struct cfg_section *sec;
	struct cfg_inst *rt, *m, **tail;
	struct cfg_inst *base;

	for (rt = ld->insts; rt; rt = rt->next) {
		if (rt->sec != &cfg_sections_route || rt->n_errs)
			continue;
		tail = &rt->merged;
		for (int i = 0; (sec = cfg_section_at(i)); i++) {
			if (!cfg_route_has_keys(sec))
				continue;
			/* a broken section would only repeat its errors per route */
			base = cfg_route_find_sec(ld, sec);
			if (base && base->n_errs)
				continue;
			if (!(m = cfg_route_merge_one(ld, rt, sec))) {
				ld->oom = true;
				return;
			}
			*tail = m;
			tail = &m->next;
		}
	}
}

int cfg_route_build(struct cfg_inst *in, struct cfg_route *r)
{
	struct cfg_ext **tail = &r->ext, *e;

	for (struct cfg_inst *m = in->merged; m; m = m->next) {
		if (!(e = calloc(1, sizeof(*e))))
			return -ENOMEM;
		e->sec = m->sec;
		e->line = m->line;
		e->obj = m->obj;
		m->obj = NULL;
		*tail = e;
		tail = &e->next;
	}
	return 0;
}

const void *cfg_route_ext(const struct cfg_route *r, const char *section)
{
	for (const struct cfg_ext *e = r->ext; e; e = e->next)
		if (strcmp(e->sec->name, section) == 0)
			return e->obj;
	return NULL;
}
