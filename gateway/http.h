/* http.h: the version-neutral message a request or response is inside a txn.
 *
 * A parsed head (struct h1_msg) whose header array lives in the txn's arena
 * and can be edited by filters: a deleted field keeps its slot with
 * name_len 0 so the order of the rest never changes, added fields go last.
 * Hop-by-hop rules (RFC 9110 7.6.1) live here too, so HTTP/1 and HTTP/2
 * forwarding agree on what is end-to-end.
 */
#ifndef TG_HTTP_H
#define TG_HTTP_H

#include <stdbool.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "h1.h"
#include "util.h"

struct arena;
struct evbuffer;

struct http_msg {
	struct h1_msg h; /* parsed view; h.hdrs lives in the arena */
	unsigned cap;    /* capacity of h.hdrs */
	struct arena *a; /* where added names and values are copied */
};

/* Parses a head of <len> bytes at <p> into <m>: the bytes are copied into
 * the arena, fields are parsed into the worker's <scratch> array (<n_scratch>
 * slots) and only the fields found are copied out, with room for a few that
 * filters add. <response> selects the status-line grammar. Returns the
 * parser's verdict (see h1.h), or HTTP_NOMEM. */
#define HTTP_NOMEM INT_MIN
int http_msg_parse(struct http_msg *m, const char *p, size_t len, const struct h1_limits *lim,
                   struct h1_hdr *scratch, unsigned n_scratch, bool response);

/* The same for a head that is in the arena of <m> already, at <head>. */
int http_msg_parse_inplace(struct http_msg *m, char *head, size_t len, const struct h1_limits *lim,
                           struct h1_hdr *scratch, unsigned n_scratch, bool response);

/* Returns the first field named <name> (case-insensitive) or NULL. */
const struct h1_hdr *http_hdr_get(const struct http_msg *m, const char *name);

/* Appends field <name>: <value,vlen>, both copied into the arena.
 * Returns 0 or -ENOMEM. */
int http_hdr_add(struct http_msg *m, const char *name, const char *value, size_t vlen);

/* Deletes every field named <name>. Returns how many were deleted. */
int http_hdr_del(struct http_msg *m, const char *name);

/* Replaces every field named <name> by one <name>: <value,vlen> at the end.
 * Returns 0 or -ENOMEM. */
int http_hdr_set(struct http_msg *m, const char *name, const char *value, size_t vlen);

/* The same without copying <name> and <value>, which must live as long as
 * <m>: literals, or bytes in the arena of <m>. */
int http_hdr_set_ref(struct http_msg *m, const char *name, const char *value, size_t vlen);

/* Returns whether a Connection field of <m> names an option besides
 * "close", "keep-alive" and "upgrade" (which name hop-by-hop fields anyway):
 * what http_is_hop_by_hop() needs to know of the whole message, found once
 * per head written rather than once per field. The common message has none. */
bool http_conn_options(const struct http_msg *m);

/* Returns true when field <h> must not be forwarded by a proxy: a fixed
 * hop-by-hop field, a framing field the proxy rewrites (Content-Length,
 * Transfer-Encoding), a Proxy-* field, or, when <conn_options> (see
 * http_conn_options()), a field named by a Connection option of <m>. Upgrade
 * and Connection are hop-by-hop too; callers add them back for a tunnel. */
bool http_is_hop_by_hop(const struct http_msg *m, const struct h1_hdr *h, bool conn_options);

/* Copies field name <src,n> to <dst> in lowercase, as HTTP/2 wants it. */
void http_lower(char *dst, const char *src, size_t n);

/* Bytes http_put_fields() may write for <m>: what to reserve. */
size_t http_fields_room(const struct http_msg *m);

/* Writes the end-to-end fields of <m> at <p> as "Name: value\r\n" lines,
 * in order, skipping deleted and hop-by-hop fields and the field named
 * <skip> (NULL for none). Returns the end of what it wrote. */
char *http_put_fields(const struct http_msg *m, const char *skip, char *p);

/* The same, appended to <out>. Returns 0 or -ENOMEM. */
int http_write_fields(const struct http_msg *m, const char *skip, struct evbuffer *out);

/* The longest "Content-Length: <len>\r\n" line. */
#define HTTP_LENGTH_ROOM (sizeof("Content-Length: \r\n") - 1 + UTIL_U64_DIGITS)

/* Writes "Content-Length: <len>\r\n" at <p>. Returns the end of it. */
char *http_put_length(char *p, uint64_t len);

/* Appends "Content-Length: <len>\r\n" to <out>. Returns 0 or -ENOMEM. */
int http_write_length(struct evbuffer *out, uint64_t len);

/* Returns the reason phrase of <status> ("Bad Gateway"), "Unknown" if none. */
const char *http_reason(int status);

/* Returns true when a response to <method> with <status> has no body
 * (HEAD, 1xx, 204, 304: RFC 9112 6.3). */
bool http_resp_has_no_body(const char *method, size_t method_len, int status);

/* Returns true for idempotent methods (RFC 9110 9.2.2): safe to retry. */
bool http_method_is_idempotent(const char *method, size_t len);

#endif
