/* tbuf.c: growing the exporters' byte buffers (tbuf.h). */
#include <stdint.h>
#include <stdlib.h>

#include "trace/tbuf.h"

bool tbuf_grow(struct tbuf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->failed)
		return false;
	if (n > SIZE_MAX / 2 - b->len)
		goto fail;
	while (cap - b->len < n)
		cap *= 2;
	if (!(p = realloc(b->p, cap)))
		goto fail;
	b->p = p;
	b->cap = cap;
	return true;
fail:
	b->failed = true;
	return false;
}

void tbuf_free(struct tbuf *b)
{
	free(b->p);
	*b = (struct tbuf){0};
}
