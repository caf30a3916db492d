/* test_http.c: header editing and the hop-by-hop rules on parsed heads. */
#include <criterion/criterion.h>
#include <string.h>

#include <event2/buffer.h>

#include "arena.h"
#include "http.h"

static char abuf[8192];

static void parse(struct http_msg *m, struct arena *a, const char *head)
{
	struct h1_limits lim = {16384, 8192, 64};
	static struct h1_hdr hdrs[64];
	int r;

	memset(m, 0, sizeof(*m));
	arena_init(a, abuf, sizeof(abuf), 1 << 20);
	m->a = a;
	m->h.hdrs = hdrs;
	m->h.n_hdrs = 64;
	m->cap = 64;
	r = h1_parse_request(head, strlen(head), &lim, &m->h);
	cr_assert_gt(r, 0, "parse: %d", r);
}

static char *fields(struct http_msg *m)
{
	static char out[4096];
	struct evbuffer *b = evbuffer_new();
	size_t n;

	cr_assert_eq(http_write_fields(m, NULL, b), 0);
	n = evbuffer_get_length(b);
	evbuffer_remove(b, out, n);
	out[n] = '\0';
	evbuffer_free(b);
	return out;
}

Test(http, hop_by_hop_removed)
{
	struct http_msg m;
	struct arena a;

	parse(&m, &a,
	      "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: 5\r\n"
	      "TE: trailers\r\nTrailer: x\r\nUpgrade: foo\r\nProxy-Authorization: b\r\n"
	      "Proxy-Connection: close\r\nX-Secret: s\r\nAccept: */*\r\n\r\n");
	cr_expect_str_eq(fields(&m), "Host: h\r\nAccept: */*\r\n");
	arena_deinit(&a);
}

Test(http, set_get_del_keep_order)
{
	struct http_msg m;
	struct arena a;

	parse(&m, &a, "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nA: 3\r\n\r\n");
	cr_expect_str_eq(fields(&m), "Host: h\r\nA: 1\r\nB: 2\r\nA: 3\r\n");
	cr_expect_eq(http_hdr_set(&m, "a", "x", 1), 0);
	cr_expect_str_eq(fields(&m), "Host: h\r\nB: 2\r\na: x\r\n");
	cr_expect_eq(http_hdr_del(&m, "B"), 1);
	cr_expect_null(http_hdr_get(&m, "b"));
	cr_expect_not_null(http_hdr_get(&m, "HOST"));
	for (int i = 0; i < 100; i++) /* grows past the parsed array */
		cr_assert_eq(http_hdr_add(&m, "X-N", "v", 1), 0);
	cr_expect_eq(m.h.n_hdrs, 5u + 100u);
	arena_deinit(&a);
}

Test(http, body_rules)
{
	cr_expect(http_resp_has_no_body("HEAD", 4, 200));
	cr_expect(http_resp_has_no_body("GET", 3, 204));
	cr_expect(http_resp_has_no_body("GET", 3, 304));
	cr_expect(http_resp_has_no_body("GET", 3, 100));
	cr_expect_not(http_resp_has_no_body("GET", 3, 200));
	cr_expect(http_method_is_idempotent("GET", 3));
	cr_expect(http_method_is_idempotent("PUT", 3));
	cr_expect_not(http_method_is_idempotent("POST", 4));
	cr_expect_not(http_method_is_idempotent("PATCH", 5));
	cr_expect_str_eq(http_reason(502), "Bad Gateway");
}

/* Every byte at every position of names up to 20 bytes long (the eight-at-
 * a-time loop, then the byte loop): only 'A' to 'Z' change, to 'a' to 'z'. */
Test(http, lower_every_byte_at_every_position)
{
	for (size_t len = 1; len <= 20; len++)
		for (int b = 0; b < 256; b++)
			for (size_t pos = 0; pos < len; pos++) {
				char src[20], dst[21], want[20];

				memset(src, 'Q', len);
				src[pos] = (char)b;
				for (size_t i = 0; i < len; i++) {
					unsigned char c = (unsigned char)src[i];

					want[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
				}
				dst[len] = '#';
				http_lower(dst, src, len);
				cr_assert(memcmp(dst, want, len) == 0, "byte %#x at %zu of %zu", b,
				          pos, len);
				cr_assert_eq(dst[len], '#', "wrote past %zu bytes", len);
			}
}
