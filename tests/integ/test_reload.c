/* test_reload.c: SIGHUP reloads through the real binary. Twenty reloads
 * under continuous traffic fail no request and lose no span; a new sample
 * ratio takes effect; a bad file or a restart-only change is refused and
 * the running configuration stays; a request in flight finishes under the
 * configuration it started in; listeners follow the file; tracegate -s. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct hproc origin, gw;

static void setup(void)
{
	harness_origin_start(&origin, NULL);
}

static void teardown(void)
{
	harness_kill(&gw);
	harness_kill(&origin);
}

TestSuite(reload, .init = setup, .fini = teardown, .timeout = 300);

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int count_of(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Waits up to 10 s until the gateway's log holds <n> lines with <needle>;
 * returns the log (malloc'd). */
static char *wait_log(const char *needle, int n)
{
	for (int i = 0; i < 1000; i++) {
		char *log = harness_slurp(gw.err_path);

		if (count_of(log, needle) >= n)
			return log;
		free(log);
		sleep_ms(10);
	}
	cr_assert_fail("no %d lines with \"%s\" in: %s", n, needle, harness_slurp(gw.err_path));
	return NULL;
}

/* SIGHUP, then waits for reload number <n> to be logged (taken up by the
 * workers within a loop turn: a short pause covers that). */
static void reload(int n)
{
	cr_assert_eq(kill(gw.pid, SIGHUP), 0);
	free(wait_log("reloaded: configuration", n));
	sleep_ms(50);
}

/* ---- load: client threads that never assert (criterion asserts belong to
 * the test's thread), they count ---- */

/* The sampled bit of a traceresponse value's trace-flags. */
static bool is_sampled(const char *tp)
{
	return strlen(tp) == 55 && (strtoul(tp + 53, NULL, 16) & 1);
}

struct load {
	int port;
	atomic_bool stop;
	atomic_long ok, failed, sampled;
	char first_error[256];
	pthread_mutex_t lock;
};

static void load_fail(struct load *l, const char *what, int status)
{
	pthread_mutex_lock(&l->lock);
	if (!l->first_error[0])
		snprintf(l->first_error, sizeof(l->first_error), "%.200s (status %d)", what,
		         status);
	pthread_mutex_unlock(&l->lock);
	atomic_fetch_add(&l->failed, 1);
}

static int load_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Keep-alive GETs of pattern bodies of varied sizes, a new connection every
 * 25 requests; every response must be a complete 200 with the right bytes. */
static void *load_main(void *arg)
{
	struct load *l = arg;
	int fd = -1, k = 0;

	while (!atomic_load(&l->stop)) {
		struct hresp r;
		char req[160];
		size_t size = 100 + (size_t)(k * 7919) % 60000;
		bool last = ++k % 25 == 0, ok = false;
		const char *tr;

		if (fd < 0 && (fd = load_connect(l->port)) < 0) {
			load_fail(l, "connect", 0);
			sleep_ms(10);
			continue;
		}
		snprintf(req, sizeof(req), "GET /bytes/%zu HTTP/1.1\r\nHost: %s\r\n%s\r\n", size,
		         k % 3 ? "a" : "b", last ? "Connection: close\r\n" : "");
		harness_send_str(fd, req);
		if (harness_read_resp(fd, &r, false, 10000) < 0) {
			load_fail(l, "no response", 0);
			last = true;
			r.body = NULL;
		} else if (r.status != 200 || !r.complete || r.body_len != size ||
		           !harness_is_pattern(r.body, r.body_len, 0)) {
			char what[512];

			snprintf(what, sizeof(what),
			         "%zu bytes, complete %d, pattern %d, for %zu: %.300s", r.body_len,
			         r.complete, harness_is_pattern(r.body, r.body_len, 0), size,
			         r.head);
			load_fail(l, what, r.status);
		} else {
			ok = true;
			atomic_fetch_add(&l->ok, 1);
			tr = harness_field(&r, "traceresponse");
			if (tr && is_sampled(tr))
				atomic_fetch_add(&l->sampled, 1);
		}
		if (!ok || r.closed)
			last = true;
		free(r.body);
		if (last) {
			harness_close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		harness_close(fd);
	return NULL;
}

/* Generation <i> of the changing config into <out>: routes a and b swap
 * upstreams, ratios move, a route and an upstream come and go, an
 * upstream's settings change. Every request still has a route to a live
 * origin. */
static void gen_text(char *out, size_t cap, int i, const char *spans, const char *alog)
{
	static const char *const ratios[] = {"1", "0.5", "0", "0.25", "1"};

	snprintf(out, cap,
	         "[gateway]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = %s\n"
	         "[upstream u1]\nservers = 127.0.0.1:%d\nkeepalive = %d\n"
	         "[upstream u2]\nservers = 127.0.0.1:%d\n"
	         "%s"
	         "[tracing]\nexporters = jsonl\ntraceresponse = on\nsample_ratio = %s\n"
	         "[exporter.jsonl]\npath = %s\n"
	         "[admin]\nlisten = 127.0.0.1:0\n"
	         "[route a]\nhost = a\nupstream = %s\n"
	         "[route b]\nhost = b\nupstream = %s\nsample_ratio = %s\n"
	         "%s",
	         alog, origin.port, i % 2 ? 8 : 32, origin.port,
	         i % 3 == 1 ? "[upstream u3]\nservers = 127.0.0.1:1\n" : "", ratios[i % 5], spans,
	         i % 2 ? "u2" : "u1", i % 2 ? "u1" : "u2", ratios[(i + 2) % 5],
	         i % 3 == 1 ? "[route dead]\npath_prefix = /dead/\nupstream = u3\n" : "");
}

Test(reload, twenty_reloads_under_load_fail_nothing_and_lose_no_span)
{
	struct load l = {.lock = PTHREAD_MUTEX_INITIALIZER};
	pthread_t th[4];
	char spans[64], alog[64], text[2048], *log, *s, *a;
	long ok_before;
	int sampled_lines, server_spans;

	snprintf(spans, sizeof(spans), "/tmp/tg-reload-spans-%d.jsonl", (int)getpid());
	snprintf(alog, sizeof(alog), "/tmp/tg-reload-access-%d.log", (int)getpid());
	unlink(spans);
	unlink(alog);
	gen_text(text, sizeof(text), 0, spans, alog);
	harness_gw_start(&gw, "%s", text);
	l.port = gw.port;
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, load_main, &l), 0);
	for (int i = 1; i <= 20; i++) {
		ok_before = atomic_load(&l.ok);
		gen_text(text, sizeof(text), i, spans, alog);
		harness_gw_rewrite(&gw, "%s", text);
		reload(i);
		/* traffic flowed through every generation */
		for (int w = 0; w < 500 && atomic_load(&l.ok) < ok_before + 40; w++)
			sleep_ms(10);
		cr_expect_geq(atomic_load(&l.ok), ok_before + 40, "reload %d: traffic stalled", i);
	}
	atomic_store(&l.stop, true);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	cr_expect_eq(atomic_load(&l.failed), 0, "%ld of %ld requests failed; first: %s",
	             atomic_load(&l.failed), atomic_load(&l.ok) + atomic_load(&l.failed),
	             l.first_error);
	cr_expect_geq(atomic_load(&l.ok), 20 * 40, "only %ld requests", atomic_load(&l.ok));
	cr_expect_eq(harness_metric(&gw, "tracegate_config_reloads_total"), 20);
	cr_expect_eq(harness_metric(&gw, "tracegate_config_reload_failures_total"), 0);
	log = harness_gw_stop_log(&gw, false);
	/* no span lost: every sampled request in the access log has its
	 * SERVER span in the file, and the exporter says it dropped none */
	cr_expect_not_null(strstr(log, "spans jsonl: "), "%s", log);
	a = harness_slurp(alog);
	s = harness_slurp(spans);
	sampled_lines = count_of(a, " sampled=1");
	server_spans = count_of(s, "\"kind\":\"SERVER\"");
	cr_expect_eq(server_spans, sampled_lines, "%d SERVER spans for %d sampled requests",
	             server_spans, sampled_lines);
	cr_expect_eq(count_of(s, "\"kind\":\"CLIENT\""), sampled_lines);
	cr_expect_eq(sampled_lines, atomic_load(&l.sampled));
	cr_expect_gt(sampled_lines, 100);
	cr_expect_eq(count_of(a, " status=200 "), atomic_load(&l.ok));
	free(a);
	free(s);
	free(log);
	unlink(spans);
	unlink(alog);
}

/* Sampled share of <n> requests to <path>, read from traceresponse. */
static double sampled_share(const char *path, int n)
{
	int fd = harness_connect(gw.port), sampled = 0;
	char req[128];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: r\r\n\r\n", path);
	for (int i = 0; i < n; i++) {
		struct hresp r;
		const char *tr;

		harness_send_str(fd, req);
		cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0);
		cr_assert_eq(r.status, 200);
		tr = harness_field(&r, "traceresponse");
		cr_assert_not_null(tr);
		sampled += is_sampled(tr);
		harness_resp_free(&r);
	}
	harness_close(fd);
	return (double)sampled / n;
}

#define RATIO_CFG                                                                                  \
	"[gateway]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = off\n"                         \
	"[upstream o]\nservers = 127.0.0.1:%d\n"                                                   \
	"[tracing]\nexporters = none\ntraceresponse = on\n"                                        \
	"[route r]\nupstream = o\nsample_ratio = %s\n"

Test(reload, new_sample_ratio_takes_effect)
{
	double share;

	harness_gw_start(&gw, RATIO_CFG, origin.port, "0");
	cr_expect_eq(sampled_share("/x", 200), 0.0);
	harness_gw_rewrite(&gw, RATIO_CFG, origin.port, "1");
	reload(1);
	cr_expect_eq(sampled_share("/x", 200), 1.0);
	harness_gw_rewrite(&gw, RATIO_CFG, origin.port, "0.25");
	reload(2);
	/* 800 independent decisions: 4 standard deviations is 0.061 */
	share = sampled_share("/x", 800);
	cr_expect(share > 0.25 - 0.062 && share < 0.25 + 0.062, "sampled share %.3f", share);
	harness_gw_stop(&gw, false);
}

Test(reload, bad_file_and_restart_keys_are_refused_and_the_running_config_stays)
{
	struct hresp r;
	char *log;
	char base[512];

	snprintf(base, sizeof(base),
	         "[gateway]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = off\n"
	         "[upstream o]\nservers = 127.0.0.1:%d\n[tracing]\nexporters = none\n"
	         "[admin]\nlisten = 127.0.0.1:0\n[route r]\npath_prefix = /r/\nupstream = o\n",
	         origin.port);
	harness_gw_start(&gw, "%s", base);
	/* line 17 has an unknown key, line 19 a route to no upstream */
	harness_gw_rewrite(&gw,
	                   "%s[route s]\npath_prefix = /s/\nupstream = o\nbogus = 1\n"
	                   "[route t]\nupstream = nowhere\n",
	                   base);
	cr_assert_eq(kill(gw.pid, SIGHUP), 0);
	log = wait_log("refused", 1);
	cr_expect_not_null(strstr(log, ":17: [route s]: unknown key \"bogus\""), "%s", log);
	cr_expect_not_null(strstr(log, ":19: [route t] upstream"), "%s", log);
	cr_expect_not_null(strstr(log, "configuration 1 stays"), "%s", log);
	free(log);
	harness_request(gw.port, "GET /r/x HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_expect_eq(r.status, 200);
	harness_resp_free(&r);
	harness_request(gw.port, "GET /s/x HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_expect_eq(r.status, 404, "the refused file's route must not be served");
	harness_resp_free(&r);
	/* valid, but workers and an exporter's key take a restart */
	harness_gw_rewrite(&gw, "%s[route s]\npath_prefix = /s/\nupstream = o\n", base);
	{
		char *p = strstr(base, "workers = 2");

		p[10] = '3';
	}
	harness_gw_rewrite(&gw,
	                   "%s[route s]\npath_prefix = /s/\nupstream = o\n"
	                   "[exporter.jsonl]\npath = /tmp/elsewhere.jsonl\n",
	                   base);
	cr_assert_eq(kill(gw.pid, SIGHUP), 0);
	log = wait_log("refused", 2);
	cr_expect_not_null(strstr(log, "[gateway] workers: changed; takes a restart"), "%s", log);
	cr_expect_not_null(strstr(log, ":17: [exporter.jsonl] path: changed; takes a restart"),
	                   "%s", log);
	free(log);
	harness_request(gw.port, "GET /s/x HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_expect_eq(r.status, 404);
	harness_resp_free(&r);
	cr_expect_eq(harness_metric(&gw, "tracegate_config_reload_failures_total"), 2);
	cr_expect_eq(harness_metric(&gw, "tracegate_config_reloads_total"), 0);
	/* the same file without the restart changes goes through */
	base[strstr(base, "workers = 3") - base + 10] = '2';
	harness_gw_rewrite(&gw, "%s[route s]\npath_prefix = /s/\nupstream = o\n", base);
	reload(1);
	harness_request(gw.port, "GET /s/x HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_expect_eq(r.status, 200);
	harness_resp_free(&r);
	cr_expect_eq(harness_metric(&gw, "tracegate_config_reloads_total"), 1);
	harness_gw_stop(&gw, true); /* the refusals were logged as errors */
}

#define INFLIGHT_CFG                                                                               \
	"[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"                         \
	"[upstream o]\nservers = 127.0.0.1:%d\nkeepalive = %d\n"                                   \
	"[tracing]\nexporters = none\n"                                                            \
	"[route keep]\npath_prefix = /keep/\nupstream = o\n"                                       \
	"%s"

/* The origin connection serial that served a request on <fd>. */
static long origin_conn(int fd, const char *path)
{
	struct hresp r;
	char req[128];
	long conn;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", path);
	harness_send_str(fd, req);
	cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_not_null(harness_field(&r, "X-Origin-Conn"), "%s", r.head);
	conn = atol(harness_field(&r, "X-Origin-Conn"));
	harness_resp_free(&r);
	return conn;
}

Test(reload, in_flight_request_finishes_under_its_generation_and_pools_survive)
{
	struct hresp r;
	int slow, fd;
	long c1, c2;

	harness_gw_start(&gw, INFLIGHT_CFG, origin.port, 32,
	                 "[route slow]\npath_prefix = /slow/\nupstream = o\n");
	fd = harness_connect(gw.port);
	c1 = origin_conn(fd, "/keep/1");
	/* a slow request in flight on the route the next file removes */
	slow = harness_connect(gw.port);
	harness_send_str(slow, "GET /slow/1500 HTTP/1.1\r\nHost: a\r\n\r\n");
	sleep_ms(200);
	harness_gw_rewrite(&gw, INFLIGHT_CFG, origin.port, 32, "");
	reload(1);
	harness_request(gw.port, "GET /slow/1 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_expect_eq(r.status, 404, "new requests run under the new file");
	harness_resp_free(&r);
	cr_assert_eq(harness_read_resp(slow, &r, false, 5000), 0);
	cr_expect_eq(r.status, 200, "the request in flight finishes: %s", r.head);
	cr_expect(r.complete);
	harness_resp_free(&r);
	harness_close(slow);
	/* upstream o did not change: its pooled connection serves on */
	c2 = origin_conn(fd, "/keep/2");
	cr_expect_eq(c2, c1, "pooled connection %ld replaced by %ld", c1, c2);
	/* o changes (keepalive): a new pool */
	harness_gw_rewrite(&gw, INFLIGHT_CFG, origin.port, 16, "");
	reload(2);
	c2 = origin_conn(fd, "/keep/3");
	cr_expect_neq(c2, c1, "an upstream whose settings changed starts a new pool");
	harness_close(fd);
	harness_gw_stop(&gw, false);
}

/* A TCP port free on 127.0.0.1 right now. */
static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

#define LISTEN_CFG                                                                                 \
	"[gateway]\nlisten = %s\nworkers = 2\naccess_log = off\npid_file = %s\n"                   \
	"[upstream o]\nservers = 127.0.0.1:%d\n[tracing]\nexporters = none\n"                      \
	"[route r]\nupstream = o\n"

static int run_tg(const char *what, char **err)
{
	char *argv[] = {TG_BIN, "-s", (char *)what, "-c", gw.cfg_path, NULL}, *out;
	int st = harness_run(argv, &out, err);

	free(out);
	return st;
}

Test(reload, listeners_follow_the_file_and_tracegate_s_signals)
{
	char pid_file[64], two[64], *err, *log;
	struct hresp r;
	int extra = free_port(), fd, st;
	pid_t got = 0;

	snprintf(pid_file, sizeof(pid_file), "/tmp/tg-reload-%d.pid", (int)getpid());
	harness_gw_start(&gw, LISTEN_CFG, "127.0.0.1:0", pid_file, origin.port);
	snprintf(two, sizeof(two), "127.0.0.1:0 127.0.0.1:%d", extra);
	harness_gw_rewrite(&gw, LISTEN_CFG, two, pid_file, origin.port);
	st = run_tg("reload", &err);
	cr_expect_eq(st, 0, "%s", err);
	free(err);
	free(wait_log("reloaded: configuration", 1));
	sleep_ms(50);
	harness_request(extra, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_expect_eq(r.status, 200, "the new listener serves");
	harness_resp_free(&r);
	harness_request(gw.port, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_expect_eq(r.status, 200, "the kept listener (port 0, same port) serves on");
	harness_resp_free(&r);
	harness_gw_rewrite(&gw, LISTEN_CFG, "127.0.0.1:0", pid_file, origin.port);
	reload(2);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	{
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)extra)};

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		cr_expect_neq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
		              "the removed listener is closed");
	}
	close(fd);
	st = run_tg("bogus", &err);
	cr_expect_eq(st, 2, "status %d", st);
	cr_expect_not_null(strstr(err, "expected reload, reopen or stop"), "%s", err);
	free(err);
	st = run_tg("stop", &err);
	cr_expect_eq(st, 0, "%s", err);
	free(err);
	for (int i = 0; i < 1000 && (got = waitpid(gw.pid, &st, WNOHANG)) == 0; i++)
		sleep_ms(10);
	cr_assert_eq(got, gw.pid, "tracegate -s stop: the gateway did not exit");
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
	gw.pid = 0; /* reaped */
	log = harness_slurp(gw.err_path);
	cr_expect_not_null(strstr(log, "draining"), "%s", log);
	cr_expect_null(strstr(log, " error ["), "%s", log);
	free(log);
	cr_expect_neq(access(pid_file, F_OK), 0, "the pid file is removed at exit");
	/* no gateway, no pid file: a clear error */
	harness_gw_rewrite(&gw, LISTEN_CFG, "127.0.0.1:0", pid_file, origin.port);
	st = run_tg("reload", &err);
	cr_expect_eq(st, 1, "status %d", st);
	cr_expect_not_null(strstr(err, pid_file), "%s", err);
	free(err);
}
