/* test_tls.c: TLS on the client side through the real binary, with clients
 * we did not write (curl, openssl s_client): versions, certificates chosen
 * by SNI, ALPN, session resumption, failed handshakes (counted, logged once
 * per client address), certificate files that `tracegate -t` refuses at
 * their file:line, and the spans of TLS and HTTP/2 requests. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#ifdef __SANITIZE_ADDRESS__
#define SLOW 3
#else
#define SLOW 1
#endif

static struct hproc origin, gw;
static char certs[64];

/* localhost comes first: the default certificate */
#define CERT(name)                                                                                 \
	"[certificate " name "]\ncert_file = %s/" name ".pem\nkey_file = %s/" name ".key\n"

#define GW_CONF                                                                                    \
	"[gateway]\nlisten = 127.0.0.1:0\nlisten_tls = 127.0.0.1:0\nworkers = 1\n"                 \
	"access_log = off\n%s" CERT("localhost") CERT("a") CERT("b")                               \
	        CERT("wild") "[upstream o]\nservers = 127.0.0.1:%d\n"                              \
	                     "[route r]\npath_prefix = /\nupstream = o\n"                          \
	                     "[tracing]\n%s\n"                                                     \
	                     "[admin]\nlisten = 127.0.0.1:0\n"

/* Starts the gateway with <extra> [gateway] lines and [tracing] <tracing>. */
static void gw_start(const char *extra, const char *tracing)
{
	harness_gw_start(&gw, GW_CONF, extra, certs, certs, certs, certs, certs, certs, certs,
	                 certs, origin.port, tracing);
	cr_assert_gt(gw.tls_port, 0);
}

static void setup(void)
{
	harness_certs(certs, sizeof(certs));
	harness_origin_start(&origin, NULL);
}

static void teardown(void)
{
	harness_kill(&gw);
	harness_kill(&origin);
	harness_rmtree(certs);
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 120);

/* A shell command, at most 20 s (longer under the sanitizers). */
#define sh(st, ...) harness_sh(st, 20000 * SLOW, __VA_ARGS__)

/* The value of sample <name> (labels included) in the gateway's /metrics. */
static long metric(const char *name)
{
	long v = harness_metric(&gw, name);

	cr_assert_geq(v, 0, "no %s in /metrics", name);
	return v;
}

/* Waits up to 5 s for sample <name> to reach <want>; returns its value. */
static long metric_wait(const char *name, long want)
{
	long end = harness_now_ms() + 5000 * SLOW, v;

	while ((v = metric(name)) < want && harness_now_ms() < end)
		usleep(20 * 1000);
	return v;
}

/* How many times <needle> occurs in <hay>. */
static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* A verified curl request over TLS to https://<host>:tls_port<path>, the
 * name resolving to 127.0.0.1; <opts> are more curl options. Returns curl's
 * stdout and stderr (-v) together. */
static char *curl_tls(int *st, const char *host, const char *opts, const char *path)
{
	return sh(st,
	          "curl -sS -v --max-time 10 --cacert %s/ca.pem --resolve %s:%d:127.0.0.1 %s "
	          "-w '\\nVERSION %%{http_version} %%{http_code}\\n' https://%s:%d%s 2>&1",
	          certs, host, gw.tls_port, opts, host, gw.tls_port, path);
}

/* ---- Versions and ALPN ---------------------------------------------------- */

Test(tls, curl_over_tls12_and_tls13_gets_the_echo)
{
	const char *opts[] = {"--http1.1 --tlsv1.2 --tls-max 1.2", "--http1.1 --tlsv1.3"};
	const char *want[] = {"SSL connection using TLSv1.2", "SSL connection using TLSv1.3"};
	long hs = 0;

	gw_start("", "enabled = off");
	hs = metric("tracegate_tls_handshakes_total");
	for (int i = 0; i < 2; i++) {
		int st;
		char *out = curl_tls(&st, "localhost", opts[i], "/echo?v=1");

		cr_assert_eq(st, 0, "%s", out);
		cr_expect(strstr(out, want[i]), "%s", out);
		cr_expect(strstr(out, "VERSION 1.1 200"), "%s", out);
		/* what the upstream received, in plain HTTP/1.1 */
		cr_expect(strstr(out, "GET /echo?v=1 HTTP/1.1\r\nHost: localhost:"), "%s", out);
		cr_expect(strstr(out, "X-Forwarded-Proto: https\r\n"), "%s", out);
		free(out);
	}
	cr_expect_eq(metric("tracegate_tls_handshakes_total"), hs + 2);
	harness_gw_stop(&gw, false);
}

Test(tls, alpn_chooses_h2_or_http11)
{
	long h2 = 0;
	int st;
	char *out;

	gw_start("", "enabled = off");
	h2 = metric("tracegate_h2_connections_total");
	out = curl_tls(&st, "localhost", "--http2", "/echo");
	cr_assert_eq(st, 0, "%s", out);
	cr_expect(strstr(out, "ALPN: server accepted h2"), "%s", out);
	cr_expect(strstr(out, "VERSION 2 200"), "%s", out);
	free(out);
	cr_expect_eq(metric("tracegate_h2_connections_total"), h2 + 1);

	out = curl_tls(&st, "localhost", "--http1.1", "/echo");
	cr_assert_eq(st, 0, "%s", out);
	cr_expect(strstr(out, "ALPN: server accepted http/1.1"), "%s", out);
	cr_expect(strstr(out, "VERSION 1.1 200"), "%s", out);
	free(out);
	cr_expect_eq(metric("tracegate_h2_connections_total"), h2 + 1);

	/* with http2 = off, h2 is not offered back: the client falls back */
	harness_gw_stop(&gw, false);
	gw_start("http2 = off\n", "enabled = off");
	out = curl_tls(&st, "localhost", "--http2", "/echo");
	cr_assert_eq(st, 0, "%s", out);
	cr_expect(strstr(out, "VERSION 1.1 200"), "%s", out);
	free(out);
	harness_gw_stop(&gw, false);
}

Test(tls, min_version_13_refuses_a_tls12_client_and_counts_it)
{
	long fail;
	int st;
	char *out, *log;

	gw_start("tls_min_version = 1.3\n", "enabled = off");
	fail = metric("tracegate_tls_handshake_failures_total");
	out = curl_tls(&st, "localhost", "--tlsv1.2 --tls-max 1.2", "/echo");
	cr_expect_eq(st, 35, "curl: %s", out); /* CURLE_SSL_CONNECT_ERROR */
	cr_expect_null(strstr(out, "VERSION 1.1 200"), "%s", out);
	free(out);
	cr_expect_eq(metric_wait("tracegate_tls_handshake_failures_total", fail + 1), fail + 1);

	out = curl_tls(&st, "localhost", "--tlsv1.3", "/echo");
	cr_expect_eq(st, 0, "%s", out);
	cr_expect(strstr(out, "SSL connection using TLSv1.3"), "%s", out);
	free(out);
	log = harness_gw_stop_log(&gw, false);
	cr_expect(strstr(log, "TLS handshake with 127.0.0.1:"), "%s", log);
	cr_expect(strstr(log, "unsupported protocol"), "the reason is logged: %s", log);
	free(log);
}

/* ---- Certificates by SNI -------------------------------------------------- */

/* The subject of the certificate served to SNI <name> (NULL: no SNI). */
static char *served_subject(const char *name)
{
	char sni[128];
	char *out, *p;

	if (name)
		snprintf(sni, sizeof(sni), "-servername %s", name);
	else
		snprintf(sni, sizeof(sni), "-noservername");
	out = sh(NULL, "openssl s_client -connect 127.0.0.1:%d %s </dev/null 2>/dev/null",
	         gw.tls_port, sni);
	p = strstr(out, "subject=");
	cr_assert_not_null(p, "no certificate for %s: %s", name ? name : "(no SNI)", out);
	p = strndup(p + 8, strcspn(p + 8, "\n"));
	free(out);
	return p;
}

Test(tls, sni_picks_the_certificate)
{
	const struct {
		const char *sni, *subject;
	} cases[] = {
	        {"a.test", "CN = a.test"},
	        {"b.test", "CN = b.test"},
	        {"x.wild.test", "CN = *.wild.test"},
	        {"A.TEST", "CN = a.test"},              /* names are case-insensitive */
	        {"deep.x.wild.test", "CN = localhost"}, /* a wildcard covers one label */
	        {"unknown.test", "CN = localhost"},     /* the first is the default */
	        {NULL, "CN = localhost"},
	};
	const char *verified[] = {"a.test", "b.test", "x.wild.test"};

	gw_start("", "enabled = off");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = served_subject(cases[i].sni);

		cr_expect_str_eq(s, cases[i].subject, "SNI %s",
		                 cases[i].sni ? cases[i].sni : "none");
		free(s);
	}
	/* and a client that verifies the name accepts what it got */
	for (size_t i = 0; i < 3; i++) {
		int st;
		char *out = curl_tls(&st, verified[i], "--http1.1", "/echo");

		cr_expect_eq(st, 0, "%s: %s", verified[i], out);
		cr_expect(strstr(out, "VERSION 1.1 200"), "%s: %s", verified[i], out);
		free(out);
	}
	harness_gw_stop(&gw, false);
}

/* ---- Resumption ------------------------------------------------------------ */

/* Two s_client connections with <ver> (-tls1_2 / -tls1_3), the second
 * offering the session the first saved; returns whether it "Reused". */
static bool resumed(const char *ver, const char *opts)
{
	char sess[128], *out;
	bool first_new, reused;

	snprintf(sess, sizeof(sess), "%s/sess-%s.pem", certs, ver + 1);
	unlink(sess);
	/* a request answered, so that TLS 1.3's tickets (after the handshake)
	 * arrive before the close */
	out = sh(NULL,
	         "printf 'GET /echo HTTP/1.1\\r\\nHost: a\\r\\nConnection: close\\r\\n\\r\\n' | "
	         "openssl s_client -connect 127.0.0.1:%d -servername a.test %s %s -ign_eof "
	         "-sess_out %s 2>/dev/null",
	         gw.tls_port, ver, opts, sess);
	first_new = strstr(out, "\nNew, TLSv1.") != NULL;
	cr_expect(strstr(out, "HTTP/1.1 200"), "%s", out);
	free(out);
	cr_expect(first_new, "the first handshake of %s was not a new session", ver);
	/* without a ticket or a session id, there is nothing to offer */
	if (access(sess, R_OK) != 0)
		return false;
	out = sh(NULL,
	         "printf 'GET /echo HTTP/1.1\\r\\nHost: a\\r\\nConnection: close\\r\\n\\r\\n' | "
	         "openssl s_client -connect 127.0.0.1:%d -servername a.test %s %s -ign_eof "
	         "-sess_in %s 2>/dev/null",
	         gw.tls_port, ver, opts, sess);
	reused = strstr(out, "\nReused, TLSv1.") != NULL;
	cr_expect(strstr(out, "HTTP/1.1 200"), "%s", out);
	cr_expect(reused || strstr(out, "\nNew, TLSv1."), "%s", out);
	free(out);
	return reused;
}

Test(tls, sessions_resume_from_tickets_and_from_the_cache)
{
	long res;

	gw_start("", "enabled = off");
	res = metric("tracegate_tls_resumed_total");
	cr_expect(resumed("-tls1_2", ""), "TLS 1.2 ticket");
	cr_expect(resumed("-tls1_3", ""), "TLS 1.3 ticket");
	cr_expect_eq(metric("tracegate_tls_resumed_total"), res + 2);
	harness_gw_stop(&gw, false);

	/* without tickets, TLS 1.2 resumes by session id from the cache... */
	gw_start("tls_session_tickets = off\n", "enabled = off");
	cr_expect(resumed("-tls1_2", "-no_ticket"), "TLS 1.2 session id");
	harness_gw_stop(&gw, false);
	/* ...and with neither, nothing resumes */
	gw_start("tls_session_tickets = off\ntls_session_cache = 0\n", "enabled = off");
	cr_expect_not(resumed("-tls1_2", "-no_ticket"), "TLS 1.2 without tickets or cache");
	cr_expect_eq(metric("tracegate_tls_resumed_total"), 0);
	harness_gw_stop(&gw, false);
}

/* ---- Failed handshakes ----------------------------------------------------- */

/* A connection to <port> from source address <src> (127.x.y.z). */
static int connect_from(const char *src, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET}, da = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(inet_pton(AF_INET, src, &sa.sin_addr), 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	da.sin_port = htons((uint16_t)port);
	da.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&da, sizeof(da)), 0);
	return fd;
}

/* Sends <len> bytes of <b> from <src>; closes at once when <close_now>,
 * else waits (5 s at most) for the gateway to close. */
static void bad_client(const char *src, const void *b, size_t len, bool close_now)
{
	int fd = connect_from(src, gw.tls_port);

	if (len)
		cr_assert_eq(send(fd, b, len, MSG_NOSIGNAL), (ssize_t)len);
	if (!close_now)
		cr_expect(harness_wait_closed(fd, 5000 * SLOW), "the gateway kept a bad client");
	close(fd);
}

Test(tls, failed_handshakes_are_counted_and_logged_once_per_address)
{
	/* the start of a ClientHello: a record header and part of the hello */
	static const char hello[] = "\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03";
	static const char plain[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char junk[] = "\x01\x02\x03\x04garbage\x00\xff\xfe";
	long fail, hs;
	int st, n = 0;
	char *out, *log;

	gw_start("", "enabled = off");
	fail = metric("tracegate_tls_handshake_failures_total");
	hs = metric("tracegate_tls_handshakes_total");
	for (int i = 0; i < 3; i++) {
		bad_client("127.0.0.1", plain, sizeof(plain) - 1, false), n++;
		bad_client("127.0.0.1", junk, sizeof(junk) - 1, false), n++;
		bad_client("127.0.0.1", hello, sizeof(hello) - 1, true),
		        n++;                                 /* gone mid-handshake */
		bad_client("127.0.0.1", NULL, 0, true), n++; /* gone before it */
	}
	/* a client that does not trust the certificate aborts with an alert */
	out = sh(&st, "curl -sS --max-time 5 --cacert %s/other-ca.pem https://localhost:%d/ 2>&1",
	         certs, gw.tls_port);
	cr_expect_eq(st, 60, "curl: %s", out); /* CURLE_PEER_FAILED_VERIFICATION */
	free(out);
	n++;
	cr_expect_eq(metric_wait("tracegate_tls_handshake_failures_total", fail + n), fail + n);

	/* another address is logged on its own */
	bad_client("127.0.0.2", plain, sizeof(plain) - 1, false);
	bad_client("127.0.0.2", junk, sizeof(junk) - 1, false);
	cr_expect_eq(metric_wait("tracegate_tls_handshake_failures_total", fail + n + 2),
	             fail + n + 2);

	/* and the gateway serves on */
	out = curl_tls(&st, "localhost", "--http1.1", "/echo");
	cr_expect_eq(st, 0, "%s", out);
	cr_expect(strstr(out, "VERSION 1.1 200"), "%s", out);
	free(out);
	cr_expect_eq(metric("tracegate_tls_handshakes_total"), hs + 1);

	log = harness_gw_stop_log(&gw, false);
	cr_expect_eq(count(log, "TLS handshake with 127.0.0.1:"), 1, "%s", log);
	cr_expect_eq(count(log, "TLS handshake with 127.0.0.2:"), 1, "%s", log);
	free(log);
}

/* ---- Certificate files that `tracegate -t` refuses ----------------------- */

/* Runs `tracegate -t` on a config whose [certificate] (lines 3-5) has
 * <cert> and <key>; returns its exit status and stderr in *<err>. */
static int check_config(const char *cert, const char *key, char **err, char *path, size_t plen)
{
	char *argv[] = {TG_BIN, "-t", "-c", path, NULL};
	char *out;
	FILE *f;
	int st;

	snprintf(path, plen, "%s/check.ini", certs);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f,
	        "[gateway]\nlisten_tls = 127.0.0.1:0\n[certificate site]\ncert_file = %s\n"
	        "key_file = %s\n[upstream o]\nservers = 127.0.0.1:1\n[route r]\nupstream = o\n"
	        "[admin]\nenabled = off\n",
	        cert, key);
	fclose(f);
	st = harness_run(argv, &out, err);
	free(out);
	return st;
}

Test(tls, bad_certificate_files_fail_the_config_check_at_their_line)
{
	char a_pem[128], a_key[128], b_key[128], junk[128], missing[128], path[128];
	const struct {
		const char *cert, *key;
		int line;
		const char *key_name, *why;
	} cases[] = {
	        {a_pem, b_key, 5, "key_file", "does not match the certificate in"},
	        {missing, a_key, 4, "cert_file", "No such file or directory"},
	        {a_pem, missing, 5, "key_file", "No such file or directory"},
	        {junk, a_key, 4, "cert_file", "cannot load certificate chain"},
	        {a_pem, junk, 5, "key_file", "cannot load private key"},
	        {a_key, a_pem, 4, "cert_file", "cannot load certificate chain"},
	};
	char *err;
	FILE *f;

	snprintf(a_pem, sizeof(a_pem), "%s/a.pem", certs);
	snprintf(a_key, sizeof(a_key), "%s/a.key", certs);
	snprintf(b_key, sizeof(b_key), "%s/b.key", certs);
	snprintf(junk, sizeof(junk), "%s/junk.pem", certs);
	snprintf(missing, sizeof(missing), "%s/missing.pem", certs);
	f = fopen(junk, "w");
	cr_assert_not_null(f);
	fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", f);
	fclose(f);

	cr_expect_eq(check_config(a_pem, a_key, &err, path, sizeof(path)), 0, "%s", err);
	free(err);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[256];
		int st = check_config(cases[i].cert, cases[i].key, &err, path, sizeof(path));

		cr_expect_eq(st, 2, "case %zu: %s", i, err);
		snprintf(want, sizeof(want), "%s:%d: [certificate site] %s: ", path, cases[i].line,
		         cases[i].key_name);
		cr_expect(strstr(err, want), "case %zu: want %s in: %s", i, want, err);
		cr_expect(strstr(err, cases[i].why), "case %zu: want %s in: %s", i, cases[i].why,
		          err);
		free(err);
	}
}

/* ---- Spans ----------------------------------------------------------------- */

/* The SERVER span of url.path <path> in JSON lines <spans> (a copy). */
static char *server_span(const char *spans, const char *path)
{
	char needle[128];

	snprintf(needle, sizeof(needle), "\"url.path\":\"%s\"", path);
	for (const char *p = spans; *p;) {
		size_t len = strcspn(p, "\n");
		char *line = strndup(p, len);

		if (strstr(line, "\"kind\":\"SERVER\"") && strstr(line, needle))
			return line;
		free(line);
		p += len + (p[len] == '\n');
	}
	cr_assert_fail("no SERVER span of %s in: %s", path, spans);
	return NULL;
}

Test(tls, spans_say_https_and_protocol_2)
{
	const struct {
		const char *path, *opts, *scheme, *version;
	} cases[] = {
	        {"/tls11", "--http1.1", "https", "1.1"},
	        {"/tls2", "--http2", "https", "2"},
	};
	char *spans, *s;
	int st;

	gw_start("", "exporters = jsonl");
	for (size_t i = 0; i < 2; i++) {
		char *out = curl_tls(&st, "localhost", cases[i].opts, cases[i].path);

		cr_assert_eq(st, 0, "%s", out);
		free(out);
	}
	free(sh(&st, "curl -sS --max-time 5 --http2-prior-knowledge http://127.0.0.1:%d/h2c",
	        gw.port));
	cr_assert_eq(st, 0);
	spans = harness_gw_stop_out(&gw, false);
	for (size_t i = 0; i < 2; i++) {
		char want[64];

		s = server_span(spans, cases[i].path);
		snprintf(want, sizeof(want), "\"url.scheme\":\"%s\"", cases[i].scheme);
		cr_expect(strstr(s, want), "%s: %s", cases[i].path, s);
		snprintf(want, sizeof(want), "\"network.protocol.version\":\"%s\"",
		         cases[i].version);
		cr_expect(strstr(s, want), "%s: %s", cases[i].path, s);
		free(s);
	}
	s = server_span(spans, "/h2c");
	cr_expect(strstr(s, "\"url.scheme\":\"http\""), "%s", s);
	cr_expect(strstr(s, "\"network.protocol.version\":\"2\""), "%s", s);
	free(s);
	free(spans);
}
