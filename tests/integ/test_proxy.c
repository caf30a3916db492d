/* test_proxy.c: requests through the real binary to the real origin, with
 * the exact bytes the origin received: methods, forwarding fields, bodies
 * both ways, keep-alive reuse, pipelining, routes, 1xx, websocket. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct hproc origin, gw;

#define GW_CONF                                                                                    \
	"[gateway]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = off\n"                         \
	"[upstream o]\nservers = 127.0.0.1:%d\n"                                                   \
	"[route r]\npath_prefix = /\nupstream = o\n"                                               \
	"[route api]\nhost = *.example.com\npath_prefix = /api\nmethods = GET\n"                   \
	"upstream = o\n"                                                                           \
	"[route only-shop]\nhost = shop.test\npath_prefix = /x\nupstream = o\n"                    \
	"[tracing]\nenabled = off\n" /* the exact core bytes; tracing has test_trace.c */

static void setup(void)
{
	harness_origin_start(&origin, NULL);
	harness_gw_start(&gw, GW_CONF, origin.port);
}

static void teardown(void)
{
	harness_gw_stop(&gw, false);
	harness_kill(&origin);
}

TestSuite(proxy, .init = setup, .fini = teardown, .timeout = 60);

Test(proxy, get_arrives_with_forwarding_fields_and_without_hop_by_hop)
{
	struct hresp r;

	harness_request(
	        gw.port,
	        "GET /echo?q=1 HTTP/1.1\r\nHost: svc.test\r\nUser-Agent: t\r\n"
	        "Connection: keep-alive, X-Private\r\nX-Private: secret\r\nKeep-Alive: 5\r\n"
	        "TE: trailers\r\nProxy-Authorization: x\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
	        &r);
	cr_assert_eq(r.status, 200);
	cr_expect_str_eq(r.body,
	                 "GET /echo?q=1 HTTP/1.1\r\nHost: svc.test\r\nUser-Agent: t\r\n"
	                 "X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
	                 "X-Forwarded-Host: svc.test\r\n\r\n");
	cr_expect_not_null(harness_field(&r, "X-Origin-Conn"));
	harness_resp_free(&r);
}

Test(proxy, head_has_length_but_no_body)
{
	struct hresp r;

	harness_request(gw.port, "HEAD /bytes/1000 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(harness_field(&r, "Content-Length"), "1000");
	cr_expect_eq(r.body_len, 0);
	harness_resp_free(&r);
}

Test(proxy, no_body_statuses)
{
	const char *paths[] = {"/status/204", "/status/304"};

	for (int i = 0; i < 2; i++) {
		int fd = harness_connect(gw.port);
		struct hresp r;
		char req[128];

		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", paths[i]);
		harness_send_str(fd, req);
		cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0);
		cr_expect_eq(r.body_len, 0);
		harness_resp_free(&r);
		/* the connection is still usable: nothing was taken for a body */
		harness_send_str(fd, "GET /bytes/10 HTTP/1.1\r\nHost: a\r\n\r\n");
		cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0);
		cr_expect_eq(r.status, 200);
		cr_expect_eq(r.body_len, 10);
		harness_resp_free(&r);
		harness_close(fd);
	}
}

Test(proxy, post_with_length_is_forwarded_exactly)
{
	struct hresp r;

	harness_request(gw.port, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	                &r);
	cr_assert_eq(r.status, 200);
	cr_expect_str_eq(r.body, "POST /echo HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 127.0.0.1\r\n"
	                         "X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\n"
	                         "Content-Length: 5\r\n\r\nhello");
	harness_resp_free(&r);
}

Test(proxy, chunked_request_is_reframed_chunked)
{
	struct hresp r;

	harness_request(gw.port,
	                "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	                "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
	                &r);
	cr_assert_eq(r.status, 200);
	cr_expect_str_eq(r.body, "POST /echo HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 127.0.0.1\r\n"
	                         "X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\n"
	                         "Transfer-Encoding: chunked\r\n\r\n"
	                         "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
	harness_resp_free(&r);
}

Test(proxy, chunked_and_close_delimited_responses)
{
	struct hresp r;

	harness_request(gw.port, "GET /chunked/300000 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(harness_field(&r, "Transfer-Encoding"), "chunked");
	cr_expect(r.complete);
	cr_expect_eq(r.body_len, 300000);
	cr_expect(harness_is_pattern(r.body, r.body_len, 0));
	harness_resp_free(&r);

	/* close-delimited upstream body: re-framed, client connection kept */
	harness_request(gw.port, "GET /close/5000 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_expect_eq(r.status, 200);
	cr_expect(r.complete);
	cr_expect_eq(r.body_len, 5000);
	cr_expect(harness_is_pattern(r.body, r.body_len, 0));
	harness_resp_free(&r);
}

Test(proxy, keepalive_reuses_one_upstream_connection)
{
	int fd = harness_connect(gw.port);
	long c0, r0, c1, r1;

	harness_origin_stats(origin.port, &c0, &r0);
	for (int i = 0; i < 100; i++) {
		struct hresp r;

		harness_send_str(fd, "GET /bytes/100 HTTP/1.1\r\nHost: a\r\n\r\n");
		cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0, "request %d", i);
		cr_assert_eq(r.status, 200);
		cr_assert_eq(r.body_len, 100);
		harness_resp_free(&r);
	}
	harness_close(fd);
	harness_origin_stats(origin.port, &c1, &r1);
	/* +1 for the stats query itself, which is a direct connection */
	cr_expect_eq(c1 - c0, 1 + 1, "origin saw %ld new connections for 100 requests",
	             c1 - c0 - 1);
	cr_expect_eq(r1 - r0, 100 + 1);
}

Test(proxy, pipelined_requests_answered_in_order)
{
	int fd = harness_connect(gw.port);
	char req[4096] = "";

	for (int i = 1; i <= 10; i++) {
		char one[128];

		snprintf(one, sizeof(one), "GET /bytes/%d HTTP/1.1\r\nHost: a\r\n\r\n", i * 10);
		strcat(req, one);
	}
	harness_send_str(fd, req);
	for (int i = 1; i <= 10; i++) {
		struct hresp r;

		cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0, "response %d", i);
		cr_expect_eq(r.body_len, (size_t)i * 10, "response %d out of order", i);
		harness_resp_free(&r);
	}
	harness_close(fd);
}

Test(proxy, absolute_form_becomes_origin_form)
{
	struct hresp r;

	harness_request(gw.port,
	                "GET http://api.example.com/api/x HTTP/1.1\r\nHost: ignored.test\r\n\r\n",
	                &r);
	cr_assert_eq(r.status, 200);
	cr_expect_str_eq(r.body, "GET /api/x HTTP/1.1\r\nHost: api.example.com\r\n"
	                         "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
	                         "X-Forwarded-Host: api.example.com\r\n\r\n");
	harness_resp_free(&r);
}

Test(proxy, routes_fall_back_by_method_and_host)
{
	struct hresp r;

	/* *.example.com only routes /api with GET; POST falls to no route since
	 * the host-specific route wins first and has no POST */
	harness_request(gw.port,
	                "POST /api/x HTTP/1.1\r\nHost: a.example.com\r\n"
	                "Content-Length: 0\r\n\r\n",
	                &r);
	cr_expect_eq(r.status, 200, "the catch-all route serves what the wildcard refuses");
	harness_resp_free(&r);
	harness_request(gw.port, "GET /nothing HTTP/1.1\r\nHost: shop.test\r\n\r\n", &r);
	cr_expect_eq(r.status, 200);
	harness_resp_free(&r);
}

Test(proxy, expect_100_continue)
{
	int fd = harness_connect(gw.port);
	struct hresp r;

	harness_send_str(fd, "POST /sha256 HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
	                     "Content-Length: 3\r\n\r\n");
	harness_send_str(fd, "abc");
	cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body,
	                 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	harness_resp_free(&r);
	harness_close(fd);
}

Test(proxy, websocket_is_tunnelled)
{
	int fd = harness_connect(gw.port);
	struct hresp r;
	char buf[64];
	ssize_t n = 0;

	harness_send_str(fd, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
	                     "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n");
	cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0);
	cr_assert_eq(r.status, 101);
	cr_expect_str_eq(harness_field(&r, "Upgrade"), "websocket");
	harness_resp_free(&r);
	harness_send_str(fd, "ping-bytes");
	while (n < 10) {
		ssize_t k = read(fd, buf + n, sizeof(buf) - (size_t)n);

		if (k <= 0)
			break;
		n += k;
	}
	cr_expect_eq(n, 10);
	cr_expect(memcmp(buf, "ping-bytes", 10) == 0);
	harness_close(fd);
}
