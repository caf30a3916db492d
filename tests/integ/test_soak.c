/* test_soak.c: mixed traffic through the gateway at full load for a bounded
 * time. Client threads send GETs of small and large pattern bodies (with a
 * length, chunked, close-delimited, HEAD) and POSTs, with a length or
 * chunked, whose SHA-256 the origin sends back; on kept-alive and new
 * connections, some asking to close; a share traced, the spans written as
 * JSON lines. Every response is checked byte for byte. Then: zero failed or
 * corrupted responses, the gateway's RSS grown by less than 1% since the
 * warm-up (both read with no request in flight), its descriptors back to
 * their count before the first request, and one JSON line per span the
 * exporter counted.
 *
 * TG_SOAK_SECONDS sets the length (default 60 s, 30 s in a sanitizer build;
 * ctest gives a suite 600 s, a longer soak runs the binary directly); the
 * warm-up is its first quarter (or 15 s), with twice the clients. A
 * sanitizer build reports the RSS without bounding it (ASan's quarantine
 * holds freed memory back), and so does a run under TG_WRAP:
 * tests/CMakeLists.txt runs this suite once more with the gateway under
 * valgrind, with small bodies.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define SOAK_CLIENTS  4
#define SOAK_BODY_MAX (256 * 1024)

#ifdef __SANITIZE_ADDRESS__
#define SOAK_DEFAULT_S 30
#define SOAK_SANITIZED true
#else
#define SOAK_DEFAULT_S 60
#define SOAK_SANITIZED false
#endif

static struct hproc origin, gw;
static char jsonl[64] = "/tmp/tg-soak-XXXXXX";

static void teardown(void)
{
	harness_kill(&gw);
	harness_kill(&origin);
	unlink(jsonl);
}

/* no criterion timeout, which would cap TG_SOAK_SECONDS: the test arms
 * its own (alarm), and each socket wait of the clients is bounded */
TestSuite(soak, .fini = teardown);

/* One client thread and what it saw. */
struct soak_client {
	pthread_t th;
	int port;
	long end_ms;
	bool small; /* bodies of 64 kB at most (under valgrind) */
	uint64_t rnd;
	char *body; /* SOAK_BODY_MAX bytes to POST */
	long requests, failures, traced;
	unsigned long long bytes;
	char first_error[512];
};

static uint32_t soak_rand(struct soak_client *c)
{
	/* xorshift64: each thread its own, reproducible from its seed */
	c->rnd ^= c->rnd << 13;
	c->rnd ^= c->rnd >> 7;
	c->rnd ^= c->rnd << 17;
	return (uint32_t)(c->rnd >> 16);
}

/* A size in [lo, hi]. */
static size_t soak_size(struct soak_client *c, size_t lo, size_t hi)
{
	if (c->small && hi > 65536)
		hi = 65536;
	if (lo > hi)
		lo = hi;
	return lo + soak_rand(c) % (hi - lo + 1);
}

static void soak_fail(struct soak_client *c, const char *fmt, ...)
{
	va_list ap;

	c->failures++;
	if (c->first_error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(c->first_error, sizeof(c->first_error), fmt, ap);
	va_end(ap);
}

/* harness_connect() asserts, which only the test's own thread may do. */
static int soak_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* a gateway that stops reading fails the request, never hangs it */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){30, 0}, sizeof(struct timeval));
	return fd;
}

enum soak_kind { SK_BYTES, SK_BIG, SK_CHUNKED, SK_CLOSE, SK_HEAD, SK_POST, SK_POST_CHUNKED };

static enum soak_kind soak_pick(struct soak_client *c)
{
	uint32_t r = soak_rand(c) % 100;

	return r < 35   ? SK_BYTES
	       : r < 45 ? SK_BIG
	       : r < 55 ? SK_CHUNKED
	       : r < 60 ? SK_CLOSE
	       : r < 65 ? SK_HEAD
	       : r < 85 ? SK_POST
	                : SK_POST_CHUNKED;
}

/* Sends <n> body bytes as chunks of varied sizes, then the last chunk. */
static void soak_send_chunked(struct soak_client *c, int fd, const char *b, size_t n)
{
	char line[32];

	while (n) {
		size_t k = soak_size(c, 1, 40000);

		if (k > n)
			k = n;
		snprintf(line, sizeof(line), "%zx\r\n", k);
		harness_send_str(fd, line);
		harness_send(fd, b, k);
		harness_send_str(fd, "\r\n");
		b += k;
		n -= k;
	}
	harness_send_str(fd, "0\r\n\r\n");
}

/* Checks response <r> to a request of <kind> for <n> bytes; <want> is the
 * SHA-256 of a POSTed body. */
static void soak_check(struct soak_client *c, enum soak_kind kind, size_t n, const char *want,
                       const struct hresp *r)
{
	const char *cl = harness_field(r, "Content-Length");

	if (r->status != 200 || !r->complete) {
		soak_fail(c, "kind %d, %zu bytes: status %d, complete %d: %.300s", kind, n,
		          r->status, r->complete, r->head);
		return;
	}
	switch (kind) {
	case SK_HEAD:
		if (r->body_len || !cl || strtoull(cl, NULL, 10) != n)
			soak_fail(c, "HEAD of %zu bytes: %zu bytes, length %s", n, r->body_len,
			          cl ? cl : "-");
		break;
	case SK_POST:
	case SK_POST_CHUNKED:
		if (r->body_len != 64 || memcmp(r->body, want, 64) != 0)
			soak_fail(c, "POST of %zu bytes: origin hashed %.64s, we %s", n, r->body,
			          want);
		break;
	default:
		if (r->body_len != n || !harness_is_pattern(r->body, n, 0))
			soak_fail(c, "kind %d: %zu bytes of %zu, or corrupted", kind, r->body_len,
			          n);
	}
}

/* One request on *<fd> (connecting when it is -1), checked; the connection
 * is closed when asked or at random, so that new ones keep coming. */
static void soak_one(struct soak_client *c, int *fd)
{
	static const char *const paths[] = {"bytes", "bytes", "chunked", "close", "bytes"};
	enum soak_kind kind = soak_pick(c);
	bool close_req = soak_rand(c) % 25 == 0, head = kind == SK_HEAD;
	char req[512], tp[96] = "", want[65] = "";
	struct hresp r;
	size_t n;

	if (*fd < 0 && (*fd = soak_connect(c->port)) < 0) {
		soak_fail(c, "connect: %s", strerror(errno));
		return;
	}
	if (soak_rand(c) % 3 == 0) {
		/* a caller's context, sampled or not: the gateway honours it */
		snprintf(tp, sizeof(tp), "traceparent: 00-%08x%08x%08x%08x-%08x%08x-0%d\r\n",
		         soak_rand(c), soak_rand(c), soak_rand(c), soak_rand(c) | 1, soak_rand(c),
		         soak_rand(c) | 1, (int)(soak_rand(c) % 2));
		c->traced++;
	}
	switch (kind) {
	case SK_POST:
	case SK_POST_CHUNKED:
		n = soak_size(c, 0, SOAK_BODY_MAX);
		/* a fresh body each time: stale bytes would hash the same */
		for (size_t i = 0; i < n; i += 64)
			c->body[i] = (char)soak_rand(c);
		harness_sha256_hex(c->body, n, want);
		if (kind == SK_POST) {
			snprintf(req, sizeof(req),
			         "POST /sha256 HTTP/1.1\r\nHost: soak\r\n%s%sContent-Length: "
			         "%zu\r\n\r\n",
			         tp, close_req ? "Connection: close\r\n" : "", n);
			harness_send_str(*fd, req);
			harness_send(*fd, c->body, n);
		} else {
			snprintf(req, sizeof(req),
			         "POST /sha256 HTTP/1.1\r\nHost: soak\r\n%s%s"
			         "Transfer-Encoding: chunked\r\n\r\n",
			         tp, close_req ? "Connection: close\r\n" : "");
			harness_send_str(*fd, req);
			soak_send_chunked(c, *fd, c->body, n);
		}
		break;
	default:
		n = kind == SK_BIG       ? soak_size(c, 65536, 2 << 20)
		    : kind == SK_CHUNKED ? soak_size(c, 0, 512 * 1024)
		    : kind == SK_CLOSE   ? soak_size(c, 0, 256 * 1024)
		                         : soak_size(c, 0, 8192);
		snprintf(req, sizeof(req), "%s /%s/%zu HTTP/1.1\r\nHost: soak\r\n%s%s\r\n",
		         head ? "HEAD" : "GET", paths[kind], n, tp,
		         close_req ? "Connection: close\r\n" : "");
		harness_send_str(*fd, req);
	}
	c->requests++;
	if (harness_read_resp(*fd, &r, head, 30000) < 0) {
		soak_fail(c, "no response to %.200s", req);
		harness_resp_free(&r);
		harness_close(*fd);
		*fd = -1;
		return;
	}
	c->bytes += r.body_len;
	soak_check(c, kind, n, want, &r);
	if (close_req && !r.closed && !harness_wait_closed(*fd, 5000))
		soak_fail(c, "Connection: close, and the connection stayed open");
	if (close_req || r.closed || soak_rand(c) % 10 == 0) {
		harness_close(*fd);
		*fd = -1;
	}
	harness_resp_free(&r);
}

static void *soak_client_main(void *arg)
{
	struct soak_client *c = arg;
	int fd = -1;

	while (harness_now_ms() < c->end_ms)
		soak_one(c, &fd);
	if (fd >= 0)
		harness_close(fd);
	return NULL;
}

/* Runs <n> client threads for <ms> ms; adds their figures to <sum>. */
static void soak_run(struct soak_client *cl, int n, long ms, struct soak_client *sum)
{
	long end = harness_now_ms() + ms;

	for (int i = 0; i < n; i++) {
		cl[i].end_ms = end;
		cr_assert_eq(pthread_create(&cl[i].th, NULL, soak_client_main, &cl[i]), 0);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(cl[i].th, NULL);
		sum->requests += cl[i].requests;
		sum->failures += cl[i].failures;
		sum->traced += cl[i].traced;
		sum->bytes += cl[i].bytes;
		if (cl[i].failures)
			fprintf(stderr, "soak: client %d: %ld failures, first: %s\n", i,
			        cl[i].failures, cl[i].first_error);
		cl[i].requests = cl[i].failures = cl[i].traced = 0;
		cl[i].bytes = 0;
		cl[i].first_error[0] = '\0';
	}
}

static int soak_seconds(void)
{
	const char *s = getenv("TG_SOAK_SECONDS");
	int n = s ? atoi(s) : SOAK_DEFAULT_S;

	return n >= 4 ? n : 4;
}

/* The warm-up: a quarter of the run, or 15 s if that leaves half of it. */
static long soak_warm_ms(long seconds)
{
	long ms = seconds * 250;

	if (ms < 15000)
		ms = seconds * 500 < 15000 ? seconds * 500 : 15000;
	return ms;
}

Test(soak, mixed_traffic_at_full_load)
{
	struct soak_client cl[2 * SOAK_CLIENTS] = {0}, warm = {0}, run = {0};
	long seconds = soak_seconds(), warm_ms = soak_warm_ms(seconds), t0, rss_warm, rss_end;
	bool bound_rss = !SOAK_SANITIZED && !harness_gw_wrapped();
	unsigned long long exported = 0;
	int fds0, fds, fd = mkstemp(jsonl), lines = 0;
	char *log, *out, *p;

	cr_assert_geq(fd, 0);
	close(fd);
	alarm((unsigned)seconds + 300); /* the watchdog: past it, SIGALRM ends the test */
	harness_origin_start(&origin, NULL);
	/* glibc gives each thread an arena of its own, and each keeps the
	 * high-water mark of the transient buffers its thread used: RSS then
	 * creeps by 1-5% in a minute of this traffic while the bytes in use
	 * stay flat (malloc_stats: +3 kB over 100,000 requests). One arena
	 * makes RSS follow the bytes in use, so that 1% can tell a leak. */
	setenv("MALLOC_ARENA_MAX", "1", 1);
	/* the pooled upstream connections close soon after the traffic stops,
	 * so that the descriptors can be compared exactly; the exporter's
	 * buffer grows to its largest batch and stays: batches are kept small
	 * enough that the warm-up sees the largest */
	harness_gw_start(&gw,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = off\n"
	                 "[upstream o]\nservers = 127.0.0.1:%d\nidle_timeout_ms = 300\n"
	                 "[route r]\npath_prefix = /\nupstream = o\n"
	                 "[tracing]\nsample_ratio = 0.25\nexporters = jsonl\n"
	                 "[exporter.jsonl]\npath = %s\nbatch_size = 128\ndelay_ms = 50\n",
	                 origin.port, jsonl);
	unsetenv("MALLOC_ARENA_MAX");
	fds0 = harness_fd_count(gw.pid);
	for (int i = 0; i < 2 * SOAK_CLIENTS; i++) {
		cl[i].port = gw.port;
		cl[i].small = harness_gw_wrapped();
		cl[i].rnd = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) + (uint64_t)time(NULL);
		cl[i].body = malloc(SOAK_BODY_MAX);
		cr_assert_not_null(cl[i].body);
		memset(cl[i].body, 'x', SOAK_BODY_MAX);
	}

	t0 = harness_now_ms();
	/* twice the clients in the warm-up: the heap's high-water mark for
	 * buffers in flight grows with the peaks of concurrency; set by a
	 * higher one first, it does not move in the measured run */
	soak_run(cl, 2 * SOAK_CLIENTS, warm_ms, &warm);
	fds = harness_wait_fds(gw.pid, fds0, 5000);
	cr_assert_eq(fds, fds0, "after the warm-up: %d descriptors, %d before", fds, fds0);
	rss_warm = harness_rss_kb(gw.pid);
	soak_run(cl, SOAK_CLIENTS, seconds * 1000 - warm_ms, &run);
	fds = harness_wait_fds(gw.pid, fds0, 5000);
	rss_end = harness_rss_kb(gw.pid);

	fprintf(stderr,
	        "soak: %ld s, %d clients (%d in the warm-up): %ld requests (%ld traced), "
	        "%.1f MB of bodies, %.0f requests/s, %ld failed; RSS %ld kB after the warm-up, "
	        "%ld kB at the end (%+.2f%%); descriptors %d before, %d after\n",
	        seconds, SOAK_CLIENTS, 2 * SOAK_CLIENTS, warm.requests + run.requests,
	        warm.traced + run.traced, (double)(warm.bytes + run.bytes) / 1e6,
	        (double)(warm.requests + run.requests) * 1000.0 / (double)(harness_now_ms() - t0),
	        warm.failures + run.failures, rss_warm, rss_end,
	        100.0 * (double)(rss_end - rss_warm) / (double)rss_warm, fds0, fds);
	cr_expect_eq(warm.failures + run.failures, 0, "%ld failed or corrupted responses",
	             warm.failures + run.failures);
	cr_expect_gt(run.requests, 0);
	cr_expect_eq(fds, fds0, "descriptors: %d at the end, %d before", fds, fds0);
	if (bound_rss)
		cr_expect_lt((rss_end - rss_warm) * 100, rss_warm,
		             "RSS grew from %ld kB to %ld kB after the warm-up", rss_warm, rss_end);

	log = harness_gw_stop_log(&gw, false);
	if (warm.failures + run.failures)
		fprintf(stderr, "soak: the gateway's log:\n%s", log);
	p = strstr(log, "spans jsonl: ");
	cr_expect(p && sscanf(p, "spans jsonl: %llu exported", &exported) == 1, "%s", log);
	out = harness_slurp(jsonl);
	for (p = out; (p = strchr(p, '\n')); p++)
		lines++;
	cr_expect_gt(exported, 0);
	cr_expect_eq((unsigned long long)lines, exported, "%d JSON lines, %llu spans exported",
	             lines, exported);
	fprintf(stderr, "soak: %llu spans exported, %d JSON lines\n", exported, lines);
	free(out);
	free(log);
	for (int i = 0; i < 2 * SOAK_CLIENTS; i++)
		free(cl[i].body);
	harness_kill(&origin);
}
