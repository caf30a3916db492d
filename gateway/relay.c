/* relay.c: body framing in both directions (see relay.h). Data never goes
 * through a user-space copy: evbuffer_remove_buffer() moves whole chains and
 * only splits the chain at the body's end.
 */
#include <stdio.h>

#include <event2/buffer.h>

#include "relay.h"

/* Trailers past this are an error; they are validated and dropped. */
#define RELAY_MAX_TRAILER 16384

void relay_init(struct relay *r, enum relay_framing in, uint64_t length, enum relay_framing out)
{
	r->in = in;
	r->out = out;
	r->left = length;
	r->bytes = 0;
	r->done = in == RELAY_NONE || (in == RELAY_LENGTH && length == 0);
	if (in == RELAY_CHUNKED)
		h1_chunk_init(&r->ck, RELAY_MAX_TRAILER);
}

/* Moves <n> data bytes, framed for the sink. */
static int relay_data(struct relay *r, struct evbuffer *src, struct evbuffer *dst, size_t n)
{
	if (r->out == RELAY_CHUNKED && evbuffer_add_printf(dst, "%zx\r\n", n) < 0)
		return -1;
	if (evbuffer_remove_buffer(src, dst, n) != (int)n)
		return -1;
	if (r->out == RELAY_CHUNKED && evbuffer_add(dst, "\r\n", 2))
		return -1;
	r->bytes += n;
	return 0;
}

static int relay_finish(struct relay *r, struct evbuffer *dst)
{
	r->done = true;
	if (r->out == RELAY_CHUNKED && evbuffer_add(dst, "0\r\n\r\n", 5))
		return -1;
	return 1;
}

static int relay_chunked(struct relay *r, struct evbuffer *src, struct evbuffer *dst)
{
	for (;;) {
		size_t len = evbuffer_get_length(src);
		ssize_t n;
		char *p;

		if (r->ck.state == H1_CK_DONE)
			return relay_finish(r, dst);
		if (len == 0)
			return 0;
		if (r->ck.state == H1_CK_DATA) {
			size_t take = len < r->ck.remaining ? len : (size_t)r->ck.remaining;

			if (relay_data(r, src, dst, take))
				return -1;
			h1_chunk_data(&r->ck, take);
			continue;
		}
		/* framing lines are short: make only them contiguous */
		if (len > H1_CHUNK_LINE_MAX + 2)
			len = H1_CHUNK_LINE_MAX + 2;
		p = (char *)evbuffer_pullup(src, (ssize_t)len);
		if (!p)
			return -1;
		n = h1_chunk_parse(&r->ck, p, len);
		if (n < 0)
			return (int)n;
		if (n == 0 && r->ck.state != H1_CK_DATA && r->ck.state != H1_CK_DONE)
			return 0;
		evbuffer_drain(src, (size_t)n);
	}
}

int relay_move(struct relay *r, struct evbuffer *src, struct evbuffer *dst)
{
	size_t len;

	if (r->done)
		return 1;
	switch (r->in) {
	case RELAY_NONE:
		return relay_finish(r, dst);
	case RELAY_CHUNKED:
		return relay_chunked(r, src, dst);
	case RELAY_LENGTH:
		len = evbuffer_get_length(src);
		if (len > r->left)
			len = (size_t)r->left;
		if (len && relay_data(r, src, dst, len))
			return -1;
		r->left -= len;
		return r->left == 0 ? relay_finish(r, dst) : 0;
	case RELAY_CLOSE:
		len = evbuffer_get_length(src);
		if (len && relay_data(r, src, dst, len))
			return -1;
		return 0;
	}
	return -1;
}

int relay_eof(struct relay *r, struct evbuffer *dst)
{
	if (r->done)
		return 1;
	if (r->in != RELAY_CLOSE)
		return -1;
	return relay_finish(r, dst);
}
