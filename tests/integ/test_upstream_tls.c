/* test_upstream_tls.c: TLS to upstreams ([upstream] tls = on) through the
 * real binary, against tests/support/origin.py --tls with the certificates
 * of mkcerts.sh: requests and bodies over TLS on kept-alive connections,
 * the SNI sent, verification (a distrusted chain, a wrong name, or none
 * with tls_verify = off), client certificates, the handshake timeout,
 * session resumption, the failure metric and log line, the CLIENT span's
 * events, and a reload that builds a new context. */
#include <criterion/criterion.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct hproc origin, gw, bad; /* bad: a second origin, when one is needed */
static char certs[64];

static void setup(void)
{
	harness_certs(certs, sizeof(certs));
}

static void teardown(void)
{
	harness_kill(&gw);
	harness_kill(&origin);
	harness_kill(&bad);
	harness_rmtree(certs);
}

TestSuite(upstream_tls, .init = setup, .fini = teardown, .timeout = 120);

/* Starts origin.py speaking TLS with certificate <name> (localhost, a, ...);
 * with <client_ca> it requires a client certificate from the test CA. */
static void tls_origin(const char *name, bool client_ca)
{
	char cert[128], key[128], ca[128];
	char *argv[] = {"python3", TG_SOURCE_DIR "/tests/support/origin.py", "--tls", cert,
	                key,       client_ca ? "--client-ca" : NULL,         ca,      NULL};

	snprintf(cert, sizeof(cert), "%s/%s.pem", certs, name);
	snprintf(key, sizeof(key), "%s/%s.key", certs, name);
	snprintf(ca, sizeof(ca), "%s/ca.pem", certs);
	harness_proc_start(&origin, argv);
}

/* "[gateway]...[upstream o]" with TLS to the origin, then <more> keys of
 * that upstream, then the route and <tail> sections. */
static void gw_start(const char *servers_host, const char *more, const char *tail)
{
	harness_gw_start(&gw,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
	                 "[upstream o]\nservers = %s:%d\ntls = on\nmax_fails = 0\n%s"
	                 "[route r]\npath_prefix = /\nupstream = o\n%s",
	                 servers_host, origin.port, more, tail);
}

#define ADMIN "[admin]\nlisten = 127.0.0.1:0\n"

#define TLS_FAILURES "tracegate_upstream_tls_failures_total{upstream=\"o\"}"
#define TLS_RESUMED  "tracegate_upstream_tls_resumed_total{upstream=\"o\"}"

static void get(int fd, const char *path, struct hresp *r)
{
	char req[256];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: svc.test\r\n\r\n", path);
	harness_send_str(fd, req);
	cr_assert_eq(harness_read_resp(fd, r, false, 10000), 0, "no response to %s", path);
}

static void get_once(const char *path, struct hresp *r)
{
	int fd = harness_connect(gw.port);

	get(fd, path, r);
	harness_close(fd);
}

/* GET <path> once on a gateway started with ADMIN: a 502 whose handshake
 * failed, counted once, logged with <reason> after the failure's prefix.
 * Stops the gateway. */
static void expect_tls_failure(const char *path, const char *reason)
{
	const char *p;
	struct hresp r;
	char *log;

	get_once(path, &r);
	cr_expect_eq(r.status, 502, "%s", r.head);
	cr_expect_not_null(strstr(r.body, "upstream TLS handshake failed"), "%s", r.body);
	harness_resp_free(&r);
	cr_expect_eq(harness_metric(&gw, TLS_FAILURES), 1);
	log = harness_gw_stop_log(&gw, false);
	p = strstr(log, "upstream TLS handshake failed: ");
	cr_expect(p && strstr(p, reason), "no \"%s\" in: %s", reason, log);
	free(log);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Waits up to 5 s for the gateway's log to hold <needle>; returns it. */
static bool log_has(const char *needle)
{
	for (int i = 0; i < 500; i++) {
		char *log = harness_slurp(gw.err_path);
		bool found = strstr(log, needle) != NULL;

		free(log);
		if (found)
			return true;
		sleep_ms(10);
	}
	return false;
}

Test(upstream_tls, get_and_post_on_one_kept_alive_tls_connection)
{
	char more[256], conn[32];
	struct hresp r;
	int fd;

	tls_origin("localhost", false);
	/* an IP address: no SNI, verified against the IP subjectAltName */
	snprintf(more, sizeof(more), "tls_ca_file = %s/ca.pem\n", certs);
	gw_start("127.0.0.1", more, ADMIN);
	fd = harness_connect(gw.port);
	get(fd, "/echo/1", &r);
	cr_assert_eq(r.status, 200, "%s", r.head);
	cr_expect(strncmp(r.body, "GET /echo/1 HTTP/1.1\r\n", 22) == 0, "%.*s", (int)r.body_len,
	          r.body);
	cr_expect_str_eq(harness_field(&r, "X-Origin-SNI"), "-", "no SNI for an IP address");
	cr_expect_str_eq(harness_field(&r, "X-Origin-Client-Cert"), "-");
	snprintf(conn, sizeof(conn), "%s", harness_field(&r, "X-Origin-Conn"));
	harness_resp_free(&r);

	harness_send_str(fd, "POST /sha256 HTTP/1.1\r\nHost: svc.test\r\nContent-Length: 11\r\n\r\n"
	                     "hello world");
	cr_assert_eq(harness_read_resp(fd, &r, false, 10000), 0);
	cr_assert_eq(r.status, 200, "%s", r.head);
	cr_expect_str_eq(harness_field(&r, "X-Body-Bytes"), "11");
	cr_expect(r.body_len == 64 &&
	                  memcmp(r.body,
	                         "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
	                         64) == 0,
	          "%.*s", (int)r.body_len, r.body);
	cr_expect_str_eq(harness_field(&r, "X-Origin-Conn"), conn, "the pooled TLS connection");
	cr_expect_str_eq(harness_field(&r, "X-Origin-Req"), "2");
	harness_resp_free(&r);

	/* a third request, on another client connection, after the origin's
	 * session tickets reached the idle connection: still the same one */
	sleep_ms(100);
	get_once("/echo/3", &r);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(harness_field(&r, "X-Origin-Conn"), conn, "tickets kept it alive");
	harness_resp_free(&r);
	harness_close(fd);
	cr_expect_eq(harness_metric(&gw, "tracegate_upstream_pool_hits_total{upstream=\"o\"}"), 2);
	cr_expect_eq(harness_metric(&gw, TLS_FAILURES), 0);
	harness_gw_stop(&gw, false);
}

Test(upstream_tls, sni_is_tls_server_name_or_the_host_of_servers)
{
	char more[256];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	struct hresp r;

	tls_origin("localhost", false);
	snprintf(more, sizeof(more), "tls_ca_file = %s/ca.pem\ntls_server_name = LocalHost\n",
	         certs);
	gw_start("127.0.0.1", more, "");
	get_once("/echo", &r);
	cr_assert_eq(r.status, 200, "%s", r.head);
	cr_expect_str_eq(harness_field(&r, "X-Origin-SNI"), "localhost");
	harness_resp_free(&r);
	harness_gw_stop(&gw, false);

	/* servers named by host: that name; the origin listens on 127.0.0.1 */
	cr_assert_eq(getaddrinfo("localhost", NULL, &hints, &res), 0);
	if (res->ai_family == AF_INET &&
	    ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
		snprintf(more, sizeof(more), "tls_ca_file = %s/ca.pem\n", certs);
		gw_start("localhost", more, "");
		get_once("/echo", &r);
		cr_assert_eq(r.status, 200, "%s", r.head);
		cr_expect_str_eq(harness_field(&r, "X-Origin-SNI"), "localhost");
		harness_resp_free(&r);
		harness_gw_stop(&gw, false);
	} else {
		cr_log_warn("localhost is not 127.0.0.1 first here: name from servers not tested");
	}
	freeaddrinfo(res);
}

Test(upstream_tls, a_name_the_certificate_lacks_is_a_502)
{
	char more[256];

	tls_origin("localhost", false);
	snprintf(more, sizeof(more), "tls_ca_file = %s/ca.pem\ntls_server_name = a.test\n", certs);
	gw_start("127.0.0.1", more, ADMIN);
	expect_tls_failure("/echo", "certificate verify failed: hostname mismatch");
}

Test(upstream_tls, untrusted_chain_is_a_502_then_a_reload_with_tls_verify_off_works)
{
	char more[256];
	struct hresp r;
	char *log;

	tls_origin("localhost", false);
	snprintf(more, sizeof(more), "tls_ca_file = %s/other-ca.pem\n", certs);
	gw_start("127.0.0.1", more, ADMIN);
	get_once("/echo", &r);
	cr_expect_eq(r.status, 502, "%s", r.head);
	harness_resp_free(&r);
	get_once("/echo", &r);
	cr_expect_eq(r.status, 502, "%s", r.head);
	harness_resp_free(&r);
	cr_expect_eq(harness_metric(&gw, TLS_FAILURES), 2);
	cr_expect_eq(
	        harness_metric(&gw, "tracegate_upstream_connect_failures_total{upstream=\"o\"}"), 0,
	        "counted as TLS failures only");
	cr_expect(log_has("upstream TLS handshake failed: certificate verify failed: unable to get "
	                  "local issuer certificate"));

	/* a reload builds a new context: the same CA file, verification off */
	harness_gw_rewrite(&gw,
	                   "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
	                   "[upstream o]\nservers = 127.0.0.1:%d\ntls = on\nmax_fails = 0\n"
	                   "tls_ca_file = %s/other-ca.pem\ntls_verify = off\n"
	                   "[route r]\npath_prefix = /\nupstream = o\n" ADMIN,
	                   origin.port, certs);
	cr_assert_eq(kill(gw.pid, SIGHUP), 0);
	cr_assert(log_has("reloaded: configuration"));
	sleep_ms(50);
	get_once("/echo", &r);
	cr_expect_eq(r.status, 200, "%s", r.head);
	harness_resp_free(&r);
	cr_expect_eq(harness_metric(&gw, TLS_FAILURES), 2);
	log = harness_gw_stop_log(&gw, false);
	free(log);
}

Test(upstream_tls, client_certificate_when_the_origin_requires_one)
{
	char more[512];
	struct hresp r;

	tls_origin("localhost", true);
	snprintf(more, sizeof(more),
	         "tls_ca_file = %s/ca.pem\ntls_cert_file = %s/client.pem\n"
	         "tls_key_file = %s/client.key\n",
	         certs, certs, certs);
	gw_start("127.0.0.1", more, "");
	get_once("/echo", &r);
	cr_expect_eq(r.status, 200, "%s", r.head);
	cr_expect_str_eq(harness_field(&r, "X-Origin-Client-Cert"), "client.test");
	harness_resp_free(&r);
	harness_gw_stop(&gw, false);

	snprintf(more, sizeof(more), "tls_ca_file = %s/ca.pem\n", certs);
	gw_start("127.0.0.1", more, ADMIN);
	expect_tls_failure("/echo", "certificate required"); /* the origin's alert */
}

Test(upstream_tls, handshake_bounded_by_connect_timeout)
{
	char *argv[] = {"python3", TG_SOURCE_DIR "/tests/support/origin.py", "--mute", NULL};
	struct hresp r;
	long t0, ms;
	char *log;

	harness_proc_start(&origin, argv);
	gw_start("127.0.0.1", "connect_timeout_ms = 300\n", ADMIN);
	t0 = harness_now_ms();
	get_once("/echo", &r);
	ms = harness_now_ms() - t0;
	cr_expect_eq(r.status, 502, "%s", r.head);
	cr_expect(ms >= 250 && ms < 3000, "answered after %ld ms", ms);
	harness_resp_free(&r);
	cr_expect_eq(harness_metric(&gw, TLS_FAILURES), 1);
	log = harness_gw_stop_log(&gw, false);
	cr_expect_not_null(strstr(log, "upstream TLS handshake failed: handshake not done within "
	                               "connect_timeout_ms"),
	                   "%s", log);
	free(log);
}

Test(upstream_tls, sessions_resume_on_new_connections)
{
	char more[256];
	struct hresp r;

	tls_origin("localhost", false);
	/* keepalive = 0: every request opens a connection */
	snprintf(more, sizeof(more), "tls_ca_file = %s/ca.pem\nkeepalive = 0\n", certs);
	gw_start("127.0.0.1", more, ADMIN);
	get_once("/echo", &r);
	cr_expect_eq(r.status, 200, "%s", r.head);
	cr_expect_str_eq(harness_field(&r, "X-Origin-TLS-Resumed"), "0");
	harness_resp_free(&r);
	get_once("/echo", &r);
	cr_expect_eq(r.status, 200, "%s", r.head);
	cr_expect_str_eq(harness_field(&r, "X-Origin-Conn"), "2");
	cr_expect_str_eq(harness_field(&r, "X-Origin-TLS-Resumed"), "1");
	harness_resp_free(&r);
	cr_expect_eq(harness_metric(&gw, TLS_RESUMED), 1);
	harness_gw_stop(&gw, false);
}

/* Finds the JSON line in <spans> with "kind":"<kind>" from <from> on;
 * returns a copy. */
static char *span_line(const char *spans, const char *kind, int nth)
{
	char needle[32];
	const char *p = spans, *start;

	snprintf(needle, sizeof(needle), "\"kind\":\"%s\"", kind);
	for (int i = 0; i <= nth; i++) {
		p = strstr(i ? p + 1 : p, needle);
		cr_assert_not_null(p, "no %s span %d in: %s", kind, nth, spans);
	}
	start = p;
	while (start > spans && start[-1] != '\n')
		start--;
	return strndup(start, strcspn(start, "\n"));
}

/* The time of event <name> in span line <s>, 0 when absent. */
static unsigned long long event_ns(const char *s, const char *name)
{
	char needle[96];
	const char *p;

	snprintf(needle, sizeof(needle), "{\"name\":\"%s\",\"timeUnixNano\":", name);
	p = strstr(s, needle);
	return p ? strtoull(p + strlen(needle) + (p[strlen(needle)] == '"'), NULL, 10) : 0;
}

Test(upstream_tls, client_span_has_tls_handshake_end_and_https)
{
	char more[256], *spans, *c1, *c2;
	struct hresp r;
	int fd;

	tls_origin("localhost", false);
	snprintf(more, sizeof(more), "tls_ca_file = %s/ca.pem\n", certs);
	gw_start("127.0.0.1", more, "[tracing]\nexporters = jsonl\n");
	fd = harness_connect(gw.port);
	get(fd, "/echo/1", &r);
	cr_expect_eq(r.status, 200);
	harness_resp_free(&r);
	get(fd, "/echo/2", &r);
	cr_expect_eq(r.status, 200);
	harness_resp_free(&r);
	harness_close(fd);
	spans = harness_gw_stop_out(&gw, false);
	c1 = span_line(spans, "CLIENT", 0);
	c2 = span_line(spans, "CLIENT", 1);
	cr_expect_not_null(strstr(c1, "\"url.scheme\":\"https\""), "%s", c1);
	cr_expect(event_ns(c1, "connect_start") > 0, "%s", c1);
	cr_expect(event_ns(c1, "connect_end") >= event_ns(c1, "connect_start"), "%s", c1);
	cr_expect(event_ns(c1, "tls_handshake_end") > event_ns(c1, "connect_end"), "%s", c1);
	cr_expect(event_ns(c1, "connect_end") > 0, "%s", c1);
	cr_expect(event_ns(c1, "request_sent") >= event_ns(c1, "tls_handshake_end"), "%s", c1);
	/* the second request reused the connection: no connect, no handshake */
	cr_expect_not_null(strstr(c2, "\"url.scheme\":\"https\""), "%s", c2);
	cr_expect_eq(event_ns(c2, "connect_end"), 0, "%s", c2);
	cr_expect_eq(event_ns(c2, "tls_handshake_end"), 0, "%s", c2);
	cr_expect(event_ns(c2, "request_sent") > 0, "%s", c2);
	free(c1);
	free(c2);
	free(spans);
}

Test(upstream_tls, failed_handshake_span_says_tls_error)
{
	char more[256], *spans, *c;
	struct hresp r;

	tls_origin("localhost", false);
	snprintf(more, sizeof(more), "tls_ca_file = %s/other-ca.pem\n", certs);
	gw_start("127.0.0.1", more, "[tracing]\nexporters = jsonl\n");
	get_once("/echo", &r);
	cr_expect_eq(r.status, 502);
	harness_resp_free(&r);
	spans = harness_gw_stop_out(&gw, false);
	c = span_line(spans, "CLIENT", 0);
	cr_expect_not_null(strstr(c, "\"error.type\":\"tls_error\""), "%s", c);
	cr_expect(event_ns(c, "connect_end") > 0, "TCP did connect: %s", c);
	cr_expect_eq(event_ns(c, "tls_handshake_end"), 0, "%s", c);
	free(c);
	free(spans);
}

/* Starts tests/support/h2origin.py (HTTP/2 over TLS, ALPN <alpn>) with the
 * localhost certificate. */
static void h2_origin(const char *alpn)
{
	char cert[128], key[128];
	char *argv[] = {"/usr/bin/python3",
	                TG_SOURCE_DIR "/tests/support/h2origin.py",
	                "--tls",
	                cert,
	                key,
	                "--alpn",
	                (char *)alpn,
	                NULL};

	snprintf(cert, sizeof(cert), "%s/localhost.pem", certs);
	snprintf(key, sizeof(key), "%s/localhost.key", certs);
	harness_proc_start(&origin, argv);
}

Test(upstream_tls, protocol_h2_over_tls)
{
	char more[256];
	struct hresp r;
	int fd;

	h2_origin("h2");
	snprintf(more, sizeof(more), "protocol = h2\ntls_ca_file = %s/ca.pem\n", certs);
	gw_start("127.0.0.1", more, "");
	fd = harness_connect(gw.port);
	get(fd, "/h2/1", &r);
	cr_assert_eq(r.status, 200, "%s", r.head);
	cr_expect_str_eq(harness_field(&r, "x-origin-alpn"), "h2");
	cr_expect_str_eq(harness_field(&r, "x-origin-sni"), "-");
	cr_expect(r.body_len > 20 &&
	                  strncmp(r.body, "GET /h2/1 https e3b0c44298fc1c149afbf4c8996fb924", 48) ==
	                          0,
	          "%.*s", (int)r.body_len, r.body);
	harness_resp_free(&r);
	harness_send_str(fd, "POST /h2/2 HTTP/1.1\r\nHost: svc.test\r\nContent-Length: 11\r\n\r\n"
	                     "hello world");
	cr_assert_eq(harness_read_resp(fd, &r, false, 10000), 0);
	cr_assert_eq(r.status, 200, "%s", r.head);
	cr_expect(strstr(r.body,
	                 "POST /h2/2 https "
	                 "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9") ==
	                  r.body,
	          "%.*s", (int)r.body_len, r.body);
	cr_expect_str_eq(harness_field(&r, "x-origin-conn"), "1", "one HTTP/2 connection");
	harness_resp_free(&r);
	harness_close(fd);
	harness_gw_stop(&gw, false);
}

Test(upstream_tls, protocol_h2_needs_alpn_h2)
{
	char more[256];

	h2_origin("http/1.1");
	snprintf(more, sizeof(more), "protocol = h2\ntls_ca_file = %s/ca.pem\n", certs);
	gw_start("127.0.0.1", more, ADMIN);
	expect_tls_failure("/h2", "the server did not choose h2 by ALPN");
}

/* A reload that keeps every key reads the CA file again: the pool and
 * health carry over, the new context trusts what the file holds now. */
Test(upstream_tls, reload_reads_the_ca_file_again)
{
	char more[256], ca[128], cmd[512];
	struct hresp r;

	tls_origin("localhost", false);
	snprintf(ca, sizeof(ca), "%s/trust.pem", certs);
	snprintf(cmd, sizeof(cmd), "cp %s/other-ca.pem %s", certs, ca);
	cr_assert_eq(system(cmd), 0);
	snprintf(more, sizeof(more), "tls_ca_file = %s\n", ca);
	gw_start("127.0.0.1", more, "");
	get_once("/echo", &r);
	cr_expect_eq(r.status, 502, "%s", r.head);
	harness_resp_free(&r);

	snprintf(cmd, sizeof(cmd), "cp %s/ca.pem %s", certs, ca);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(kill(gw.pid, SIGHUP), 0);
	cr_assert(log_has("reloaded: configuration"));
	sleep_ms(50);
	get_once("/echo", &r);
	cr_expect_eq(r.status, 200, "%s", r.head);
	harness_resp_free(&r);
	harness_gw_stop(&gw, false);
}

/* A failed handshake is a failed connect for retries and passive health:
 * the request goes to the other server, and the failing one is ejected. */
Test(upstream_tls, failed_handshake_retries_elsewhere_and_ejects_the_server)
{
	char cert[128], key[128];
	char *argv[] = {"python3", TG_SOURCE_DIR "/tests/support/origin.py", "--tls", cert, key,
	                NULL};
	struct hresp r;

	/* a.pem names a.test only: 127.0.0.1 does not verify against it */
	snprintf(cert, sizeof(cert), "%s/a.pem", certs);
	snprintf(key, sizeof(key), "%s/a.key", certs);
	harness_proc_start(&bad, argv);
	tls_origin("localhost", false);
	harness_gw_start(&gw,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
	                 "[upstream o]\nservers = 127.0.0.1:%d 127.0.0.1:%d\ntls = on\n"
	                 "tls_ca_file = %s/ca.pem\nmax_fails = 1\nfail_timeout_ms = 60000\n"
	                 "[route r]\npath_prefix = /\nupstream = o\n" ADMIN,
	                 bad.port, origin.port, certs);
	for (int i = 0; i < 4; i++) {
		get_once("/echo", &r);
		cr_expect_eq(r.status, 200, "request %d: %s", i, r.head);
		harness_resp_free(&r);
	}
	cr_expect_eq(harness_metric(&gw, TLS_FAILURES), 1, "ejected after its first failure");
	cr_expect_eq(harness_metric(&gw, "tracegate_upstream_retries_total{upstream=\"o\"}"), 1);
	harness_gw_stop(&gw, false);
}
