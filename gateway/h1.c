/* h1.c: strict HTTP/1.x head parsing (RFC 9110, RFC 9112), pure over bytes.
 *
 * One pass over the head, table-driven character classes, pointers into the
 * caller's buffer. Anything a downstream parser could read differently from
 * us (framing, Host, line endings) is an error, never a guess: the proxy
 * forwards only what it understood exactly. Chunked bodies are in h1_chunk.c.
 */
#include <string.h>
#include <strings.h>

#include "h1.h"

/* Character classes, one bit each. */
#define C_TCHAR 0x01 /* token (RFC 9110 5.6.2) */
#define C_VALUE 0x02 /* field-vchar, SP, HTAB, obs-text */
#define C_PCHAR 0x04 /* pchar, "/" and "?" of an origin-form target (no "%") */
#define C_HOST  0x08 /* reg-name / IPv4: unreserved, sub-delims (no "%") */
#define C_HEX   0x10
#define C_DIGIT 0x20

static unsigned char h1_class[256];

/* Built once: a constructor keeps the parser itself free of state. */
__attribute__((constructor)) static void h1_class_init(void)
{
	const char *tchar = "!#$%&'*+-.^_`|~";
	const char *sub_delims = "!$&'()*+,;=";
	const char *unreserved = "-._~";

	for (int c = 0; c < 256; c++) {
		unsigned char k = 0;
		bool alnum =
		        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (alnum || (c && strchr(tchar, c)))
			k |= C_TCHAR;
		if ((c >= 0x21 && c <= 0x7e) || c >= 0x80 || c == ' ' || c == '\t')
			k |= C_VALUE;
		if (alnum || (c && (strchr(unreserved, c) || strchr(sub_delims, c))))
			k |= C_HOST | C_PCHAR;
		if (c == ':' || c == '@' || c == '/' || c == '?')
			k |= C_PCHAR;
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
			k |= C_HEX;
		if (c >= '0' && c <= '9')
			k |= C_DIGIT;
		h1_class[c] = k;
	}
}

#define IS(c, k) (h1_class[(unsigned char)(c)] & (k))

/* True when one of the eight bytes of <x> is a control or DEL, which a
 * field value may not hold but for HTAB (the byte loop sorts that one out).
 * Exact, whatever the byte order: a byte below 0x20 borrows only into the
 * bytes above it, which makes no difference to "any". */
static inline bool h1_word_has_ctl(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t del = x ^ (0x7f * ones);

	return (((x - 0x20 * ones) & ~x) | ((del - ones) & ~del)) & high;
}

/* The end of the run of field-vchar, SP, HTAB and obs-text from <i>: a
 * field value or a reason phrase. Eight bytes a step, where a head spends
 * most of its bytes. */
static size_t h1_value_end(const char *buf, size_t i, size_t len)
{
	uint64_t x;

	while (len - i >= sizeof(x)) {
		memcpy(&x, buf + i, sizeof(x));
		if (h1_word_has_ctl(x))
			break;
		i += sizeof(x);
	}
	while (i < len && IS(buf[i], C_VALUE))
		i++;
	return i;
}

size_t h1_head_scan(const char *buf, size_t len, size_t *scanned)
{
	size_t i = *scanned;

	while (i < len) {
		const char *lf = memchr(buf + i, '\n', len - i);

		if (!lf)
			break;
		i = (size_t)(lf - buf);
		if (i == 0 || buf[i - 1] != '\r')
			return i + 1; /* bare LF: let the parser reject it */
		if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r')
			return i + 1;
		i++;
	}
	*scanned = len;
	return 0;
}

bool h1_list_next(const char **p, const char *end, const char **tok, size_t *tok_len)
{
	const char *s = *p;

	while (s < end) {
		const char *b, *e;

		while (s < end && (*s == ' ' || *s == '\t' || *s == ','))
			s++;
		b = s;
		while (s < end && *s != ',')
			s++;
		e = s;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > b) {
			*tok = b;
			*tok_len = (size_t)(e - b);
			*p = s;
			return true;
		}
	}
	*p = s;
	return false;
}

int h1_err_status(int err)
{
	switch (err) {
	case H1_E_CONNECT:
		return 405;
	case H1_E_HEAD_TOO_LARGE:
	case H1_E_TOO_MANY_HEADERS:
		return 431;
	case H1_E_TARGET_TOO_LONG:
		return 414;
	default:
		return 400;
	}
}

const char *h1_err_str(int err)
{
	switch (err) {
	case H1_E_SYNTAX:
		return "malformed message";
	case H1_E_METHOD:
		return "invalid method";
	case H1_E_TARGET:
		return "invalid request target";
	case H1_E_VERSION:
		return "unsupported HTTP version";
	case H1_E_HEADER_NAME:
		return "invalid header field name";
	case H1_E_HEADER_VALUE:
		return "invalid character in a header field value";
	case H1_E_OBS_FOLD:
		return "obsolete line folding";
	case H1_E_CONTENT_LENGTH:
		return "invalid or conflicting Content-Length";
	case H1_E_CL_AND_TE:
		return "both Content-Length and Transfer-Encoding";
	case H1_E_TRANSFER_ENCODING:
		return "unsupported Transfer-Encoding";
	case H1_E_HOST:
		return "missing, duplicate or invalid Host";
	case H1_E_CONNECT:
		return "CONNECT is not supported";
	case H1_E_HEAD_TOO_LARGE:
		return "header section too large";
	case H1_E_TOO_MANY_HEADERS:
		return "too many header fields";
	case H1_E_TARGET_TOO_LONG:
		return "request target too long";
	case H1_E_STATUS:
		return "invalid status line";
	case H1_E_CHUNK_SIZE:
		return "invalid chunk size";
	case H1_E_CHUNK_EXT:
		return "invalid chunk extension";
	case H1_E_CHUNK_FRAMING:
		return "invalid chunked framing";
	case H1_E_TRAILER:
		return "invalid trailer section";
	default:
		return "parse error";
	}
}

/* uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2), no userinfo. */
static bool h1_host_valid(const char *s, size_t len)
{
	size_t i = 0;

	if (len == 0)
		return false;
	if (s[0] == '[') {
		/* IP-literal: hex, ':' and '.' are enough for IPv6 and v4-mapped */
		for (i = 1; i < len && s[i] != ']'; i++)
			if (!IS(s[i], C_HEX) && s[i] != ':' && s[i] != '.')
				return false;
		if (i == len || i == 1)
			return false;
		i++;
	} else {
		for (; i < len && s[i] != ':'; i++) {
			if (s[i] == '%') {
				if (i + 2 >= len || !IS(s[i + 1], C_HEX) || !IS(s[i + 2], C_HEX))
					return false;
				i += 2;
			} else if (!IS(s[i], C_HOST)) {
				return false;
			}
		}
		if (i == 0)
			return false;
	}
	if (i == len)
		return true;
	if (s[i] != ':')
		return false;
	/* port: empty is allowed by the grammar; at most 5 digits */
	if (len - i - 1 > 5)
		return false;
	for (i++; i < len; i++)
		if (!IS(s[i], C_DIGIT))
			return false;
	return true;
}

/* path-abempty [ "?" query ]: pchar, "/", "?" and well-formed "%XX". */
static bool h1_path_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (i + 2 >= len || !IS(s[i + 1], C_HEX) || !IS(s[i + 2], C_HEX))
				return false;
			i += 2;
		} else if (!IS(s[i], C_PCHAR)) {
			return false;
		}
	}
	return true;
}

static int h1_target(struct h1_msg *m)
{
	const char *t = m->target;
	size_t len = m->target_len, skip;

	if (t[0] == '/') {
		if (!h1_path_valid(t, len))
			return H1_E_TARGET;
		m->path = t;
		m->path_len = len;
		return 0;
	}
	if (len == 1 && t[0] == '*') {
		if (m->method_len != 7 || memcmp(m->method, "OPTIONS", 7) != 0)
			return H1_E_TARGET;
		m->flags |= H1_F_ASTERISK_FORM;
		m->path = t;
		m->path_len = 1;
		return 0;
	}
	if (len > 7 && strncasecmp(t, "http://", 7) == 0)
		skip = 7;
	else if (len > 8 && strncasecmp(t, "https://", 8) == 0)
		skip = 8;
	else
		return H1_E_TARGET;
	m->authority = t + skip;
	m->authority_len = 0;
	while (skip + m->authority_len < len && t[skip + m->authority_len] != '/' &&
	       t[skip + m->authority_len] != '?')
		m->authority_len++;
	if (!h1_host_valid(m->authority, m->authority_len))
		return H1_E_TARGET;
	m->path = t + skip + m->authority_len;
	m->path_len = len - skip - m->authority_len;
	if (!h1_path_valid(m->path, m->path_len))
		return H1_E_TARGET;
	if (m->path_len == 0) {
		m->path = "/";
		m->path_len = 1;
	} else if (m->path[0] == '?') {
		return H1_E_TARGET; /* "http://h?q" has no path: keep it simple */
	}
	m->flags |= H1_F_ABSOLUTE_FORM;
	return 0;
}

/* "HTTP/1.0" or "HTTP/1.1" at <p>; sets version_minor. */
static int h1_version(const char *p, struct h1_msg *m)
{
	if (memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1'))
		return H1_E_VERSION;
	m->version_minor = p[7] - '0';
	return 0;
}

/* Content-Length value: 1*DIGIT, or a list of identical such values. */
static int h1_content_length(struct h1_msg *m, const char *v, size_t len)
{
	const char *p = v, *tok;
	size_t tl;
	bool any = false;

	while (h1_list_next(&p, v + len, &tok, &tl)) {
		int64_t n = 0;

		for (size_t i = 0; i < tl; i++) {
			if (!IS(tok[i], C_DIGIT) || n > (INT64_MAX - 9) / 10)
				return H1_E_CONTENT_LENGTH;
			n = n * 10 + (tok[i] - '0');
		}
		if ((m->flags & H1_F_HAS_CL) && n != m->content_length)
			return H1_E_CONTENT_LENGTH;
		m->content_length = n;
		m->flags |= H1_F_HAS_CL;
		any = true;
	}
	/* an empty value or a list of only commas is not a length */
	return any ? 0 : H1_E_CONTENT_LENGTH;
}

/* Transfer-Encoding: we decode exactly one coding, a single "chunked". */
static int h1_transfer_encoding(struct h1_msg *m, const char *v, size_t len)
{
	const char *p = v, *tok;
	size_t tl;
	bool any = false;

	while (h1_list_next(&p, v + len, &tok, &tl)) {
		if (!h1_name_eq(tok, tl, "chunked") || (m->flags & H1_F_CHUNKED))
			return H1_E_TRANSFER_ENCODING;
		m->flags |= H1_F_CHUNKED;
		any = true;
	}
	return any ? 0 : H1_E_TRANSFER_ENCODING;
}

static void h1_connection(struct h1_msg *m, const char *v, size_t len)
{
	const char *p = v, *tok;
	size_t tl;

	while (h1_list_next(&p, v + len, &tok, &tl)) {
		if (h1_name_eq(tok, tl, "close"))
			m->flags |= H1_F_CONN_CLOSE;
		else if (h1_name_eq(tok, tl, "keep-alive"))
			m->flags |= H1_F_CONN_KEEPALIVE;
		else if (h1_name_eq(tok, tl, "upgrade"))
			m->flags |= H1_F_CONN_UPGRADE;
	}
}

/* Parses the field lines starting at <buf + off> through the empty line.
 * Returns the head length, 0 when incomplete, or an error. */
static int h1_fields(const char *buf, size_t len, size_t off, const struct h1_limits *lim,
                     struct h1_msg *m, bool request)
{
	unsigned cap = m->n_hdrs, n = 0, hosts = 0;
	bool has_te = false, has_upgrade = false;
	size_t i = off;

	for (;;) {
		struct h1_hdr *h;
		size_t name, name_end, vstart, vend;
		int err;

		if (i >= len)
			return 0;
		if (buf[i] == '\r') {
			if (i + 1 >= len)
				return 0;
			if (buf[i + 1] != '\n')
				return H1_E_SYNTAX;
			i += 2;
			break;
		}
		if (buf[i] == ' ' || buf[i] == '\t')
			return H1_E_OBS_FOLD;
		name = i;
		while (i < len && IS(buf[i], C_TCHAR))
			i++;
		if (i >= len)
			return 0;
		if (buf[i] != ':' || i == name)
			return H1_E_HEADER_NAME; /* includes whitespace before the colon */
		name_end = i;
		i++;
		while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		vstart = i;
		i = h1_value_end(buf, i, len);
		if (i >= len)
			return 0;
		if (buf[i] != '\r')
			return H1_E_HEADER_VALUE; /* NUL, bare LF, other controls */
		if (i + 1 >= len)
			return 0;
		if (buf[i + 1] != '\n')
			return H1_E_HEADER_VALUE; /* bare CR */
		vend = i;
		while (vend > vstart && (buf[vend - 1] == ' ' || buf[vend - 1] == '\t'))
			vend--;
		i += 2;
		if (n >= lim->max_headers || n >= cap)
			return H1_E_TOO_MANY_HEADERS;
		h = &m->hdrs[n++];
		h->name = buf + name;
		h->name_len = name_end - name;
		h->value = buf + vstart;
		h->value_len = vend - vstart;

		err = 0;
		if (h1_name_eq(h->name, h->name_len, "content-length")) {
			err = h1_content_length(m, h->value, h->value_len);
		} else if (h1_name_eq(h->name, h->name_len, "transfer-encoding")) {
			has_te = true;
			err = h1_transfer_encoding(m, h->value, h->value_len);
		} else if (h1_name_eq(h->name, h->name_len, "connection")) {
			h1_connection(m, h->value, h->value_len);
		} else if (h1_name_eq(h->name, h->name_len, "upgrade")) {
			has_upgrade = true;
		} else if (request && h1_name_eq(h->name, h->name_len, "host")) {
			hosts++;
			if (hosts > 1 || !h1_host_valid(h->value, h->value_len))
				err = H1_E_HOST;
			else if (!(m->flags & H1_F_ABSOLUTE_FORM)) {
				m->authority = h->value;
				m->authority_len = h->value_len;
			}
		} else if (request && h1_name_eq(h->name, h->name_len, "expect")) {
			if (h1_name_eq(h->value, h->value_len, "100-continue"))
				m->flags |= H1_F_EXPECT_CONTINUE;
		}
		if (err)
			return err;
		if (i > lim->max_head_bytes)
			return H1_E_HEAD_TOO_LARGE;
	}
	if (i > lim->max_head_bytes)
		return H1_E_HEAD_TOO_LARGE;
	m->n_hdrs = n;
	if (!has_upgrade)
		m->flags &= ~H1_F_CONN_UPGRADE;
	if (has_te && (m->flags & H1_F_HAS_CL))
		return H1_E_CL_AND_TE;
	/* RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means a broken peer */
	if (has_te && m->version_minor == 0)
		return H1_E_TRANSFER_ENCODING;
	if (request && m->version_minor == 1 && hosts == 0)
		return H1_E_HOST;
	return (int)i;
}

static void h1_reset(struct h1_msg *m)
{
	struct h1_hdr *hdrs = m->hdrs;
	unsigned cap = m->n_hdrs;

	memset(m, 0, sizeof(*m));
	m->hdrs = hdrs;
	m->n_hdrs = cap;
	m->content_length = -1;
}

/* The incomplete head at <len> bytes is already over the head limit. */
static int h1_incomplete(size_t len, const struct h1_limits *lim)
{
	return len > lim->max_head_bytes ? H1_E_HEAD_TOO_LARGE : 0;
}

int h1_parse_request(const char *buf, size_t len, const struct h1_limits *lim, struct h1_msg *m)
{
	size_t i = 0, t;
	int err;

	h1_reset(m);
	while (i < len && IS(buf[i], C_TCHAR))
		i++;
	if (i == len)
		return h1_incomplete(len, lim);
	if (buf[i] != ' ' || i == 0)
		return H1_E_METHOD;
	m->method = buf;
	m->method_len = i;
	if (i == 7 && memcmp(buf, "CONNECT", 7) == 0)
		return H1_E_CONNECT;
	t = ++i;
	while (i < len && buf[i] != ' ' && buf[i] != '\r' && buf[i] != '\n') {
		if (i - t >= lim->max_target_bytes)
			return H1_E_TARGET_TOO_LONG;
		i++;
	}
	if (i == len)
		return h1_incomplete(len, lim);
	if (buf[i] != ' ' || i == t)
		return H1_E_TARGET;
	m->target = buf + t;
	m->target_len = i - t;
	i++;
	if (len - i < 10) {
		/* Refuse what is wrong already: h1_head_scan() stops at a bare
		 * LF, and the head it hands over must not read as incomplete. */
		if (memcmp(buf + i, "HTTP/1.", len - i < 7 ? len - i : 7) != 0 ||
		    (len - i >= 8 && h1_version(buf + i, m)))
			return H1_E_VERSION;
		if (len - i == 9 && buf[i + 8] != '\r')
			return H1_E_SYNTAX;
		return h1_incomplete(len, lim);
	}
	if ((err = h1_version(buf + i, m)))
		return err;
	if (buf[i + 8] != '\r' || buf[i + 9] != '\n')
		return H1_E_SYNTAX;
	if ((err = h1_target(m)))
		return err;
	err = h1_fields(buf, len, i + 10, lim, m, true);
	return err == 0 ? h1_incomplete(len, lim) : err;
}

int h1_parse_response(const char *buf, size_t len, const struct h1_limits *lim, struct h1_msg *m)
{
	size_t i;
	int err;

	h1_reset(m);
	if (len < 13) {
		/* reject non-HTTP early: an upstream speaking SSH is a 502 now;
		 * no status line ends this early, so a LF here is a bare one */
		size_t n = len < 7 ? len : 7;

		return memcmp(buf, "HTTP/1.", n) || memchr(buf, '\n', len) ? H1_E_STATUS : 0;
	}
	if (h1_version(buf, m) || buf[8] != ' ')
		return H1_E_STATUS;
	if (!IS(buf[9], C_DIGIT) || !IS(buf[10], C_DIGIT) || !IS(buf[11], C_DIGIT) ||
	    buf[9] < '1' || buf[9] > '5')
		return H1_E_STATUS;
	m->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	i = 12;
	/* "HTTP/1.1 204\r\n" without the SP is common enough to accept */
	if (buf[i] == ' ') {
		i++;
		m->reason = buf + i;
		i = h1_value_end(buf, i, len);
		m->reason_len = (size_t)(buf + i - m->reason);
	}
	if (i < len && buf[i] != '\r')
		return H1_E_STATUS; /* a bare LF, or a control character in the reason */
	if (i + 1 >= len)
		return h1_incomplete(len, lim);
	if (buf[i + 1] != '\n')
		return H1_E_STATUS;
	err = h1_fields(buf, len, i + 2, lim, m, false);
	return err == 0 ? h1_incomplete(len, lim) : err;
}
