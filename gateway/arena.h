/* arena.h: per-request memory, freed whole at txn_finish().
 *
 * A bump allocator over a small first block embedded in its owner (no malloc
 * for a typical request) and heap blocks past it, all released at once.
 * Not thread-safe: an arena belongs to the request's worker.
 */
#ifndef TG_ARENA_H
#define TG_ARENA_H

#include <stddef.h>

struct arena_blk {
	struct arena_blk *next;
	size_t size;
	size_t used;
	size_t pad; /* keeps data[] 16-byte aligned */
	char data[];
};

struct arena {
	char *base; /* the embedded first block */
	size_t size;
	size_t used;
	struct arena_blk *more; /* heap blocks, newest first */
	size_t total;           /* bytes handed out, for the cap */
	size_t cap;             /* hard maximum; past it allocations fail */
};

/* Sets <a> up over <buf,size> (may be NULL/0), failing allocations past <cap> bytes. */
void arena_init(struct arena *a, void *buf, size_t size, size_t cap);

/* Frees the heap blocks of <a>; the arena may then be initialised again. */
void arena_deinit(struct arena *a);

/* Returns <n> bytes aligned for any type, or NULL past the cap or on ENOMEM. */
void *arena_alloc(struct arena *a, size_t n);

/* Returns a NUL-terminated copy of <s,n> in <a>, or NULL. */
char *arena_strndup(struct arena *a, const char *s, size_t n);

#endif
