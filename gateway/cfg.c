/* cfg.c: reads the INI file and builds the struct cfg.
 *
 * libinih splits "key = value" lines. Our line reader in front of it counts
 * lines (Debian's inih passes no line numbers), reads [section] headers itself
 * (so that an empty section still exists and a bad header is reported) and
 * reports malformed lines, so a file's errors are all listed at once, in line
 * order. Values go through the key tables (cfg_keys.c, cfg_sections.c).
 * Boot thread only: inih is configured through process globals.
 */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cfg_ld.h"

#define CFG_LINE_MAX     4096       /* ini_max_line; a line holds 3 bytes less */
#define CFG_FILE_MAX     (16 << 20) /* larger is not a configuration file */
#define CFG_ERRORS_SHOWN 100

/* Records "FILE:LINE: [SECTION] KEY: message"; <label> and <key> may be NULL. */
static void cfg_verr(struct cfg_ld *ld, int line, const char *label, const char *key,
                     const char *fmt, va_list ap)
{
	char msg[1024], where[32] = "";
	struct cfg_err *e;
	int n;

	if (ld->n_errs == ld->cap_errs) {
		int cap = ld->cap_errs ? 2 * ld->cap_errs : 16;

		e = realloc(ld->errs, (size_t)cap * sizeof(*e));
		if (!e) {
			ld->oom = true;
			return;
		}
		ld->errs = e;
		ld->cap_errs = cap;
	}
	e = &ld->errs[ld->n_errs];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0)
		snprintf(where, sizeof(where), ":%d", line);
	if (label)
		n = asprintf(&e->text, "%s%s: [%s]%s%s: %s", ld->file, where, label, key ? " " : "",
		             key ? key : "", msg);
	else
		n = asprintf(&e->text, "%s%s: %s%s%s", ld->file, where, key ? key : "",
		             key ? ": " : "", msg);
	if (n < 0) {
		ld->oom = true;
		return;
	}
	e->line = line;
	e->seq = ld->n_errs++;
}

void cfg_err(struct cfg_ld *ld, int line, const char *label, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_verr(ld, line, label, key, fmt, ap);
	va_end(ap);
}

int cfg_key_index(const struct cfg_section *sec, const char *key)
{
	int i;

	for (i = 0; sec->keys[i].name; i++)
		if (strcmp(sec->keys[i].name, key) == 0)
			return i;
	return -1;
}

int cfg_key_line(const struct cfg_inst *in, const char *key)
{
	int i = cfg_key_index(in->sec, key);

	return i < 0 ? 0 : abs(in->key_line[i]);
}

void cfg_report(struct cfg_inst *in, const char *key, const char *fmt, ...)
{
	int line = key ? cfg_key_line(in, key) : 0;
	va_list ap;

	va_start(ap, fmt);
	cfg_verr(in->ld, line ? line : in->line, in->label, key, fmt, ap);
	va_end(ap);
	in->n_errs++;
}

/* Edit distance, case-insensitive, for "did you mean"; long words are far. */
static int cfg_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	int row[CFG_NAME_MAX + 1];

	if (la > CFG_NAME_MAX || lb > CFG_NAME_MAX)
		return CFG_NAME_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (i = 1; i <= la; i++) {
		int diag = row[0];

		row[0] = (int)i;
		for (j = 1; j <= lb; j++) {
			int up = row[j];
			int cost = tolower((unsigned char)a[i - 1]) !=
			           tolower((unsigned char)b[j - 1]);
			int best = diag + cost;

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* Keeps *<best> as the candidate nearest to <word>, if near enough. */
void cfg_nearest(const char *word, const char *cand, const char **best, int *best_d)
{
	int d = cfg_distance(word, cand);
	int limit = strlen(cand) >= 6 ? 2 : 1;

	/* a one-letter name is near everything: no guess there */
	if (d <= limit && d < (int)strlen(cand) && d < *best_d) {
		*best = cand;
		*best_d = d;
	}
}

/* Section kinds and names: what can sit in a header without ambiguity. */
static bool cfg_is_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= CFG_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static struct cfg_inst *cfg_inst_new(struct cfg_ld *ld, const struct cfg_section *sec,
                                     const char *name, int line)
{
	struct cfg_inst *in = calloc(1, sizeof(*in));
	size_t n_keys = 0;

	while (sec->keys[n_keys].name)
		n_keys++;
	if (!in)
		goto oom;
	in->ld = ld;
	in->sec = sec;
	in->line = line;
	in->obj = calloc(1, sec->size);
	in->key_line = calloc(n_keys + 1, sizeof(int));
	in->key_val = calloc(n_keys + 1, sizeof(char *));
	in->name = name ? strdup(name) : NULL;
	if (!in->obj || !in->key_line || !in->key_val || (name && !in->name))
		goto oom;
	snprintf(in->label, sizeof(in->label), "%s%s%s", sec->name, name ? " " : "",
	         name ? name : "");
	*ld->tail = in;
	ld->tail = &in->next;
	return in;
oom:
	if (in) {
		free(in->obj);
		free(in->key_line);
		free(in->key_val);
		free(in->name);
		free(in);
	}
	ld->oom = true;
	return NULL;
}

void cfg_inst_free(struct cfg_inst *in)
{
	struct cfg_ovr *o, *next_o;
	struct cfg_inst *m, *next_m;

	if (in->obj) {
		cfg_key_free(in->sec->keys, in->obj);
		free(in->obj);
	}
	for (int i = 0; in->key_val && in->sec->keys[i].name; i++)
		free(in->key_val[i]);
	for (o = in->ovr; o; o = next_o) {
		next_o = o->next;
		free(o->val);
		free(o);
	}
	for (m = in->merged; m; m = next_m) {
		next_m = m->next;
		cfg_inst_free(m);
	}
	free(in->name);
	free(in->key_line);
	free(in->key_val);
	free(in);
}

/* A "[kind]" or "[kind NAME]" line, <p> at the '['. Sets ld->cur, or
 * ld->skip when the section is refused (its keys would only add noise). */
static void cfg_on_header(struct cfg_ld *ld, char *p)
{
	char got[128], *end = strchr(p, ']');
	char *kind, *name = NULL, *rest;
	const struct cfg_section *sec;
	const char *best = NULL;
	struct cfg_inst *in;
	int best_d = CFG_NAME_MAX, i;

	cfg_quote(got, sizeof(got), p);
	ld->cur = NULL;
	ld->skip = true;
	if (end) {
		rest = end + 1 + strspn(end + 1, " \t");
		if (*rest && *rest != ';')
			end = NULL;
	}
	if (end) {
		/* trim the inside, then split it at the first blank */
		while (end > p + 1 && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = '\0';
		kind = p + 1 + strspn(p + 1, " \t");
		rest = kind + strcspn(kind, " \t");
		if (*rest) {
			*rest++ = '\0';
			name = rest + strspn(rest, " \t");
		}
	}
	if (!end || !cfg_is_name(kind)) {
		cfg_err(ld, ld->line, NULL, NULL,
		        "expected a section header like [gateway] or [route NAME], got %s", got);
		return;
	}
	sec = cfg_section_find(kind);
	if (!sec) {
		const char *shown = name && cfg_is_name(name) ? name : NULL;

		for (i = 0; cfg_section_at(i); i++)
			cfg_nearest(kind, cfg_section_at(i)->name, &best, &best_d);
		if (best)
			cfg_err(ld, ld->line, NULL, NULL,
			        "unknown section [%s%s%s] (did you mean [%s%s%s]?)", kind,
			        shown ? " " : "", shown ? shown : "", best, shown ? " " : "",
			        shown ? shown : "");
		else
			cfg_err(ld, ld->line, NULL, NULL, "unknown section [%s%s%s]", kind,
			        shown ? " " : "", shown ? shown : "");
		return;
	}
	if (sec->named && !name) {
		cfg_err(ld, ld->line, NULL, NULL, "[%s] needs a name, as in [%s NAME]", kind, kind);
		return;
	}
	if (!sec->named && name) {
		cfg_err(ld, ld->line, NULL, NULL, "[%s] takes no name, got %s", kind, got);
		return;
	}
	if (name && !cfg_is_name(name)) {
		cfg_err(ld, ld->line, NULL, NULL,
		        "[%s NAME]: expected a NAME of 1 to %d letters, digits, '_', '-' or '.', "
		        "got %s",
		        kind, CFG_NAME_MAX, got);
		return;
	}
	for (in = ld->insts; in; in = in->next) {
		if (in->sec == sec && (!name || strcmp(in->name, name) == 0)) {
			cfg_err(ld, ld->line, NULL, NULL,
			        "duplicate section [%s] (first at line %d)", in->label, in->line);
			return;
		}
	}
	ld->cur = cfg_inst_new(ld, sec, name, ld->line);
	ld->skip = false;
}

/* Sorts what a line is. Returns true for a "key = value" line that inih must
 * see; anything else is handled (or reported) here. */
static bool cfg_classify(struct cfg_ld *ld, char *line)
{
	char got[128], *p = line + strspn(line, " \t\v\f");
	bool was_space = false;
	char *q;

	if (*p == '\0' || *p == ';' || *p == '#')
		return false;
	if (*p == '[') {
		cfg_on_header(ld, p);
		return false;
	}
	/* stop where inih would: '=' or ':' splits, " ;" starts a comment */
	for (q = p; *q && *q != '=' && *q != ':' && !(was_space && *q == ';'); q++)
		was_space = *q == ' ' || *q == '\t';
	if (*q == '=' && q > p)
		return true;
	cfg_quote(got, sizeof(got), p);
	if (*q == '=')
		cfg_err(ld, ld->line, NULL, NULL, "expected a key name before '=', got %s", got);
	else
		cfg_err(ld, ld->line, NULL, NULL,
		        "expected \"key = value\", a [section] or a ; comment, got %s", got);
	return false;
}

/* The ini_reader: hands inih one line at a time, blanking every line that
 * is not "key = value" so that inih only splits keys from values. */
static char *cfg_read_line(char *buf, int size, void *stream)
{
	struct cfg_ld *ld = stream;
	const char *s = ld->text + ld->pos;
	const char *nl;
	size_t n;

	if (ld->pos >= ld->len)
		return NULL;
	nl = memchr(s, '\n', ld->len - ld->pos);
	n = nl ? (size_t)(nl - s) : ld->len - ld->pos;
	ld->pos += n + (nl != NULL);
	ld->line++;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (ld->line == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;
		n -= 3;
	}
	strcpy(buf, "\n");
	if (memchr(s, '\0', n)) {
		cfg_err(ld, ld->line, NULL, NULL, "expected text, got a NUL byte");
	} else if (size < 3 || n > (size_t)size - 3) {
		cfg_err(ld, ld->line, NULL, NULL, "line longer than %d bytes", size - 3);
	} else {
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (cfg_classify(ld, buf) && !ld->skip) {
			buf[n] = '\n';
			buf[n + 1] = '\0';
		} else {
			strcpy(buf, "\n");
		}
	}
	return buf;
}

/* The ini_handler. <section> is ignored: the reader tracks ours, which also
 * sees empty sections and is not cut at inih's 50 characters. */
static int cfg_on_key(void *user, const char *section, const char *key, const char *value)
{
	struct cfg_ld *ld = user;
	struct cfg_inst *in = ld->cur;
	char got[128], msg[512];
	const char *best = NULL;
	int best_d = CFG_NAME_MAX, i;

	(void)section;
	cfg_quote(got, sizeof(got), key);
	if (!in) {
		cfg_err(ld, ld->line, NULL, NULL, "key %s before any [section]", got);
		return 1;
	}
	i = cfg_key_index(in->sec, key);
	if (i < 0 && in->sec == &cfg_sections_route && cfg_route_key(ld, in, key, value))
		return 1;
	if (i < 0) {
		for (i = 0; in->sec->keys[i].name; i++)
			cfg_nearest(key, in->sec->keys[i].name, &best, &best_d);
		if (in->sec == &cfg_sections_route)
			cfg_route_nearest(key, &best, &best_d);
		if (best)
			cfg_err(ld, ld->line, in->label, NULL,
			        "unknown key %s (did you mean \"%s\"?)", got, best);
		else
			cfg_err(ld, ld->line, in->label, NULL, "unknown key %s", got);
		in->n_errs++;
		return 1;
	}
	if (in->key_line[i]) {
		cfg_err(ld, ld->line, in->label, NULL, "duplicate key %s (first set at line %d)",
		        got, abs(in->key_line[i]));
		in->n_errs++;
		return 1;
	}
	in->key_line[i] = ld->line;
	if (!(in->key_val[i] = strdup(value)))
		ld->oom = true;
	if (cfg_key_set(&in->sec->keys[i], in->obj, value, msg, sizeof(msg)) < 0) {
		cfg_err(ld, ld->line, in->label, key, "%s", msg);
		in->key_line[i] = -ld->line;
		in->n_errs++;
	}
	return 1;
}

/* Defaults for what was not set (or refused), required keys, section check. */
static void cfg_inst_finish(struct cfg_ld *ld, struct cfg_inst *in)
{
	const struct cfg_key *k;
	char msg[512];
	int i;

	for (i = 0; in->sec->keys[i].name; i++) {
		k = &in->sec->keys[i];
		if (in->key_line[i] > 0)
			continue;
		if (k->def && cfg_key_set(k, in->obj, k->def, msg, sizeof(msg)) < 0)
			cfg_err(ld, in->line, in->label, k->name, "bad built-in default: %s", msg);
		if (!in->key_line[i] && (k->flags & CFG_K_REQUIRED) && in->line > 0) {
			cfg_err(ld, in->line, in->label, NULL, "missing required key %s", k->name);
			in->n_errs++;
		}
	}
	/* a check over values already refused would only repeat the error */
	if (in->sec->check && in->n_errs == 0)
		in->sec->check(in, in->obj);
}

static struct cfg_inst *cfg_find(struct cfg_ld *ld, const struct cfg_section *sec, const char *name)
{
	struct cfg_inst *in;

	for (in = ld->insts; in; in = in->next)
		if (in->sec == sec && (!name || (in->name && strcmp(in->name, name) == 0)))
			return in;
	return NULL;
}

/* Checks across sections: routes name existing upstreams and differ. */
static void cfg_cross_check(struct cfg_ld *ld)
{
	struct cfg_inst *in, *up, *prev;
	const char *best;
	int best_d;

	for (in = ld->insts; in; in = in->next) {
		const struct cfg_route *r = in->obj;

		if (in->sec != &cfg_sections_route)
			continue;
		if (r->upstream_name && !cfg_find(ld, &cfg_sections_upstream, r->upstream_name)) {
			best = NULL;
			best_d = CFG_NAME_MAX;
			for (up = ld->insts; up; up = up->next)
				if (up->sec == &cfg_sections_upstream)
					cfg_nearest(r->upstream_name, up->name, &best, &best_d);
			if (best)
				cfg_report(in, "upstream",
				           "no [upstream %s] in this file (did you mean [upstream "
				           "%s]?)",
				           r->upstream_name, best);
			else
				cfg_report(in, "upstream", "no [upstream %s] in this file",
				           r->upstream_name);
		}
		/* a route with errors holds defaults that would compare equal */
		for (prev = ld->insts; prev != in && in->n_errs == 0; prev = prev->next) {
			const struct cfg_route *o = prev->obj;

			if (prev->sec != &cfg_sections_route || prev->n_errs ||
			    o->methods != r->methods || !o->path_prefix || !r->path_prefix ||
			    strcmp(o->path_prefix, r->path_prefix) != 0 || !o->host != !r->host ||
			    (o->host && strcmp(o->host, r->host) != 0))
				continue;
			cfg_report(
			        in, NULL,
			        "ambiguous: same host, path_prefix and methods as [%s] (line %d)",
			        prev->label, prev->line);
			break;
		}
	}
	if (!cfg_find(ld, &cfg_sections_route, NULL))
		cfg_err(ld, 0, NULL, NULL, "no [route] section: nothing to proxy");
	in = cfg_find(ld, &cfg_sections_gateway, NULL);
	if (in && ((const struct cfg_gateway *)in->obj)->n_listen_tls &&
	    !cfg_find(ld, &cfg_sections_certificate, NULL))
		cfg_report(in, "listen_tls", "TLS listeners need a [certificate] section");
}

/* Moves the parsed sections into a new struct cfg. Returns NULL on OOM. */
static struct cfg *cfg_build(struct cfg_ld *ld)
{
	struct cfg *c = calloc(1, sizeof(*c));
	struct cfg_route *route = NULL;
	struct cfg_ext **tail;
	struct cfg_inst *in;
	int nu = 0, nr = 0, i, j;

	if (!c)
		return NULL;
	tail = &c->ext;
	for (in = ld->insts; in; in = in->next) {
		nu += in->sec == &cfg_sections_upstream;
		nr += in->sec == &cfg_sections_route;
	}
	c->path = strdup(ld->file);
	c->upstreams = calloc((size_t)nu + 1, sizeof(*c->upstreams));
	c->routes = calloc((size_t)nr + 1, sizeof(*c->routes));
	if (!c->path || !c->upstreams || !c->routes)
		goto oom;
	for (in = ld->insts; in; in = in->next) {
		if (in->sec == &cfg_sections_gateway) {
			memcpy(&c->gw, in->obj, sizeof(c->gw));
		} else if (in->sec == &cfg_sections_upstream) {
			struct cfg_upstream *u = &c->upstreams[c->n_upstreams++];

			memcpy(u, in->obj, sizeof(*u));
			u->name = in->name;
			u->line = in->line;
		} else if (in->sec == &cfg_sections_route) {
			struct cfg_route *r = &c->routes[c->n_routes++];

			memcpy(r, in->obj, sizeof(*r));
			r->name = in->name;
			r->line = in->line;
			route = r;
		} else {
			struct cfg_ext *e = calloc(1, sizeof(*e));

			if (!e)
				goto oom;
			e->sec = in->sec;
			e->name = in->name;
			e->line = in->line;
			e->obj = in->obj;
			*tail = e;
			tail = &e->next;
			in->name = NULL;
			in->obj = NULL;
			continue;
		}
		/* the struct now owns the strings: keep the instance from freeing them */
		free(in->obj);
		in->obj = NULL;
		in->name = NULL;
		if (route && cfg_route_build(in, route))
			goto oom;
		route = NULL;
	}
	for (i = 0; i < c->n_routes; i++)
		for (j = 0; j < c->n_upstreams; j++)
			if (strcmp(c->routes[i].upstream_name, c->upstreams[j].name) == 0)
				c->routes[i].upstream = &c->upstreams[j];
	return c;
oom:
	cfg_free(c);
	return NULL;
}

static int cfg_err_cmp(const void *a, const void *b)
{
	const struct cfg_err *x = a, *y = b;
	unsigned lx = (unsigned)x->line - 1, ly = (unsigned)y->line - 1; /* 0 sorts last */

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x->seq - y->seq;
}

/* Reads <text>, named <file> in messages. Same contract as cfg_load(). */
static int cfg_load_text(const char *file, const char *text, size_t len, FILE *err,
                         struct cfg **out)
{
	struct cfg_ld ld = {.file = file, .text = text, .len = len};
	const struct cfg_section *sec;
	struct cfg_inst *in, *next;
	struct cfg *c = NULL;
	int i, rc;

	ld.tail = &ld.insts;
	ini_allow_multiline = false;
	ini_allow_bom = false; /* the reader strips it: inih would count it twice */
	ini_allow_inline_comments = true;
	ini_inline_comment_prefixes = ";";
	ini_start_comment_prefixes = ";#";
	ini_allow_no_value = false;
	ini_stop_on_first_error = false;
	ini_use_stack = false;
	/* no realloc: inih would then read a long line in pieces, each a call
	 * of our reader, and our line count would drift. With a heap buffer
	 * and no realloc, inih sizes it from ini_initial_alloc, not
	 * ini_max_line, so both are set. */
	ini_allow_realloc = false;
	ini_max_line = CFG_LINE_MAX;
	ini_initial_alloc = CFG_LINE_MAX;

	rc = ini_parse_stream(cfg_read_line, &ld, cfg_on_key, &ld);
	if (rc == -2)
		ld.oom = true;
	for (i = 0; (sec = cfg_section_at(i)); i++)
		if (!sec->named && !cfg_find(&ld, sec, NULL))
			cfg_inst_new(&ld, sec, NULL, 0);
	for (in = ld.insts; in && !ld.oom; in = in->next)
		cfg_inst_finish(&ld, in);
	if (!ld.oom)
		cfg_cross_check(&ld);
	if (!ld.oom)
		cfg_route_merge(&ld);

	if (ld.n_errs)
		qsort(ld.errs, (size_t)ld.n_errs, sizeof(*ld.errs), cfg_err_cmp);
	for (i = 0; i < ld.n_errs; i++) {
		if (err && i < CFG_ERRORS_SHOWN)
			fprintf(err, "%s\n", ld.errs[i].text);
		free(ld.errs[i].text);
	}
	if (err && ld.n_errs > CFG_ERRORS_SHOWN)
		fprintf(err, "%s: %d more errors not shown\n", file, ld.n_errs - CFG_ERRORS_SHOWN);
	free(ld.errs);

	rc = ld.oom ? -ENOMEM : ld.n_errs ? -EINVAL : 0;
	if (rc == 0) {
		c = cfg_build(&ld);
		if (!c)
			rc = -ENOMEM;
	}
	if (rc == -ENOMEM && err)
		fprintf(err, "%s: out of memory\n", file);
	for (in = ld.insts; in; in = next) {
		next = in->next;
		cfg_inst_free(in);
	}
	*out = c;
	return rc;
}

int cfg_load(const char *path, FILE *err, struct cfg **out)
{
	char *buf = NULL, *grown;
	size_t len = 0, cap = 0, n;
	FILE *f;
	int rc;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f) {
		rc = errno;
		if (err)
			fprintf(err, "%s: cannot open: %s\n", path, strerror(rc));
		return -rc;
	}
	do {
		if (len == cap) {
			cap = cap ? 2 * cap : 16384;
			grown = cap <= CFG_FILE_MAX + 1 ? realloc(buf, cap) : NULL;
			if (!grown) {
				rc = cap > CFG_FILE_MAX + 1 ? EFBIG : ENOMEM;
				goto fail;
			}
			buf = grown;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		rc = errno ? errno : EIO;
		goto fail;
	}
	fclose(f);
	rc = cfg_load_text(path, buf, len, err, out);
	free(buf);
	return rc;
fail:
	if (err && rc == EFBIG)
		fprintf(err, "%s: cannot read: larger than %d bytes\n", path, CFG_FILE_MAX);
	else if (err)
		fprintf(err, "%s: cannot read: %s\n", path, strerror(rc));
	fclose(f);
	free(buf);
	return -rc;
}

int cfg_load_string(const char *name, const char *text, FILE *err, struct cfg **out)
{
	*out = NULL;
	return cfg_load_text(name, text, strlen(text), err, out);
}

static void cfg_ext_free(struct cfg_ext *e)
{
	struct cfg_ext *next;

	for (; e; e = next) {
		next = e->next;
		cfg_key_free(e->sec->keys, e->obj);
		free(e->obj);
		free(e->name);
		free(e);
	}
}

void cfg_free(struct cfg *c)
{
	int i;

	if (!c)
		return;
	cfg_key_free(cfg_sections_gateway.keys, &c->gw);
	for (i = 0; i < c->n_upstreams; i++) {
		cfg_key_free(cfg_sections_upstream.keys, &c->upstreams[i]);
		free(c->upstreams[i].name);
	}
	for (i = 0; i < c->n_routes; i++) {
		cfg_key_free(cfg_sections_route.keys, &c->routes[i]);
		free(c->routes[i].name);
		cfg_ext_free(c->routes[i].ext);
	}
	cfg_ext_free(c->ext);
	free(c->upstreams);
	free(c->routes);
	free(c->path);
	free(c);
}
