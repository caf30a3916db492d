/* test_h1.c: the HTTP/1 parser, table-driven. Every case is parsed whole and
 * then fed one byte at a time: each prefix must say "need more" (0) or fail
 * with the case's own error, and the whole must give the expected verdict.
 * The smuggling families (CL.TE, TE.CL, obfuscated Transfer-Encoding,
 * duplicate Content-Length) have their own rows. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "h1.h"

static const struct h1_limits lim = {
        .max_head_bytes = 2048, .max_target_bytes = 200, .max_headers = 16};

struct req_case {
	const char *name;
	const char *head;
	size_t len; /* 0: strlen(head) */
	int want;   /* >0: head length expected == whole input; else an H1_E_* */
	unsigned flags;
	int64_t cl;
};

#define OK(n, h, f, cl)                                                                            \
	{                                                                                          \
		n, h, 0, 1, f, cl                                                                  \
	}
#define BAD(n, h, e)                                                                               \
	{                                                                                          \
		n, h, 0, e, 0, -1                                                                  \
	}

static const struct req_case reqs[] = {
        OK("simple", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, -1),
        OK("query and pct", "GET /a/b%20c?x=1&y=%2F HTTP/1.1\r\nHost: a\r\n\r\n", 0, -1),
        OK("1.0 no host", "GET / HTTP/1.0\r\n\r\n", 0, -1),
        OK("cl", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n", H1_F_HAS_CL, 10),
        OK("cl same twice",
           "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
           H1_F_HAS_CL, 5),
        OK("cl list same", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
           H1_F_HAS_CL, 5),
        OK("te chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
           H1_F_CHUNKED, -1),
        OK("te htab ows", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tChunked \r\n\r\n",
           H1_F_CHUNKED, -1),
        OK("conn close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", H1_F_CONN_CLOSE,
           -1),
        OK("conn keepalive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
           H1_F_CONN_KEEPALIVE, -1),
        OK("upgrade",
           "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
           H1_F_CONN_UPGRADE, -1),
        OK("upgrade without field", "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n", 0,
           -1),
        OK("expect",
           "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n",
           H1_F_EXPECT_CONTINUE | H1_F_HAS_CL, 1),
        OK("absolute", "GET http://b.test:8080/p?q HTTP/1.1\r\nHost: a\r\n\r\n", H1_F_ABSOLUTE_FORM,
           -1),
        OK("asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", H1_F_ASTERISK_FORM, -1),
        OK("obs-text value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\xc3\xa9\r\n\r\n", 0, -1),
        OK("ipv6 host", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 0, -1),
        OK("empty value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n", 0, -1),
        OK("extension method", "PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n", 0, -1),

        /* smuggling */
        BAD("CL.TE",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
            H1_E_CL_AND_TE),
        BAD("TE.CL",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n",
            H1_E_CL_AND_TE),
        BAD("cl differ",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n",
            H1_E_CONTENT_LENGTH),
        BAD("cl list differ", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 5\r\n\r\n",
            H1_E_CONTENT_LENGTH),
        BAD("cl plus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +4\r\n\r\n",
            H1_E_CONTENT_LENGTH),
        BAD("cl hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x4\r\n\r\n",
            H1_E_CONTENT_LENGTH),
        BAD("cl empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
            H1_E_CONTENT_LENGTH),
        BAD("cl overflow",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
            H1_E_CONTENT_LENGTH),
        BAD("cl inner space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n",
            H1_E_CONTENT_LENGTH),
        BAD("te xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
            H1_E_TRANSFER_ENCODING),
        BAD("te chunked twice",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            H1_E_TRANSFER_ENCODING),
        BAD("te two fields",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
            "Transfer-Encoding: chunked\r\n\r\n",
            H1_E_TRANSFER_ENCODING),
        BAD("te gzip chunked",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            H1_E_TRANSFER_ENCODING),
        BAD("te identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
            H1_E_TRANSFER_ENCODING),
        BAD("te quoted", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
            H1_E_TRANSFER_ENCODING),
        BAD("te in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            H1_E_TRANSFER_ENCODING),
        BAD("space before colon",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", H1_E_HEADER_NAME),
        BAD("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", H1_E_OBS_FOLD),
        BAD("fold first line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", H1_E_OBS_FOLD),

        /* characters and line endings */
        BAD("bare LF end", "GET / HTTP/1.1\r\nHost: a\n\r\n", H1_E_HEADER_VALUE),
        BAD("bare LF request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", H1_E_SYNTAX),
        BAD("bare CR", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", H1_E_HEADER_VALUE),
        {"NUL", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n", 38, H1_E_HEADER_VALUE, 0, -1},
        BAD("ctl", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x07\r\n\r\n", H1_E_HEADER_VALUE),
        BAD("del", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x7f\r\n\r\n", H1_E_HEADER_VALUE),
        BAD("empty name", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", H1_E_HEADER_NAME),
        BAD("name with slash", "GET / HTTP/1.1\r\nHost: a\r\nX/A: v\r\n\r\n", H1_E_HEADER_NAME),

        /* request line */
        BAD("method paren", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", H1_E_METHOD),
        BAD("leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", H1_E_METHOD),
        BAD("double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", H1_E_TARGET),
        BAD("target space", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", H1_E_VERSION),
        BAD("target fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", H1_E_TARGET),
        BAD("target relative", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", H1_E_TARGET),
        BAD("target bad pct", "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", H1_E_TARGET),
        BAD("target non-ascii", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", H1_E_TARGET),
        BAD("asterisk get", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", H1_E_TARGET),
        BAD("absolute ftp", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", H1_E_TARGET),
        BAD("absolute userinfo", "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", H1_E_TARGET),
        BAD("connect", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", H1_E_CONNECT),
        BAD("version 1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", H1_E_VERSION),
        BAD("version 2", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", H1_E_VERSION),
        BAD("version lower", "GET / http/1.1\r\nHost: a\r\n\r\n", H1_E_VERSION),
        BAD("version trailing", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", H1_E_SYNTAX),

        /* Host */
        BAD("no host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", H1_E_HOST),
        BAD("two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", H1_E_HOST),
        BAD("empty host", "GET / HTTP/1.1\r\nHost: \r\n\r\n", H1_E_HOST),
        BAD("host space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", H1_E_HOST),
        BAD("host userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", H1_E_HOST),
        BAD("host port", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", H1_E_HOST),
        BAD("host long port", "GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n", H1_E_HOST),
};

static int parse(const char *buf, size_t len, struct h1_msg *m, struct h1_hdr *hdrs)
{
	memset(m, 0, sizeof(*m));
	m->hdrs = hdrs;
	m->n_hdrs = lim.max_headers;
	return h1_parse_request(buf, len, &lim, m);
}

Test(h1, requests_whole_and_bytewise)
{
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		const struct req_case *c = &reqs[i];
		size_t len = c->len ? c->len : strlen(c->head);
		struct h1_hdr hdrs[16];
		struct h1_msg m;
		int r = parse(c->head, len, &m, hdrs);

		if (c->want > 0) {
			cr_expect_eq(r, (int)len, "%s: got %d", c->name, r);
			cr_expect_eq(m.flags & c->flags, c->flags, "%s: flags %x", c->name,
			             m.flags);
			cr_expect_eq(m.content_length, c->cl, "%s: cl", c->name);
		} else {
			cr_expect_eq(r, c->want, "%s: got %d want %d", c->name, r, c->want);
		}
		for (size_t n = 1; n < len; n++) {
			int p = parse(c->head, n, &m, hdrs);

			cr_expect(p == 0 || (c->want < 0 && p == c->want), "%s: prefix %zu gave %d",
			          c->name, n, p);
			if (p < 0)
				break;
		}
	}
}

Test(h1, fields_and_authority)
{
	const char *h = "GET http://B.test:81/p?q HTTP/1.1\r\nHost: ignored\r\nX-A:  v  \r\n\r\n";
	struct h1_hdr hdrs[16];
	struct h1_msg m;

	cr_assert_gt(parse(h, strlen(h), &m, hdrs), 0);
	cr_expect_eq(m.authority_len, 9);
	cr_expect(memcmp(m.authority, "B.test:81", 9) == 0);
	cr_expect_eq(m.path_len, 4);
	cr_expect(memcmp(m.path, "/p?q", 4) == 0);
	cr_expect_eq(m.n_hdrs, 2);
	cr_expect_eq(hdrs[1].value_len, 1, "OWS trimmed");
	cr_expect_eq(hdrs[1].value[0], 'v');

	h = "GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n";
	cr_assert_gt(parse(h, strlen(h), &m, hdrs), 0);
	cr_expect_eq(m.authority_len, 6);
	cr_expect_eq(m.version_minor, 1);
}

Test(h1, limits)
{
	char buf[4096];
	struct h1_hdr hdrs[16];
	struct h1_msg m;
	size_t n;

	/* target too long, even before the line ends */
	strcpy(buf, "GET /");
	memset(buf + 5, 'a', 300);
	cr_expect_eq(parse(buf, 305, &m, hdrs), H1_E_TARGET_TOO_LONG);

	/* too many fields */
	strcpy(buf, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < 20; i++)
		sprintf(buf + strlen(buf), "X-%d: v\r\n", i);
	strcat(buf, "\r\n");
	cr_expect_eq(parse(buf, strlen(buf), &m, hdrs), H1_E_TOO_MANY_HEADERS);

	/* head over max_head_bytes, complete or not */
	strcpy(buf, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
	n = strlen(buf);
	memset(buf + n, 'b', 2100);
	cr_expect_eq(parse(buf, n + 2100, &m, hdrs), H1_E_HEAD_TOO_LARGE);
	strcpy(buf + n + 2100, "\r\n\r\n");
	cr_expect_eq(parse(buf, strlen(buf), &m, hdrs), H1_E_HEAD_TOO_LARGE);

	cr_expect_eq(h1_err_status(H1_E_HEAD_TOO_LARGE), 431);
	cr_expect_eq(h1_err_status(H1_E_TOO_MANY_HEADERS), 431);
	cr_expect_eq(h1_err_status(H1_E_TARGET_TOO_LONG), 414);
	cr_expect_eq(h1_err_status(H1_E_CONNECT), 405);
	cr_expect_eq(h1_err_status(H1_E_OBS_FOLD), 400);
}

/* <pre>, the 24 bytes of <v>, then <post>, into <buf>; returns the length.
 * Not printf: <v> may hold a NUL. */
static size_t with_value(char *buf, const char *pre, const char *v, const char *post)
{
	size_t n = strlen(pre);

	memcpy(buf, pre, n);
	memcpy(buf + n, v, 24);
	strcpy(buf + n + 24, post);
	return n + 24 + strlen(post);
}

/* Every byte at every position of a 24-byte value (three words of the
 * eight-at-a-time scan and the byte loop after them), in a request field
 * and in a response's reason phrase: controls but HTAB, and DEL, are
 * refused; the rest of the value is kept whole. */
Test(h1, value_bytes_at_every_position)
{
	for (int b = 0; b < 256; b++) {
		bool ok = b == '\t' || (b >= 0x20 && b != 0x7f);

		if (b == '\r' || b == '\n')
			continue; /* they end the line: the rows above */
		for (size_t pos = 0; pos < 24; pos++) {
			char v[24], buf[128];
			struct h1_hdr hdrs[16];
			struct h1_msg m;
			size_t n;
			int r;

			memset(v, 'v', sizeof(v));
			v[pos] = (char)b;
			n = with_value(buf, "GET / HTTP/1.1\r\nHost: a\r\nX-A: ", v, "\r\n\r\n");
			r = parse(buf, n, &m, hdrs);
			if (!ok) {
				cr_expect_eq(r, H1_E_HEADER_VALUE, "byte %#x at %zu: %d", b, pos,
				             r);
			} else {
				/* OWS at either end is not part of the value */
				bool ows = (b == ' ' || b == '\t') && (pos == 0 || pos == 23);

				cr_expect_eq(r, (int)n, "byte %#x at %zu: %d", b, pos, r);
				cr_expect(r > 0 && hdrs[1].value_len == (ows ? 23u : 24u) &&
				                  memcmp(hdrs[1].value, v + (pos == 0 && ows),
				                         hdrs[1].value_len) == 0,
				          "byte %#x at %zu", b, pos);
			}

			n = with_value(buf, "HTTP/1.1 200 ", v, "\r\n\r\n");
			m = (struct h1_msg){.hdrs = hdrs, .n_hdrs = 16};
			r = h1_parse_response(buf, n, &lim, &m);
			cr_expect_eq(r, ok ? (int)n : H1_E_STATUS, "reason byte %#x at %zu: %d", b,
			             pos, r);
			if (ok && r > 0)
				cr_expect(m.reason_len == 24 && memcmp(m.reason, v, 24) == 0,
				          "reason byte %#x at %zu", b, pos);
		}
	}
}

struct resp_case {
	const char *name;
	const char *head;
	int want; /* >0 ok with that status */
};

static const struct resp_case resps[] = {
        {"ok", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", 200},
        {"empty reason", "HTTP/1.1 204 \r\n\r\n", 204},
        {"no reason no sp", "HTTP/1.1 304\r\n\r\n", 304},
        {"1.0", "HTTP/1.0 200 OK\r\n\r\n", 200},
        {"100", "HTTP/1.1 100 Continue\r\n\r\n", 100},
        {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200},
        {"garbage", "SSH-2.0-OpenSSH_9.2\r\n\r\n", H1_E_STATUS},
        {"binary", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", H1_E_STATUS},
        {"status 600", "HTTP/1.1 600 X\r\n\r\n", H1_E_STATUS},
        {"status 2 digits", "HTTP/1.1 20 X\r\n\r\n", H1_E_STATUS},
        {"dup cl", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
         H1_E_CONTENT_LENGTH},
        {"cl te", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
         H1_E_CL_AND_TE},
        {"te gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", H1_E_TRANSFER_ENCODING},
        {"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", H1_E_OBS_FOLD},
        {"bare LF", "HTTP/1.1 200 OK\nX: a\r\n\r\n", H1_E_STATUS},
};

Test(h1, responses_whole_and_bytewise)
{
	for (size_t i = 0; i < sizeof(resps) / sizeof(resps[0]); i++) {
		const struct resp_case *c = &resps[i];
		size_t len = strlen(c->head);
		struct h1_hdr hdrs[16];
		struct h1_msg m = {.hdrs = hdrs, .n_hdrs = 16};
		int r = h1_parse_response(c->head, len, &lim, &m);

		if (c->want > 0) {
			cr_expect_eq(r, (int)len, "%s: got %d", c->name, r);
			cr_expect_eq(m.status, c->want, "%s", c->name);
		} else {
			cr_expect_eq(r, c->want, "%s: got %d", c->name, r);
		}
		for (size_t n = 1; n < len; n++) {
			struct h1_msg p = {.hdrs = hdrs, .n_hdrs = 16};
			int v = h1_parse_response(c->head, n, &lim, &p);

			cr_expect(v == 0 || (c->want < 0 && v == c->want), "%s: prefix %zu gave %d",
			          c->name, n, v);
			if (v < 0)
				break;
		}
	}
}

Test(h1, head_scan_resumes)
{
	const char *h = "GET / HTTP/1.1\r\nHost: a\r\n\r\nNEXT";
	size_t scanned = 0, end = 0;

	for (size_t n = 1; n <= strlen(h) && !end; n++)
		end = h1_head_scan(h, n, &scanned);
	cr_expect_eq(end, strlen(h) - 4);
	scanned = 0;
	cr_expect_eq(h1_head_scan("GET / HTTP/1.1\nX", 16, &scanned), 15, "bare LF ends the scan");
}

/* What the connection code does: scan, then parse what the scan found. A
 * head that a bare LF ends is refused, never "need more" (fuzz_h1_head found
 * the response case; the proxy then logged "head too large"). */
Test(h1, scan_end_is_refused)
{
	static const struct {
		const char *head;
		bool request;
		int want;
	} cases[] = {
	        {"GET / HTTP/1.1\nHost: a\r\n\r\n", true, H1_E_SYNTAX},
	        {"GET / HTTP/1\nHost: a\r\n\r\n", true, H1_E_VERSION},
	        {"GET / \n\r\n", true, H1_E_VERSION},
	        {"HTTP/1.1 101 Switching Protoc\nExpect: 100-continue\r\n\r\n", false, H1_E_STATUS},
	        {"HTTP/1.1 204\n\r\n", false, H1_E_STATUS},
	        {"HTTP/1.1\n\r\n", false, H1_E_STATUS},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *h = cases[i].head;
		size_t scanned = 0, n = h1_head_scan(h, strlen(h), &scanned);
		struct h1_hdr hdrs[16];
		struct h1_msg m = {.hdrs = hdrs, .n_hdrs = 16};
		int r;

		cr_assert_gt(n, 0, "%s", h);
		r = cases[i].request ? h1_parse_request(h, n, &lim, &m)
		                     : h1_parse_response(h, n, &lim, &m);
		cr_expect_eq(r, cases[i].want, "case %zu: got %d", i, r);
	}
}

/* The proxy's loop: parse framing, move data, repeat; the decoded body. */
static int dechunk(const char *in, size_t len, bool bytewise, char *out, size_t *olen)
{
	struct h1_chunk c;
	size_t have = bytewise ? 0 : len, off = 0;

	h1_chunk_init(&c, 64);
	*olen = 0;
	for (;;) {
		ssize_t n = 0;

		if (c.state == H1_CK_DONE)
			return off == len ? 1 : 2; /* 2: bytes after the message */
		if (c.state == H1_CK_DATA) {
			size_t take = have - off < c.remaining ? have - off : (size_t)c.remaining;

			memcpy(out + *olen, in + off, take);
			*olen += take;
			off += take;
			h1_chunk_data(&c, take);
			n = (ssize_t)take;
		} else {
			n = h1_chunk_parse(&c, in + off, have - off);
			if (n < 0)
				return (int)n;
			off += (size_t)n;
			if (c.state == H1_CK_DATA || c.state == H1_CK_DONE)
				continue;
		}
		if (n == 0) {
			/* no progress: the next byte arrives, or the input is over */
			if (have == len)
				return 0;
			have++;
		}
	}
}

struct chunk_case {
	const char *name, *in, *body;
	int want;
};

static const struct chunk_case chunks[] = {
        {"two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", 1},
        {"hex case", "A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n", "01234567890123456789", 1},
        {"leading zeros", "0005\r\nhello\r\n0\r\n\r\n", "hello", 1},
        {"extensions", "5;a=b;c=\"q \\\" x\";d\r\nhello\r\n0;z\r\n\r\n", "hello", 1},
        {"ext bws", "5 ; a = b\r\nhello\r\n0\r\n\r\n", "hello", 1},
        {"trailers", "5\r\nhello\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n", "hello", 1},
        {"empty size", "\r\nhello\r\n", NULL, H1_E_CHUNK_SIZE},
        {"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", NULL, H1_E_CHUNK_SIZE},
        {"negative", "-5\r\nhello\r\n", NULL, H1_E_CHUNK_SIZE},
        {"inner space", "5 5\r\nhello\r\n", NULL, H1_E_CHUNK_EXT},
        {"overflow", "fffffffffffffffff\r\n", NULL, H1_E_CHUNK_SIZE},
        {"bad ext", "5;=b\r\nhello\r\n", NULL, H1_E_CHUNK_EXT},
        {"ext unterminated quote", "5;a=\"b\r\nhello\r\n", NULL, H1_E_CHUNK_EXT},
        {"missing crlf", "5\r\nhelloX\r\n0\r\n\r\n", NULL, H1_E_CHUNK_FRAMING},
        {"bare LF size", "5\nhello\r\n", NULL, H1_E_CHUNK_SIZE},
        {"bad trailer", "0\r\nX T: 1\r\n\r\n", NULL, H1_E_TRAILER},
        {"trailer too big",
         "0\r\nX-T: 0123456789012345678901234567890123456789012345678901234567890\r\n\r\n", NULL,
         H1_E_TRAILER},
};

Test(h1, chunked_whole_and_bytewise)
{
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		for (int bw = 0; bw < 2; bw++) {
			const struct chunk_case *c = &chunks[i];
			char out[256];
			size_t olen;
			int r = dechunk(c->in, strlen(c->in), bw, out, &olen);

			cr_expect_eq(r, c->want, "%s (bytewise %d): got %d", c->name, bw, r);
			if (c->body && r == 1)
				cr_expect(olen == strlen(c->body) &&
				                  memcmp(out, c->body, olen) == 0,
				          "%s: body", c->name);
		}
	}
}

Test(h1, lists)
{
	const char *v = " a ,, b\t,c  ", *p = v, *tok;
	size_t tl;
	const char *want[] = {"a", "b", "c"};
	int n = 0;

	while (h1_list_next(&p, v + strlen(v), &tok, &tl)) {
		cr_assert_lt(n, 3);
		cr_expect_eq(tl, strlen(want[n]));
		cr_expect(memcmp(tok, want[n], tl) == 0);
		n++;
	}
	cr_expect_eq(n, 3);
	cr_expect(h1_name_eq("Content-Length", 14, "content-length"));
	cr_expect_not(h1_name_eq("Content-Lengt", 13, "content-length"));
}
