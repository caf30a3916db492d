/* test_export.c: the exporters through the real binary, against a collector
 * stand-in (tests/support/sink.py). What the gateway sent is decoded by
 * implementations we did not write: protoc for OTLP/protobuf, Python's json
 * (tests/support/otlpjson.py) for OTLP/JSON and Zipkin. The decoded spans
 * must carry exactly the ids the origin saw in traceparent, and a collector
 * that refuses, hangs, is busy or rejects must cost spans (counted in the
 * exit line), never requests. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct hproc origin, gw, sink;
static char sink_dir[64];

#define GW_BASE                                                                                    \
	"[gateway]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = off\n"                         \
	"[upstream o]\nservers = 127.0.0.1:%d\n[route r]\nupstream = o\n"                          \
	"[tracing]\nsample_ratio = 1\n"

#define TP_TRACE  "4bf92f3577b34da6a3ce929d0e0e4736"
#define TP_SPAN   "00f067aa0ba902b7"
#define TP_CALLER "00-" TP_TRACE "-" TP_SPAN "-01"

static void setup(void)
{
	harness_origin_start(&origin, NULL);
}

static void teardown(void)
{
	harness_kill(&gw);
	harness_kill(&sink);
	harness_kill(&origin);
}

TestSuite(export, .init = setup, .fini = teardown, .timeout = 240);

/* GET /<path> with the caller's traceparent; returns the parent-id the
 * origin received (our CLIENT span's id) in <client_id>. */
static void traced_get(const char *path, char client_id[17])
{
	char req[512];
	struct hresp r;
	const char *tp;

	snprintf(req, sizeof(req),
	         "GET %s HTTP/1.1\r\nHost: t\r\ntraceparent: " TP_CALLER "\r\n\r\n", path);
	harness_request(gw.port, req, &r);
	cr_assert_eq(r.status, 200, "%s: %d", path, r.status);
	tp = strstr(r.body, "traceparent: 00-" TP_TRACE "-");
	cr_assert_not_null(tp, "the origin got no traceparent of our trace: %s", r.body);
	memcpy(client_id, tp + 13 + 3 + 33, 16);
	client_id[16] = '\0';
	harness_resp_free(&r);
}

/* The log of the gateway, once stopped. */
static char *gw_log;

static void gw_stop(bool allow_errors)
{
	free(gw_log);
	gw_log = harness_gw_stop_log(&gw, allow_errors);
}

/* The exit line "spans <name>: N exported, dropped: ..." of the stopped
 * gateway; the counters go to <got> in export.h's order. */
static void exit_counters(const char *name, unsigned long long got[5])
{
	const char *err = gw_log, *p;
	char pat[64];

	snprintf(pat, sizeof(pat), "spans %s: ", name);
	p = strstr(err, pat);
	cr_assert_not_null(p, "no counters for %s in: %s", name, err);
	cr_assert_eq(sscanf(p + strlen(pat),
	                    "%llu exported, dropped: %llu queue_full, %llu export_failed, %llu "
	                    "non_retryable, %llu shutdown",
	                    &got[0], &got[1], &got[2], &got[3], &got[4]),
	             5, "%s", p);
}

/* Runs the shell command <cmd>; returns its stdout (malloc'd). */
static char *shell(const char *cmd)
{
	char *argv[] = {"sh", "-c", (char *)cmd, NULL}, *out, *err;
	int st = harness_run(argv, &out, &err);

	cr_assert_eq(st, 0, "%s: %s", cmd, err);
	free(err);
	return out;
}

/* Spans of every body the sink stored, as otlpjson.py prints them. */
static char *spans_json(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "python3 %s/tests/support/otlpjson.py %s", TG_SOURCE_DIR,
	         sink_dir);
	return shell(cmd);
}

/* Reads a protoc text-format bytes literal at <p> ("\n\367e...") as hex. */
static void protoc_bytes_hex(const char *p, char *hex, size_t nbytes)
{
	size_t n = 0;

	cr_assert_eq(*p, '"');
	for (p++; *p != '"' && n < nbytes; n++) {
		unsigned c = (unsigned char)*p++;

		if (c == '\\') {
			c = (unsigned char)*p++;
			if (c >= '0' && c <= '7') {
				c = (unsigned)(c - '0') * 64 + (unsigned)(p[0] - '0') * 8 +
				    (unsigned)(p[1] - '0');
				p += 2;
			} else {
				c = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
			}
		}
		sprintf(hex + 2 * n, "%02x", c);
	}
	cr_assert_eq(n, nbytes, "short id at %.40s", p);
}

/* Spans of every body the sink stored, decoded by protoc, one line each:
 * "<trace_id> <span_id> <parent or -> <KIND>". */
static char *spans_protoc(int n_bodies)
{
	size_t cap = 65536, len = 0;
	char *lines = calloc(1, cap);

	for (int i = 1; i <= n_bodies; i++) {
		char cmd[512], trace[33] = "", span[17] = "", parent[17] = "-";
		char *text, *line;

		snprintf(cmd, sizeof(cmd),
		         "protoc --decode=opentelemetry.proto.collector.trace.v1."
		         "ExportTraceServiceRequest -I %s/tests/support/otlp "
		         "opentelemetry/proto/collector/trace/v1/trace_service.proto < %s/%d.body",
		         TG_SOURCE_DIR, sink_dir, i);
		text = shell(cmd);
		/* span-level ids come before the kind, which ends a span's ids */
		for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
			line += strspn(line, " ");
			if (strncmp(line, "trace_id: ", 10) == 0)
				protoc_bytes_hex(line + 10, trace, 16);
			else if (strncmp(line, "span_id: ", 9) == 0)
				protoc_bytes_hex(line + 9, span, 8);
			else if (strncmp(line, "parent_span_id: ", 16) == 0)
				protoc_bytes_hex(line + 16, parent, 8);
			else if (strncmp(line, "kind: SPAN_KIND_", 16) == 0) {
				len += (size_t)snprintf(lines + len, cap - len, "%s %s %s %s\n",
				                        trace, span, parent, line + 16);
				cr_assert_lt(len, cap);
				strcpy(parent, "-");
			}
		}
		free(text);
	}
	return lines;
}

/* Checks that <lines> hold the SERVER span child of the caller and the
 * CLIENT span <client_id> child of it, for each of <n> requests. */
static void check_tree(const char *lines, char ids[][17], int n)
{
	for (int i = 0; i < n; i++) {
		char pat[128], server_id[17];
		const char *client, *server;

		/* CLIENT: our id as the upstream saw it, parent our SERVER span */
		snprintf(pat, sizeof(pat), TP_TRACE " %s ", ids[i]);
		client = strstr(lines, pat);
		cr_assert_not_null(client, "no span %s in:\n%s", ids[i], lines);
		cr_assert_eq(strncmp(client + strlen(pat) + 17, "CLIENT", 6), 0, "%.80s", client);
		memcpy(server_id, client + strlen(pat), 16);
		server_id[16] = '\0';
		snprintf(pat, sizeof(pat), TP_TRACE " %s " TP_SPAN " SERVER", server_id);
		server = strstr(lines, pat);
		cr_assert_not_null(server, "no SERVER span %s under the caller in:\n%s", server_id,
		                   lines);
	}
}

/* What the sink stored about request <seq> (malloc'd). */
static char *sink_meta(int seq)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%d.json", sink_dir, seq);
	return harness_slurp(path);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

Test(export, otlp_protobuf_gzip_decoded_by_protoc)
{
	char ids[3][17], *lines;
	unsigned long long c[5];
	int stored;

	harness_sink_start(&sink, sink_dir, sizeof(sink_dir), NULL);
	harness_gw_start(&gw,
	                 GW_BASE "exporters = otlp\n[exporter.otlp]\n"
	                         "endpoint = http://127.0.0.1:%d/v1/traces\ndelay_ms = 50\n",
	                 origin.port, sink.port);
	for (int i = 0; i < 3; i++)
		traced_get("/p", ids[i]);
	gw_stop(false);
	exit_counters("otlp", c);
	cr_assert_eq(c[0], 6, "exported %llu of 6", c[0]);
	cr_assert_eq(c[1] + c[2] + c[3] + c[4], 0);
	/* every export was acknowledged before the exit: all are stored */
	stored = harness_sink_wait(sink_dir, 1000, 0);
	cr_assert_geq(stored, 1);
	lines = spans_protoc(stored);
	cr_assert_eq(count_lines(lines), 6, "%s", lines);
	check_tree(lines, ids, 3);
	free(lines);
	lines = sink_meta(1);
	cr_assert_not_null(strstr(lines, "\"encoding\": \"gzip\""), "%s", lines);
	cr_assert_not_null(strstr(lines, "\"content_type\": \"application/x-protobuf\""));
	cr_assert_not_null(strstr(lines, "\"path\": \"/v1/traces\""));
	free(lines);
}

Test(export, otlp_json_field_by_field)
{
	char ids[2][17], *lines, *body;

	harness_sink_start(&sink, sink_dir, sizeof(sink_dir), NULL);
	harness_gw_start(&gw,
	                 GW_BASE "exporters = otlp\n[exporter.otlp]\nprotocol = json\n"
	                         "compression = none\nheaders = x-api-key=k1, x-tenant = t2\n"
	                         "endpoint = http://127.0.0.1:%d/v1/traces\ndelay_ms = 50\n",
	                 origin.port, sink.port);
	for (int i = 0; i < 2; i++)
		traced_get("/j?secret=1", ids[i]);
	gw_stop(false);
	cr_assert_geq(harness_sink_wait(sink_dir, 1, 2000), 1);
	lines = spans_json();
	cr_assert_eq(count_lines(lines), 4, "%s", lines);
	check_tree(lines, ids, 2);
	cr_assert_not_null(strstr(lines, " tracegate\n"), "service.name: %s", lines);
	free(lines);
	body = sink_meta(1);
	cr_assert_not_null(strstr(body, "[\"x-api-key\", \"k1\"]"), "%s", body);
	cr_assert_not_null(strstr(body, "[\"x-tenant\", \"t2\"]"), "%s", body);
	cr_assert_not_null(strstr(body, "\"encoding\": null"), "%s", body);
	free(body);
}

Test(export, zipkin_v2)
{
	char ids[2][17], *lines;
	unsigned long long c[5];

	harness_sink_start(&sink, sink_dir, sizeof(sink_dir), NULL);
	harness_gw_start(&gw,
	                 GW_BASE "exporters = zipkin\n[exporter.zipkin]\n"
	                         "endpoint = http://127.0.0.1:%d/api/v2/spans\ndelay_ms = 50\n",
	                 origin.port, sink.port);
	for (int i = 0; i < 2; i++)
		traced_get("/z", ids[i]);
	gw_stop(false);
	exit_counters("zipkin", c);
	cr_assert_eq(c[0], 4);
	cr_assert_geq(harness_sink_wait(sink_dir, 1, 2000), 1);
	lines = spans_json();
	cr_assert_eq(count_lines(lines), 4, "%s", lines);
	check_tree(lines, ids, 2);
	free(lines);
}

Test(export, collector_down_costs_spans_not_requests)
{
	char id[17];
	unsigned long long c[5];
	long t0;

	/* nothing listens on the sink's port once it is killed */
	harness_sink_start(&sink, sink_dir, sizeof(sink_dir), NULL);
	harness_kill(&sink);
	harness_gw_start(&gw,
	                 GW_BASE "exporters = otlp\n[exporter.otlp]\n"
	                         "endpoint = http://127.0.0.1:%d/v1/traces\ndelay_ms = 20\n"
	                         "retry_ms = 300\n",
	                 origin.port, sink.port);
	t0 = harness_now_ms();
	for (int i = 0; i < 20; i++)
		traced_get("/down", id);
	cr_assert_lt(harness_now_ms() - t0, 2000, "requests slowed down by a dead collector");
	usleep(800 * 1000); /* the retries run out */
	gw_stop(true);
	exit_counters("otlp", c);
	cr_assert_eq(c[0], 0);
	cr_assert_eq(c[2], 40, "export_failed %llu of 40", c[2]);
}

Test(export, busy_collector_retry_after_then_accepts)
{
	char id[17], *meta;
	unsigned long long c[5];
	double last = 0;
	int stored;

	/* batch_size 2 and no timer: a request's two spans are one batch */
	harness_sink_start(&sink, sink_dir, sizeof(sink_dir), "status:503:retry-after=1*2 ok");
	harness_gw_start(&gw,
	                 GW_BASE "exporters = otlp\n[exporter.otlp]\n"
	                         "endpoint = http://127.0.0.1:%d/v1/traces\nbatch_size = 2\n"
	                         "delay_ms = 60000\n",
	                 origin.port, sink.port);
	traced_get("/busy", id);
	stored = harness_sink_wait(sink_dir, 3, 5000);
	cr_assert_eq(stored, 3, "the batch was not retried twice: %d", stored);
	gw_stop(true);
	exit_counters("otlp", c);
	cr_assert_eq(c[0], 2);
	cr_assert_eq(c[2] + c[3], 0);
	for (int i = 1; i <= 3; i++) {
		double t;

		meta = sink_meta(i);
		cr_assert_eq(sscanf(strstr(meta, "\"time\": ") + 8, "%lf", &t), 1, "%s", meta);
		/* Retry-After: 1 was honoured: a second between attempts */
		cr_assert(i == 1 || t - last >= 0.95, "attempt %d came %.3f s after the 503", i,
		          t - last);
		last = t;
		cr_assert_not_null(
		        strstr(meta, i < 3 ? "\"action\": \"503\"" : "\"action\": \"200\""), "%s",
		        meta);
		free(meta);
	}
}

Test(export, bad_request_is_not_retried)
{
	char id[17];
	unsigned long long c[5];

	/* batch_size 2 and no timer: a request's two spans are one batch */
	harness_sink_start(&sink, sink_dir, sizeof(sink_dir), "status:400");
	harness_gw_start(&gw,
	                 GW_BASE "exporters = otlp\n[exporter.otlp]\n"
	                         "endpoint = http://127.0.0.1:%d/v1/traces\nbatch_size = 2\n"
	                         "delay_ms = 60000\n",
	                 origin.port, sink.port);
	traced_get("/bad", id);
	cr_assert_eq(harness_sink_wait(sink_dir, 1, 3000), 1);
	usleep(700 * 1000); /* longer than the first backoff: no second attempt */
	cr_assert_eq(harness_sink_wait(sink_dir, 2, 10), 1);
	gw_stop(true);
	exit_counters("otlp", c);
	cr_assert_eq(c[0], 0);
	cr_assert_eq(c[3], 2, "non_retryable %llu", c[3]);
}

Test(export, hanging_collector_leaves_jsonl_alone)
{
	char id[17], jsonl[64] = "/tmp/tg-spans-XXXXXX", *out;
	unsigned long long c[5];
	long t0, took;
	int fd = mkstemp(jsonl);

	cr_assert_geq(fd, 0);
	close(fd);
	harness_sink_start(&sink, sink_dir, sizeof(sink_dir), "hang");
	harness_gw_start(&gw,
	                 GW_BASE "exporters = otlp jsonl\nflush_timeout_ms = 500\n"
	                         "[exporter.otlp]\nendpoint = http://127.0.0.1:%d/v1/traces\n"
	                         "delay_ms = 20\ntimeout_ms = 60000\nqueue_size = 8\n"
	                         "batch_size = 4\n[exporter.jsonl]\npath = %s\ndelay_ms = 20\n",
	                 origin.port, sink.port, jsonl);
	t0 = harness_now_ms();
	for (int i = 0; i < 30; i++)
		traced_get("/hang", id);
	cr_assert_lt(harness_now_ms() - t0, 3000, "requests slowed down by a hanging collector");
	usleep(300 * 1000);
	out = harness_slurp(jsonl);
	cr_assert_eq(count_lines(out), 60, "jsonl got %d spans of 60", count_lines(out));
	free(out);
	/* the flush gives up after flush_timeout_ms, not after timeout_ms */
	t0 = harness_now_ms();
	gw_stop(true);
	took = harness_now_ms() - t0;
	cr_assert_lt(took, 3000, "shutdown took %ld ms", took);
	exit_counters("otlp", c);
	cr_assert_eq(c[0], 0);
	cr_assert_gt(c[1], 0, "a full queue drops spans");
	cr_assert_eq(c[1] + c[4], 60, "queue_full %llu + shutdown %llu != 60", c[1], c[4]);
	exit_counters("jsonl", c);
	cr_assert_eq(c[0], 60);
	unlink(jsonl);
}

Test(export, shutdown_flushes_what_waits)
{
	char ids[5][17], *lines;
	unsigned long long c[5];

	harness_sink_start(&sink, sink_dir, sizeof(sink_dir), NULL);
	/* nothing would go before a minute: only the flush at exit sends */
	harness_gw_start(&gw,
	                 GW_BASE "exporters = otlp\n[exporter.otlp]\n"
	                         "endpoint = http://127.0.0.1:%d/v1/traces\ndelay_ms = 60000\n",
	                 origin.port, sink.port);
	for (int i = 0; i < 5; i++)
		traced_get("/flush", ids[i]);
	usleep(200 * 1000);
	cr_assert_eq(harness_sink_wait(sink_dir, 1, 10), 0, "sent before the delay");
	gw_stop(false);
	exit_counters("otlp", c);
	cr_assert_eq(c[0], 10);
	/* the flush sends at most batch_size (512) spans a post: one post */
	cr_assert_eq(harness_sink_wait(sink_dir, 1000, 0), 1);
	lines = spans_protoc(1);
	check_tree(lines, ids, 5);
	free(lines);
}

Test(export, sigusr1_reopens_rotated_files)
{
	char spans[64] = "/tmp/tg-spans-XXXXXX", alog[64] = "/tmp/tg-alog-XXXXXX";
	char rotated[80], rotated_alog[80], id[17], *old, *now;
	int fd = mkstemp(spans), fd2 = mkstemp(alog);

	cr_assert(fd >= 0 && fd2 >= 0);
	close(fd);
	close(fd2);
	harness_gw_start(&gw,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 2\naccess_log = %s\n"
	                 "[upstream o]\nservers = 127.0.0.1:%d\n[route r]\nupstream = o\n"
	                 "[tracing]\nexporters = jsonl\n[exporter.jsonl]\npath = %s\n"
	                 "delay_ms = 20\n",
	                 alog, origin.port, spans);
	traced_get("/before", id);
	usleep(300 * 1000);
	snprintf(rotated, sizeof(rotated), "%s.1", spans);
	snprintf(rotated_alog, sizeof(rotated_alog), "%s.1", alog);
	cr_assert_eq(rename(spans, rotated), 0);
	cr_assert_eq(rename(alog, rotated_alog), 0);
	kill(gw.pid, SIGUSR1);
	for (int i = 0; i < 100 && access(spans, F_OK) != 0; i++)
		usleep(20 * 1000);
	traced_get("/after", id);
	usleep(300 * 1000);
	gw_stop(false);
	cr_assert_not_null(strstr(gw_log, "files reopened"), "%s", gw_log);
	old = harness_slurp(rotated);
	now = harness_slurp(spans);
	cr_assert(strstr(old, "/before") && !strstr(old, "/after"), "rotated: %s", old);
	cr_assert(strstr(now, "/after") && !strstr(now, "/before"), "new: %s", now);
	free(old);
	free(now);
	old = harness_slurp(rotated_alog);
	now = harness_slurp(alog);
	cr_assert(strstr(old, "/before") && !strstr(old, "/after"), "rotated log: %s", old);
	cr_assert(strstr(now, "/after") && !strstr(now, "/before"), "new log: %s", now);
	free(old);
	free(now);
	unlink(rotated);
	unlink(spans);
	unlink(rotated_alog);
	unlink(alog);
}
