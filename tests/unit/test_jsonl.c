/* test_jsonl.c: the JSON-lines exporter writes the exact line expected for a
 * span, escapes what JSON needs escaped and turns bytes that are not UTF-8
 * into U+FFFD, so a hostile header value never breaks a line. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "trace/export.h"
#include "trace/span.h"
#include "trace/trace.h"

/* Writes <n> spans through the exporter into a temporary file; returns what
 * the file holds (malloc'd). */
static char *write_spans(const struct span *const *spans, int n)
{
	char path[] = "/tmp/tg-jsonl-XXXXXX";
	int fd = mkstemp(path);
	struct trace_exp_cfg ec = {.path = path, .delay_ms = 1};
	struct export_ctl ctl = {.stop_fd = -1};
	struct cfg c = {0};
	char *out = calloc(1, 65536);
	void *st;
	FILE *f;

	cr_assert_geq(fd, 0);
	close(fd);
	c.gw.service_name = "svc";
	cr_assert_eq(jsonl_exporter.open(&c, &ec, &st), 0);
	cr_expect_eq(jsonl_exporter.send(st, spans, n, &ctl), EXPORT_SENT);
	jsonl_exporter.close(st);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_lt(fread(out, 1, 65535, f), 65535);
	fclose(f);
	unlink(path);
	return out;
}

static void fill_ids(struct span *s, uint8_t seed)
{
	for (int i = 0; i < 16; i++)
		s->trace_id[i] = (uint8_t)(seed + i);
	for (int i = 0; i < 8; i++)
		s->span_id[i] = (uint8_t)(0xa0 + i);
}

Test(jsonl, server_span_exact_line)
{
	static struct span s;
	const struct span *list[] = {&s};
	char *got;

	span_reset(&s);
	fill_ids(&s, 1);
	s.flags = 3;
	s.kind = SPAN_KIND_SERVER;
	s.status = SPAN_ST_ERROR;
	s.start_ns = 1700000000000000000ull;
	s.end_ns = 1700000000001000000ull;
	span_set_name(&s, "GET /api", 8);
	span_set_tracestate(&s, "ot=th:0", 7);
	span_attr_str(&s, SPAN_A_URL_PATH, "/a\"b\\c\x01", 7);
	span_attr_int(&s, SPAN_A_HTTP_RESPONSE_STATUS_CODE, 502);
	span_attr_int(&s, SPAN_A_SERVER_PORT, -1);
	s.has_link = true;
	memset(s.link_trace_id, 0x11, 16);
	memset(s.link_span_id, 0x22, 8);
	s.link_flags = 1;
	got = write_spans(list, 1);
	cr_expect_str_eq(
	        got,
	        "{\"service\":\"svc\",\"traceId\":\"0102030405060708090a0b0c0d0e0f10\","
	        "\"spanId\":\"a0a1a2a3a4a5a6a7\",\"traceState\":\"ot=th:0\",\"flags\":3,"
	        "\"name\":\"GET /api\",\"kind\":\"SERVER\",\"startTimeUnixNano\":"
	        "1700000000000000000,\"endTimeUnixNano\":1700000000001000000,\"status\":\"ERROR\","
	        "\"attributes\":{\"url.path\":\"/a\\\"b\\\\c\\u0001\","
	        "\"http.response.status_code\":502,\"server.port\":-1},"
	        "\"links\":[{\"traceId\":\"11111111111111111111111111111111\","
	        "\"spanId\":\"2222222222222222\",\"flags\":1}]}\n");
	free(got);
}

Test(jsonl, client_span_events_and_parent)
{
	static struct span s, s2;
	const struct span *list[] = {&s, &s2};
	char *got, *second;

	span_reset(&s);
	fill_ids(&s, 0);
	memset(s.parent_id, 0x0f, 8);
	s.kind = SPAN_KIND_CLIENT;
	s.ev_ns[SPAN_EV_CONNECT_START] = 5;
	s.ev_ns[SPAN_EV_FIRST_BYTE] = 7;
	span_set_name(&s, "GET", 3);
	s2 = s;
	s2.ev_ns[SPAN_EV_FIRST_BYTE] = 0;
	got = write_spans(list, 2);
	second = strchr(got, '\n');
	cr_assert_not_null(second);
	*second++ = '\0';
	cr_expect_not_null(strstr(got, "\"parentSpanId\":\"0f0f0f0f0f0f0f0f\""), "%s", got);
	cr_expect_not_null(strstr(got, "\"kind\":\"CLIENT\""));
	cr_expect_not_null(strstr(got,
	                          ",\"events\":[{\"name\":\"connect_start\",\"timeUnixNano\":5},"
	                          "{\"name\":\"first_byte\",\"timeUnixNano\":7}]}"),
	                   "%s", got);
	cr_expect_not_null(strstr(second, ",\"events\":[{\"name\":\"connect_start\","
	                                  "\"timeUnixNano\":5}]}\n"),
	                   "%s", second);
	free(got);
}

/* Header bytes are not always text: valid UTF-8 passes, the rest becomes
 * U+FFFD, and a value cut by the span's string cap stays valid JSON. */
Test(jsonl, utf8_checked)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	        {"caf\xc3\xa9", "caf\xc3\xa9"},
	        {"\xe2\x82\xac", "\xe2\x82\xac"},
	        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
	        {"a\xff", "a\\ufffd"},
	        {"\xc3", "\\ufffd"},
	        {"\xc0\xaf", "\\ufffd\\ufffd"},            /* overlong '/' */
	        {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"}, /* a surrogate */
	        {"\x7f", "\\u007f"},
	        {"tab\there", "tab\\u0009here"},
	};
	static struct span s;
	const struct span *list[] = {&s};
	char want[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got;

		span_reset(&s);
		fill_ids(&s, 1);
		span_attr_str(&s, SPAN_A_USER_AGENT, cases[i].in, strlen(cases[i].in));
		got = write_spans(list, 1);
		snprintf(want, sizeof(want), "\"user_agent.original\":\"%s\"}", cases[i].want);
		cr_expect_not_null(strstr(got, want), "case %zu: %s", i, got);
		free(got);
	}
}
