/* test_trace.c: the trace filter through the real binary. The origin echoes
 * the request it received, so each test reads the propagation headers the
 * upstream saw; spans are read back from the JSON-lines exporter. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "harness.h"

static struct hproc origin, gw;

#define GW_BASE                                                                                    \
	"[gateway]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = off\n"                         \
	"[upstream o]\nservers = 127.0.0.1:%d\n"

#define TP_CALLER "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static void setup(void)
{
	harness_origin_start(&origin, NULL);
}

static void teardown(void)
{
	harness_kill(&gw);
	harness_kill(&origin);
}

TestSuite(trace, .init = setup, .fini = teardown, .timeout = 240);

/* Copies the value of field <name> in the request the origin echoed into
 * <out>; returns false when the upstream did not receive it. */
static bool upstream_field(const struct hresp *r, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);

	for (const char *p = r->body; p && *p; p = strstr(p, "\r\n")) {
		if (p != r->body)
			p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1 + strspn(p + n + 1, " ");
			size_t len = strcspn(v, "\r");

			cr_assert_lt(len, cap);
			memcpy(out, v, len);
			out[len] = '\0';
			return true;
		}
		if (p[0] == '\r')
			break;
	}
	return false;
}

/* The traceparent the upstream received, checked for shape. */
static void upstream_tp(const struct hresp *r, char tp[56])
{
	cr_assert(upstream_field(r, "traceparent", tp, 56), "no traceparent upstream: %s", r->body);
	cr_assert_eq(strlen(tp), 55, "traceparent %s", tp);
	cr_assert_eq(strspn(tp, "0123456789abcdef-"), 55, "traceparent %s", tp);
	cr_assert(tp[2] == '-' && tp[35] == '-' && tp[52] == '-', "traceparent %s", tp);
	cr_assert(strncmp(tp, "00-", 3) == 0);
}

static void get(int port, const char *path, const char *fields, struct hresp *r)
{
	char req[2048];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: svc.test\r\n%s\r\n", path, fields);
	harness_request(port, req, r);
	cr_assert_eq(r->status, 200, "%s: %d", path, r->status);
}

/* One request on keep-alive connection <fd>. */
static void get_on(int fd, const char *path, const char *fields, struct hresp *r)
{
	char req[2048];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: svc.test\r\n%s\r\n", path, fields);
	harness_send_str(fd, req);
	cr_assert_eq(harness_read_resp(fd, r, false, 10000), 0);
	cr_assert_eq(r->status, 200);
}

Test(trace, new_trace_when_none_arrives)
{
	struct hresp r;
	char tp[56], ts[256];

	harness_gw_start(&gw, GW_BASE "[tracing]\nexporters = none\n[route r]\nupstream = o\n",
	                 origin.port);
	get(gw.port, "/echo", "", &r);
	upstream_tp(&r, tp);
	cr_expect_str_eq(tp + 53, "03", "sampled and random: %s", tp);
	cr_expect(strncmp(tp + 3, "00000000000000000000000000000000", 32) != 0);
	cr_assert(upstream_field(&r, "tracestate", ts, sizeof(ts)));
	cr_expect_str_eq(ts, "ot=th:0");
	harness_resp_free(&r);
	harness_gw_stop(&gw, false);
}

Test(trace, caller_trace_kept_parent_replaced_tracestate_forwarded)
{
	struct hresp r, r2;
	char tp[56], tp2[56], ts[256];

	harness_gw_start(&gw, GW_BASE "[tracing]\nexporters = none\n[route r]\nupstream = o\n",
	                 origin.port);
	get(gw.port, "/echo", "traceparent: " TP_CALLER "\r\ntracestate: vendor=x, other=y\r\n",
	    &r);
	upstream_tp(&r, tp);
	cr_expect(strncmp(tp + 3, TP_CALLER + 3, 32) == 0, "trace-id kept: %s", tp);
	cr_expect(strncmp(tp + 36, "00f067aa0ba902b7", 16) != 0, "parent-id replaced: %s", tp);
	cr_expect_str_eq(tp + 53, "01", "the caller's flags (no random bit): %s", tp);
	cr_assert(upstream_field(&r, "tracestate", ts, sizeof(ts)));
	cr_expect_str_eq(ts, "vendor=x,other=y");
	/* two requests of one trace: two different CLIENT span ids */
	get(gw.port, "/echo", "traceparent: " TP_CALLER "\r\n", &r2);
	upstream_tp(&r2, tp2);
	cr_expect(strncmp(tp + 36, tp2 + 36, 16) != 0);
	cr_expect_not(upstream_field(&r2, "tracestate", ts, sizeof(ts)));
	harness_resp_free(&r);
	harness_resp_free(&r2);
	harness_gw_stop(&gw, false);
}

/* Invalid or duplicated traceparent: a new trace, the caller's tracestate
 * dropped; a higher version is read over its first 55 characters. */
Test(trace, invalid_traceparent_restarts)
{
	static const struct {
		const char *fields;
		bool continued;
	} cases[] = {
	        {"traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01\r\n", false},
	        {"traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01\r\n", false},
	        {"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01\r\n", false},
	        {"traceparent: ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n", false},
	        {"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x\r\n",
	         false},
	        {"traceparent: " TP_CALLER "\r\ntraceparent: " TP_CALLER "\r\n", false},
	        {"traceparent: cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what\r\n",
	         true},
	        {"traceparent: cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x\r\n",
	         false},
	};
	struct hresp r;
	char tp[56], ts[256], fields[512];

	harness_gw_start(&gw, GW_BASE "[tracing]\nexporters = none\n[route r]\nupstream = o\n",
	                 origin.port);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(fields, sizeof(fields), "%stracestate: caller=1\r\n", cases[i].fields);
		get(gw.port, "/echo", fields, &r);
		upstream_tp(&r, tp);
		cr_expect_eq(strncmp(tp + 3, TP_CALLER + 3, 32) == 0, cases[i].continued,
		             "case %zu: %s", i, tp);
		cr_assert(upstream_field(&r, "tracestate", ts, sizeof(ts)));
		cr_expect_str_eq(ts, cases[i].continued ? "caller=1" : "ot=th:0", "case %zu", i);
		harness_resp_free(&r);
	}
	harness_gw_stop(&gw, false);
}

Test(trace, invalid_tracestate_is_dropped_whole)
{
	static const char *const bad[] = {
	        "tracestate: good=1,Bad=2\r\n",
	        "tracestate: a=1,a=2\r\n",
	        "tracestate: a=1\r\ntracestate: b=x=y\r\n",
	};
	struct hresp r;
	char tp[56], ts[256], fields[512];

	harness_gw_start(&gw, GW_BASE "[tracing]\nexporters = none\n[route r]\nupstream = o\n",
	                 origin.port);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(fields, sizeof(fields), "traceparent: %s\r\n%s", TP_CALLER, bad[i]);
		get(gw.port, "/echo", fields, &r);
		upstream_tp(&r, tp);
		cr_expect(strncmp(tp + 3, TP_CALLER + 3, 32) == 0, "case %zu: trace kept", i);
		cr_expect_not(upstream_field(&r, "tracestate", ts, sizeof(ts)), "case %zu: %s", i,
		              ts);
		harness_resp_free(&r);
	}
	/* several lines are one list, in order */
	get(gw.port, "/echo",
	    "traceparent: " TP_CALLER "\r\ntracestate: a=1\r\ntracestate: b=2\r\n", &r);
	cr_assert(upstream_field(&r, "tracestate", ts, sizeof(ts)));
	cr_expect_str_eq(ts, "a=1,b=2");
	harness_resp_free(&r);
	harness_gw_stop(&gw, false);
}

/* parent = ignore decides itself and writes its threshold, moved left. */
Test(trace, ignore_rewrites_th_on_the_left)
{
	struct hresp r;
	char tp[56], ts[256];

	harness_gw_start(&gw,
	                 GW_BASE "[tracing]\nexporters = none\nparent = ignore\n"
	                         "[route r]\nupstream = o\nsample_ratio = 1\n",
	                 origin.port);
	get(gw.port, "/echo",
	    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\r\n"
	    "tracestate: a=1,ot=th:8;x:y\r\n",
	    &r);
	upstream_tp(&r, tp);
	cr_expect_str_eq(tp + 53, "01", "sampled by us: %s", tp);
	cr_assert(upstream_field(&r, "tracestate", ts, sizeof(ts)));
	cr_expect_str_eq(ts, "ot=th:0;x:y,a=1");
	harness_resp_free(&r);
	harness_gw_stop(&gw, false);
}

Test(trace, restart_ignores_caller_sampled_and_unsampled_still_propagates)
{
	struct hresp r;
	char tp[56], ts[256];

	harness_gw_start(&gw,
	                 GW_BASE "[tracing]\nexporters = none\n"
	                         "[route r]\nupstream = o\nparent = restart\nsample_ratio = 0\n",
	                 origin.port);
	get(gw.port, "/echo", "traceparent: " TP_CALLER "\r\ntracestate: caller=1\r\n", &r);
	upstream_tp(&r, tp);
	cr_expect(strncmp(tp + 3, TP_CALLER + 3, 32) != 0, "new trace: %s", tp);
	cr_expect_str_eq(tp + 53, "02", "random, not sampled: %s", tp);
	cr_expect_not(upstream_field(&r, "tracestate", ts, sizeof(ts)));
	harness_resp_free(&r);
	harness_gw_stop(&gw, false);
}

/* Counts sampled decisions over <n> requests to <path> on one connection. */
static int count_sampled(int port, const char *path, int n)
{
	struct hresp r;
	char tp[56];
	int fd = harness_connect(port), k = 0;

	for (int i = 0; i < n; i++) {
		get_on(fd, path, "", &r);
		upstream_tp(&r, tp);
		k += tp[54] == '3';
		harness_resp_free(&r);
	}
	harness_close(fd);
	return k;
}

Test(trace, per_route_ratios_within_4_sigma)
{
	static const struct {
		const char *path;
		double p;
	} routes[] = {{"/quarter/x", 0.25}, {"/tenth/x", 0.1}};
	const int n = 10000;

	harness_gw_start(&gw,
	                 GW_BASE "[tracing]\nexporters = none\nsample_ratio = 1\n"
	                         "[route quarter]\npath_prefix = /quarter\nupstream = o\n"
	                         "sample_ratio = 0.25\n"
	                         "[route tenth]\npath_prefix = /tenth\nupstream = o\n"
	                         "sample_ratio = 0.1\n",
	                 origin.port);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		double p = routes[i].p, sigma = sqrt(n * p * (1 - p));
		int k = count_sampled(gw.port, routes[i].path, n);

		cr_expect(fabs(k - n * p) <= 4 * sigma,
		          "%s: %d of %d sampled, expected %.0f +- %.0f", routes[i].path, k, n,
		          n * p, 4 * sigma);
	}
	harness_gw_stop(&gw, false);
}

/* The decision is a function of the trace-id: two gateway processes agree. */
Test(trace, same_trace_id_same_decision_on_two_gateways)
{
	struct hproc gw2;
	struct hresp r1, r2;
	char tp1[56], tp2[56], fields[128];
	int sampled = 0, n = 300;
	const char *conf = GW_BASE "[tracing]\nexporters = none\nparent = ignore\n"
	                           "sample_ratio = 0.5\n[route r]\nupstream = o\n";

	harness_gw_start(&gw, conf, origin.port);
	harness_gw_start(&gw2, conf, origin.port);
	srand((unsigned)time(NULL));
	for (int i = 0; i < n; i++) {
		int len = snprintf(fields, sizeof(fields), "traceparent: 00-");

		for (int d = 0; d < 32; d++)
			fields[len++] = "0123456789abcdef"[rand() % 16];
		snprintf(fields + len, sizeof(fields) - (size_t)len, "-00f067aa0ba902b7-02\r\n");
		get(gw.port, "/echo", fields, &r1);
		get(gw2.port, "/echo", fields, &r2);
		upstream_tp(&r1, tp1);
		upstream_tp(&r2, tp2);
		cr_expect_eq(tp1[54], tp2[54], "%s vs %s", tp1, tp2);
		sampled += tp1[54] == '3';
		harness_resp_free(&r1);
		harness_resp_free(&r2);
	}
	cr_expect(sampled > n / 4 && sampled < 3 * n / 4, "%d of %d sampled", sampled, n);
	harness_gw_stop(&gw2, false);
	harness_gw_stop(&gw, false);
}

/* Finds the JSON line in <spans> with "kind":"<kind>"; returns a copy. */
static char *span_line(const char *spans, const char *kind)
{
	char needle[32];
	const char *p, *start;

	snprintf(needle, sizeof(needle), "\"kind\":\"%s\"", kind);
	p = strstr(spans, needle);
	cr_assert_not_null(p, "no %s span in: %s", kind, spans);
	start = p;
	while (start > spans && start[-1] != '\n')
		start--;
	return strndup(start, strcspn(start, "\n"));
}

/* The string value of "<key>":"..." in JSON line <line>, or "" */
static const char *json_str(const char *line, const char *key, char *out, size_t cap)
{
	char needle[96];
	const char *p;

	snprintf(needle, sizeof(needle), "\"%s\":\"", key);
	out[0] = '\0';
	if ((p = strstr(line, needle))) {
		p += strlen(needle);
		snprintf(out, cap, "%.*s", (int)strcspn(p, "\""), p);
	}
	return out;
}

Test(trace, spans_written_as_json_lines)
{
	struct hresp r;
	char tp[56], v[128], v2[128], *spans, *server, *client;

	harness_gw_start(&gw,
	                 GW_BASE "[tracing]\nexporters = jsonl\n[route api]\n"
	                         "path_prefix = /api\nupstream = o\n",
	                 origin.port);
	get(gw.port, "/api/echo?secret=1", "traceparent: " TP_CALLER "\r\nUser-Agent: t/1\r\n", &r);
	upstream_tp(&r, tp);
	spans = harness_gw_stop_out(&gw, false);
	server = span_line(spans, "SERVER");
	client = span_line(spans, "CLIENT");

	cr_expect_str_eq(json_str(server, "traceId", v, sizeof(v)),
	                 "4bf92f3577b34da6a3ce929d0e0e4736");
	cr_expect_str_eq(json_str(client, "traceId", v, sizeof(v)),
	                 "4bf92f3577b34da6a3ce929d0e0e4736");
	cr_expect_str_eq(json_str(server, "parentSpanId", v, sizeof(v)), "00f067aa0ba902b7");
	cr_expect_str_eq(json_str(client, "parentSpanId", v, sizeof(v)),
	                 json_str(server, "spanId", v2, sizeof(v2)));
	tp[52] = '\0';
	cr_expect_str_eq(json_str(client, "spanId", v, sizeof(v)), tp + 36,
	                 "the upstream's parent is our CLIENT span");
	cr_expect_str_eq(json_str(server, "name", v, sizeof(v)), "GET /api");
	cr_expect_str_eq(json_str(server, "http.route", v, sizeof(v)), "/api");
	cr_expect_str_eq(json_str(server, "url.path", v, sizeof(v)), "/api/echo");
	cr_expect_null(strstr(server, "secret"), "no query unless record_query: %s", server);
	cr_expect_str_eq(json_str(server, "user_agent.original", v, sizeof(v)), "t/1");
	cr_expect_str_eq(json_str(server, "server.address", v, sizeof(v)), "svc.test");
	cr_expect_str_eq(json_str(server, "client.address", v, sizeof(v)), "127.0.0.1");
	cr_expect_not_null(strstr(server, "\"http.response.status_code\":200"), "%s", server);
	cr_expect_str_eq(json_str(client, "peer.service", v, sizeof(v)), "o");
	cr_expect_str_eq(json_str(client, "http.request.method", v, sizeof(v)), "GET");
	cr_expect_not_null(strstr(client, "\"server.port\":"), "%s", client);
	for (const char *const *e =
	             (const char *const[]){"connect_start", "connect_end", "request_sent",
	                                   "first_byte", "last_byte", NULL};
	     *e; e++) {
		snprintf(v, sizeof(v), "{\"name\":\"%s\",\"timeUnixNano\":", *e);
		cr_expect_not_null(strstr(client, v), "event %s in %s", *e, client);
	}
	cr_expect_str_eq(json_str(server, "status", v, sizeof(v)), "UNSET");
	free(server);
	free(client);
	free(spans);
	harness_resp_free(&r);
}

Test(trace, failed_attempt_span_and_trace_headers_on_a_502)
{
	struct hresp r;
	char *spans, *client, v[128], want[64];
	const char *st, *tid;

	/* port 1 on loopback: nothing listens, the connect is refused */
	harness_gw_start(
	        &gw,
	        "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
	        "[upstream dead]\nservers = 127.0.0.1:1\n"
	        "[tracing]\nexporters = jsonl\nserver_timing = on\ntrace_id_header = X-Trace-Id\n"
	        "[route r]\nupstream = dead\n");
	harness_request(gw.port, "GET / HTTP/1.1\r\nHost: a\r\ntraceparent: " TP_CALLER "\r\n\r\n",
	                &r);
	cr_expect_eq(r.status, 502);
	tid = harness_field(&r, "X-Trace-Id");
	cr_assert_not_null(tid);
	cr_expect_str_eq(tid, "4bf92f3577b34da6a3ce929d0e0e4736");
	st = harness_field(&r, "Server-Timing");
	cr_assert_not_null(st);
	snprintf(want, sizeof(want), "trace;desc=00-4bf92f3577b34da6a3ce929d0e0e4736-");
	cr_expect(strncmp(st, want, strlen(want)) == 0, "%s", st);
	spans = harness_gw_stop_out(&gw, true);
	client = span_line(spans, "CLIENT");
	cr_expect_str_eq(json_str(client, "error.type", v, sizeof(v)), "connection_refused");
	cr_expect_str_eq(json_str(client, "status", v, sizeof(v)), "ERROR");
	free(client);
	client = span_line(spans, "SERVER");
	cr_expect_str_eq(json_str(client, "error.type", v, sizeof(v)), "502");
	cr_expect_str_eq(json_str(client, "status", v, sizeof(v)), "ERROR");
	free(client);
	free(spans);
	harness_resp_free(&r);
}

/* The upstream closes in the middle of a 200's body: the client gets a cut
 * response, so both spans are errors though the status code was fine. */
Test(trace, body_cut_by_the_upstream_is_an_error_on_both_spans)
{
	char *spans, *span, v[128];
	const char *kinds[] = {"SERVER", "CLIENT"};
	int fd;
	struct hresp r;

	harness_gw_start(&gw, GW_BASE "[tracing]\nexporters = jsonl\n[route r]\nupstream = o\n",
	                 origin.port);
	fd = harness_connect(gw.port);
	harness_send_str(fd, "GET /fault/close-mid-body HTTP/1.1\r\nHost: a\r\n\r\n");
	cr_assert_eq(harness_read_resp(fd, &r, false, 10000), 0);
	cr_expect_eq(r.status, 200);
	cr_expect_not(r.complete);
	harness_resp_free(&r);
	harness_close(fd);
	spans = harness_gw_stop_out(&gw, true);
	for (int i = 0; i < 2; i++) {
		span = span_line(spans, kinds[i]);
		cr_expect_not_null(strstr(span, "\"http.response.status_code\":200"), "%s", span);
		cr_expect_str_eq(json_str(span, "status", v, sizeof(v)), "ERROR", "%s", span);
		cr_expect_str_eq(json_str(span, "error.type", v, sizeof(v)), "connection_reset",
		                 "%s", span);
		free(span);
	}
	free(spans);
}

Test(trace, access_log_carries_trace_id_span_id_sampled)
{
	struct hresp r;
	char tp[56], want[128], *log;

	harness_gw_start(&gw,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = stdout\n"
	                 "[upstream o]\nservers = 127.0.0.1:%d\n"
	                 "[tracing]\nexporters = none\n[route r]\nupstream = o\n"
	                 "[route never]\npath_prefix = /never\nupstream = o\nsample_ratio = 0\n",
	                 origin.port);
	get(gw.port, "/echo", "traceparent: " TP_CALLER "\r\n", &r);
	harness_resp_free(&r);
	get(gw.port, "/never/echo", "", &r);
	upstream_tp(&r, tp);
	harness_resp_free(&r);
	log = harness_gw_stop_out(&gw, false);
	cr_expect_not_null(strstr(log, " trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id="), "%s",
	                   log);
	tp[35] = '\0';
	snprintf(want, sizeof(want), " trace_id=%s span_id=", tp + 3);
	cr_expect_not_null(strstr(log, want), "%s in %s", want, log);
	cr_expect_not_null(strstr(log, " sampled=1"), "%s", log);
	cr_expect_not_null(strstr(log, " sampled=0"), "%s", log);
	free(log);
}

Test(trace, b3_extracted_and_injected)
{
	struct hresp r;
	char tp[56], b3[128], want[128];

	harness_gw_start(&gw,
	                 GW_BASE "[tracing]\nexporters = none\nextract = b3 w3c\n"
	                         "inject = w3c b3\n[route r]\nupstream = o\n",
	                 origin.port);
	get(gw.port, "/echo", "b3: a3ce929d0e0e4736-00f067aa0ba902b7-1\r\n", &r);
	upstream_tp(&r, tp);
	cr_expect(strncmp(tp, "00-0000000000000000a3ce929d0e0e4736-", 36) == 0, "%s", tp);
	cr_expect_str_eq(tp + 53, "01");
	cr_assert(upstream_field(&r, "b3", b3, sizeof(b3)));
	snprintf(want, sizeof(want), "0000000000000000a3ce929d0e0e4736-%.16s-1", tp + 36);
	cr_expect_str_eq(b3, want);
	harness_resp_free(&r);
	harness_gw_stop(&gw, false);
}

Test(trace, force_header_only_from_allowed_networks)
{
	struct hresp r;
	char tp[56], v[16];

	harness_gw_start(&gw,
	                 GW_BASE "[tracing]\nexporters = none\nsample_ratio = 0\n"
	                         "force_header = X-Force-Trace\nforce_from = 192.0.2.0/24\n"
	                         "[route ok]\npath_prefix = /ok\nupstream = o\n"
	                         "force_from = 127.0.0.0/8 ::1\n"
	                         "[route no]\npath_prefix = /no\nupstream = o\n"
	                         "force_from = 10.0.0.0/8\n",
	                 origin.port);
	get(gw.port, "/ok/echo", "X-Force-Trace: 1\r\n", &r);
	upstream_tp(&r, tp);
	cr_expect_str_eq(tp + 53, "03", "forced from 127.0.0.1");
	cr_expect_not(upstream_field(&r, "x-force-trace", v, sizeof(v)), "the header stays here");
	harness_resp_free(&r);
	get(gw.port, "/no/echo", "X-Force-Trace: 1\r\n", &r);
	upstream_tp(&r, tp);
	cr_expect_str_eq(tp + 53, "02", "not from an allowed network");
	cr_expect_not(upstream_field(&r, "x-force-trace", v, sizeof(v)));
	harness_resp_free(&r);
	harness_gw_stop(&gw, false);
}

Test(trace, max_traces_per_second_caps_sampling)
{
	struct timespec t0, t1;
	double secs;
	int k;

	harness_gw_start(&gw,
	                 GW_BASE "[tracing]\nexporters = none\n[route r]\nupstream = o\n"
	                         "max_traces_per_second = 5\n",
	                 origin.port);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	k = count_sampled(gw.port, "/echo", 200);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_expect_geq(k, 5, "the burst is one second's worth");
	cr_expect_leq(k, 5 + (int)(secs * 5) + 1, "%d sampled in %.2f s", k, secs);
	harness_gw_stop(&gw, false);
}

Test(trace, disabled_route_passes_headers_untouched)
{
	struct hresp r;
	char tp[56];

	harness_gw_start(&gw,
	                 GW_BASE "[tracing]\nexporters = none\n[route r]\nupstream = o\n"
	                         "enabled = off\n",
	                 origin.port);
	get(gw.port, "/echo", "traceparent: " TP_CALLER "\r\n", &r);
	upstream_tp(&r, tp);
	cr_expect_str_eq(tp, TP_CALLER);
	harness_resp_free(&r);
	harness_gw_stop(&gw, false);
}
