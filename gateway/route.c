/* route.c: choosing the [route] for a request (precedence in route.h).
 * Runs once per request right after the head is parsed; a linear scan over
 * a handful of routes beats any index at the sizes gateways see.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "route.h"

/* Host rank: 0 no match, 1 any host, 2 + suffix length for a wildcard,
 * SIZE_MAX/2 for an exact match. Larger is more specific. */
static size_t route_host_rank(const struct cfg_route *r, const char *host, size_t len)
{
	const char *h = r->host;
	size_t hl;

	if (!h)
		return 1;
	if (!host)
		return 0;
	hl = strlen(h);
	if (h[0] == '*' && h[1] == '.') {
		/* "*.example.com" matches "a.example.com", not "example.com" */
		size_t sl = hl - 1; /* ".example.com" */

		if (len > sl && strncasecmp(host + len - sl, h + 1, sl) == 0)
			return 2 + sl;
		return 0;
	}
	if (len == hl && strncasecmp(host, h, hl) == 0)
		return (size_t)-1 / 2;
	return 0;
}

static bool route_path_match(const char *prefix, const char *path, size_t len)
{
	size_t pl = strlen(prefix);

	if (len < pl || memcmp(path, prefix, pl) != 0)
		return false;
	if (len == pl || prefix[pl - 1] == '/')
		return true;
	return path[pl] == '/' || path[pl] == '?';
}

/* Strips the port from an authority: "h:80" -> "h", "[::1]:80" -> "[::1]". */
static size_t route_host_len(const char *host, size_t len)
{
	size_t i = len;

	if (len && host[0] == '[') {
		const char *end = memchr(host, ']', len);

		return end ? (size_t)(end - host) + 1 : len;
	}
	while (i > 0 && host[i - 1] != ':')
		i--;
	return i ? i - 1 : len;
}

const struct cfg_route *route_match(const struct cfg *c, const char *host, size_t host_len,
                                    const char *path, size_t path_len, unsigned method)
{
	const struct cfg_route *best = NULL;
	size_t best_host = 0, best_path = 0;

	if (host)
		host_len = route_host_len(host, host_len);
	/* a trailing dot names the same host: "example.com." */
	if (host && host_len && host[host_len - 1] == '.')
		host_len--;
	for (int i = 0; i < c->n_routes; i++) {
		const struct cfg_route *r = &c->routes[i];
		size_t hr, pl;

		if (!(r->methods & method))
			continue;
		hr = route_host_rank(r, host, host_len);
		if (!hr || hr < best_host)
			continue;
		if (!route_path_match(r->path_prefix, path, path_len))
			continue;
		pl = strlen(r->path_prefix);
		if (hr > best_host || pl > best_path) {
			best = r;
			best_host = hr;
			best_path = pl;
		}
	}
	return best;
}
