/* httpc.c: the exporters' HTTP/1.1 client: URL, request, response.
 *
 * An exporter thread POSTs each batch through httpc_post(): the request head
 * is formatted here, written with the body in one go, and the response is
 * read with the gateway's own parser (h1.h), the body reduced to a short
 * excerpt for logs. The transport (TCP, TLS, deadlines) is httpc_conn.c.
 * A struct httpc owns its TLS context and at most one kept-alive connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "h1.h"
#include "util.h"
#include "trace/httpc.h"
#include "trace/httpc_conn.h"

#define HTTPC_REQ_HEAD_MAX 8192      /* request head, extra headers included */
#define HTTPC_MAX_HDRS     64        /* response header fields */
#define HTTPC_TRAILER_MAX  4096      /* chunked trailer section */
#define HTTPC_DRAIN_MAX    (1 << 20) /* body bytes read at most; the connection ends there */
#define HTTPC_RETRY_MAX_S  INT32_MAX /* Retry-After seconds saturate here */
#define HTTPC_EARLY_CHECK  1024      /* incomplete heads shorter than this are parsed early */

struct httpc {
	struct httpc_url url;
	SSL_CTX *tls; /* NULL for http:// */
	struct httpc_conn conn;
	/* state of the current post */
	bool answered;       /* a response byte arrived on this connection */
	uint64_t body_bytes; /* body bytes read so far */
	/* response bytes; the unread ones are buf[pos, len) */
	size_t pos, len;
	char buf[HTTPC_HEAD_MAX];
	char head[HTTPC_REQ_HEAD_MAX]; /* the request head */
};

static const struct h1_limits httpc_lim = {
        .max_head_bytes = HTTPC_HEAD_MAX,
        .max_target_bytes = 0, /* responses have no target */
        .max_headers = HTTPC_MAX_HDRS,
};

/* ---- URL ---------------------------------------------------------------- */

static bool httpc_is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* A host name: letters, digits, '-', '.', '_' (seen in real DNS names). */
static bool httpc_host_name_ok(const char *h)
{
	for (; *h; h++)
		if (!(httpc_is_digit(*h) || (*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
		      strchr("-._", *h)))
			return false;
	return true;
}

/* Sets u->host and host_is_ip from <s,n> (the brackets of IPv6 removed when
 * <v6>). Returns NULL or what is wrong. */
static const char *httpc_url_host(struct httpc_url *u, const char *s, size_t n, bool v6)
{
	unsigned char bin[16];

	if (n == 0)
		return "has no host";
	if (n > HTTPC_HOST_MAX)
		return "has a host name longer than 253 bytes";
	memcpy(u->host, s, n);
	u->host[n] = '\0';
	if (v6) {
		if (inet_pton(AF_INET6, u->host, bin) != 1)
			return "has an invalid IPv6 address";
		u->host_is_ip = true;
		return NULL;
	}
	if (!httpc_host_name_ok(u->host))
		return "has an invalid character in the host";
	/* digits and dots must be an address: getaddrinfo() would take
	 * "10.1" for 10.0.0.1 */
	if (strspn(u->host, "0123456789.") == n) {
		if (inet_pton(AF_INET, u->host, bin) != 1)
			return "has an invalid IPv4 address";
		u->host_is_ip = true;
	}
	return NULL;
}

/* Sets u->port from the digits <s,n>. Returns NULL or what is wrong. */
static const char *httpc_url_port(struct httpc_url *u, const char *s, size_t n, int *port)
{
	*port = 0;
	if (n == 0 || n > 5)
		return "has an invalid port";
	for (size_t i = 0; i < n; i++) {
		if (!httpc_is_digit(s[i]))
			return "has an invalid port";
		*port = *port * 10 + (s[i] - '0');
	}
	if (*port < 1 || *port > 65535)
		return "has a port out of 1-65535";
	snprintf(u->port, sizeof(u->port), "%d", *port);
	return NULL;
}

/* Splits <s> (the URL after "scheme://") into host, port, authority and
 * path. Returns NULL or what is wrong. */
static const char *httpc_url_split(struct httpc_url *u, const char *s)
{
	const char *end = s + strcspn(s, "/?#"), *host = s, *after;
	int port = 0, dflt = u->tls ? 443 : 80;
	bool v6 = *s == '[';
	const char *why;

	if (memchr(s, '@', (size_t)(end - s)))
		return "has user info, which is not supported";
	if (v6) {
		host = s + 1;
		if (!(after = memchr(host, ']', (size_t)(end - host))))
			return "has an unterminated [IPv6] literal";
		why = httpc_url_host(u, host, (size_t)(after - host), true);
		after++;
	} else {
		after = host + strcspn(host, ":/?#");
		why = httpc_url_host(u, host, (size_t)(after - host), false);
	}
	if (why)
		return why;
	if (after < end && *after != ':')
		return "has garbage after the host";
	if (after < end && (why = httpc_url_port(u, after + 1, (size_t)(end - after - 1), &port)))
		return why;
	if (!port)
		snprintf(u->port, sizeof(u->port), "%d", dflt);
	snprintf(u->authority, sizeof(u->authority), v6 ? "[%s]" : "%s", u->host);
	if (port && port != dflt)
		snprintf(u->authority + strlen(u->authority),
		         sizeof(u->authority) - strlen(u->authority), ":%d", port);
	/* the fragment is the client's own business: never sent, so refused */
	if (strchr(end, '#'))
		return "has a fragment";
	snprintf(u->path, sizeof(u->path), "%s%s", *end == '/' ? "" : "/", end);
	return NULL;
}

static int httpc_url_parse(struct httpc_url *u, const char *url, char *err, size_t errlen)
{
	const char *why = NULL, *rest = NULL;

	if (strlen(url) > HTTPC_URL_MAX)
		why = "is longer than 2048 bytes";
	for (const char *p = url; !why && *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			why = "has a space, a control or a non-ASCII character";
	if (!why && strncasecmp(url, "http://", 7) == 0) {
		rest = url + 7;
	} else if (!why && strncasecmp(url, "https://", 8) == 0) {
		rest = url + 8;
		u->tls = true;
	} else if (!why) {
		why = "does not start with http:// or https://";
	}
	if (!why)
		why = httpc_url_split(u, rest);
	if (why) {
		snprintf(err, errlen, "URL \"%.64s%s\" %s", url, strlen(url) > 64 ? "..." : "",
		         why);
		return -EINVAL;
	}
	return 0;
}

struct httpc *httpc_new(const char *url, const char *ca_file, char *err, size_t errlen)
{
	struct httpc *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->conn.fd = -1;
	c->conn.cancel_fd = -1;
	if (httpc_url_parse(&c->url, url, err, errlen) ||
	    (c->url.tls && !(c->tls = httpc_conn_tls_ctx(ca_file, err, errlen)))) {
		free(c);
		return NULL;
	}
	return c;
}

void httpc_free(struct httpc *c)
{
	if (!c)
		return;
	httpc_conn_close(&c->conn);
	SSL_CTX_free(c->tls);
	free(c);
}

const char *httpc_last_error(const struct httpc *c)
{
	return c->conn.err;
}

/* ---- request ------------------------------------------------------------ */

/* Appends to the request head; false when it does not fit. */
__attribute__((format(printf, 3, 4))) static bool httpc_put(struct httpc *c, size_t *off,
                                                            const char *fmt, ...)
{
	size_t room = sizeof(c->head) - *off;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->head + *off, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return false;
	*off += (size_t)n;
	return true;
}

/* An extra header line: "Name: value", a field the client does not own,
 * and nothing that would end the line early. */
static bool httpc_hdr_ok(const char *h)
{
	static const char *const owned[] = {"host", "content-length", "transfer-encoding",
	                                    "connection"};
	size_t name = strcspn(h, ":");

	if (name == 0 || !h[name] || strcspn(h, " \t") < name || strpbrk(h, "\r\n"))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(owned); i++)
		if (h1_name_eq(h, name, owned[i]))
			return false;
	return true;
}

/* Formats the head of <q> into c->head. Returns 0 and its length in *<len>,
 * or an error. */
static int httpc_format_head(struct httpc *c, const struct httpc_req *q, size_t *len)
{
	size_t off = 0;
	bool ok;

	if (!q->ctype || strpbrk(q->ctype, "\r\n") || (q->cenc && strpbrk(q->cenc, "\r\n")))
		return httpc_conn_fail(&c->conn, -EINVAL, "bad Content-Type or Content-Encoding");
	for (int i = 0; i < q->n_hdrs; i++)
		if (!httpc_hdr_ok(q->hdrs[i]))
			return httpc_conn_fail(&c->conn, -EINVAL,
			                       "bad or reserved header \"%.64s\"", q->hdrs[i]);
	ok = httpc_put(c, &off,
	               "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tracegate/" TG_VERSION
	               "\r\nContent-Type: %s\r\nContent-Length: %zu\r\n",
	               c->url.path, c->url.authority, q->ctype, q->len);
	if (q->cenc)
		ok = ok && httpc_put(c, &off, "Content-Encoding: %s\r\n", q->cenc);
	for (int i = 0; i < q->n_hdrs; i++)
		ok = ok && httpc_put(c, &off, "%s\r\n", q->hdrs[i]);
	ok = ok && httpc_put(c, &off, "\r\n");
	if (!ok)
		return httpc_conn_fail(&c->conn, -EMSGSIZE, "request head exceeds %d bytes",
		                       HTTPC_REQ_HEAD_MAX);
	*len = off;
	return 0;
}

/* ---- response ----------------------------------------------------------- */

/* Reads more response bytes, first moving the unread ones to the front.
 * Returns the count, 0 at the end of the stream, or an error. */
static ssize_t httpc_fill(struct httpc *c)
{
	ssize_t n;

	if (c->pos) {
		memmove(c->buf, c->buf + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
	}
	if (c->len == sizeof(c->buf))
		return httpc_conn_fail(&c->conn, -EPROTO, "response head from %s exceeds %d bytes",
		                       c->conn.peer, HTTPC_HEAD_MAX);
	n = httpc_conn_read(&c->conn, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n > 0) {
		c->len += (size_t)n;
		c->answered = true;
	}
	return n;
}

/* httpc_fill() for a message that is not complete yet: the end of the
 * stream is a lost connection. */
static int httpc_more(struct httpc *c, const char *inside)
{
	bool answered = c->answered;
	ssize_t n = httpc_fill(c);

	if (n > 0)
		return 0;
	if (n < 0)
		return (int)n;
	if (!answered)
		return httpc_conn_fail(&c->conn, -ECONNRESET,
		                       "%s closed the connection without a response", c->conn.peer);
	return httpc_conn_fail(&c->conn, -ECONNRESET, "%s closed the connection inside the %s",
	                       c->conn.peer, inside);
}

static int httpc_bad_response(struct httpc *c, const char *what, int h1err)
{
	return httpc_conn_fail(&c->conn, -EPROTO, "bad %s from %s: %s", what, c->conn.peer,
	                       h1_err_str(h1err));
}

/* Reads one response head into <m>, at buf[pos]. Returns its length. */
static int httpc_read_head(struct httpc *c, struct h1_msg *m)
{
	size_t scanned = 0, end;
	int rc, err;

	for (;;) {
		end = h1_head_scan(c->buf + c->pos, c->len - c->pos, &scanned);
		if (end)
			break;
		/* A server that does not speak HTTP/1 (or a bad field early
		 * on) is rejected now, not at the deadline. Only the start of
		 * a head is parsed twice: a head sent a byte at a time must
		 * not cost quadratic time. */
		m->n_hdrs = HTTPC_MAX_HDRS;
		if (c->len - c->pos < HTTPC_EARLY_CHECK &&
		    (rc = h1_parse_response(c->buf + c->pos, c->len - c->pos, &httpc_lim, m)) < 0)
			return httpc_bad_response(c, "response", rc);
		if ((err = httpc_more(c, "response head")))
			return err;
	}
	m->n_hdrs = HTTPC_MAX_HDRS;
	rc = h1_parse_response(c->buf + c->pos, end, &httpc_lim, m);
	return rc > 0 ? rc : httpc_bad_response(c, "response", rc ? rc : H1_E_SYNTAX);
}

static int64_t httpc_msg_retry_after(const struct h1_msg *m)
{
	for (unsigned i = 0; i < m->n_hdrs; i++)
		if (h1_name_eq(m->hdrs[i].name, m->hdrs[i].name_len, "retry-after"))
			return httpc_retry_after_ms(m->hdrs[i].value, m->hdrs[i].value_len,
			                            util_wall_ns());
	return -1;
}

/* Consumes <n> buffered body bytes: the excerpt keeps the first ones. */
static void httpc_take(struct httpc *c, struct httpc_resp *r, size_t n)
{
	size_t room = sizeof(r->body) - 1 - r->body_len;
	size_t k = n < room ? n : room;

	memcpy(r->body + r->body_len, c->buf + c->pos, k);
	r->body_len += k;
	r->body[r->body_len] = '\0';
	c->pos += n;
	c->body_bytes += n;
}

/* A big body is not worth draining for its status: read this much, then
 * close the connection instead of reading on. */
static bool httpc_drained_enough(struct httpc *c, bool *keep)
{
	if (c->body_bytes < HTTPC_DRAIN_MAX)
		return false;
	*keep = false;
	return true;
}

static int httpc_body_length(struct httpc *c, struct httpc_resp *r, uint64_t left, bool *keep)
{
	int err;

	while (left) {
		size_t n = c->len - c->pos;

		if (n == 0) {
			if (httpc_drained_enough(c, keep))
				return 0;
			if ((err = httpc_more(c, "response body")))
				return err;
			continue;
		}
		n = n < left ? n : (size_t)left;
		httpc_take(c, r, n);
		left -= n;
	}
	return 0;
}

static int httpc_body_chunked(struct httpc *c, struct httpc_resp *r, bool *keep)
{
	struct h1_chunk ck;
	int err;

	h1_chunk_init(&ck, HTTPC_TRAILER_MAX);
	while (ck.state != H1_CK_DONE) {
		size_t n = c->len - c->pos;

		if (ck.state == H1_CK_DATA && n) {
			n = n < ck.remaining ? n : (size_t)ck.remaining;
			httpc_take(c, r, n);
			h1_chunk_data(&ck, n);
			continue;
		}
		if (ck.state != H1_CK_DATA) {
			ssize_t k = h1_chunk_parse(&ck, c->buf + c->pos, n);

			if (k < 0)
				return httpc_bad_response(c, "chunked body", (int)k);
			c->pos += (size_t)k;
			if (k > 0 || ck.state == H1_CK_DATA || ck.state == H1_CK_DONE)
				continue;
		}
		if (httpc_drained_enough(c, keep))
			return 0;
		if ((err = httpc_more(c, "response body")))
			return err;
	}
	return 0;
}

static int httpc_body_until_close(struct httpc *c, struct httpc_resp *r, bool *keep)
{
	ssize_t n;

	*keep = false;
	for (;;) {
		httpc_take(c, r, c->len - c->pos);
		if (httpc_drained_enough(c, keep))
			return 0;
		if ((n = httpc_fill(c)) <= 0)
			return (int)n;
	}
}

/* Reads the final response into <r>; 1xx interim responses are skipped.
 * Sets *<keep> when the connection may carry the next request. */
static int httpc_read_response(struct httpc *c, struct httpc_resp *r, bool *keep)
{
	struct h1_hdr hdrs[HTTPC_MAX_HDRS];
	struct h1_msg m = {.hdrs = hdrs};
	int hlen;

	for (;;) {
		if ((hlen = httpc_read_head(c, &m)) < 0)
			return hlen;
		c->pos += (size_t)hlen; /* <m> points into buf until the next read */
		if (m.status >= 200)
			break;
		if (m.status == 101)
			return httpc_conn_fail(&c->conn, -EPROTO, "%s switched protocols",
			                       c->conn.peer);
	}
	r->status = m.status;
	r->retry_after_ms = httpc_msg_retry_after(&m);
	*keep = !(m.flags & H1_F_CONN_CLOSE) &&
	        (m.version_minor == 1 || (m.flags & H1_F_CONN_KEEPALIVE));
	/* RFC 9112 6.3: 204 and 304 end at the head, whatever it says */
	if (m.status == 204 || m.status == 304)
		return 0;
	if (m.flags & H1_F_CHUNKED)
		return httpc_body_chunked(c, r, keep);
	if (m.flags & H1_F_HAS_CL)
		return httpc_body_length(c, r, (uint64_t)m.content_length, keep);
	return httpc_body_until_close(c, r, keep);
}

/* ---- post --------------------------------------------------------------- */

static void httpc_close(struct httpc *c)
{
	httpc_conn_close(&c->conn);
	c->pos = c->len = 0;
}

/* Sends the request (head <hlen> bytes in c->head, body in <q>) on the open
 * connection and reads the response. */
static int httpc_exchange(struct httpc *c, const struct httpc_req *q, size_t hlen,
                          struct httpc_resp *r, bool *keep)
{
	struct iovec iov[2] = {
	        {.iov_base = c->head, .iov_len = hlen},
	        {.iov_base = (void *)q->body, .iov_len = q->len},
	};
	int err;

	memset(r, 0, sizeof(*r));
	r->retry_after_ms = -1;
	c->answered = false;
	c->body_bytes = 0;
	if ((err = httpc_conn_write(&c->conn, iov, 2)))
		return err;
	if ((err = httpc_read_response(c, r, keep)))
		return err;
	/* bytes nobody asked for: the next response could not be trusted */
	if (c->pos != c->len)
		*keep = false;
	return 0;
}

int httpc_post(struct httpc *c, const struct httpc_req *q, uint64_t deadline_ns, int cancel_fd,
               struct httpc_resp *r)
{
	size_t hlen = 0;
	int err;

	c->conn.err[0] = '\0';
	c->conn.deadline_ns = deadline_ns;
	c->conn.cancel_fd = cancel_fd;
	if ((err = httpc_format_head(c, q, &hlen)))
		return err;
	for (;;) {
		bool reused = c->conn.fd >= 0, keep = false;

		if (!reused && (err = httpc_conn_open(&c->conn, &c->url, c->tls)))
			return err;
		err = httpc_exchange(c, q, hlen, r, &keep);
		if (!err && keep)
			return 0;
		httpc_close(c);
		/* A kept connection the server closed while it was idle (its
		 * keep-alive timeout raced our request) fails before any
		 * response byte. Like curl and the browsers, send again then,
		 * once and on a fresh connection; the price is a rare
		 * duplicate batch when the server did process the first copy. */
		if (!err || !reused || c->answered || err != -ECONNRESET)
			return err;
		c->conn.err[0] = '\0';
	}
}

/* ---- Retry-After -------------------------------------------------------- */

/* The <n> decimal digits at <s>, or -1. */
static int httpc_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!httpc_is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* The index of the 3 letters at <s> in <names> (3 letters each), or -1. */
static int httpc_name3(const char *s, const char *names)
{
	for (int i = 0; names[i * 3]; i++)
		if (memcmp(s, names + i * 3, 3) == 0)
			return i;
	return -1;
}

/* IMF-fixdate (RFC 9110 5.6.7), "Sun, 06 Nov 1994 08:49:37 GMT", as Unix
 * seconds, or -1. The obsolete RFC 850 and asctime forms are not taken. */
static int64_t httpc_imf_fixdate(const char *v, size_t len)
{
	struct tm tm = {0};
	time_t t;

	if (len != 29 || memcmp(v + 3, ", ", 2) || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' ||
	    v[19] != ':' || v[22] != ':' || memcmp(v + 25, " GMT", 4) ||
	    httpc_name3(v, "MonTueWedThuFriSatSun") < 0)
		return -1;
	tm.tm_mday = httpc_digits(v + 5, 2);
	tm.tm_mon = httpc_name3(v + 8, "JanFebMarAprMayJunJulAugSepOctNovDec");
	tm.tm_year = httpc_digits(v + 12, 4) - 1900;
	tm.tm_hour = httpc_digits(v + 17, 2);
	tm.tm_min = httpc_digits(v + 20, 2);
	tm.tm_sec = httpc_digits(v + 23, 2);
	if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_mon < 0 || tm.tm_year < 70 ||
	    tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 ||
	    tm.tm_sec > 60)
		return -1;
	t = timegm(&tm);
	/* timegm() normalises "31 Feb" into March: such a date is invalid */
	if (t == (time_t)-1 || tm.tm_mday != httpc_digits(v + 5, 2))
		return -1;
	return (int64_t)t;
}

int64_t httpc_retry_after_ms(const char *v, size_t len, uint64_t now_ns)
{
	int64_t secs = 0, ms;
	size_t i = 0;

	for (; i < len && httpc_is_digit(v[i]); i++) {
		secs = secs * 10 + (v[i] - '0');
		if (secs > HTTPC_RETRY_MAX_S)
			secs = HTTPC_RETRY_MAX_S;
	}
	if (len > 0 && i == len)
		return secs * 1000;
	if (i > 0 || (secs = httpc_imf_fixdate(v, len)) < 0)
		return -1;
	ms = secs * 1000 - (int64_t)(now_ns / 1000000);
	return ms > 0 ? ms : 0;
}
