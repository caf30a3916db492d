/* test_h2.c: HTTP/2 clients through the real binary: curl, nghttp and h2load
 * with prior knowledge on the cleartext listener and by ALPN over TLS, the
 * limits the gateway advertises, and the abuse cases of a crafted client
 * (tests/support/h2abuse.py): each ends with the GOAWAY or reset it must
 * get, its count in tracegate_h2_abuse_total, and a gateway that still
 * serves. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* ASan's quarantine keeps what was freed: RSS bounds nothing there, and
 * everything runs a few times slower */
#ifdef __SANITIZE_ADDRESS__
#define RSS_BOUNDED false
#define SLOW        3
#else
#define RSS_BOUNDED true
#define SLOW        1
#endif

static struct hproc origin, gw;
static char certs[64];

/* Streams stalled by the client are reset after client_timeout_ms; an idle
 * connection closes after idle_timeout_ms. */
#define CLIENT_TIMEOUT_MS 1000
#define IDLE_TIMEOUT_MS   3000

#define GW_CONF                                                                                    \
	"[gateway]\nlisten = 127.0.0.1:0\nlisten_tls = 127.0.0.1:0\nworkers = 1\n"                 \
	"access_log = off\nclient_timeout_ms = %d\nidle_timeout_ms = %d\n%s"                       \
	"[certificate localhost]\ncert_file = %s/localhost.pem\nkey_file = %s/localhost.key\n"     \
	"[upstream o]\nservers = 127.0.0.1:%d\n"                                                   \
	"[route r]\npath_prefix = /\nupstream = o\n"                                               \
	"[tracing]\nenabled = off\n"                                                               \
	"[admin]\nlisten = 127.0.0.1:0\n"

/* Starts the gateway with <extra> [gateway] lines. */
static void gw_start(const char *extra)
{
	harness_gw_start(&gw, GW_CONF, CLIENT_TIMEOUT_MS * SLOW, IDLE_TIMEOUT_MS * SLOW, extra,
	                 certs, certs, origin.port);
	cr_assert_gt(gw.tls_port, 0);
}

static void setup(void)
{
	harness_certs(certs, sizeof(certs));
	harness_origin_start(&origin, NULL);
	gw_start("");
}

static void teardown(void)
{
	harness_kill(&gw);
	harness_kill(&origin);
	harness_rmtree(certs);
}

TestSuite(h2, .init = setup, .fini = teardown, .timeout = 120);

/* A shell command, at most <ms> (longer under the sanitizers). */
#define sh(st, ms, ...) harness_sh(st, (ms)*SLOW, __VA_ARGS__)

/* The value of sample <name> (labels included) in the gateway's /metrics. */
static long metric(const char *name)
{
	long v = harness_metric(&gw, name);

	cr_assert_geq(v, 0, "no %s in /metrics", name);
	return v;
}

#define ABUSE(kind) "tracegate_h2_abuse_total{kind=\"" kind "\"}"

/* The value of "<key>=" in the h2abuse.py output <out> (a static buffer),
 * or "" when it did not print it. */
static const char *fact(const char *out, const char *key)
{
	static char v[64];
	size_t n = strlen(key);

	v[0] = '\0';
	for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, n) == 0 && p[n] == '=') {
			snprintf(v, sizeof(v), "%.*s", (int)strcspn(p + n + 1, "\n"), p + n + 1);
			break;
		}
	return v;
}

/* Runs h2abuse.py against the cleartext listener of <g>; returns its output. */
static char *abuse(const struct hproc *g, const char *args)
{
	int st;
	char *out = sh(&st, 30000, "/usr/bin/python3 %s/tests/support/h2abuse.py %d %s",
	               TG_SOURCE_DIR, g->port, args);

	cr_assert_eq(st, 0, "h2abuse.py %s: exit %d: %s", args, st, out);
	return out;
}

/* A normal HTTP/2 request on a new connection: the gateway still serves. */
static void still_serves(void)
{
	int st;
	char *out = sh(&st, 10000,
	               "curl -sS --max-time 5 --http2-prior-knowledge -o /dev/null "
	               "-w '%%{http_version} %%{http_code}' http://127.0.0.1:%d/echo",
	               gw.port);

	cr_expect_eq(st, 0);
	cr_expect_str_eq(out, "2 200", "after the abuse: %s", out);
	free(out);
}

/* curl options and the base URL of HTTP/2 over <tls> or with prior knowledge. */
static void h2_url(bool tls, char *opts, size_t olen, char *url, size_t ulen)
{
	if (tls) {
		snprintf(opts, olen, "--http2 --cacert %s/ca.pem", certs);
		snprintf(url, ulen, "https://localhost:%d", gw.tls_port);
	} else {
		snprintf(opts, olen, "--http2-prior-knowledge");
		snprintf(url, ulen, "http://127.0.0.1:%d", gw.port);
	}
}

/* ---- Requests and bodies -------------------------------------------------- */

static void get_post_and_large_response(bool tls)
{
	char opts[160], url[64], path[64], want[65];
	size_t body_len = (3u << 20) / 2 + 7, got_len;
	char *body = malloc(body_len), *out, *got;
	FILE *f;
	int st;

	h2_url(tls, opts, sizeof(opts), url, sizeof(url));

	/* GET: the origin's echo says what the upstream received */
	out = sh(&st, 10000,
	         "curl -sS --max-time 5 %s -w '\\n%%{http_version} %%{http_code}' %s/echo", opts,
	         url);
	cr_assert_eq(st, 0);
	cr_expect(strstr(out, "GET /echo HTTP/1.1\r\n"), "%s", out);
	cr_expect(strstr(out, tls ? "X-Forwarded-Proto: https\r\n" : "X-Forwarded-Proto: http\r\n"),
	          "%s", out);
	cr_expect(strstr(out, "\n2 200"), "%s", out);
	free(out);

	/* POST of 1.5 MiB: more than the stream (256 KiB) and connection (1 MiB)
	 * windows, so credit must come back as the body moves upstream */
	for (size_t i = 0; i < body_len; i++)
		body[i] = (char)((i * 7 + i / 251) & 0xff);
	harness_sha256_hex(body, body_len, want);
	snprintf(path, sizeof(path), "/tmp/tg-h2-body-%d", (int)getpid());
	f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(body, 1, body_len, f), body_len);
	fclose(f);
	out = sh(&st, 20000,
	         "curl -sS --max-time 15 %s --data-binary @%s -H 'Content-Type: "
	         "application/octet-stream' -D - %s/sha256",
	         opts, path, url);
	unlink(path);
	cr_assert_eq(st, 0);
	cr_expect(strstr(out, "HTTP/2 200"), "%s", out);
	cr_expect(strstr(out, "x-body-bytes: 1572871"), "%s", out);
	cr_expect(strstr(out, want), "want sha256 %s in: %s", want, out);
	free(out);
	free(body);

	/* a 32 MiB response, streamed, each byte the origin's */
	snprintf(path, sizeof(path), "/tmp/tg-h2-resp-%d", (int)getpid());
	out = sh(&st, 30000,
	         "curl -sS --max-time 25 %s -o %s -w '%%{http_version} %%{http_code} "
	         "%%{size_download}' %s/bytes/33554432",
	         opts, path, url);
	cr_assert_eq(st, 0);
	cr_expect_str_eq(out, "2 200 33554432");
	free(out);
	got = harness_slurp(path);
	f = fopen(path, "rb");
	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	got_len = (size_t)ftell(f);
	fclose(f);
	unlink(path);
	cr_expect_eq(got_len, 33554432);
	cr_expect(harness_is_pattern(got, got_len, 0), "the body is not the origin's bytes");
	free(got);
}

Test(h2, prior_knowledge_get_post_and_large_response)
{
	long conns = metric("tracegate_h2_connections_total");

	get_post_and_large_response(false);
	cr_expect_eq(metric("tracegate_h2_connections_total"), conns + 3);
	harness_gw_stop(&gw, false);
}

Test(h2, alpn_h2_over_tls_get_post_and_large_response)
{
	long conns = metric("tracegate_h2_connections_total");

	get_post_and_large_response(true);
	cr_expect_eq(metric("tracegate_h2_connections_total"), conns + 3);
	harness_gw_stop(&gw, false);
}

Test(h2, nghttp_many_concurrent_streams)
{
	long streams = metric("tracegate_h2_streams_total");
	int st, ok = 0;
	char *out = sh(&st, 20000, "nghttp -n -s -m 100 http://127.0.0.1:%d/bytes/5000", gw.port);

	cr_assert_eq(st, 0, "%s", out);
	/* one statistics line per request: "id times... 200 4K /bytes/5000" */
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		ok += strstr(line, " 200 ") && strstr(line, " /bytes/5000");
	cr_expect_eq(ok, 100, "%s", out);
	free(out);
	cr_expect_eq(metric("tracegate_h2_streams_total"), streams + 100);
	harness_gw_stop(&gw, false);
}

/* h2load's "requests: ..." line must say all succeeded, none failed. */
static void h2load_clean(const char *url)
{
	int st;
	char *out = sh(&st, 60000, "h2load -n 10000 -c 10 -m 10 %s", url);
	const char *req = strstr(out, "requests: ");
	long total, started, done, ok, failed, errored, timeout;

	cr_assert_eq(st, 0, "%s", out);
	cr_assert_not_null(req, "%s", out);
	cr_assert_eq(
	        sscanf(req,
	               "requests: %ld total, %ld started, %ld done, %ld succeeded, %ld failed, "
	               "%ld errored, %ld timeout",
	               &total, &started, &done, &ok, &failed, &errored, &timeout),
	        7, "%s", req);
	cr_expect_eq(ok, 10000, "%s", req);
	cr_expect_eq(failed + errored + timeout, 0, "%s", req);
	cr_expect(strstr(out, "status codes: 10000 2xx"), "%s", out);
	free(out);
}

Test(h2, h2load_without_errors_h2c_and_tls)
{
	char url[96];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bytes/100", gw.port);
	h2load_clean(url);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/bytes/100", gw.tls_port);
	h2load_clean(url);
	harness_gw_stop(&gw, false);
}

/* ---- Limits ----------------------------------------------------------------- */

Test(h2, max_concurrent_streams_advertised_and_enforced)
{
	char *out;
	long proto;

	harness_gw_stop(&gw, false);
	gw_start("h2_max_concurrent_streams = 4\n");

	out = abuse(&gw, "settings");
	cr_expect_str_eq(fact(out, "max_concurrent_streams"), "4", "%s", out);
	cr_expect_str_eq(fact(out, "initial_window_size"), "262144", "%s", out);
	cr_expect_str_eq(fact(out, "max_header_list_size"), "16384", "%s", out);
	cr_expect_str_eq(fact(out, "enable_push"), "0", "%s", out);
	free(out);

	/* before the client acknowledged the limit, streams past it are
	 * refused one by one (RFC 9113 5.1.2), and the others are served */
	out = abuse(&gw, "concurrent 7 /slow/300");
	cr_expect_str_eq(fact(out, "ok"), "4", "%s", out);
	cr_expect_str_eq(fact(out, "refused"), "3", "%s", out);
	cr_expect_str_eq(fact(out, "other"), "0", "%s", out);
	free(out);

	/* after it acknowledged it, nghttp2 takes a stream past the limit as
	 * a connection error: GOAWAY PROTOCOL_ERROR, counted */
	proto = metric(ABUSE("protocol"));
	out = abuse(&gw, "concurrent-acked 7 /slow/300");
	cr_expect_str_eq(fact(out, "goaway"), "PROTOCOL_ERROR", "%s", out);
	cr_expect_str_eq(fact(out, "closed"), "1", "%s", out);
	free(out);
	cr_expect_eq(metric(ABUSE("protocol")), proto + 1);

	/* a client that keeps to it queues its -m 10 once it read the limit;
	 * only the streams it opened before (6 per connection) are refused */
	{
		char url[96];
		const char *req;
		long ok = 0, failed = 0, errored = 0;
		int st;

		snprintf(url, sizeof(url), "http://127.0.0.1:%d/bytes/100", gw.port);
		out = sh(&st, 30000, "h2load -n 500 -c 2 -m 10 %s", url);
		req = strstr(out, "requests: 500 total, 500 started, 500 done, ");
		cr_assert_not_null(req, "%s", out);
		cr_assert_eq(sscanf(req + 44, "%ld succeeded, %ld failed, %ld errored", &ok,
		                    &failed, &errored),
		             3, "%s", req);
		cr_expect_eq(ok + failed, 500, "%s", req);
		cr_expect_leq(failed, 2 * (10 - 4), "%s", req);
		cr_expect_eq(errored, failed, "refused, not answered with an error: %s", req);
		free(out);
	}
	still_serves();
	harness_gw_stop(&gw, false);
}

Test(h2, header_list_too_large_gets_431)
{
	char *big = malloc(20001), hdrs[4096] = "", *out;
	int st, n = 0;

	memset(big, 'a', 20000);
	big[20000] = '\0';
	/* one field past max_head_bytes (16 KiB) */
	out = sh(&st, 10000,
	         "curl -sS --max-time 5 --http2-prior-knowledge -H 'X-Big: %s' -o /dev/null "
	         "-w '%%{http_version} %%{http_code}' http://127.0.0.1:%d/echo",
	         big, gw.port);
	cr_expect_str_eq(out, "2 431");
	free(out);
	free(big);
	/* more fields than max_headers (100) */
	for (int i = 0; i < 120; i++)
		n += snprintf(hdrs + n, sizeof(hdrs) - (size_t)n, " -H 'X-F%d: v'", i);
	out = sh(&st, 10000,
	         "curl -sS --max-time 5 --http2-prior-knowledge %s -o /dev/null "
	         "-w '%%{http_version} %%{http_code}' http://127.0.0.1:%d/echo",
	         hdrs, gw.port);
	cr_expect_str_eq(out, "2 431");
	free(out);
	still_serves();
	harness_gw_stop(&gw, false);
}

/* ---- Abuse ------------------------------------------------------------------ */

Test(h2, rapid_reset_gets_goaway_enhance_your_calm)
{
	long rr = metric(ABUSE("rapid_reset"));
	char *out;

	/* a burst within the bound (twice h2_max_resets_per_second = 100) passes */
	out = abuse(&gw, "rapid-reset 50");
	cr_expect_str_neq(fact(out, "goaway"), "ENHANCE_YOUR_CALM", "%s", out);
	free(out);
	cr_expect_eq(metric(ABUSE("rapid_reset")), rr);

	out = abuse(&gw, "rapid-reset 2000");
	cr_expect_str_eq(fact(out, "goaway"), "ENHANCE_YOUR_CALM", "%s", out);
	cr_expect_str_eq(fact(out, "closed"), "1", "%s", out);
	/* it stopped taking streams soon after the bound, not at the end */
	cr_expect_lt(atol(fact(out, "goaway_last_stream")), 2 * 1000, "%s", out);
	free(out);
	cr_expect_eq(metric(ABUSE("rapid_reset")), rr + 1);
	still_serves();
	harness_gw_stop(&gw, false);
}

Test(h2, continuation_flood_is_cut_off)
{
	long proto = metric(ABUSE("protocol"));
	long rss0 = harness_rss_kb(gw.pid);
	char *out = abuse(&gw, "continuation 2000");

	cr_expect_str_eq(fact(out, "goaway"), "ENHANCE_YOUR_CALM", "%s", out);
	cr_expect_str_eq(fact(out, "closed"), "1", "%s", out);
	/* 2000 frames of 1 KiB were offered; the gateway closed long before:
	 * what it read is bounded by the 8 CONTINUATION frames it allows */
	cr_expect_lt(atol(fact(out, "sent")), 1000, "%s", out);
	free(out);
	if (RSS_BOUNDED)
		cr_expect_lt(harness_rss_kb(gw.pid) - rss0, 4096);
	cr_expect_eq(metric(ABUSE("protocol")), proto + 1);
	still_serves();
	harness_gw_stop(&gw, false);
}

static void control_flood(const char *mode)
{
	long flood = metric(ABUSE("control_flood")), proto = metric(ABUSE("protocol"));
	char args[64], *out;

	/* twice h2_max_control_frames_per_second (200) is the burst */
	snprintf(args, sizeof(args), "%s 1000", mode);
	out = abuse(&gw, args);
	cr_expect_str_eq(fact(out, "goaway"), "ENHANCE_YOUR_CALM", "%s: %s", mode, out);
	cr_expect_str_eq(fact(out, "closed"), "1", "%s: %s", mode, out);
	free(out);
	cr_expect_eq(metric(ABUSE("control_flood")), flood + 1, "%s", mode);
	cr_expect_eq(metric(ABUSE("protocol")), proto, "%s: not nghttp2's own flood guard", mode);
	still_serves();
}

Test(h2, settings_and_ping_floods_get_goaway_enhance_your_calm)
{
	control_flood("settings-flood");
	control_flood("ping-flood");
	harness_gw_stop(&gw, false);
}

/* Waits up to <ms> for the gateway to hold at most <fds> descriptors;
 * returns how many it holds. */
static int fds_settle(int fds, int ms)
{
	long end = harness_now_ms() + ms;
	int n;

	while ((n = harness_fd_count(gw.pid)) > fds && harness_now_ms() < end)
		usleep(20 * 1000);
	return n;
}

Test(h2, zero_window_stream_is_reset_and_the_connection_closed)
{
	long stalled = metric(ABUSE("stalled_stream"));
	int fds = harness_fd_count(gw.pid);
	char *out = abuse(&gw, SLOW > 1 ? "zero-window /bytes/4000000 20"
	                                : "zero-window "
	                                  "/bytes/4000000 8");
	double t_rst, t_close;

	cr_expect_str_eq(fact(out, "status"), "200", "%s", out);
	cr_expect_str_eq(fact(out, "data"), "0", "window 0 lets no DATA through: %s", out);
	cr_expect_str_eq(fact(out, "rst"), "CANCEL", "%s", out);
	/* client_timeout_ms (1 s) without progress resets it, and the
	 * connection, idle then, closes after idle_timeout_ms (3 s) */
	t_rst = atof(fact(out, "t_rst"));
	t_close = atof(fact(out, "t_close"));
	cr_expect(t_rst >= 0.9 && t_rst < 2.5 * SLOW, "reset after %.2f s", t_rst);
	cr_expect_str_eq(fact(out, "goaway"), "NO_ERROR", "%s", out);
	cr_expect_str_eq(fact(out, "closed"), "1", "%s", out);
	cr_expect(t_close >= t_rst + 2.9 && t_close < t_rst + 4.5 * SLOW, "closed after %.2f s",
	          t_close);
	free(out);
	/* nothing is held: the client's and the upstream's sockets are gone
	 * (the baseline may hold the admin query's, closing) */
	cr_expect_leq(fds_settle(fds, 3000 * SLOW), fds);
	cr_expect_eq(metric(ABUSE("stalled_stream")), stalled + 1);
	still_serves();
	harness_gw_stop(&gw, false);
}

struct rss_watch {
	pid_t pid;
	atomic_bool stop;
	long max_kb;
};

static void *rss_sample(void *arg)
{
	struct rss_watch *w = arg;

	while (!atomic_load(&w->stop)) {
		long kb = harness_rss_kb(w->pid);

		if (kb > w->max_kb)
			w->max_kb = kb;
		usleep(50 * 1000);
	}
	return NULL;
}

Test(h2, slow_reader_of_a_large_response_holds_bounded_memory)
{
	struct rss_watch w = {.pid = gw.pid};
	long rss0 = harness_rss_kb(gw.pid);
	pthread_t th;
	char *out;
	long got;

	cr_assert_eq(pthread_create(&th, NULL, rss_sample, &w), 0);
	/* 1 GiB offered at loopback speed; the client opens its windows wide
	 * but takes about 1.6 MB/s from its socket for 4 s */
	out = abuse(&gw, "slow-read /bytes/1073741824 4");
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	cr_expect_str_eq(fact(out, "status"), "200", "%s", out);
	got = atol(fact(out, "data"));
	cr_expect(got > 1000000 && got < 64 << 20, "read %ld bytes: %s", got, out);
	free(out);
	cr_log_info("RSS %ld kB before, at most %ld kB while the slow reader read", rss0, w.max_kb);
	/* the response waits in the origin's socket, not in the gateway: a
	 * few windows and socket buffers, not what the origin could send */
	if (RSS_BOUNDED)
		cr_expect_lt(w.max_kb - rss0, 16 * 1024, "RSS grew from %ld to %ld kB", rss0,
		             w.max_kb);
	still_serves();
	harness_gw_stop(&gw, false);
}
