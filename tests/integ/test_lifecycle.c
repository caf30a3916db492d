/* test_lifecycle.c: the process as an operator sees it: command line and
 * config check (golden stderr), graceful SIGTERM drain, 100 MB streamed both
 * ways with bounded memory, and clients that vanish mid-exchange leaving no
 * descriptor behind. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* ASan's quarantine keeps up to 256 MB of what was freed: RSS tells
 * nothing about a bound there */
#ifdef __SANITIZE_ADDRESS__
#define RSS_BOUNDED false
#else
#define RSS_BOUNDED true
#endif

#define GW_CONF                                                                                    \
	"[gateway]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = off\n"                         \
	"[upstream o]\nservers = 127.0.0.1:%d\nresponse_timeout_ms = 5000\n"                       \
	"[route r]\npath_prefix = /\nupstream = o\n"

Test(lifecycle, config_check_golden_stderr, .timeout = 60)
{
	DIR *d;
	struct dirent *e;
	int checked = 0;

	cr_assert_eq(chdir(TG_SOURCE_DIR), 0);
	d = opendir("tests/integ/cfg");
	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		char ini[512], golden[512], *out, *err, *want;
		char *argv[] = {TG_BIN, "-t", "-c", ini, NULL};
		size_t n = strlen(e->d_name);
		int rc;

		if (n < 5 || strcmp(e->d_name + n - 4, ".ini") != 0)
			continue;
		snprintf(ini, sizeof(ini), "tests/integ/cfg/%s", e->d_name);
		snprintf(golden, sizeof(golden), "tests/integ/cfg/%.*s.stderr", (int)(n - 4),
		         e->d_name);
		want = harness_slurp(golden);
		rc = harness_run(argv, &out, &err);
		cr_expect_str_eq(err, want, "%s: stderr differs", ini);
		if (strcmp(e->d_name, "good.ini") == 0) {
			char ok[600];

			snprintf(ok, sizeof(ok), "%s: OK\n", ini);
			cr_expect_eq(rc, 0, "%s", ini);
			cr_expect_str_eq(out, ok);
		} else {
			cr_expect_eq(rc, 2, "%s: exit %d", ini, rc);
			cr_expect_str_eq(out, "");
		}
		free(out);
		free(err);
		free(want);
		checked++;
	}
	closedir(d);
	cr_expect_geq(checked, 2);
}

Test(lifecycle, command_line)
{
	char *v[] = {TG_BIN, "--version", NULL};
	char *h[] = {TG_BIN, "--help", NULL};
	char *none[] = {TG_BIN, NULL};
	char *missing[] = {TG_BIN, "-c", "/nonexistent/tracegate.ini", NULL};
	char *out, *err;

	cr_expect_eq(harness_run(v, &out, &err), 0);
	cr_expect_eq(strncmp(out, "tracegate ", 10), 0, "%s", out);
	free(out);
	free(err);
	cr_expect_eq(harness_run(h, &out, &err), 0);
	cr_expect_not_null(strstr(out, "-t"));
	free(out);
	free(err);
	cr_expect_eq(harness_run(none, &out, &err), 2);
	cr_expect_not_null(strstr(err, "Usage"));
	free(out);
	free(err);
	cr_expect_eq(harness_run(missing, &out, &err), 2);
	cr_expect_not_null(strstr(err, "/nonexistent/tracegate.ini"));
	free(out);
	free(err);
}

Test(lifecycle, sigterm_drains_in_flight_requests, .timeout = 60)
{
	struct hproc o, g;
	struct hresp r;
	int fd, st;

	harness_origin_start(&o, NULL);
	harness_gw_start(&g, GW_CONF, o.port);
	fd = harness_connect(g.port);
	harness_send_str(fd, "GET /slow/500 HTTP/1.1\r\nHost: a\r\n\r\n");
	/* the request is in flight once the origin counted it */
	for (long c, n = 0; n < 2;)
		harness_origin_stats(o.port, &c, &n);
	kill(g.pid, SIGTERM);
	cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body, "slow");
	cr_expect_str_eq(harness_field(&r, "Connection"), "close");
	harness_resp_free(&r);
	harness_close(fd);
	cr_expect_eq(waitpid(g.pid, &st, 0), g.pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	harness_kill(&o);
}

Test(lifecycle, hundred_megabytes_both_ways_in_bounded_memory, .timeout = 180)
{
	const size_t total = 100u << 20;
	struct hproc o, g;
	struct hresp r;
	char *block = malloc(1 << 20), want[65], head[256];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32];
	unsigned int mdlen;
	long rss0, rss1;
	int fd;

	harness_origin_start(&o, NULL);
	harness_gw_start(&g, GW_CONF, o.port);
	rss0 = harness_rss_kb(g.pid);

	/* upload: 100 MB of varied bytes, the origin hashes what it received */
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	fd = harness_connect(g.port);
	snprintf(head, sizeof(head),
	         "POST /sha256 HTTP/1.1\r\nHost: a\r\nContent-Length: %zu\r\n\r\n", total);
	harness_send_str(fd, head);
	for (size_t i = 0; i < total >> 20; i++) {
		for (size_t j = 0; j < (1u << 20); j++)
			block[j] = (char)((i * 7 + j * 13) & 0xff);
		EVP_DigestUpdate(ctx, block, 1 << 20);
		harness_send(fd, block, 1 << 20);
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	for (int i = 0; i < 32; i++)
		sprintf(want + i * 2, "%02x", md[i]);
	cr_assert_eq(harness_read_resp(fd, &r, false, 60000), 0);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body, want);
	harness_resp_free(&r);

	/* download: 100 MB of the origin's pattern, hashed on both ends */
	harness_send_str(fd, "GET /bytes/104857600 HTTP/1.1\r\nHost: a\r\n\r\n");
	cr_assert_eq(harness_read_resp(fd, &r, false, 60000), 0);
	cr_expect_eq(r.status, 200);
	cr_expect_eq(r.body_len, total);
	cr_expect(harness_is_pattern(r.body, r.body_len, 0));
	harness_sha256_hex(r.body, r.body_len, want);
	harness_resp_free(&r);
	harness_close(fd);

	rss1 = harness_rss_kb(g.pid);
	if (RSS_BOUNDED)
		cr_expect_lt(rss1 - rss0, 32 * 1024, "RSS grew by %ld kB moving 200 MB",
		             rss1 - rss0);
	harness_gw_stop(&g, false);
	harness_kill(&o);
	EVP_MD_CTX_free(ctx);
	free(block);
}

Test(lifecycle, vanishing_clients_leave_nothing_behind, .timeout = 60)
{
	struct hproc o, g;
	struct hresp r;
	int fds0, fds1 = -1;

	harness_origin_start(&o, NULL);
	/* no keep-alive pool: every upstream descriptor must come back too */
	harness_gw_start(&g,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
	                 "[upstream o]\nservers = 127.0.0.1:%d\nkeepalive = 0\n"
	                 "[route r]\npath_prefix = /\nupstream = o\n",
	                 o.port);
	harness_request(g.port, "GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	harness_resp_free(&r);
	fds0 = harness_fd_count(g.pid);
	for (int i = 0; i < 20; i++) {
		int fd = harness_connect(g.port);

		switch (i % 4) {
		case 0: /* mid-head */
			harness_send_str(fd, "GET / HTTP/1.1\r\nHo");
			break;
		case 1: /* mid-request-body */
			harness_send_str(fd, "POST /sha256 HTTP/1.1\r\nHost: a\r\n"
			                     "Content-Length: 100000\r\n\r\nabc");
			break;
		case 2: /* mid-response: a big body it never reads */
			harness_send_str(fd, "GET /bytes/50000000 HTTP/1.1\r\nHost: a\r\n\r\n");
			break;
		case 3: /* waiting for a slow response */
			harness_send_str(fd, "GET /slow/200 HTTP/1.1\r\nHost: a\r\n\r\n");
			break;
		}
		harness_close(fd);
	}
	/* the gateway still answers, and every descriptor comes back once the
	 * aborts are noticed (a slow upstream answer included): 5 s at most */
	for (int tries = 0; tries < 500; tries++) {
		harness_request(g.port, "GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
		cr_assert_eq(r.status, 200);
		harness_resp_free(&r);
		fds1 = harness_fd_count(g.pid);
		if (fds1 <= fds0)
			break;
		poll(NULL, 0, 10);
	}
	cr_expect_leq(fds1, fds0, "fds: %d before, %d after", fds0, fds1);
	harness_gw_stop(&g, false);
	harness_kill(&o);
}

Test(lifecycle, access_log_line_per_request, .timeout = 60)
{
	struct hproc o, g;
	struct hresp r;
	char path[] = "/tmp/tg-alog-XXXXXX";
	char *log, *line2;
	int fd = mkstemp(path);

	close(fd);
	harness_origin_start(&o, NULL);
	harness_gw_start(&g,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = %s\n"
	                 "[upstream o]\nservers = 127.0.0.1:%d\n"
	                 "[route web]\npath_prefix = /\nupstream = o\n",
	                 path, o.port);
	harness_request(g.port, "GET /bytes/7?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	harness_resp_free(&r);
	harness_request(g.port, "GET /x?q=\"1\" HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	harness_resp_free(&r);
	harness_request(g.port, "GET / HTTP/1.1\r\n\r\n", &r);
	harness_resp_free(&r);
	harness_gw_stop(&g, false); /* the batch is written at the latest on exit */
	log = harness_slurp(path);
	cr_expect_not_null(strstr(log, " method=GET target=\"/bytes/7?x=1\" proto=HTTP/1.1 "
	                               "status=200 bytes_in=0 "),
	                   "%s", log);
	/* quotes in a logged value are escaped: a client cannot forge fields */
	cr_expect_not_null(strstr(log, " target=\"/x?q=\\\"1\\\"\" proto=HTTP/1.1 status=400 "),
	                   "%s", log);
	cr_expect_not_null(strstr(log, " route=web upstream=o server=127.0.0.1:"), "%s", log);
	line2 = strstr(log, "target=\"/\"");
	cr_assert_not_null(line2);
	cr_expect_not_null(strstr(line2, " status=400 "), "%s", line2);
	cr_expect_not_null(strstr(line2, " error=\"missing, duplicate or invalid Host\""), "%s",
	                   line2);
	free(log);
	unlink(path);
	harness_kill(&o);
}

Test(lifecycle, max_connections_pauses_accepting, .timeout = 60)
{
	struct hproc o, g;
	struct hresp r;
	int a, b, c;

	harness_origin_start(&o, NULL);
	harness_gw_start(&g,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
	                 "max_connections = 2\n"
	                 "[upstream o]\nservers = 127.0.0.1:%d\n"
	                 "[route r]\npath_prefix = /\nupstream = o\n",
	                 o.port);
	a = harness_connect(g.port);
	b = harness_connect(g.port);
	/* both are accepted and served */
	harness_send_str(b, "GET /bytes/1 HTTP/1.1\r\nHost: a\r\n\r\n");
	cr_assert_eq(harness_read_resp(b, &r, false, 5000), 0);
	harness_resp_free(&r);
	/* a third waits in the kernel's backlog: no answer while two are open */
	c = harness_connect(g.port);
	harness_send_str(c, "GET /bytes/3 HTTP/1.1\r\nHost: a\r\n\r\n");
	cr_expect_neq(harness_read_resp(c, &r, false, 300), 0, "served past max_connections");
	harness_resp_free(&r);
	/* one closes: accepting resumes and the waiting request is answered */
	harness_close(a);
	cr_assert_eq(harness_read_resp(c, &r, false, 5000), 0);
	cr_expect_eq(r.status, 200);
	cr_expect_eq(r.body_len, 3);
	harness_resp_free(&r);
	harness_close(b);
	harness_close(c);
	harness_gw_stop(&g, false);
	harness_kill(&o);
}
