/* test_grpc.c: telling gRPC calls, the gRPC status of a gateway answer, and
 * grpc-message's percent-encoding. */
#include <criterion/criterion.h>
#include <string.h>

#include "arena.h"
#include "grpc.h"
#include "http.h"

static char abuf[8192];

static bool is_call(const char *head)
{
	struct h1_limits lim = {16384, 8192, 64};
	static struct h1_hdr hdrs[64];
	struct http_msg m;
	struct arena a;
	bool yes;

	memset(&m, 0, sizeof(m));
	arena_init(&a, abuf, sizeof(abuf), 1 << 20);
	m.a = &a;
	m.h.hdrs = hdrs;
	m.h.n_hdrs = 64;
	m.cap = 64;
	cr_assert_gt(h1_parse_request(head, strlen(head), &lim, &m.h), 0, "%s", head);
	yes = grpc_is_call(&m);
	arena_deinit(&a);
	return yes;
}

Test(grpc, calls_are_told_by_content_type)
{
	cr_expect(is_call(
	        "POST /a.B/C HTTP/1.1\r\nHost: h\r\nContent-Type: application/grpc\r\n\r\n"));
	cr_expect(is_call("POST /a.B/C HTTP/1.1\r\nHost: h\r\n"
	                  "content-type: Application/GRPC+proto\r\n\r\n"));
	cr_expect_not(
	        is_call("POST /a HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n\r\n"));
	cr_expect_not(
	        is_call("POST /a HTTP/1.1\r\nHost: h\r\nContent-Type: application/grp\r\n\r\n"));
	cr_expect_not(is_call("POST /a HTTP/1.1\r\nHost: h\r\n\r\n"));
}

Test(grpc, http_statuses_map_as_grpc_maps_them)
{
	static const int map[][2] = {{400, 13}, {401, 16}, {403, 7},  {404, 12}, {429, 14},
	                             {502, 14}, {503, 14}, {504, 14}, {408, 2},  {413, 2},
	                             {431, 2},  {500, 2},  {200, 2}};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		cr_expect_eq(grpc_status_of_http(map[i][0]), map[i][1], "HTTP %d", map[i][0]);
}

Test(grpc, messages_are_percent_encoded_up_to_the_newline)
{
	char out[64];

	cr_expect_eq(grpc_message_encode("502 Bad Gateway: refused\nmore", out, sizeof(out)), 24u);
	cr_expect_str_eq(out, "502 Bad Gateway: refused");
	grpc_message_encode("100% \xc3\xbc\t~", out, sizeof(out));
	cr_expect_str_eq(out, "100%25 %C3%BC%09~");
	/* cut where the next escape would not fit, always terminated */
	cr_expect_eq(grpc_message_encode("ab%%", out, 5), 2u);
	cr_expect_str_eq(out, "ab");
}
