/* test_e2e_otel.c: the gateway in front of a real OpenTelemetry-instrumented
 * service (tests/e2e/otel-node: Node.js with the OpenTelemetry JS SDK and its
 * HTTP instrumentation, installed by tests/e2e/otel-node/setup.sh). Both
 * export OTLP to one collector stand-in; the service's SERVER span must be a
 * child of the gateway's CLIENT span, in the caller's trace, as decoded by
 * tests/support/otlpjson.py. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define TP_TRACE "0af7651916cd43dd8448eb211c80319c"
#define TP_SPAN  "b7ad6b7169203331"

static struct hproc sink, app, gw;
static char sink_dir[64];

/* Stops <p> with SIGTERM, so that it flushes its spans, within 10 s. */
static void stop_gently(struct hproc *p)
{
	int st;

	kill(p->pid, SIGTERM);
	for (int i = 0; i < 1000 && waitpid(p->pid, &st, WNOHANG) == 0; i++)
		usleep(10 * 1000);
	if (waitpid(p->pid, &st, WNOHANG) == 0)
		harness_kill(p);
	p->pid = 0;
}

static void teardown(void)
{
	harness_kill(&gw);
	harness_kill(&app);
	harness_kill(&sink);
}

TestSuite(e2e, .fini = teardown, .timeout = 120);

/* Returns the line of <lines> whose span is <span_id>, or NULL. */
static const char *span_line(const char *lines, const char *span_id)
{
	for (const char *l = lines; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l + 33, span_id, 16) == 0)
			return l;
	return NULL;
}

Test(e2e, instrumented_service_is_a_child_of_the_gateway)
{
	char endpoint[96], req[256], *argv_out, *argv_err, client_id[17];
	char *app_argv[] = {"node",
	                    TG_SOURCE_DIR "/tests/e2e/otel-node/app.js",
	                    "--port",
	                    "0",
	                    "--otlp",
	                    endpoint,
	                    "--max-seconds",
	                    "100",
	                    NULL};
	char *lister[] = {"python3", TG_SOURCE_DIR "/tests/support/otlpjson.py", sink_dir, NULL};
	const char *tp, *client, *server;
	struct hresp r;

	cr_assert_eq(access(TG_SOURCE_DIR "/tests/e2e/otel-node/node_modules", F_OK), 0,
	             "run tests/e2e/otel-node/setup.sh first (tests/run.sh does)");
	harness_sink_start(&sink, sink_dir, sizeof(sink_dir), NULL);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d/v1/traces", sink.port);
	harness_proc_start(&app, app_argv);
	harness_gw_start(&gw,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
	                 "service_name = edge\n[upstream app]\nservers = 127.0.0.1:%d\n"
	                 "[route r]\nupstream = app\n[tracing]\nsample_ratio = 1\n"
	                 "exporters = otlp\n[exporter.otlp]\nendpoint = %s\nprotocol = json\n"
	                 "delay_ms = 50\n",
	                 app.port, endpoint);
	snprintf(req, sizeof(req),
	         "GET /orders/42 HTTP/1.1\r\nHost: shop\r\n"
	         "traceparent: 00-" TP_TRACE "-" TP_SPAN "-01\r\n\r\n");
	harness_request(gw.port, req, &r);
	cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
	/* the app answers with the traceparent its SDK received */
	tp = strstr(r.body, "00-" TP_TRACE "-");
	cr_assert_not_null(tp, "the service did not get our trace: %s", r.body);
	memcpy(client_id, tp + 36, 16);
	client_id[16] = '\0';
	harness_resp_free(&r);
	harness_gw_stop(&gw, false);
	stop_gently(&app);
	cr_assert_geq(harness_sink_wait(sink_dir, 2, 10000), 2);

	cr_assert_eq(harness_run(lister, &argv_out, &argv_err), 0, "%s", argv_err);
	/* <trace> <span> <parent> <KIND> <name> <service> */
	client = span_line(argv_out, client_id);
	cr_assert_not_null(client, "no gateway span %s in:\n%s", client_id, argv_out);
	cr_assert_eq(strncmp(client, TP_TRACE " ", 33), 0, "%.120s", client);
	cr_assert_not_null(strstr(client, " CLIENT "), "%.120s", client);
	cr_assert_eq(strncmp(strchr(client, '\n') - 5, " edge", 5), 0, "%.120s", client);
	server = strstr(argv_out, " node-app\n");
	cr_assert_not_null(server, "no span of the service in:\n%s", argv_out);
	while (server > argv_out && server[-1] != '\n')
		server--;
	cr_assert_eq(strncmp(server, TP_TRACE " ", 33), 0, "another trace: %.120s", server);
	cr_assert_eq(strncmp(server + 50, client_id, 16), 0,
	             "the service's span is not a child of the gateway's CLIENT span:\n%s",
	             argv_out);
	cr_assert_not_null(strstr(server, " SERVER "), "%.120s", server);
	free(argv_out);
	free(argv_err);
}

/* The service exports to the gateway's admin listener instead of a
 * collector: its spans join the gateway's in the viewer's store. */
static void joins_the_store(const char *protocol, bool gzip)
{
	char endpoint[96], req[256], client_id[17], want[96], *log;
	char *app_argv[] = {"node",
	                    TG_SOURCE_DIR "/tests/e2e/otel-node/app.js",
	                    "--port",
	                    "0",
	                    "--otlp",
	                    endpoint,
	                    "--protocol",
	                    (char *)protocol,
	                    "--max-seconds",
	                    "100",
	                    gzip ? "--gzip" : NULL,
	                    NULL};
	const char *tp, *p;
	struct hresp r;
	int admin;

	cr_assert_eq(access(TG_SOURCE_DIR "/tests/e2e/otel-node/node_modules", F_OK), 0,
	             "run tests/e2e/otel-node/setup.sh first (tests/run.sh does)");
	/* the gateway first, on a free admin port; then the app, pointed at it */
	harness_gw_start(&gw, "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
	                      "[upstream app]\nservers = 127.0.0.1:1\n[route r]\nupstream = app\n"
	                      "[tracing]\nexporters = memory\n[exporter.memory]\ndelay_ms = 20\n"
	                      "[admin]\nlisten = 127.0.0.1:0\n");
	log = harness_slurp(gw.err_path);
	p = strstr(log, "admin listening on ");
	cr_assert_not_null(p, "%s", log);
	admin = atoi(strchr(p + 19, ':') + 1);
	free(log);
	harness_gw_stop(&gw, false);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d/v1/traces", admin);
	harness_proc_start(&app, app_argv);
	/* the same admin port again, now in front of the app */
	harness_gw_start(&gw,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
	                 "[upstream app]\nservers = 127.0.0.1:%d\n[route r]\nupstream = app\n"
	                 "[tracing]\nexporters = memory\n[exporter.memory]\ndelay_ms = 20\n"
	                 "[admin]\nlisten = 127.0.0.1:%d\n",
	                 app.port, admin);
	snprintf(req, sizeof(req),
	         "GET /orders/7 HTTP/1.1\r\nHost: shop\r\n"
	         "traceparent: 00-" TP_TRACE "-" TP_SPAN "-01\r\n\r\n");
	harness_request(gw.port, req, &r);
	cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
	tp = strstr(r.body, "00-" TP_TRACE "-");
	cr_assert_not_null(tp, "%s", r.body);
	memcpy(client_id, tp + 36, 16);
	client_id[16] = '\0';
	harness_resp_free(&r);
	stop_gently(&app); /* flushes the app's spans into the gateway */
	usleep(200 * 1000);
	harness_request(admin, "GET /api/traces/" TP_TRACE " HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_eq(r.status, 200, "%d %s", r.status, r.body);
	snprintf(want, sizeof(want), "\"parentSpanId\":\"%s\"", client_id);
	p = strstr(r.body, want);
	cr_assert_not_null(p, "no span under the gateway's CLIENT span %s: %s", client_id, r.body);
	cr_assert_not_null(strstr(r.body, "\"service\":\"node-app\""), "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\"kind\":\"SERVER\",\"service\":\"node-app\""), "%s",
	                   r.body);
	harness_resp_free(&r);
	harness_request(admin, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	cr_assert_not_null(strstr(r.body, "tracegate_ingest_requests_total{result=\"accepted\"} "),
	                   "%s", r.body);
	cr_assert_null(strstr(r.body, "tracegate_ingest_spans_total 0\n"), "%s", r.body);
	harness_resp_free(&r);
	harness_gw_stop(&gw, false);
}

Test(e2e, service_spans_join_the_viewer_store_json)
{
	joins_the_store("json", false);
}

Test(e2e, service_spans_join_the_viewer_store_protobuf_gzip)
{
	joins_the_store("protobuf", true);
}
