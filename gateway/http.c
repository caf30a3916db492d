/* http.c: header editing on a parsed message and the hop-by-hop rules.
 * Called by the connection code when it writes a head and by filters when
 * they change one; everything allocated comes from the txn's arena.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "arena.h"
#include "http.h"
#include "util.h"

/* Fields a filter may add before the array has to grow. */
#define HTTP_SPARE_FIELDS 8

int http_msg_parse(struct http_msg *m, const char *p, size_t len, const struct h1_limits *lim,
                   struct h1_hdr *scratch, unsigned n_scratch, bool response)
{
	char *head = arena_alloc(m->a, len);

	if (!head)
		return HTTP_NOMEM;
	memcpy(head, p, len);
	return http_msg_parse_inplace(m, head, len, lim, scratch, n_scratch, response);
}

int http_msg_parse_inplace(struct http_msg *m, char *head, size_t len, const struct h1_limits *lim,
                           struct h1_hdr *scratch, unsigned n_scratch, bool response)
{
	int r;

	m->h.hdrs = scratch;
	m->h.n_hdrs = n_scratch;
	r = response ? h1_parse_response(head, len, lim, &m->h)
	             : h1_parse_request(head, len, lim, &m->h);
	/* a failed parse keeps its request line for the access log, no fields */
	if (r <= 0)
		m->h.n_hdrs = 0;
	m->cap = m->h.n_hdrs + HTTP_SPARE_FIELDS;
	m->h.hdrs = arena_alloc(m->a, m->cap * sizeof(*m->h.hdrs));
	if (!m->h.hdrs)
		return HTTP_NOMEM;
	memcpy(m->h.hdrs, scratch, m->h.n_hdrs * sizeof(*m->h.hdrs));
	return r;
}

const struct h1_hdr *http_hdr_get(const struct http_msg *m, const char *name)
{
	for (unsigned i = 0; i < m->h.n_hdrs; i++) {
		const struct h1_hdr *h = &m->h.hdrs[i];

		if (h->name_len && h1_name_eq(h->name, h->name_len, name))
			return h;
	}
	return NULL;
}

/* Appends field <name,nlen>: <value,vlen> to <m> as they are, growing the
 * array in the arena when full. Returns 0 or -ENOMEM. */
static int http_hdr_append(struct http_msg *m, const char *name, size_t nlen, const char *value,
                           size_t vlen)
{
	if (m->h.n_hdrs == m->cap) {
		unsigned cap = m->cap ? m->cap * 2 : 16;
		struct h1_hdr *hdrs = arena_alloc(m->a, cap * sizeof(*hdrs));

		if (!hdrs)
			return -ENOMEM;
		if (m->h.n_hdrs)
			memcpy(hdrs, m->h.hdrs, m->h.n_hdrs * sizeof(*hdrs));
		m->h.hdrs = hdrs;
		m->cap = cap;
	}
	m->h.hdrs[m->h.n_hdrs++] = (struct h1_hdr){name, nlen, value, vlen};
	return 0;
}

int http_hdr_add(struct http_msg *m, const char *name, const char *value, size_t vlen)
{
	size_t nlen = strlen(name);
	char *n = arena_strndup(m->a, name, nlen), *v = arena_strndup(m->a, value, vlen);

	if (!n || !v)
		return -ENOMEM;
	return http_hdr_append(m, n, nlen, v, vlen);
}

int http_hdr_del(struct http_msg *m, const char *name)
{
	int n = 0;

	for (unsigned i = 0; i < m->h.n_hdrs; i++) {
		struct h1_hdr *h = &m->h.hdrs[i];

		if (h->name_len && h1_name_eq(h->name, h->name_len, name)) {
			h->name_len = 0;
			n++;
		}
	}
	return n;
}

int http_hdr_set(struct http_msg *m, const char *name, const char *value, size_t vlen)
{
	http_hdr_del(m, name);
	return http_hdr_add(m, name, value, vlen);
}

int http_hdr_set_ref(struct http_msg *m, const char *name, const char *value, size_t vlen)
{
	http_hdr_del(m, name);
	return http_hdr_append(m, name, strlen(name), value, vlen);
}

/* Walks the options of the Connection fields of <m>. With <h>: does one
 * name <h>? Without: does one name any field besides "close", "keep-alive"
 * and "upgrade", which name hop-by-hop fields anyway? The common message has
 * none, so forwarding it costs one pass and no walk per field. */
static bool http_conn_option(const struct http_msg *m, const struct h1_hdr *h)
{
	for (unsigned i = 0; i < m->h.n_hdrs; i++) {
		const struct h1_hdr *c = &m->h.hdrs[i];
		const char *p, *tok;
		size_t tl;

		if (!c->name_len || !h1_name_eq(c->name, c->name_len, "connection"))
			continue;
		p = c->value;
		while (h1_list_next(&p, c->value + c->value_len, &tok, &tl)) {
			if (h ? tl == h->name_len && strncasecmp(tok, h->name, tl) == 0
			      : !h1_name_eq(tok, tl, "close") &&
			                    !h1_name_eq(tok, tl, "keep-alive") &&
			                    !h1_name_eq(tok, tl, "upgrade"))
				return true;
		}
	}
	return false;
}

bool http_is_hop_by_hop(const struct http_msg *m, const struct h1_hdr *h, bool conn_options)
{
	const char *n = h->name;

	/* "Proxy-*" is ours to consume, never the origin's (httpoxy and co.) */
	if (h->name_len > 6 && (n[0] | 0x20) == 'p' && strncasecmp(n, "proxy-", 6) == 0)
		return true;
	/* by length first: most fields are none of these and cost no compare */
	switch (h->name_len) {
	case 2:
		if (h1_name_eq(n, 2, "te"))
			return true;
		break;
	case 7:
		if (h1_name_eq(n, 7, "trailer") || h1_name_eq(n, 7, "upgrade"))
			return true;
		break;
	case 10:
		if (h1_name_eq(n, 10, "connection") || h1_name_eq(n, 10, "keep-alive"))
			return true;
		break;
	case 14:
		if (h1_name_eq(n, 14, "content-length"))
			return true;
		break;
	case 17:
		if (h1_name_eq(n, 17, "transfer-encoding"))
			return true;
		break;
	default:
		break;
	}
	return conn_options && http_conn_option(m, h);
}

bool http_conn_options(const struct http_msg *m)
{
	return http_conn_option(m, NULL);
}

void http_lower(char *dst, const char *src, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x80 * ones;
	size_t i = 0;

	/* eight bytes a step: the top bit of a byte of <up> is set where that
	 * byte is 'A' (0x41) to 'Z' (0x5a). The sums are over the low seven
	 * bits, so none carries into the next byte; a byte from 0x80 up is
	 * left alone. */
	for (; n - i >= sizeof(uint64_t); i += sizeof(uint64_t)) {
		uint64_t x, h, up;

		memcpy(&x, src + i, sizeof(x));
		h = x & ~high;
		up = ((h + (0x80 - 'A') * ones) ^ (h + (0x7f - 'Z') * ones)) & ~x & high;
		x |= up >> 2; /* 0x20, the case bit */
		memcpy(dst + i, &x, sizeof(x));
	}
	for (; i < n; i++)
		dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] + ('a' - 'A') : src[i]);
}

size_t http_fields_room(const struct http_msg *m)
{
	size_t room = 0;

	for (unsigned i = 0; i < m->h.n_hdrs; i++)
		room += m->h.hdrs[i].name_len + m->h.hdrs[i].value_len + 4;
	return room;
}

char *http_put_fields(const struct http_msg *m, const char *skip, char *p)
{
	bool conn_options = http_conn_options(m);

	for (unsigned i = 0; i < m->h.n_hdrs; i++) {
		const struct h1_hdr *h = &m->h.hdrs[i];

		if (!h->name_len || http_is_hop_by_hop(m, h, conn_options))
			continue;
		if (skip && h1_name_eq(h->name, h->name_len, skip))
			continue;
		memcpy(p, h->name, h->name_len);
		p += h->name_len;
		*p++ = ':';
		*p++ = ' ';
		memcpy(p, h->value, h->value_len);
		p += h->value_len;
		*p++ = '\r';
		*p++ = '\n';
	}
	return p;
}

int http_write_fields(const struct http_msg *m, const char *skip, struct evbuffer *out)
{
	size_t room = http_fields_room(m);
	struct evbuffer_iovec v;

	/* one reservation for the lot: evbuffer_add() per name, separator,
	 * value and CRLF showed in profiles; what is skipped is not copied */
	if (room == 0)
		return 0;
	if (evbuffer_reserve_space(out, (ev_ssize_t)room, &v, 1) != 1)
		return -ENOMEM;
	v.iov_len = (size_t)(http_put_fields(m, skip, v.iov_base) - (char *)v.iov_base);
	return evbuffer_commit_space(out, &v, 1) ? -ENOMEM : 0;
}

char *http_put_length(char *p, uint64_t len)
{
	p = UTIL_PUT_LIT(p, "Content-Length: ");
	p += util_u64_dec(p, len);
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

int http_write_length(struct evbuffer *out, uint64_t len)
{
	char f[HTTP_LENGTH_ROOM];

	return evbuffer_add(out, f, (size_t)(http_put_length(f, len) - f)) ? -ENOMEM : 0;
}

const char *http_reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 101:
		return "Switching Protocols";
	case 103:
		return "Early Hints";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 304:
		return "Not Modified";
	case 307:
		return "Temporary Redirect";
	case 308:
		return "Permanent Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 417:
		return "Expectation Failed";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Unknown";
	}
}

bool http_resp_has_no_body(const char *method, size_t method_len, int status)
{
	if (status < 200 || status == 204 || status == 304)
		return true;
	return method_len == 4 && memcmp(method, "HEAD", 4) == 0;
}

bool http_method_is_idempotent(const char *method, size_t len)
{
	static const char *const idem[] = {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"};

	for (size_t i = 0; i < ARRAY_SIZE(idem); i++)
		if (strlen(idem[i]) == len && memcmp(method, idem[i], len) == 0)
			return true;
	return false;
}
