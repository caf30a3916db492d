/* route.h: the [route] table: host + path prefix (+ methods) -> upstream.
 *
 * Precedence, as virtual hosts then locations in nginx or Envoy: the most
 * specific host wins first (exact, then the longest "*.suffix", then routes
 * without host), then the longest path prefix, then file order. A prefix
 * matches on segment boundaries: "/api" matches "/api", "/api/x" and
 * "/api?q", never "/apiary"; a prefix ending in "/" matches everything below.
 */
#ifndef TG_ROUTE_H
#define TG_ROUTE_H

#include <stddef.h>

struct cfg;
struct cfg_route;

/* Returns the route of <c> for request host <host,host_len> (an authority:
 * the port, if any, is ignored; may be NULL), path <path,path_len> (query
 * included or not) and CFG_M_* bit <method>, or NULL when nothing matches.
 * Pure; any thread. */
const struct cfg_route *route_match(const struct cfg *c, const char *host, size_t host_len,
                                    const char *path, size_t path_len, unsigned method);

#endif
