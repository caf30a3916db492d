/* h1_chunk.c: the chunked transfer coding (RFC 9112 7.1), incrementally.
 *
 * Parses framing lines only; data bytes are moved by the caller (relay.c)
 * without passing through here, so a body costs no copy. Sizes, extensions
 * and trailers are validated strictly; trailer fields are dropped.
 */
#include <string.h>

#include "h1.h"

static bool chunk_is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int chunk_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void h1_chunk_init(struct h1_chunk *c, size_t max_trailer_bytes)
{
	memset(c, 0, sizeof(*c));
	c->state = H1_CK_SIZE;
	c->max_trailer_bytes = max_trailer_bytes;
}

void h1_chunk_data(struct h1_chunk *c, size_t n)
{
	c->remaining -= n;
	if (c->remaining == 0)
		c->state = H1_CK_DATA_END;
}

/* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) */
static int h1_chunk_ext(const char *p, const char *end)
{
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			return H1_E_CHUNK_EXT; /* trailing whitespace without an extension */
		if (*p++ != ';')
			return H1_E_CHUNK_EXT;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end || !chunk_is_tchar(*p))
			return H1_E_CHUNK_EXT;
		while (p < end && chunk_is_tchar(*p))
			p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end || *p != '=')
			continue;
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p < end && *p == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\') {
					if (++p == end)
						return H1_E_CHUNK_EXT;
				} else if ((unsigned char)*p < 0x20 && *p != '\t') {
					return H1_E_CHUNK_EXT;
				}
			}
			if (p == end)
				return H1_E_CHUNK_EXT;
			p++;
		} else {
			if (p == end || !chunk_is_tchar(*p))
				return H1_E_CHUNK_EXT;
			while (p < end && chunk_is_tchar(*p))
				p++;
		}
	}
	return 0;
}

static int h1_chunk_size_line(struct h1_chunk *c, const char *p, const char *end)
{
	uint64_t n = 0;
	const char *s = p;
	int d;

	while (p < end && (d = chunk_hex(*p)) >= 0) {
		if (n > (UINT64_MAX >> 5)) /* keeps sizes below 2^63 */
			return H1_E_CHUNK_SIZE;
		n = (n << 4) | (uint64_t)d;
		p++;
	}
	if (p == s)
		return H1_E_CHUNK_SIZE;
	if (p < end && *p != ';' && *p != ' ' && *p != '\t')
		return H1_E_CHUNK_SIZE;
	if (h1_chunk_ext(p, end))
		return H1_E_CHUNK_EXT;
	c->remaining = n;
	c->state = n ? H1_CK_DATA : H1_CK_TRAILER;
	return 0;
}

static int h1_chunk_trailer_line(struct h1_chunk *c, const char *p, const char *end)
{
	const char *name = p;

	c->trailer_bytes += (size_t)(end - p) + 2;
	if (c->trailer_bytes > c->max_trailer_bytes)
		return H1_E_TRAILER;
	while (p < end && chunk_is_tchar(*p))
		p++;
	if (p == name || p == end || *p != ':')
		return H1_E_TRAILER;
	for (p++; p < end; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return H1_E_TRAILER;
	return 0;
}

ssize_t h1_chunk_parse(struct h1_chunk *c, const char *buf, size_t len)
{
	size_t off = 0;

	for (;;) {
		const char *line = buf + off, *lf;
		size_t avail = len - off, n;
		int err;

		if (c->state == H1_CK_DATA || c->state == H1_CK_DONE)
			return (ssize_t)off;
		if (c->state == H1_CK_DATA_END) {
			if (avail < 2) {
				if (avail == 1 && line[0] != '\r')
					return H1_E_CHUNK_FRAMING;
				return (ssize_t)off;
			}
			if (line[0] != '\r' || line[1] != '\n')
				return H1_E_CHUNK_FRAMING;
			off += 2;
			c->state = H1_CK_SIZE;
			continue;
		}
		n = avail < H1_CHUNK_LINE_MAX + 2 ? avail : H1_CHUNK_LINE_MAX + 2;
		lf = memchr(line, '\n', n);
		if (!lf) {
			if (avail > H1_CHUNK_LINE_MAX + 1)
				return c->state == H1_CK_SIZE ? H1_E_CHUNK_EXT : H1_E_TRAILER;
			return (ssize_t)off;
		}
		if (lf == line || lf[-1] != '\r')
			return c->state == H1_CK_SIZE ? H1_E_CHUNK_SIZE : H1_E_TRAILER;
		if (c->state == H1_CK_SIZE) {
			err = h1_chunk_size_line(c, line, lf - 1);
		} else if (lf - 1 == line) {
			c->state = H1_CK_DONE; /* the empty line after the trailers */
			err = 0;
		} else {
			err = h1_chunk_trailer_line(c, line, lf - 1);
		}
		if (err)
			return err;
		off += (size_t)(lf - line) + 1;
	}
}
