/* test_store.c: the embedded trace store: spans assembled by trace-id, the
 * trace list's summary (root, services, route, status, error), the query
 * filters, eviction by count and by bytes, the oldest first. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "trace/store.h"

#define MS 1000000ull

static void span_in(struct store_span_in *s, uint8_t trace, uint8_t span, uint8_t parent,
                    const char *name, const char *service, uint64_t start_ms, uint64_t end_ms)
{
	memset(s, 0, sizeof(*s));
	memset(s->trace_id, trace, 16);
	memset(s->span_id, span, 8);
	if (parent) {
		memset(s->parent_id, parent, 8);
		s->has_parent = true;
	}
	s->name = name;
	s->name_len = strlen(name);
	s->service = service;
	s->service_len = strlen(service);
	s->kind = 2;
	s->start_ns = start_ms * MS;
	s->end_ns = end_ms * MS;
	s->attrs_json = "{\"k\":1}";
	s->attrs_len = 7;
}

static char *list(const struct store_query *q)
{
	static char out[65536];
	struct tbuf b = {0};

	store_list_json(&b, q);
	cr_assert(!b.failed);
	cr_assert_lt(b.len, sizeof(out));
	memcpy(out, b.p, b.len);
	out[b.len] = '\0';
	tbuf_free(&b);
	return out;
}

static void fini(void)
{
	store_free();
}

TestSuite(store, .fini = fini);

Test(store, assembles_a_trace_and_summarises_it)
{
	struct store_span_in s;
	struct store_query q = {0};
	struct tbuf b = {0};
	uint8_t id[16];
	char *out;

	cr_assert_eq(store_init(10, 1 << 20), 0);
	/* the child arrives first: the root is still the span without parent */
	span_in(&s, 0xaa, 2, 1, "GET /child", "node-app", 105, 140);
	s.status = 2;
	cr_assert_eq(store_add(&s), 0);
	span_in(&s, 0xaa, 1, 0, "GET /api", "tracegate", 100, 150);
	s.route = "api";
	s.route_len = 3;
	s.http_status = 502;
	cr_assert_eq(store_add(&s), 0);
	out = list(&q);
	cr_assert_not_null(strstr(out, "\"rootName\":\"GET /api\",\"rootService\":\"tracegate\","
	                               "\"route\":\"api\",\"statusCode\":502"),
	                   "%s", out);
	cr_assert_not_null(strstr(out, "\"durationNs\":\"50000000\",\"spanCount\":2,"
	                               "\"services\":[\"node-app\",\"tracegate\"],\"error\":true"),
	                   "%s", out);
	memset(id, 0xaa, 16);
	cr_assert(store_trace_json(&b, id));
	cr_assert_not_null(strstr(b.p, "\"spanId\":\"0202020202020202\",\"parentSpanId\":"
	                               "\"0101010101010101\",\"name\":\"GET /child\",\"kind\":"
	                               "\"SERVER\",\"service\":\"node-app\",\"startTimeUnixNano\":"
	                               "\"105000000\""));
	cr_assert_not_null(strstr(b.p, "\"status\":\"ERROR\",\"attributes\":{\"k\":1},\"events\":[]"));
	tbuf_free(&b);
	memset(id, 0xbb, 16);
	cr_assert_not(store_trace_json(&b, id));
	tbuf_free(&b);
}

Test(store, filters_and_newest_first)
{
	struct store_span_in s;
	struct store_query q = {0};
	char *out;

	cr_assert_eq(store_init(10, 1 << 20), 0);
	span_in(&s, 1, 1, 0, "fast", "a", 0, 1);
	cr_assert_eq(store_add(&s), 0);
	span_in(&s, 2, 1, 0, "slow", "b", 0, 900);
	s.route = "r2";
	s.route_len = 2;
	cr_assert_eq(store_add(&s), 0);
	span_in(&s, 3, 1, 0, "broken", "a", 0, 5);
	s.status = 2;
	cr_assert_eq(store_add(&s), 0);

	out = list(&q);
	cr_assert_lt(strstr(out, "broken"), strstr(out, "slow"), "newest first: %s", out);
	cr_assert_lt(strstr(out, "slow"), strstr(out, "fast"), "%s", out);
	q.limit = 1;
	out = list(&q);
	cr_assert(strstr(out, "broken") && !strstr(out, "slow"), "%s", out);
	q = (struct store_query){.service = "a"};
	out = list(&q);
	cr_assert(strstr(out, "broken") && strstr(out, "fast") && !strstr(out, "slow"), "%s", out);
	q = (struct store_query){.route = "r2"};
	out = list(&q);
	cr_assert(strstr(out, "slow") && !strstr(out, "fast"), "%s", out);
	q = (struct store_query){.min_duration_ns = 100 * MS};
	out = list(&q);
	cr_assert(strstr(out, "slow") && !strstr(out, "broken"), "%s", out);
	q = (struct store_query){.errors_only = true};
	out = list(&q);
	cr_assert(strstr(out, "broken") && !strstr(out, "slow"), "%s", out);
	cr_assert_not_null(strstr(out, "\"total\":3}"), "%s", out);
}

Test(store, evicts_the_oldest_by_count)
{
	struct store_span_in s;
	struct store_stats st;
	struct tbuf b = {0};
	uint8_t id[16];

	cr_assert_eq(store_init(3, 1 << 20), 0);
	for (int i = 1; i <= 5; i++) {
		span_in(&s, (uint8_t)i, 1, 0, "x", "a", 0, 1);
		cr_assert_eq(store_add(&s), 0);
	}
	store_stats(&st);
	cr_assert_eq(st.traces, 3);
	cr_assert_eq(st.evicted, 2);
	memset(id, 1, 16);
	cr_assert_not(store_trace_json(&b, id), "the oldest went first");
	memset(id, 5, 16);
	cr_assert(store_trace_json(&b, id));
	tbuf_free(&b);
}

Test(store, evicts_by_bytes_and_keeps_the_count_right)
{
	struct store_span_in s;
	struct store_stats st;
	char name[2000];

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	cr_assert_eq(store_init(1000, 20000), 0);
	for (int i = 1; i <= 40; i++) {
		span_in(&s, (uint8_t)i, 1, 0, name, "a", 0, 1);
		cr_assert_eq(store_add(&s), 0);
		store_stats(&st);
		cr_assert_leq(st.bytes, 20000 + 4096, "over the bound: %llu",
		              (unsigned long long)st.bytes);
	}
	store_stats(&st);
	cr_assert_gt(st.evicted, 20);
	cr_assert_eq(st.traces + st.evicted, 40);
	cr_assert_eq(st.spans, st.traces);
}
