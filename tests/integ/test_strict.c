/* test_strict.c: hostile and broken requests through the real binary: the
 * status they get, the connection closed, and nothing reaching the origin. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct hproc origin, gw;

static void setup(void)
{
	harness_origin_start(&origin, NULL);
	harness_gw_start(&gw,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
	                 "max_head_bytes = 4096\nmax_headers = 20\nmax_target_bytes = 256\n"
	                 "header_timeout_ms = 300\nmax_body_bytes = 1000\n"
	                 "[upstream o]\nservers = 127.0.0.1:%d\n"
	                 "[route r]\nhost = ok.test\npath_prefix = /\nupstream = o\n",
	                 origin.port);
}

static void teardown(void)
{
	harness_gw_stop(&gw, false);
	harness_kill(&origin);
}

TestSuite(strict, .init = setup, .fini = teardown, .timeout = 60);

struct bad_case {
	const char *name;
	const char *req;
	int status;
};

static const struct bad_case bad[] = {
        {"CL.TE",
         "POST / HTTP/1.1\r\nHost: ok.test\r\nContent-Length: 6\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
         400},
        {"TE.CL",
         "POST / HTTP/1.1\r\nHost: ok.test\r\nTransfer-Encoding: chunked\r\n"
         "Content-Length: 3\r\n\r\n0\r\n\r\n",
         400},
        {"differing CL",
         "POST / HTTP/1.1\r\nHost: ok.test\r\nContent-Length: 3\r\n"
         "Content-Length: 4\r\n\r\nabcd",
         400},
        {"CL list differing",
         "POST / HTTP/1.1\r\nHost: ok.test\r\nContent-Length: 3, 4\r\n\r\nabcd", 400},
        {"CL sign", "POST / HTTP/1.1\r\nHost: ok.test\r\nContent-Length: +3\r\n\r\nabc", 400},
        {"TE xchunked", "POST / HTTP/1.1\r\nHost: ok.test\r\nTransfer-Encoding: xchunked\r\n\r\n",
         400},
        {"TE not final",
         "POST / HTTP/1.1\r\nHost: ok.test\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
        {"TE twice",
         "POST / HTTP/1.1\r\nHost: ok.test\r\nTransfer-Encoding: chunked\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         400},
        {"TE identity", "POST / HTTP/1.1\r\nHost: ok.test\r\nTransfer-Encoding: identity\r\n\r\n",
         400},
        {"TE in 1.0",
         "POST / HTTP/1.0\r\nHost: ok.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        {"space before colon",
         "GET / HTTP/1.1\r\nHost: ok.test\r\nTransfer-Encoding : chunked\r\n\r\n", 400},
        {"obs-fold", "GET / HTTP/1.1\r\nHost: ok.test\r\nX-A: a\r\n b\r\n\r\n", 400},
        {"bare LF", "GET / HTTP/1.1\nHost: ok.test\n\n", 400},
        {"bare CR in value", "GET / HTTP/1.1\r\nHost: ok.test\r\nX-A: a\rb\r\n\r\n", 400},
        {"NUL in value", "GET / HTTP/1.1\r\nHost: ok.test\r\nX-A: a\0b\r\n\r\n", 400},
        {"control char", "GET / HTTP/1.1\r\nHost: ok.test\r\nX-A: a\x01b\r\n\r\n", 400},
        {"bad method", "G(T / HTTP/1.1\r\nHost: ok.test\r\n\r\n", 400},
        {"target with space", "GET /a b HTTP/1.1\r\nHost: ok.test\r\n\r\n", 400},
        {"target fragment", "GET /a#b HTTP/1.1\r\nHost: ok.test\r\n\r\n", 400},
        {"relative target", "GET a HTTP/1.1\r\nHost: ok.test\r\n\r\n", 400},
        {"asterisk with GET", "GET * HTTP/1.1\r\nHost: ok.test\r\n\r\n", 400},
        {"userinfo", "GET http://u@ok.test/ HTTP/1.1\r\nHost: ok.test\r\n\r\n", 400},
        {"version", "GET / HTTP/1.2\r\nHost: ok.test\r\n\r\n", 400},
        {"no host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400},
        {"two hosts", "GET / HTTP/1.1\r\nHost: ok.test\r\nHost: ok.test\r\n\r\n", 400},
        {"bad host", "GET / HTTP/1.1\r\nHost: ok test\r\n\r\n", 400},
        {"host port", "GET / HTTP/1.1\r\nHost: ok.test:80x\r\n\r\n", 400},
        {"CONNECT", "CONNECT ok.test:443 HTTP/1.1\r\nHost: ok.test:443\r\n\r\n", 405},
        {"long target", NULL, 414},
        {"too many headers", NULL, 431},
        {"head too large", NULL, 431},
        {"body over max", "POST / HTTP/1.1\r\nHost: ok.test\r\nContent-Length: 5000\r\n\r\n", 413},
};

static char *bad_request(const struct bad_case *c, size_t *len)
{
	static char buf[16384];

	if (c->req) {
		/* the NUL case carries its NUL: measure up to the final CRLFCRLF */
		const char *end = c->req;

		*len = strlen(c->req);
		if (strcmp(c->name, "NUL in value") == 0) {
			end = c->req + *len + 1;
			*len = (size_t)(end - c->req) + strlen(end);
		}
		memcpy(buf, c->req, *len);
		return buf;
	}
	if (c->status == 414) {
		strcpy(buf, "GET /");
		memset(buf + 5, 'a', 300);
		strcpy(buf + 305, " HTTP/1.1\r\nHost: ok.test\r\n\r\n");
	} else if (strcmp(c->name, "too many headers") == 0) {
		strcpy(buf, "GET / HTTP/1.1\r\nHost: ok.test\r\n");
		for (int i = 0; i < 25; i++)
			sprintf(buf + strlen(buf), "X-%d: v\r\n", i);
		strcat(buf, "\r\n");
	} else {
		size_t n;

		strcpy(buf, "GET / HTTP/1.1\r\nHost: ok.test\r\nX-Big: ");
		n = strlen(buf);
		memset(buf + n, 'b', 5000);
		strcpy(buf + n + 5000, "\r\n\r\n");
	}
	*len = strlen(buf);
	return buf;
}

Test(strict, rejected_closed_and_never_forwarded)
{
	long c0, r0, c1, r1;

	harness_origin_stats(origin.port, &c0, &r0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct bad_case *c = &bad[i];
		int fd = harness_connect(gw.port);
		struct hresp r;
		size_t len;
		char *req = bad_request(c, &len);

		harness_send(fd, req, len);
		cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0, "%s: no response", c->name);
		cr_expect_eq(r.status, c->status, "%s: got %d", c->name, r.status);
		cr_expect_str_eq(harness_field(&r, "Connection"), "close", "%s", c->name);
		cr_expect(harness_wait_closed(fd, 2000), "%s: connection not closed", c->name);
		harness_resp_free(&r);
		harness_close(fd);
	}
	harness_origin_stats(origin.port, &c1, &r1);
	cr_expect_eq(r1 - r0, 1, "the origin received %ld bad requests", r1 - r0 - 1);
}

Test(strict, no_route_is_404_and_keeps_the_connection)
{
	int fd = harness_connect(gw.port);
	struct hresp r;

	harness_send_str(fd, "GET / HTTP/1.1\r\nHost: other.test\r\n\r\n");
	cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0);
	cr_expect_eq(r.status, 404);
	cr_expect_not_null(strstr(r.body, "404 Not Found: "));
	harness_resp_free(&r);
	harness_send_str(fd, "GET /bytes/5 HTTP/1.1\r\nHost: ok.test\r\n\r\n");
	cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0);
	cr_expect_eq(r.status, 200);
	harness_resp_free(&r);
	harness_close(fd);
}

Test(strict, slowloris_gets_408)
{
	int fd = harness_connect(gw.port);
	struct hresp r;

	/* a head that never completes: 408 after header_timeout_ms (300) */
	harness_send_str(fd, "GET / HTTP/1.1\r\nHost: ok.test\r\n");
	cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0);
	cr_expect_eq(r.status, 408);
	cr_expect(harness_wait_closed(fd, 2000), "connection left open after 408");
	harness_resp_free(&r);
	harness_close(fd);
}

Test(strict, chunked_body_over_limit_is_413)
{
	int fd = harness_connect(gw.port);
	struct hresp r;
	char chunk[2100];

	harness_send_str(fd, "POST /sha256 HTTP/1.1\r\nHost: ok.test\r\n"
	                     "Transfer-Encoding: chunked\r\n\r\n");
	memset(chunk, 'x', sizeof(chunk));
	memcpy(chunk, "800\r\n", 5);
	harness_send(fd, chunk, 5 + 0x800);
	cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0);
	cr_expect_eq(r.status, 413);
	harness_resp_free(&r);
	harness_close(fd);
}

Test(strict, bad_chunk_size_is_400)
{
	int fd = harness_connect(gw.port);
	struct hresp r;

	harness_send_str(fd, "POST /sha256 HTTP/1.1\r\nHost: ok.test\r\n"
	                     "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n");
	cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0);
	cr_expect_eq(r.status, 400);
	harness_resp_free(&r);
	harness_close(fd);
}
