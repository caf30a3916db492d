/* test_upstream.c: upstream faults and balancing through the real binary:
 * each fault's status (or a cut connection once the head went out), the
 * connection never reused after a bad response, retries, round robin,
 * passive ejection, and other clients served meanwhile. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static struct hproc origin, gw;

/* A port nothing listens on: bound, then closed. */
static int dead_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &len);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void setup(void)
{
	harness_origin_start(&origin, NULL);
	harness_gw_start(&gw,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
	                 "[upstream o]\nservers = 127.0.0.1:%d\nresponse_timeout_ms = 400\n"
	                 "max_fails = 0\n"
	                 "[route r]\npath_prefix = /\nupstream = o\n",
	                 origin.port);
}

static void teardown(void)
{
	harness_gw_stop(&gw, false);
	harness_kill(&origin);
}

TestSuite(upstream, .init = setup, .fini = teardown, .timeout = 60);

struct fault_case {
	const char *path;
	int status;       /* 0: the response starts, then the connection is cut */
	const char *text; /* in the error body */
};

static const struct fault_case faults[] = {
        {"/fault/hang", 504, "did not respond in time"},
        {"/fault/close-before-head", 502, "closed the connection"},
        {"/fault/half-head", 502, "closed mid-head"},
        {"/fault/garbage", 502, "invalid response"},
        {"/fault/dup-cl", 502, "invalid response"},
        {"/fault/cl-te", 502, "invalid response"},
        {"/fault/obs-fold", 502, "invalid response"},
        {"/fault/huge-head", 502, "invalid response"},
        {"/fault/reset", 502, ""},
        {"/fault/close-mid-body", 0, NULL},
        {"/fault/bad-chunk", 0, NULL},
};

Test(upstream, faults_map_to_statuses_and_never_reuse)
{
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		const struct fault_case *f = &faults[i];
		int fd = harness_connect(gw.port);
		struct hresp r;
		char req[256];

		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", f->path);
		harness_send_str(fd, req);
		cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0, "%s: no response", f->path);
		if (f->status) {
			cr_expect_eq(r.status, f->status, "%s: got %d", f->path, r.status);
			cr_expect_not_null(strstr(r.body, f->text), "%s: body %s", f->path, r.body);
		} else {
			cr_expect_eq(r.status, 200, "%s", f->path);
			cr_expect_not(r.complete, "%s: a cut body must not look complete", f->path);
			cr_expect(harness_wait_closed(fd, 2000), "%s: connection must be closed",
			          f->path);
		}
		harness_resp_free(&r);
		harness_close(fd);

		/* the gateway still serves, on a fresh upstream connection */
		harness_request(gw.port, "GET /bytes/10 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
		cr_expect_eq(r.status, 200, "after %s", f->path);
		harness_resp_free(&r);
	}
}

Test(upstream, other_clients_served_while_one_hangs)
{
	int slow = harness_connect(gw.port);
	struct hresp r;

	harness_send_str(slow, "GET /fault/hang HTTP/1.1\r\nHost: a\r\n\r\n");
	for (int i = 0; i < 20; i++) {
		harness_request(gw.port, "GET /bytes/10 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
		cr_expect_eq(r.status, 200);
		harness_resp_free(&r);
	}
	cr_assert_eq(harness_read_resp(slow, &r, false, 5000), 0);
	cr_expect_eq(r.status, 504);
	harness_resp_free(&r);
	harness_close(slow);
}

Test(upstream, refused_is_502_and_retried_elsewhere_when_idempotent)
{
	struct hproc g2;
	struct hresp r;
	long c0, r0, c1, r1;
	int dead = dead_port();

	/* one dead server, one live: round robin hits the dead one half the time */
	harness_gw_start(&g2,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
	                 "[upstream two]\nservers = 127.0.0.1:%d 127.0.0.1:%d\nmax_fails = 0\n"
	                 "keepalive = 0\n"
	                 "[upstream dead]\nservers = 127.0.0.1:%d\n"
	                 "[route d]\npath_prefix = /dead\nupstream = dead\n"
	                 "[route r]\npath_prefix = /\nupstream = two\n",
	                 dead, origin.port, dead);
	for (int i = 0; i < 6; i++) {
		harness_request(g2.port, "GET /bytes/10 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
		cr_expect_eq(r.status, 200, "GET %d: retried on the live server", i);
		harness_resp_free(&r);
	}
	harness_origin_stats(origin.port, &c0, &r0);
	for (int i = 0; i < 4; i++) {
		harness_request(g2.port,
		                "POST /sha256 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx",
		                &r);
		cr_expect(r.status == 200 || r.status == 502, "POST %d: %d", i, r.status);
		harness_resp_free(&r);
	}
	harness_origin_stats(origin.port, &c1, &r1);
	cr_expect_eq(r1 - r0, 2 + 1, "POSTs are not retried: half reach the origin");
	harness_request(g2.port, "GET /dead HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_expect_eq(r.status, 502);
	cr_expect_not_null(strstr(r.body, "refused"));
	harness_resp_free(&r);
	harness_gw_stop(&g2, false);
}

Test(upstream, round_robin_and_ejection)
{
	struct hproc o2, g2;
	struct hresp r;
	long a0, ar0, b0, br0, a1, ar1, b1, br1;

	harness_origin_start(&o2, NULL);
	harness_gw_start(&g2,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
	                 "[upstream two]\nservers = 127.0.0.1:%d 127.0.0.1:%d\n"
	                 "max_fails = 2\nfail_timeout_ms = 60000\nretry_connect = off\n"
	                 "[route r]\npath_prefix = /\nupstream = two\n",
	                 origin.port, o2.port);
	harness_origin_stats(origin.port, &a0, &ar0);
	harness_origin_stats(o2.port, &b0, &br0);
	for (int i = 0; i < 10; i++) {
		harness_request(g2.port, "GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
		harness_resp_free(&r);
	}
	harness_origin_stats(origin.port, &a1, &ar1);
	harness_origin_stats(o2.port, &b1, &br1);
	cr_expect_eq(ar1 - ar0 - 1, 5, "round robin: first server got %ld", ar1 - ar0 - 1);
	cr_expect_eq(br1 - br0 - 1, 5, "round robin: second server got %ld", br1 - br0 - 1);

	/* the second server dies: two failures eject it, then all go to the first */
	harness_kill(&o2);
	int failed = 0;
	for (int i = 0; i < 10; i++) {
		harness_request(g2.port, "GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
		failed += r.status == 502;
		harness_resp_free(&r);
	}
	cr_expect_eq(failed, 2, "%d requests failed before the ejection", failed);
	harness_gw_stop(&g2, false);
}

Test(upstream, idle_connection_closed_by_the_server_is_never_used)
{
	struct hresp r;
	long open_conns = 2; /* the gateway's pooled connection and the stats query */

	/* the origin closes this kept-alive connection 50 ms after answering */
	harness_request(gw.port, "GET /drop-idle/50 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_eq(r.status, 200);
	harness_resp_free(&r);
	/* wait until the origin has closed it: only the stats query is open */
	for (int i = 0; i < 500 && open_conns > 1; i++) {
		harness_origin_open(origin.port, &open_conns);
		if (open_conns > 1)
			poll(NULL, 0, 10);
	}
	cr_assert_eq(open_conns, 1);
	/* a POST cannot be retried: it succeeds only on a live connection */
	harness_request(gw.port, "POST /sha256 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx",
	                &r);
	cr_expect_eq(r.status, 200, "a dead pooled connection was used: %d %s", r.status, r.body);
	harness_resp_free(&r);
}

/* A pooled connection lives for idle_timeout_ms after its last response,
 * also when that is longer than response_timeout_ms (whose timer the pool
 * keeps running, then extends once), and no longer: not when the rest
 * equals the response timeout either, nor when both are the same. */
Test(upstream, pooled_connection_lives_for_the_idle_timeout)
{
	static const struct {
		int response_ms, idle_ms, open_at_ms; /* still pooled then; 0: no check */
	} cases[] = {{300, 2000, 800}, {400, 800, 600}, {500, 500, 0}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hproc g2;
		struct hresp r;
		long open_conns = 2, t0;

		harness_gw_start(&g2,
		                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
		                 "[upstream o]\nservers = 127.0.0.1:%d\nresponse_timeout_ms = %d\n"
		                 "idle_timeout_ms = %d\n"
		                 "[route r]\npath_prefix = /\nupstream = o\n",
		                 origin.port, cases[i].response_ms, cases[i].idle_ms);
		harness_request(g2.port, "GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
		cr_assert_eq(r.status, 200);
		harness_resp_free(&r);
		t0 = harness_now_ms();
		if (cases[i].open_at_ms) {
			/* past the response timeout: still pooled (its connection
			 * and the stats query are open at the origin) */
			poll(NULL, 0, cases[i].open_at_ms);
			harness_origin_open(origin.port, &open_conns);
			cr_expect_eq(open_conns, 2, "case %zu: closed before idle_timeout_ms", i);
		}
		while (open_conns > 1 && harness_now_ms() - t0 < 10000) {
			poll(NULL, 0, 20);
			harness_origin_open(origin.port, &open_conns);
		}
		cr_expect_eq(open_conns, 1,
		             "case %zu: the pooled connection outlived idle_timeout_ms", i);
		cr_expect_geq(harness_now_ms() - t0, cases[i].idle_ms - 100,
		              "case %zu: closed after %ld ms", i, harness_now_ms() - t0);
		harness_gw_stop(&g2, false);
	}
}
