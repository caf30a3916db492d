/* tbuf.h: a growable byte buffer for the exporters' encoders.
 *
 * Used on the exporter threads only. An allocation failure is sticky: the
 * buffer stops growing, later appends do nothing and <failed> stays set
 * until tbuf_reset(), so an encoder checks once at the end, not after
 * every append.
 */
#ifndef TG_TBUF_H
#define TG_TBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct tbuf {
	char *p;
	size_t len, cap;
	bool failed; /* an allocation failed since the last reset */
};

/* Makes room for <n> more bytes; false (and <failed> set) when it cannot. */
bool tbuf_grow(struct tbuf *b, size_t n);

static inline bool tbuf_reserve(struct tbuf *b, size_t n)
{
	return b->cap - b->len >= n || tbuf_grow(b, n);
}

static inline void tbuf_add(struct tbuf *b, const void *s, size_t n)
{
	if (tbuf_reserve(b, n)) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
	}
}

static inline void tbuf_byte(struct tbuf *b, char c)
{
	if (tbuf_reserve(b, 1))
		b->p[b->len++] = c;
}

static inline void tbuf_lit(struct tbuf *b, const char *s)
{
	tbuf_add(b, s, strlen(s));
}

/* Empties <b>, keeping its memory, and clears <failed>. */
static inline void tbuf_reset(struct tbuf *b)
{
	b->len = 0;
	b->failed = false;
}

void tbuf_free(struct tbuf *b);

#endif
