/* arena.c: bump allocation for one request's lifetime (see arena.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define ARENA_ALIGN 16
#define ARENA_BLOCK 8192

void arena_init(struct arena *a, void *buf, size_t size, size_t cap)
{
	a->base = buf;
	a->size = size;
	a->used = 0;
	a->more = NULL;
	a->total = 0;
	a->cap = cap;
}

void arena_deinit(struct arena *a)
{
	struct arena_blk *b = a->more, *next;

	for (; b; b = next) {
		next = b->next;
		free(b);
	}
	a->more = NULL;
	a->used = 0;
	a->total = 0;
}

static size_t arena_round(size_t n)
{
	return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_blk *b;
	size_t need, bsize;

	/* checked before rounding: a huge <n> must not wrap to a small one */
	if (n > a->cap)
		return NULL;
	need = arena_round(n ? n : 1);
	if (a->total + need > a->cap)
		return NULL;
	a->total += need;
	if (a->base && a->size - a->used >= need) {
		void *p = a->base + a->used;

		a->used += need;
		return p;
	}
	b = a->more;
	if (b && b->size - b->used >= need) {
		void *p = b->data + b->used;

		b->used += need;
		return p;
	}
	bsize = need > ARENA_BLOCK ? need : ARENA_BLOCK;
	b = malloc(sizeof(*b) + bsize);
	if (!b)
		return NULL;
	b->size = bsize;
	b->used = need;
	b->next = a->more;
	a->more = b;
	return b->data;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}
