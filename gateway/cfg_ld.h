/* cfg_ld.h: the loader's private state, shared by cfg.c (the file, sections
 * and keys) and cfg_route.c (filter keys overridden in a [route]). Not for
 * use outside gateway/cfg*.c.
 */
#ifndef TG_CFG_LD_H
#define TG_CFG_LD_H

#include <stdbool.h>

#include "cfg.h"

#define CFG_NAME_MAX 64 /* section kinds and names */

/* One error message, sorted by line (0 = about the whole file: last). */
struct cfg_err {
	int line;
	int seq;
	char *text;
};

/* The state of one load: the text, the reader's position, what was read. */
struct cfg_ld {
	const char *file;
	const char *text;
	size_t len;
	size_t pos;
	int line;               /* of the line last handed to inih */
	struct cfg_inst *cur;   /* section being read; NULL before the first */
	bool skip;              /* in a refused section: its keys are not looked at */
	struct cfg_inst *insts; /* in file order */
	struct cfg_inst **tail;
	struct cfg_err *errs;
	int n_errs, cap_errs;
	bool oom;
};

/* One section of the file (or an absent unnamed one, line 0). */
struct cfg_inst {
	struct cfg_ld *ld;
	const struct cfg_section *sec;
	char *name;                       /* NULL for unnamed sections */
	char label[2 * CFG_NAME_MAX + 2]; /* "upstream orders", as in messages */
	int line;
	int n_errs; /* reported about this section */
	void *obj;
	int *key_line;           /* per key: line set, negative if refused */
	char **key_val;          /* per key: the text as set, for [route] overrides to start from */
	struct cfg_ovr *ovr;     /* [route]: filter keys it overrides (cfg_route.c) */
	struct cfg_inst *merged; /* [route]: per overridable section, its values as this route
	                          * sees them, chained by <next> */
	struct cfg_inst *next;
};

/* A key of a registered section set inside a [route] (CFG_K_ROUTE). */
struct cfg_ovr {
	const struct cfg_section *sec;
	int key; /* index in sec->keys */
	int line;
	char *val;
	struct cfg_ovr *next;
};

/* Records "FILE:LINE: [SECTION] KEY: message"; <label> and <key> may be NULL. */
void cfg_err(struct cfg_ld *ld, int line, const char *label, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/* Frees <in>, what its fields own, its overrides and merged sections. */
void cfg_inst_free(struct cfg_inst *in);

/* Returns the index of <key> in the table of <sec>, or -1. */
int cfg_key_index(const struct cfg_section *sec, const char *key);

/* Keeps *<best> as the candidate nearest to <word>, if near enough. */
void cfg_nearest(const char *word, const char *cand, const char **best, int *best_d);

/* ---- cfg_route.c ---- */

/* In [route] <in>, a key its own table does not know: when a registered
 * section has a key <key> flagged CFG_K_ROUTE, checks <value> against it,
 * records the override and returns true (errors are reported). Returns false
 * for a key nobody knows. */
bool cfg_route_key(struct cfg_ld *ld, struct cfg_inst *in, const char *key, const char *value);

/* Offers the overridable keys to a "did you mean" search for <key>. */
void cfg_route_nearest(const char *key, const char **best, int *best_d);

/* After every section is finished: builds, for each [route] without errors
 * and each registered section with CFG_K_ROUTE keys, the section's values
 * with the route's overrides applied, and runs the section's check on it
 * when the route overrides something. */
void cfg_route_merge(struct cfg_ld *ld);

/* Moves the merged sections of route instance <in> into <r>->ext. Returns 0
 * or -ENOMEM. */
int cfg_route_build(struct cfg_inst *in, struct cfg_route *r);

#endif
