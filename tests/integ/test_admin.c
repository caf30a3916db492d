/* test_admin.c: the admin listener through the real binary: health and
 * readiness (503 while draining), unknown paths, body limits. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

TestSuite(admin, .init = setup, .fini = teardown, .timeout = 60);

static void start(void)
{
	harness_gw_start(&gw,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = off\n"
	                 "drain_timeout_ms = 5000\n[upstream o]\nservers = 127.0.0.1:%d\n"
	                 "[route r]\nupstream = o\n[tracing]\nexporters = none\n"
	                 "[admin]\nlisten = 127.0.0.1:0\nmax_body_bytes = 1k\n",
	                 origin.port);
}

Test(admin, health_ready_and_unknown_paths)
{
	struct hresp r;
	int port;

	start();
	port = harness_admin_port(&gw);
	harness_request(port, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "ok\n");
	harness_resp_free(&r);
	harness_request(port, "GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "ready\n");
	harness_resp_free(&r);
	harness_request(port, "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_eq(r.status, 404);
	harness_resp_free(&r);
	harness_request(port, "DELETE /healthz HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_eq(r.status, 501, "%d", r.status); /* evhttp: a method it does not serve */
	harness_resp_free(&r);
	harness_gw_stop(&gw, false);
}

Test(admin, oversized_body_is_413)
{
	char req[4096];
	struct hresp r;
	int port, n;

	start();
	port = harness_admin_port(&gw);
	n = snprintf(req, sizeof(req),
	             "POST /v1/traces HTTP/1.1\r\nHost: a\r\nContent-Length: 2048\r\n\r\n");
	memset(req + n, 'x', 2048);
	req[n + 2048] = '\0';
	harness_request(port, req, &r);
	cr_assert_eq(r.status, 413, "%d", r.status);
	harness_resp_free(&r);
	harness_gw_stop(&gw, false);
}

Test(admin, not_ready_while_draining)
{
	struct hresp r;
	int port, fd;

	start();
	port = harness_admin_port(&gw);
	/* a slow request keeps the gateway draining for a while */
	fd = harness_connect(gw.port);
	harness_send_str(fd, "GET /slow/1500 HTTP/1.1\r\nHost: a\r\n\r\n");
	usleep(200 * 1000);
	kill(gw.pid, SIGTERM);
	usleep(200 * 1000);
	harness_request(port, "GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_eq(r.status, 503, "%d", r.status);
	cr_assert_str_eq(r.body, "draining\n");
	harness_resp_free(&r);
	harness_request(port, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_eq(r.status, 200);
	harness_resp_free(&r);
	cr_assert_eq(harness_read_resp(fd, &r, false, 5000), 0);
	cr_assert_eq(r.status, 200, "the request in flight finishes");
	harness_resp_free(&r);
	harness_close(fd);
	harness_gw_stop(&gw, false);
}

Test(admin, trace_store_api)
{
	char req[256], id[33];
	struct hresp r;
	const char *p;
	int port;

	harness_gw_start(&gw,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = off\n"
	                 "[upstream o]\nservers = 127.0.0.1:%d\n[route shop]\nupstream = o\n"
	                 "[tracing]\nexporters = memory\n[exporter.memory]\ndelay_ms = 20\n"
	                 "[admin]\nlisten = 127.0.0.1:0\n",
	                 origin.port);
	port = harness_admin_port(&gw);
	harness_request(gw.port,
	                "GET /cart HTTP/1.1\r\nHost: a\r\ntraceparent: "
	                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n",
	                &r);
	cr_assert_eq(r.status, 200);
	harness_resp_free(&r);
	harness_request(gw.port, "GET /status/503 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_eq(r.status, 503);
	harness_resp_free(&r);
	usleep(300 * 1000);

	harness_request(port, "GET /api/traces HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(harness_field(&r, "Content-Type"), "application/json");
	cr_assert_not_null(strstr(r.body, "\"traceId\":\"0af7651916cd43dd8448eb211c80319c\","
	                                  "\"rootName\":\"GET /\",\"rootService\":\"tracegate\","
	                                  "\"route\":\"shop\",\"statusCode\":200"),
	                   "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\"statusCode\":503"), "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\"total\":2}"), "%s", r.body);
	harness_resp_free(&r);

	harness_request(port, "GET /api/traces?errors=1&limit=5 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_eq(r.status, 200);
	cr_assert_null(strstr(r.body, "0af7651916cd43dd8448eb211c80319c"), "%s", r.body);
	p = strstr(r.body, "\"traceId\":\"");
	cr_assert_not_null(p, "%s", r.body);
	memcpy(id, p + 11, 32);
	id[32] = '\0';
	harness_resp_free(&r);

	snprintf(req, sizeof(req), "GET /api/traces/%s HTTP/1.1\r\nHost: a\r\n\r\n", id);
	harness_request(port, req, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_not_null(strstr(r.body, "\"kind\":\"SERVER\""), "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\"kind\":\"CLIENT\""), "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\"http.response.status_code\":503"), "%s", r.body);
	cr_assert_not_null(strstr(r.body, "{\"name\":\"first_byte\",\"timeUnixNano\":\""));
	harness_resp_free(&r);

	harness_request(
	        port,
	        "GET /api/traces/00000000000000000000000000000001 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_eq(r.status, 404);
	harness_resp_free(&r);
	harness_request(port, "GET /api/traces?limit=0 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_eq(r.status, 400);
	harness_resp_free(&r);
	harness_gw_stop(&gw, false);
}

Test(admin, metrics_count_requests_and_spans_and_pass_promtool)
{
	char path[] = "/tmp/tg-metrics-XXXXXX", *argv[] = {"sh", "-c", NULL, NULL}, cmd[128];
	char *out, *err;
	struct hresp r;
	int port, fd;

	harness_gw_start(&gw,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = off\n"
	                 "[upstream o]\nservers = 127.0.0.1:%d\n[route shop]\nupstream = o\n"
	                 "[tracing]\nexporters = memory\n[exporter.memory]\ndelay_ms = 20\n"
	                 "[admin]\nlisten = 127.0.0.1:0\n",
	                 origin.port);
	port = harness_admin_port(&gw);
	for (int i = 0; i < 3; i++) {
		harness_request(gw.port, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n", &r);
		cr_assert_eq(r.status, 200);
		harness_resp_free(&r);
	}
	harness_request(gw.port, "GET /status/503 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	harness_resp_free(&r);
	usleep(300 * 1000);
	harness_request(port, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(harness_field(&r, "Content-Type"),
	                 "text/plain; version=0.0.4; charset=utf-8");
	cr_assert_not_null(
	        strstr(r.body, "\ntracegate_requests_total{route=\"shop\",code_class=\"2xx\"} 3\n"),
	        "%s", r.body);
	cr_assert_not_null(strstr(
	        r.body, "\ntracegate_requests_total{route=\"shop\",code_class=\"5xx\"} 1\n"));
	cr_assert_not_null(
	        strstr(r.body, "\ntracegate_request_duration_seconds_count{route=\"shop\"} 4\n"));
	cr_assert_not_null(strstr(r.body, "\ntracegate_spans_started_total 8\n"), "%s", r.body);
	cr_assert_not_null(
	        strstr(r.body, "\ntracegate_spans_exported_total{exporter=\"memory\"} 8\n"), "%s",
	        r.body);
	cr_assert_not_null(strstr(r.body, "\ntracegate_spans_dropped_total{exporter=\"memory\","
	                                  "reason=\"queue_full\"} 0\n"));
	cr_assert_not_null(strstr(r.body, "\ntracegate_store_traces 4\n"), "%s", r.body);
	/* Prometheus's own checker: format and naming */
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, r.body, r.body_len), (ssize_t)r.body_len);
	close(fd);
	harness_resp_free(&r);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	argv[2] = cmd;
	cr_assert_eq(harness_run(argv, &out, &err), 0, "promtool: %s", out);
	cr_assert_str_eq(out, "", "promtool: %s", out);
	free(out);
	free(err);
	unlink(path);
	harness_gw_stop(&gw, false);
}

Test(admin, config_shows_effective_values_without_secrets)
{
	char path[] = "/tmp/tg-config-XXXXXX", *argv[] = {TG_BIN, "-t", "-c", path, NULL};
	char *out, *err, *redacted;
	struct hresp r;
	int port, fd;

	harness_gw_start(&gw,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = off\n"
	                 "[upstream o]\nservers = 127.0.0.1:%d\n[route shop]\nupstream = o\n"
	                 "methods = GET HEAD\nsample_ratio = 0.25\n"
	                 "[tracing]\nexporters = memory otlp\ninject = w3c b3\n"
	                 "[exporter.otlp]\nheaders = authorization=Bearer s3cr3t\n"
	                 "[admin]\nlisten = 127.0.0.1:0\n",
	                 origin.port);
	port = harness_admin_port(&gw);
	harness_request(port, "GET /config HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_eq(r.status, 200);
	cr_assert_null(strstr(r.body, "s3cr3t"), "a secret leaked: %s", r.body);
	cr_assert_not_null(strstr(r.body, "\nheaders = <redacted>\n"), "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\n[route shop]\n"), "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\nmethods = GET HEAD\n"), "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\nsample_ratio = 0.25\n"), "the route's override: %s",
	                   r.body);
	cr_assert_not_null(strstr(r.body, "\ninject = w3c b3\n"), "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\nexporters = otlp memory\n"), "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\nheader_timeout_ms = 10000\n"), "defaults: %s", r.body);
	/* what it shows is a configuration the gateway accepts, but the secret */
	redacted = strstr(r.body, "\nheaders = <redacted>\n");
	memcpy(redacted + 1, ";", 1);
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, r.body, r.body_len), (ssize_t)r.body_len);
	close(fd);
	harness_resp_free(&r);
	cr_assert_eq(harness_run(argv, &out, &err), 0, "tracegate -t: %s", err);
	free(out);
	free(err);
	unlink(path);
	harness_gw_stop(&gw, false);
}

Test(admin, otlp_ingest_refuses_what_it_cannot_read)
{
	static const char *const cases[][2] = {
	        /* request, expected status */
	        {"POST /v1/traces HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-protobuf\r\n"
	         "Content-Length: 4\r\n\r\n\x0a\x7f\x01\x02",
	         "400"},
	        {"POST /v1/traces HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
	         "Content-Length: 5\r\n\r\n{\"res",
	         "400"},
	        {"POST /v1/traces HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
	         "Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope",
	         "400"},
	        {"POST /v1/traces HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\n"
	         "Content-Length: 2\r\n\r\n{}",
	         "415"},
	        {"GET /v1/traces HTTP/1.1\r\nHost: a\r\n\r\n", "405"},
	        /* an empty request is a valid one: nothing to store */
	        {"POST /v1/traces HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
	         "Content-Length: 2\r\n\r\n{}",
	         "200"},
	};
	struct hresp r;
	int port;

	harness_gw_start(&gw,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
	                 "[upstream o]\nservers = 127.0.0.1:%d\n[route r]\nupstream = o\n"
	                 "[tracing]\nexporters = memory\n[admin]\nlisten = 127.0.0.1:0\n",
	                 origin.port);
	port = harness_admin_port(&gw);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		harness_request(port, cases[i][0], &r);
		cr_expect_eq(r.status, atoi(cases[i][1]), "case %zu: %d %s", i, r.status, r.body);
		harness_resp_free(&r);
	}
	harness_request(port, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_not_null(
	        strstr(r.body, "\ntracegate_ingest_requests_total{result=\"rejected\"} 3\n"), "%s",
	        r.body);
	cr_assert_not_null(
	        strstr(r.body, "\ntracegate_ingest_requests_total{result=\"accepted\"} 1\n"), "%s",
	        r.body);
	harness_resp_free(&r);
	harness_gw_stop(&gw, false);
}
