/* test_httpc.c: the exporters' HTTP client against a scripted server on
 * the loopback: body framings, keep-alive and transparent reconnects, 1xx,
 * Retry-After, refusals, timeouts and cancels, the exact bytes the server
 * receives, and URL parsing. TLS is in test_httpc_tls.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "httpc_testsrv.h"

TestSuite(httpc, .fini = srv_stop, .timeout = 10);

/* ---- framing ------------------------------------------------------------ */

Test(httpc, content_length)
{
	static const struct srv_step steps[] = {
	        SRV_REPLY_("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
	        SRV_DRIBBLE("HTTP/1.1 202 Accepted\r\nContent-Length: 3\r\n\r\nabc"),
	};
	struct httpc *c;

	srv_start(steps, 2);
	c = client();
	post_ok(c, 200, "hello");
	post_ok(c, 202, "abc");
	cr_expect_eq(atomic_load(&S.conns), 1);
	httpc_free(c);
}

Test(httpc, chunked_then_reused)
{
	static const struct srv_step steps[] = {
	        SRV_REPLY_("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                   "5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"),
	        SRV_DRIBBLE("HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	                    "chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
	        SRV_REPLY_("HTTP/1.1 204 No Content\r\n\r\n"),
	};
	struct httpc *c;

	srv_start(steps, 3);
	c = client();
	post_ok(c, 200, "hello world");
	post_ok(c, 200, "ok");
	post_ok(c, 204, "");
	cr_expect_eq(atomic_load(&S.conns), 1, "the chunked bodies ended where they should");
	httpc_free(c);
}

Test(httpc, close_delimited)
{
	static const struct srv_step steps[] = {
	        SRV_REPLY_CLOSE_("HTTP/1.1 200 OK\r\n\r\nuntil the end"),
	        SRV_REPLY_("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	};
	struct httpc *c;

	srv_start(steps, 2);
	c = client();
	post_ok(c, 200, "until the end");
	post_ok(c, 200, "");
	cr_expect_eq(atomic_load(&S.conns), 2);
	httpc_free(c);
}

Test(httpc, big_body_keeps_an_excerpt)
{
	static char resp[80000];
	static const struct srv_step steps[] = {SRV_REPLY_(resp)};
	struct httpc_resp r;
	struct httpc *c;
	int n = snprintf(resp, sizeof(resp),
	                 "HTTP/1.1 400 Bad Request\r\nContent-Length: 70000\r\n\r\n");

	memset(resp + n, 'x', 70000);
	srv_start(steps, 1);
	c = client();
	cr_assert_eq(post(c, "{}", 2000, -1, &r), 0, "%s", httpc_last_error(c));
	cr_expect_eq(r.status, 400);
	cr_expect_eq(r.body_len, sizeof(r.body) - 1);
	cr_expect_eq(strspn(r.body, "x"), sizeof(r.body) - 1);
	httpc_free(c);
}

Test(httpc, interim_responses_skipped)
{
	static const struct srv_step steps[] = {
	        SRV_DRIBBLE("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\n"
	                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
	};
	struct httpc *c;

	srv_start(steps, 1);
	c = client();
	post_ok(c, 200, "ok");
	httpc_free(c);
}

/* ---- keep-alive and reconnects -------------------------------------------- */

Test(httpc, keep_alive_reuses_the_connection)
{
	static const struct srv_step steps[] = {
	        SRV_REPLY_("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"),
	        SRV_REPLY_("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"),
	};
	struct httpc *c;

	srv_start(steps, 2);
	c = client();
	post_ok(c, 200, "a");
	post_ok(c, 200, "b");
	cr_expect_eq(atomic_load(&S.conns), 1);
	cr_expect_eq(atomic_load(&S.n_reqs), 2);
	httpc_free(c);
}

Test(httpc, idle_close_reconnects_transparently)
{
	static const struct srv_step steps[] = {
	        SRV_REPLY_CLOSE_("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"),
	        SRV_REPLY_("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"),
	};
	struct httpc *c;

	srv_start(steps, 2);
	c = client();
	post_ok(c, 200, "a");
	srv_wait_closed(1); /* the kept connection is dead before the next post */
	post_ok(c, 200, "b");
	cr_expect_eq(atomic_load(&S.conns), 2);
	cr_expect_eq(atomic_load(&S.n_reqs), 2);
	httpc_free(c);
}

Test(httpc, reused_connection_closed_unanswered_is_resent)
{
	static const struct srv_step steps[] = {
	        SRV_REPLY_("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"),
	        SRV_CLOSE_(),
	        SRV_REPLY_("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"),
	};
	struct httpc *c;

	srv_start(steps, 3);
	c = client();
	post_ok(c, 200, "a");
	post_ok(c, 200, "b");
	srv_stop();
	cr_expect_eq(S.n_reqs, 3, "the second request was sent twice");
	cr_expect_eq(S.req_conn[1], 1);
	cr_expect_eq(S.req_conn[2], 2);
	cr_expect_eq(S.req_len[1], S.req_len[2]);
	cr_expect_eq(memcmp(S.reqs[1], S.reqs[2], S.req_len[1]), 0);
	httpc_free(c);
}

Test(httpc, fresh_connection_closed_unanswered_is_not_resent)
{
	static const struct srv_step steps[] = {
	        SRV_CLOSE_(),
	        SRV_REPLY_("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	};
	struct httpc_resp r;
	struct httpc *c;

	srv_start(steps, 2);
	c = client();
	cr_expect_eq(post(c, "{}", 2000, -1, &r), -ECONNRESET);
	cr_expect(strstr(httpc_last_error(c), "without a response"), "%s", httpc_last_error(c));
	cr_expect_eq(atomic_load(&S.n_reqs), 1);
	post_ok(c, 200, "");
	httpc_free(c);
}

Test(httpc, connection_close_honoured)
{
	/* the server keeps every connection open: only the client closes */
	static const struct srv_step steps[] = {
	        SRV_REPLY_("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
	        SRV_REPLY_("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
	        SRV_REPLY_(
	                "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"),
	        SRV_REPLY_("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	};
	struct httpc *c;

	srv_start(steps, 4);
	c = client();
	for (int i = 0; i < 4; i++)
		post_ok(c, 200, "");
	srv_stop();
	cr_expect_eq(S.req_conn[0], 1);
	cr_expect_eq(S.req_conn[1], 2, "Connection: close");
	cr_expect_eq(S.req_conn[2], 3, "HTTP/1.0 without keep-alive");
	cr_expect_eq(S.req_conn[3], 3, "HTTP/1.0 with keep-alive");
	httpc_free(c);
}

/* ---- Retry-After ---------------------------------------------------------- */

Test(httpc, retry_after_seconds)
{
	static const struct srv_step steps[] = {
	        SRV_REPLY_("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\n"
	                   "Content-Length: 4\r\n\r\nbusy"),
	};
	struct httpc_resp r;
	struct httpc *c;

	srv_start(steps, 1);
	c = client();
	cr_assert_eq(post(c, "{}", 2000, -1, &r), 0);
	cr_expect_eq(r.status, 503);
	cr_expect_eq(r.retry_after_ms, 7000);
	cr_expect_str_eq(r.body, "busy");
	httpc_free(c);
}

Test(httpc, retry_after_http_date)
{
	static char resp[256];
	static const struct srv_step steps[] = {SRV_REPLY_(resp)};
	time_t t = time(NULL) + 3;
	struct httpc_resp r;
	struct httpc *c;
	char date[64];

	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime(&t));
	snprintf(resp, sizeof(resp),
	         "HTTP/1.1 429 Too Many Requests\r\nRetry-After: %s\r\nContent-Length: 0\r\n\r\n",
	         date);
	srv_start(steps, 1);
	c = client();
	cr_assert_eq(post(c, "{}", 2000, -1, &r), 0);
	cr_expect_eq(r.status, 429);
	cr_expect(r.retry_after_ms > 1000 && r.retry_after_ms <= 3000, "%lld",
	          (long long)r.retry_after_ms);
	httpc_free(c);
}

Test(httpc, retry_after_values)
{
	/* 784111777 is Sun, 06 Nov 1994 08:49:37 GMT */
	static const struct {
		const char *v;
		uint64_t now_s;
		int64_t want;
	} cases[] = {
	        {"120", 0, 120000},
	        {"0", 0, 0},
	        {"99999999999999999999", 0, (int64_t)INT32_MAX * 1000},
	        {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 10, 10000},
	        {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 10, 0},
	        {"", 0, -1},
	        {"-1", 0, -1},
	        {"12s", 0, -1},
	        {"1.5", 0, -1},
	        {"Sunday, 06-Nov-94 08:49:37 GMT", 784111777 - 10, -1},
	        {"Sun Nov  6 08:49:37 1994", 784111777 - 10, -1},
	        {"Sun, 06 Nov 1994 08:49:37 UTC", 784111777 - 10, -1},
	        {"Sun, 31 Feb 1994 08:49:37 GMT", 0, -1},
	        {"Sun, 06 Nov 1994 24:49:37 GMT", 0, -1},
	        {"Sun, 06 Xyz 1994 08:49:37 GMT", 0, -1},
	        {"Abc, 06 Nov 1994 08:49:37 GMT", 0, -1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(httpc_retry_after_ms(cases[i].v, strlen(cases[i].v),
		                                  cases[i].now_s * 1000000000ull),
		             cases[i].want, "\"%s\"", cases[i].v);
}

/* ---- failures ----------------------------------------------------------- */

Test(httpc, connection_refused)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct httpc_resp r;
	struct httpc *c;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* a port that was just free and is closed again */
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	S.port = util_addr_port((struct sockaddr *)&ss);
	close(fd);
	c = client();
	cr_expect_eq(post(c, "{}", 2000, -1, &r), -ECONNREFUSED);
	cr_expect(strstr(httpc_last_error(c), "refused"), "%s", httpc_last_error(c));
	httpc_free(c);
}

Test(httpc, hanging_response_times_out)
{
	static const struct srv_step steps[] = {SRV_HANG_("HTTP/1.1 200 OK\r\nContent-Le")};
	struct httpc_resp r;
	struct httpc *c;
	uint64_t t0;

	srv_start(steps, 1);
	c = client();
	t0 = util_mono_ns();
	cr_expect_eq(post(c, "{}", 300, -1, &r), -ETIMEDOUT);
	t0 = util_mono_ns() - t0;
	cr_expect(t0 >= 300 * MS && t0 < 1000 * MS, "%llu ms", (unsigned long long)(t0 / MS));
	cr_expect(strstr(httpc_last_error(c), "timed out"), "%s", httpc_last_error(c));
	httpc_free(c);
}

static void *cancel_later(void *arg)
{
	usleep(100000);
	if (write(*(int *)arg, "x", 1) != 1)
		abort(); /* criterion asserts belong to the test's thread */
	return NULL;
}

Test(httpc, cancel_fd_stops_a_hanging_post)
{
	static const struct srv_step steps[] = {SRV_HANG_("")};
	struct httpc_resp r;
	struct httpc *c;
	pthread_t th;
	uint64_t t0;
	int p[2];

	srv_start(steps, 1);
	c = client();
	cr_assert_eq(pipe(p), 0);
	pthread_create(&th, NULL, cancel_later, &p[1]);
	t0 = util_mono_ns();
	cr_expect_eq(post(c, "{}", 5000, p[0], &r), -ECANCELED);
	t0 = util_mono_ns() - t0;
	cr_expect(t0 < 1000 * MS, "%llu ms", (unsigned long long)(t0 / MS));
	pthread_join(th, NULL);
	close(p[0]);
	close(p[1]);
	httpc_free(c);
}

Test(httpc, garbage_is_a_protocol_error)
{
	static char big[20000];
	static const struct srv_step steps[] = {
	        SRV_HANG_("SSH-2.0-OpenSSH_9.2p1\r\n"),
	        SRV_HANG_("HTTP/1.1 200 OK\r\nBad Header: x\r\n"),
	        SRV_HANG_("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
	        SRV_HANG_("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX"),
	        SRV_HANG_("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"),
	        SRV_HANG_(big),
	};
	int n = snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX-Big: ");

	memset(big + n, 'a', sizeof(big) - (size_t)n - 1);
	srv_start(steps, 6);
	for (int i = 0; i < 6; i++) {
		struct httpc *c = client();
		struct httpc_resp r;
		uint64_t t0 = util_mono_ns();

		cr_expect_eq(post(c, "{}", 3000, -1, &r), -EPROTO, "step %d: %s", i,
		             httpc_last_error(c));
		cr_expect(util_mono_ns() - t0 < 1000 * MS, "step %d was not rejected early", i);
		httpc_free(c);
	}
}

/* ---- the request on the wire -------------------------------------------- */

Test(httpc, request_bytes_exact)
{
	static const struct srv_step steps[] = {
	        SRV_REPLY_("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")};
	static const char body[] = "\x1f\x8b\0\x01\r\n\r\nzz";
	static const char *const hdrs[] = {"Authorization: Bearer t0k", "X-Scope-OrgID: tenant-1"};
	struct httpc_req q = {
	        .ctype = "application/x-protobuf",
	        .cenc = "gzip",
	        .hdrs = hdrs,
	        .n_hdrs = 2,
	        .body = body,
	        .len = sizeof(body) - 1,
	};
	char want[1024];
	struct httpc_resp r;
	struct httpc *c;
	int n;

	srv_start(steps, 1);
	c = client_at("http://127.0.0.1:%d/v1/traces?tenant=a", NULL);
	cr_assert_eq(httpc_post(c, &q, util_mono_ns() + 2000 * MS, -1, &r), 0, "%s",
	             httpc_last_error(c));
	srv_stop();
	n = snprintf(want, sizeof(want),
	             "POST /v1/traces?tenant=a HTTP/1.1\r\n"
	             "Host: 127.0.0.1:%d\r\n"
	             "User-Agent: tracegate/" TG_VERSION "\r\n"
	             "Content-Type: application/x-protobuf\r\n"
	             "Content-Length: 10\r\n"
	             "Content-Encoding: gzip\r\n"
	             "Authorization: Bearer t0k\r\n"
	             "X-Scope-OrgID: tenant-1\r\n"
	             "\r\n",
	             S.port);
	memcpy(want + n, body, sizeof(body) - 1);
	n += (int)sizeof(body) - 1;
	cr_assert_eq(S.n_reqs, 1);
	cr_expect_eq(S.req_len[0], (size_t)n);
	cr_expect_eq(S.req_body[0], sizeof(body) - 1);
	cr_expect_eq(memcmp(S.reqs[0], want, (size_t)n), 0, "got:\n%.*s", (int)S.req_len[0],
	             S.reqs[0]);
	httpc_free(c);
}

Test(httpc, big_request_body)
{
	static const struct srv_step steps[] = {
	        SRV_REPLY_("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")};
	struct httpc *c;

	srv_start(steps, 1);
	c = client();
	post_big_body(c);
	httpc_free(c);
}

Test(httpc, bad_request_fields_are_refused)
{
	static const char *const bad[] = {
	        "X-A: 1\r\nX-B: 2", "Content-Length: 5", "transfer-encoding: chunked",
	        "Host: x",          "No colon",          ": empty name",
	        "Bad Name: x"};
	struct httpc_req q = {.ctype = "text/plain\r\nX: y"};
	struct httpc_resp r;
	struct httpc *c;

	S.port = 9; /* never reached: the request is refused before connecting */
	c = client();
	cr_expect_eq(httpc_post(c, &q, util_mono_ns() + 100 * MS, -1, &r), -EINVAL);
	q.ctype = "text/plain";
	q.n_hdrs = 1;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		q.hdrs = &bad[i];
		cr_expect_eq(httpc_post(c, &q, util_mono_ns() + 100 * MS, -1, &r), -EINVAL, "%s",
		             bad[i]);
		cr_expect(strstr(httpc_last_error(c), "header"), "%s", httpc_last_error(c));
	}
	httpc_free(c);
}

Test(httpc, ipv6_literal)
{
	static const struct srv_step steps[] = {
	        SRV_REPLY_("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6")};
	char host[64];
	struct httpc *c;

	if (!srv_start_at(steps, 1, NULL, true))
		cr_skip_test("no ::1 on this machine");
	c = client_at("http://[::1]:%d/v1/traces", NULL);
	post_ok(c, 200, "v6");
	srv_stop();
	snprintf(host, sizeof(host), "\r\nHost: [::1]:%d\r\n", S.port);
	cr_expect(strstr(S.reqs[0], host), "%s", S.reqs[0]);
	httpc_free(c);
}

Test(httpc, url_parsing)
{
	static const struct {
		const char *url;
		bool ok;
	} cases[] = {
	        {"http://127.0.0.1:4318/v1/traces", true},
	        {"https://collector.example.com/v1/traces", true},
	        {"HTTP://Collector.Example:8080", true},
	        {"http://[::1]:9411/api/v2/spans", true},
	        {"http://[2001:db8::1]/", true},
	        {"http://h/?q=1", true},
	        {"http://my_host.internal:65535/", true},
	        {"", false},
	        {"ftp://h/", false},
	        {"http:/h/", false},
	        {"http://", false},
	        {"http:///path", false},
	        {"http://h:0/", false},
	        {"http://h:65536/", false},
	        {"http://h:/", false},
	        {"http://h:12a/", false},
	        {"http://h:123456/", false},
	        {"http://user@h/", false},
	        {"http://[::1/", false},
	        {"http://[zz::1]/", false},
	        {"http://[::1]x/", false},
	        {"http://::1/", false},
	        {"http://1.2.3/", false},
	        {"http://999.1.1.1/", false},
	        {"http://h/a b", false},
	        {"http://h/#frag", false},
	        {"http://h/\r\nX: y", false},
	        {"http://h\xc3\xa9/", false},
	        {"http://h%41/", false},
	};
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct httpc *c;

		err[0] = '\0';
		c = httpc_new(cases[i].url, NULL, err, sizeof(err));
		cr_expect_eq(c != NULL, cases[i].ok, "\"%s\": %s", cases[i].url, err);
		if (!c)
			cr_expect(strstr(err, "URL"), "\"%s\": no reason", cases[i].url);
		httpc_free(c);
	}
}

Test(httpc, url_too_long)
{
	static char url[3000];
	char err[256];

	memset(url, 'a', sizeof(url) - 1);
	memcpy(url, "http://h/", 9);
	cr_expect_null(httpc_new(url, NULL, err, sizeof(err)));
	cr_expect(strstr(err, "longer"), "%s", err);
}
