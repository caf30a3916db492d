/* test_relay.c: body framing through evbuffers: exact lengths that leave
 * pipelined bytes alone, chunked re-framing, close-delimited bodies, and
 * bad chunked framing. Every case is also fed one byte at a time. */
#include <criterion/criterion.h>
#include <string.h>

#include <event2/buffer.h>

#include "relay.h"

struct relay_case {
	const char *name;
	enum relay_framing in, out;
	uint64_t length;
	const char *input; /* bytes from the source */
	bool eof;          /* the source closes after <input> */
	int want;          /* final return: 1 done, 0 more, <0 error */
	const char *sink;  /* bytes expected in the sink */
	const char *left;  /* bytes expected to stay in the source */
};

static const struct relay_case cases[] = {
        {"length exact", RELAY_LENGTH, RELAY_LENGTH, 5, "hello", false, 1, "hello", ""},
        {"length leaves next request", RELAY_LENGTH, RELAY_LENGTH, 5, "helloGET / HTTP/1.1", false,
         1, "hello", "GET / HTTP/1.1"},
        {"length short", RELAY_LENGTH, RELAY_LENGTH, 10, "hello", false, 0, "hello", ""},
        {"length short eof", RELAY_LENGTH, RELAY_LENGTH, 10, "hello", true, -1, "hello", ""},
        {"chunked to chunked", RELAY_CHUNKED, RELAY_CHUNKED, 0,
         "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT", false, 1, NULL, "NEXT"},
        {"chunked to raw", RELAY_CHUNKED, RELAY_CLOSE, 0, "5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
         false, 1, "hello", ""},
        {"chunked bad size", RELAY_CHUNKED, RELAY_CHUNKED, 0, "zz\r\nhello\r\n", false, -1, NULL,
         NULL},
        {"chunked missing crlf", RELAY_CHUNKED, RELAY_CLOSE, 0, "5\r\nhelloXX0\r\n\r\n", false, -1,
         NULL, NULL},
        {"chunked cut", RELAY_CHUNKED, RELAY_CHUNKED, 0, "5\r\nhel", true, -1, NULL, NULL},
        {"close to chunked", RELAY_CLOSE, RELAY_CHUNKED, 0, "abc", true, 1, NULL, ""},
        {"close to raw", RELAY_CLOSE, RELAY_CLOSE, 0, "abc", true, 1, "abc", ""},
        {"none", RELAY_NONE, RELAY_NONE, 0, "GET /", false, 1, "", "GET /"},
};

/* Decodes a chunked sink back to its body, to compare re-framed output. */
static size_t dechunk(const char *s, size_t n, char *out)
{
	size_t o = 0;

	while (n) {
		char *end;
		unsigned long len = strtoul(s, &end, 16);

		end = strstr(end, "\r\n") + 2;
		n -= (size_t)(end - s);
		s = end;
		if (len == 0)
			break;
		memcpy(out + o, s, len);
		o += len;
		s += len + 2;
		n -= len + 2;
	}
	return o;
}

static int run(const struct relay_case *c, bool bytewise, struct evbuffer *src,
               struct evbuffer *dst)
{
	struct relay r;
	size_t len = strlen(c->input);
	int ret = 0;

	relay_init(&r, c->in, c->length, c->out);
	if (bytewise) {
		size_t i = 0;

		while (i < len && ret == 0) {
			evbuffer_add(src, c->input + i++, 1);
			ret = relay_move(&r, src, dst);
		}
		/* what was not fed yet arrives later: it must stay in the source */
		evbuffer_add(src, c->input + i, len - i);
	} else {
		evbuffer_add(src, c->input, len);
		ret = relay_move(&r, src, dst);
	}
	if (ret == 0 && c->eof)
		ret = relay_eof(&r, dst);
	return ret;
}

Test(relay, table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int bytewise = 0; bytewise < 2; bytewise++) {
			const struct relay_case *c = &cases[i];
			struct evbuffer *src = evbuffer_new(), *dst = evbuffer_new();
			int ret = run(c, bytewise, src, dst);
			size_t dlen = evbuffer_get_length(dst);
			char *d = (char *)evbuffer_pullup(dst, -1);

			if (c->want < 0)
				cr_expect_lt(ret, 0, "%s (bytewise %d): %d", c->name, bytewise,
				             ret);
			else
				cr_expect_eq(ret, c->want, "%s (bytewise %d): %d", c->name,
				             bytewise, ret);
			if (c->sink) {
				cr_expect_eq(dlen, strlen(c->sink), "%s: sink length", c->name);
				cr_expect(dlen == strlen(c->sink) &&
				                  (dlen == 0 || memcmp(d, c->sink, dlen) == 0),
				          "%s: sink bytes", c->name);
			}
			if (c->left && ret == 1) {
				size_t slen = evbuffer_get_length(src);

				cr_expect_eq(slen, strlen(c->left), "%s (bytewise %d): left",
				             c->name, bytewise);
			}
			evbuffer_free(src);
			evbuffer_free(dst);
		}
	}
}

Test(relay, chunked_reframing_keeps_the_body)
{
	const char *in = "5;a=b\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n";
	struct evbuffer *src = evbuffer_new(), *dst = evbuffer_new();
	struct relay r;
	char body[64];
	size_t n;

	relay_init(&r, RELAY_CHUNKED, 0, RELAY_CHUNKED);
	for (size_t i = 0; i < strlen(in); i++) {
		evbuffer_add(src, in + i, 1);
		relay_move(&r, src, dst);
	}
	cr_assert(r.done);
	cr_expect_eq(r.bytes, 16);
	n = dechunk((char *)evbuffer_pullup(dst, -1), evbuffer_get_length(dst), body);
	cr_expect_eq(n, 16);
	cr_expect(memcmp(body, "hello 0123456789", 16) == 0);
	evbuffer_free(src);
	evbuffer_free(dst);
}

Test(relay, close_to_chunked_writes_terminator)
{
	struct evbuffer *src = evbuffer_new(), *dst = evbuffer_new();
	struct relay r;
	const char *want = "3\r\nabc\r\n0\r\n\r\n";

	relay_init(&r, RELAY_CLOSE, 0, RELAY_CHUNKED);
	evbuffer_add(src, "abc", 3);
	cr_expect_eq(relay_move(&r, src, dst), 0);
	cr_expect_eq(relay_eof(&r, dst), 1);
	cr_assert_eq(evbuffer_get_length(dst), strlen(want));
	cr_expect(memcmp(evbuffer_pullup(dst, -1), want, strlen(want)) == 0);
	evbuffer_free(src);
	evbuffer_free(dst);
}
