/* test_metrics_exposition.c: the text the module writes: the exact exposition
 * of a small registry, the seconds text of histogram sums, label and help
 * escaping, name checks, float values, sources, and Prometheus's own checker
 * (promtool check metrics) on everything the module writes. What the registry
 * counts is test_metrics_registry.c's. */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "metrics.h"
#include "metrics_testlib.h"

/* ---- the exact text ---- */

static const char exact_want[] =
        "# HELP tracegate_requests_total Requests answered, by route and status class.\n"
        "# TYPE tracegate_requests_total counter\n"
        "tracegate_requests_total{route=\"api\",code_class=\"1xx\"} 0\n"
        "tracegate_requests_total{route=\"api\",code_class=\"2xx\"} 2\n"
        "tracegate_requests_total{route=\"api\",code_class=\"3xx\"} 0\n"
        "tracegate_requests_total{route=\"api\",code_class=\"4xx\"} 0\n"
        "tracegate_requests_total{route=\"api\",code_class=\"5xx\"} 1\n"
        "tracegate_requests_total{route=\"(none)\",code_class=\"1xx\"} 0\n"
        "tracegate_requests_total{route=\"(none)\",code_class=\"2xx\"} 0\n"
        "tracegate_requests_total{route=\"(none)\",code_class=\"3xx\"} 0\n"
        "tracegate_requests_total{route=\"(none)\",code_class=\"4xx\"} 1\n"
        "tracegate_requests_total{route=\"(none)\",code_class=\"5xx\"} 0\n"
        "# HELP tracegate_request_duration_seconds Time taken to answer requests, by route.\n"
        "# TYPE tracegate_request_duration_seconds histogram\n"
        "tracegate_request_duration_seconds_bucket{route=\"api\",le=\"0.001\"} 1\n"
        "tracegate_request_duration_seconds_bucket{route=\"api\",le=\"0.0025\"} 1\n"
        "tracegate_request_duration_seconds_bucket{route=\"api\",le=\"0.005\"} 2\n"
        "tracegate_request_duration_seconds_bucket{route=\"api\",le=\"0.01\"} 2\n"
        "tracegate_request_duration_seconds_bucket{route=\"api\",le=\"0.025\"} 2\n"
        "tracegate_request_duration_seconds_bucket{route=\"api\",le=\"0.05\"} 2\n"
        "tracegate_request_duration_seconds_bucket{route=\"api\",le=\"0.1\"} 2\n"
        "tracegate_request_duration_seconds_bucket{route=\"api\",le=\"0.25\"} 2\n"
        "tracegate_request_duration_seconds_bucket{route=\"api\",le=\"0.5\"} 2\n"
        "tracegate_request_duration_seconds_bucket{route=\"api\",le=\"1\"} 2\n"
        "tracegate_request_duration_seconds_bucket{route=\"api\",le=\"2.5\"} 2\n"
        "tracegate_request_duration_seconds_bucket{route=\"api\",le=\"5\"} 3\n"
        "tracegate_request_duration_seconds_bucket{route=\"api\",le=\"10\"} 3\n"
        "tracegate_request_duration_seconds_bucket{route=\"api\",le=\"+Inf\"} 3\n"
        "tracegate_request_duration_seconds_sum{route=\"api\"} 3.003500001\n"
        "tracegate_request_duration_seconds_count{route=\"api\"} 3\n"
        "tracegate_request_duration_seconds_bucket{route=\"(none)\",le=\"0.001\"} 1\n"
        "tracegate_request_duration_seconds_bucket{route=\"(none)\",le=\"0.0025\"} 1\n"
        "tracegate_request_duration_seconds_bucket{route=\"(none)\",le=\"0.005\"} 1\n"
        "tracegate_request_duration_seconds_bucket{route=\"(none)\",le=\"0.01\"} 1\n"
        "tracegate_request_duration_seconds_bucket{route=\"(none)\",le=\"0.025\"} 1\n"
        "tracegate_request_duration_seconds_bucket{route=\"(none)\",le=\"0.05\"} 1\n"
        "tracegate_request_duration_seconds_bucket{route=\"(none)\",le=\"0.1\"} 1\n"
        "tracegate_request_duration_seconds_bucket{route=\"(none)\",le=\"0.25\"} 1\n"
        "tracegate_request_duration_seconds_bucket{route=\"(none)\",le=\"0.5\"} 1\n"
        "tracegate_request_duration_seconds_bucket{route=\"(none)\",le=\"1\"} 1\n"
        "tracegate_request_duration_seconds_bucket{route=\"(none)\",le=\"2.5\"} 1\n"
        "tracegate_request_duration_seconds_bucket{route=\"(none)\",le=\"5\"} 1\n"
        "tracegate_request_duration_seconds_bucket{route=\"(none)\",le=\"10\"} 1\n"
        "tracegate_request_duration_seconds_bucket{route=\"(none)\",le=\"+Inf\"} 1\n"
        "tracegate_request_duration_seconds_sum{route=\"(none)\"} 0.00002\n"
        "tracegate_request_duration_seconds_count{route=\"(none)\"} 1\n"
        "# HELP tracegate_client_connections Open client connections.\n"
        "# TYPE tracegate_client_connections gauge\n"
        "tracegate_client_connections 2\n"
        "# HELP tracegate_tls_handshakes_total TLS handshakes completed with clients.\n"
        "# TYPE tracegate_tls_handshakes_total counter\n"
        "tracegate_tls_handshakes_total 2\n"
        "# HELP tracegate_tls_resumed_total TLS handshakes that resumed an earlier session.\n"
        "# TYPE tracegate_tls_resumed_total counter\n"
        "tracegate_tls_resumed_total 0\n"
        "# HELP tracegate_tls_handshake_failures_total TLS handshakes with clients that failed or "
        "were abandoned.\n"
        "# TYPE tracegate_tls_handshake_failures_total counter\n"
        "tracegate_tls_handshake_failures_total 1\n"
        "# HELP tracegate_h2_connections_total Client connections that spoke HTTP/2.\n"
        "# TYPE tracegate_h2_connections_total counter\n"
        "tracegate_h2_connections_total 0\n"
        "# HELP tracegate_h2_streams_total HTTP/2 streams that carried a request.\n"
        "# TYPE tracegate_h2_streams_total counter\n"
        "tracegate_h2_streams_total 0\n"
        "# HELP tracegate_h2_abuse_total HTTP/2 connections closed with GOAWAY, or streams reset, "
        "to protect the gateway, by kind.\n"
        "# TYPE tracegate_h2_abuse_total counter\n"
        "tracegate_h2_abuse_total{kind=\"rapid_reset\"} 0\n"
        "tracegate_h2_abuse_total{kind=\"control_flood\"} 0\n"
        "tracegate_h2_abuse_total{kind=\"protocol\"} 0\n"
        "tracegate_h2_abuse_total{kind=\"stalled_stream\"} 3\n"
        "# HELP tracegate_upstream_connect_failures_total Connects to an upstream's servers that "
        "failed or timed out.\n"
        "# TYPE tracegate_upstream_connect_failures_total counter\n"
        "tracegate_upstream_connect_failures_total{upstream=\"orders\"} 1\n"
        "# HELP tracegate_upstream_timeouts_total Upstream responses that did not come within "
        "response_timeout_ms.\n"
        "# TYPE tracegate_upstream_timeouts_total counter\n"
        "tracegate_upstream_timeouts_total{upstream=\"orders\"} 2\n"
        "# HELP tracegate_upstream_retries_total Requests sent again to another server of the "
        "upstream.\n"
        "# TYPE tracegate_upstream_retries_total counter\n"
        "tracegate_upstream_retries_total{upstream=\"orders\"} 1\n"
        "# HELP tracegate_upstream_pool_hits_total Requests that reused an idle keep-alive "
        "connection.\n"
        "# TYPE tracegate_upstream_pool_hits_total counter\n"
        "tracegate_upstream_pool_hits_total{upstream=\"orders\"} 3\n"
        "# HELP tracegate_upstream_pool_misses_total Requests that found no idle connection and "
        "connected.\n"
        "# TYPE tracegate_upstream_pool_misses_total counter\n"
        "tracegate_upstream_pool_misses_total{upstream=\"orders\"} 1\n"
        "# HELP tracegate_upstream_tls_failures_total TLS handshakes with an upstream's servers "
        "that failed or timed out.\n"
        "# TYPE tracegate_upstream_tls_failures_total counter\n"
        "tracegate_upstream_tls_failures_total{upstream=\"orders\"} 1\n"
        "# HELP tracegate_upstream_tls_resumed_total TLS connections to an upstream's servers "
        "that resumed a session.\n"
        "# TYPE tracegate_upstream_tls_resumed_total counter\n"
        "tracegate_upstream_tls_resumed_total{upstream=\"orders\"} 2\n"
        "# HELP tracegate_upstream_connections Open connections to the upstream's servers.\n"
        "# TYPE tracegate_upstream_connections gauge\n"
        "tracegate_upstream_connections{upstream=\"orders\"} 2\n"
        "# HELP tracegate_config_reloads_total Configuration reloads that took effect.\n"
        "# TYPE tracegate_config_reloads_total counter\n"
        "tracegate_config_reloads_total 1\n"
        "# HELP tracegate_config_reload_failures_total Configuration reloads refused: the "
        "file had errors, or changed what takes a restart.\n"
        "# TYPE tracegate_config_reload_failures_total counter\n"
        "tracegate_config_reload_failures_total 1\n";

/* Two workers, route "api", upstream "orders": every family non-zero. */
static struct metrics *small_registry(void)
{
	static const char *const routes[] = {"api"}, *const ups[] = {"orders"};
	struct metrics *m = metrics_new(2, 1, routes, 1, ups);
	struct metrics_w *w0, *w1;

	cr_assert_not_null(m);
	w0 = metrics_worker(m, 0);
	w1 = metrics_worker(m, 1);
	metrics_req(w0, 0, 200, 1000000);    /* on the 1ms bound: le="0.001" */
	metrics_req(w0, 0, 503, 3000000000); /* 3s: le="5" */
	metrics_req(w1, 0, 204, 2500001);    /* just over 2.5ms: le="0.005" */
	metrics_req(w1, METRICS_NO_ROUTE, 404, 20000);
	metrics_client_conns_add(w0, 1);
	metrics_client_conns_add(w0, 1);
	metrics_client_conns_add(w1, 1);
	metrics_client_conns_add(w1, -1);
	metrics_ups_inc(w0, 0, METRICS_UPS_CONNECT_FAILURES);
	metrics_ups_inc(w1, 0, METRICS_UPS_TIMEOUTS);
	metrics_ups_inc(w1, 0, METRICS_UPS_TIMEOUTS);
	metrics_ups_inc(w0, 0, METRICS_UPS_RETRIES);
	metrics_ups_inc(w0, 0, METRICS_UPS_POOL_HITS);
	metrics_ups_inc(w0, 0, METRICS_UPS_POOL_HITS);
	metrics_ups_inc(w1, 0, METRICS_UPS_POOL_HITS);
	metrics_ups_inc(w1, 0, METRICS_UPS_POOL_MISSES);
	metrics_ups_inc(w0, 0, METRICS_UPS_TLS_FAILURES);
	metrics_ups_inc(w0, 0, METRICS_UPS_TLS_RESUMED);
	metrics_ups_inc(w1, 0, METRICS_UPS_TLS_RESUMED);
	metrics_ups_conns_add(w0, 0, 1);
	metrics_ups_conns_add(w1, 0, 1);
	metrics_ups_conns_add(w1, 0, 1);
	metrics_ups_conns_add(w1, 0, -1);
	metrics_config_reload(m, true);
	metrics_config_reload(m, false);
	/* summed over the workers like the others */
	metrics_conn_inc(w0, METRICS_TLS_HANDSHAKES);
	metrics_conn_inc(w1, METRICS_TLS_HANDSHAKES);
	metrics_conn_inc(w1, METRICS_TLS_FAILURES);
	metrics_conn_inc(w0, METRICS_H2_STALLED);
	metrics_conn_inc(w1, METRICS_H2_STALLED);
	metrics_conn_inc(w1, METRICS_H2_STALLED);
	return m;
}

Test(metrics, exact_text)
{
	struct metrics *m = small_registry();
	char *got = render(m);

	cr_expect_str_eq(got, exact_want);
	free(got);
	/* A scrape reads, it does not reset: the second one is the same. */
	got = render(m);
	cr_expect_str_eq(got, exact_want);
	free(got);
	metrics_free(m);
}

/* ---- histogram sums ---- */

/* The seconds text of the sums: exact decimal, no float rounding. */
Test(metrics, sum_seconds_text)
{
	static const struct {
		uint64_t ns;
		const char *want;
	} rows[] = {
	        {0, "0"},
	        {1, "0.000000001"},
	        {1000000, "0.001"},
	        {2500000, "0.0025"},
	        {1000000000, "1"},
	        {12345678901, "12.345678901"},
	        {UINT64_MAX, "18446744073.709551615"},
	};
	static const uint64_t none[1] = {0};

	for (size_t i = 0; i < N_ELEM(rows); i++) {
		struct evbuffer *b = evbuffer_new();
		uint64_t counts[1] = {1};
		char want[128], *got;

		cr_assert_eq(
		        metrics_write_histogram(b, "h_seconds", NULL, none, 0, counts, rows[i].ns),
		        0);
		got = take(b);
		snprintf(want, sizeof(want),
		         "h_seconds_bucket{le=\"+Inf\"} 1\nh_seconds_sum %s\nh_seconds_count 1\n",
		         rows[i].want);
		cr_expect_str_eq(got, want, "%" PRIu64, rows[i].ns);
		free(got);
		evbuffer_free(b);
	}
}

/* ---- writers ---- */

Test(metrics, label_and_help_escaping)
{
	struct evbuffer *b = evbuffer_new();
	const char *labels[] = {"k", "a\\b\"c\nd", "e", "", NULL};
	char *got;

	cr_assert_not_null(b);
	cr_assert_eq(metrics_write_family(b, "x_total", METRICS_COUNTER,
	                                  "line one\nback\\slash \"quoted\""),
	             0);
	cr_assert_eq(metrics_write_u64(b, "x_total", labels, 18446744073709551615u), 0);
	got = take(b);
	cr_expect_str_eq(got, "# HELP x_total line one\\nback\\\\slash \"quoted\"\n"
	                      "# TYPE x_total counter\n"
	                      "x_total{k=\"a\\\\b\\\"c\\nd\",e=\"\"} 18446744073709551615\n");
	free(got);
	evbuffer_free(b);
}

Test(metrics, route_names_escaped)
{
	static const char *const routes[] = {"we\"ird\\\nname"};
	struct metrics *m = metrics_new(1, 1, routes, 0, NULL);
	char *t;

	cr_assert_not_null(m);
	metrics_req(metrics_worker(m, 0), 0, 302, 1);
	t = render(m);
	cr_expect_eq(value_u64(t, "tracegate_requests_total{route=\"we\\\"ird\\\\\\nname\",code_"
	                          "class=\"3xx\"}"),
	             1);
	free(t);
	metrics_free(m);
}

Test(metrics, names_checked)
{
	static const char *const good[] = {"a", "_a", ":a", "a:b_c9", "A_Z"};
	static const char *const bad[] = {"", "9a", "a-b", "a b", "a.b", "\xc3\xa9"};
	static const char *const bad_labels[][3] = {
	        {":a", "v", NULL},  {"__x", "v", NULL}, {"9", "v", NULL},
	        {"a-b", "v", NULL}, {"", "v", NULL},    {"a", NULL, NULL},
	};
	struct evbuffer *b = evbuffer_new();
	const char *le[] = {"le", "x", NULL};
	uint64_t counts[1] = {0};

	cr_assert_not_null(b);
	for (size_t i = 0; i < N_ELEM(good); i++) {
		cr_expect_eq(metrics_write_u64(b, good[i], NULL, 1), 0, "%s", good[i]);
		evbuffer_drain(b, evbuffer_get_length(b));
	}
	for (size_t i = 0; i < N_ELEM(bad); i++) {
		cr_expect_eq(metrics_write_u64(b, bad[i], NULL, 1), -EINVAL, "%s", bad[i]);
		cr_expect_eq(metrics_write_family(b, bad[i], METRICS_GAUGE, "h"), -EINVAL, "%s",
		             bad[i]);
	}
	for (size_t i = 0; i < N_ELEM(bad_labels); i++) {
		cr_expect_eq(metrics_write_u64(b, "m", bad_labels[i], 1), -EINVAL, "label %zu", i);
		cr_expect_eq(metrics_write_i64(b, "m", bad_labels[i], 1), -EINVAL, "label %zu", i);
		cr_expect_eq(metrics_write_f64(b, "m", bad_labels[i], 1), -EINVAL, "label %zu", i);
	}
	/* "le" is a plain label elsewhere, the histogram's own in one. */
	cr_expect_eq(metrics_write_histogram(b, "h", le, NULL, 0, counts, 0), -EINVAL);
	cr_expect_eq(metrics_write_family(b, "m", (enum metrics_type)7, "h"), -EINVAL);
	cr_expect_eq(metrics_write_family(b, "m", METRICS_GAUGE, NULL), -EINVAL);
	cr_expect_eq(evbuffer_get_length(b), 0, "a refused write wrote something");
	cr_expect_eq(metrics_write_u64(b, "m", le, 1), 0);
	evbuffer_free(b);
}

Test(metrics, f64_text)
{
	static const struct {
		double v;
		const char *want;
	} rows[] = {
	        {0.1, "0.1"},
	        {1.0, "1"},
	        {-2.5, "-2.5"},
	        {0.0, "0"},
	        {1e-300, "1e-300"},
	        {123456789.0, "123456789"},
	        {0.1 + 0.2, "0.30000000000000004"},
	        {1e21, "1e+21"},
	        {NAN, "NaN"},
	        {INFINITY, "+Inf"},
	        {-INFINITY, "-Inf"},
	};

	for (size_t i = 0; i < N_ELEM(rows); i++) {
		struct evbuffer *b = evbuffer_new();
		char want[64], *got;

		cr_assert_eq(metrics_write_f64(b, "g", NULL, rows[i].v), 0);
		got = take(b);
		snprintf(want, sizeof(want), "g %s\n", rows[i].want);
		cr_expect_str_eq(got, want, "row %zu", i);
		free(got);
		evbuffer_free(b);
	}
}

/* ---- sources ---- */

static int src_spans(struct evbuffer *out, void *arg)
{
	const char *otlp[] = {"exporter", "otlp", NULL};
	int rc;

	if ((rc = metrics_write_family(out, "tracegate_spans_exported_total", METRICS_COUNTER,
	                               "Spans the backend took.")))
		return rc;
	return metrics_write_u64(out, "tracegate_spans_exported_total", otlp, *(uint64_t *)arg);
}

static int src_fail(struct evbuffer *out, void *arg)
{
	return -EIO;
}

static int src_big(struct evbuffer *out, void *arg)
{
	static char chunk[1 << 16];

	memset(chunk, '#', sizeof(chunk));
	for (int i = 0; i < 80; i++) /* 5 MiB */
		if (evbuffer_add(out, chunk, sizeof(chunk)))
			return -ENOMEM;
	return 0;
}

Test(metrics, sources)
{
	uint64_t a = 7, b = 9;
	struct metrics *m = metrics_new(1, 0, NULL, 0, NULL);
	struct evbuffer *buf;
	const char *tail;
	char *t;

	cr_assert_not_null(m);
	cr_assert_eq(metrics_add_source(m, src_spans, &a), 0);
	t = render(m);
	tail = strstr(t, "# HELP tracegate_config_reloads_total");
	cr_assert_not_null(tail);
	tail = strstr(tail, "tracegate_config_reload_failures_total 0\n");
	cr_assert_not_null(tail);
	cr_expect_str_eq(tail, "tracegate_config_reload_failures_total 0\n"
	                       "# HELP tracegate_spans_exported_total Spans the backend took.\n"
	                       "# TYPE tracegate_spans_exported_total counter\n"
	                       "tracegate_spans_exported_total{exporter=\"otlp\"} 7\n");
	free(t);
	/* Called on every scrape, in registration order: values are fresh. */
	a = 8;
	cr_assert_eq(metrics_add_source(m, src_fail, NULL), 0);
	buf = evbuffer_new();
	cr_assert_not_null(buf);
	cr_expect_eq(metrics_render(m, buf), -EIO);
	t = take(buf);
	cr_expect_not_null(strstr(t, "tracegate_spans_exported_total{exporter=\"otlp\"} 8\n"));
	free(t);
	evbuffer_free(buf);
	metrics_free(m);

	m = metrics_new(1, 0, NULL, 0, NULL);
	cr_assert_not_null(m);
	for (int i = 0; i < METRICS_SOURCES; i++)
		cr_expect_eq(metrics_add_source(m, src_spans, &b), 0, "source %d", i);
	cr_expect_eq(metrics_add_source(m, src_spans, &b), -ENOSPC);
	metrics_free(m);

	m = metrics_new(1, 0, NULL, 0, NULL);
	cr_assert_not_null(m);
	cr_assert_eq(metrics_add_source(m, src_big, NULL), 0);
	buf = evbuffer_new();
	cr_expect_eq(metrics_render(m, buf), -EMSGSIZE);
	evbuffer_free(buf);
	metrics_free(m);
}

/* ---- promtool ---- */

/* Runs "promtool check metrics" on <text>: returns its exit status (-1 when
 * it did not exit) and what it printed, both streams, in <msg>. */
static int promtool(const char *text, char *msg, size_t len)
{
	char path[] = "/tmp/test_metrics.XXXXXX", cmd[128];
	int fd = mkstemp(path), st;
	size_t n = strlen(text), got = 0;
	FILE *p;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, n), (ssize_t)n);
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (got + 1 < len) {
		size_t r = fread(msg + got, 1, len - 1 - got, p);

		if (!r)
			break;
		got += r;
	}
	msg[got] = '\0';
	st = pclose(p);
	unlink(path);
	cr_assert_neq(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 127,
	              "promtool is missing: docker/install-deps.sh test installs it (prometheus)");
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* What the tracing filter will add: counters by exporter and reason, a gauge
 * with a float, a histogram of its own. */
static int src_trace(struct evbuffer *out, void *arg)
{
	static const char *const reasons[] = {"queue_full", "export_failed"};
	static const uint64_t le[] = {1000000, 1000000000}, counts[] = {3, 1, 1};
	const char *otlp[] = {"exporter", "otlp", NULL};
	int rc;

	if ((rc = metrics_write_family(out, "tracegate_spans_started_total", METRICS_COUNTER,
	                               "Spans started.")) ||
	    (rc = metrics_write_u64(out, "tracegate_spans_started_total", NULL, 12)) ||
	    (rc = metrics_write_family(out, "tracegate_spans_dropped_total", METRICS_COUNTER,
	                               "Spans lost, by exporter and reason.")))
		return rc;
	for (size_t i = 0; i < N_ELEM(reasons); i++) {
		const char *l[] = {"exporter", "otlp", "reason", reasons[i], NULL};

		if ((rc = metrics_write_u64(out, "tracegate_spans_dropped_total", l, i + 1)))
			return rc;
	}
	if ((rc = metrics_write_family(out, "tracegate_export_queue_ratio", METRICS_GAUGE,
	                               "How full the exporter's queue is, 0..1.")) ||
	    (rc = metrics_write_f64(out, "tracegate_export_queue_ratio", otlp, 0.125)) ||
	    (rc = metrics_write_family(out, "tracegate_export_batch_seconds", METRICS_HISTOGRAM,
	                               "Time to send one batch.")))
		return rc;
	return metrics_write_histogram(out, "tracegate_export_batch_seconds", otlp, le, 2, counts,
	                               1500000000);
}

Test(metrics, promtool_accepts_everything)
{
	static const char *const routes[] = {"api", "static-files", "we\"ird\\\nname"};
	static const char *const ups[] = {"orders", "cdn.example"};
	struct metrics *m = metrics_new(2, 3, routes, 2, ups);
	char msg[4096], *t;
	int st;

	cr_assert_not_null(m);
	for (int w = 0; w < 2; w++) {
		struct metrics_w *mw = metrics_worker(m, w);

		for (int r = -1; r < 3; r++)
			metrics_req(mw, r, 100 * (r + 2) + 4, 1000000ull * (uint64_t)(r + 2) * 777);
		for (int u = 0; u < 2; u++) {
			for (int k = 0; k < METRICS_UPS_N; k++)
				metrics_ups_inc(mw, u, (enum metrics_ups)k);
			metrics_ups_conns_add(mw, u, -1);
		}
		metrics_client_conns_add(mw, 3);
	}
	metrics_config_reload(m, true);
	cr_assert_eq(metrics_add_source(m, src_trace, NULL), 0);
	t = render(m);
	st = promtool(t, msg, sizeof(msg));
	cr_expect_eq(st, 0, "promtool exit %d:\n%s\non:\n%s", st, msg, t);
	cr_expect_str_empty(msg, "promtool printed:\n%s\non:\n%s", msg, t);
	free(t);
	metrics_free(m);
}

/* The check above can fail: promtool speaks up about a lint problem (a
 * counter without _total) and a broken line. */
Test(metrics, promtool_catches_problems)
{
	struct evbuffer *b = evbuffer_new();
	char msg[4096], *t;
	int st;

	cr_assert_not_null(b);
	cr_assert_eq(metrics_write_family(b, "tracegate_requests", METRICS_COUNTER, "Bad name."),
	             0);
	cr_assert_eq(metrics_write_u64(b, "tracegate_requests", NULL, 1), 0);
	t = take(b);
	st = promtool(t, msg, sizeof(msg));
	cr_expect_neq(st, 0, "exit 0 on a counter without _total");
	cr_expect_not_null(strstr(msg, "_total"), "promtool printed: %s", msg);
	free(t);
	evbuffer_free(b);

	st = promtool("# TYPE a_total counter\na_total{x=\"unterminated} 1\n", msg, sizeof(msg));
	cr_expect_neq(st, 0, "exit 0 on a broken label value");
	cr_expect_str_neq(msg, "");
}

/* With no upstream, each upstream family is its HELP and TYPE alone, which
 * the text format allows, and promtool too. */
Test(metrics, empty_families)
{
	struct metrics *m = metrics_new(1, 0, NULL, 0, NULL);
	char *t, msg[4096];
	int st;

	cr_assert_not_null(m);
	t = render(m);
	cr_expect_not_null(strstr(t, "# TYPE tracegate_upstream_retries_total counter\n"
	                             "# HELP tracegate_upstream_pool_hits_total "),
	                   "%s", t);
	cr_expect_not_null(strstr(t, "# TYPE tracegate_upstream_connections gauge\n"
	                             "# HELP tracegate_config_reloads_total "),
	                   "%s", t);
	cr_expect_null(strstr(t, "{upstream="), "%s", t);
	/* routes: the unrouted series still, all zero */
	cr_expect_eq(value_u64(t, "tracegate_requests_total{route=\"(none)\",code_class=\"2xx\"}"),
	             0);
	cr_expect_eq(value_u64(t, "tracegate_request_duration_seconds_count{route=\"(none)\"}"), 0);
	st = promtool(t, msg, sizeof(msg));
	cr_expect_eq(st, 0, "promtool exit %d:\n%s", st, msg);
	cr_expect_str_empty(msg, "promtool printed:\n%s", msg);
	free(t);
	metrics_free(m);
}
