/* test_metrics_registry.c: what the registry counts: histogram bucket edges,
 * status classes, indexes out of range and a NULL handle, the constructor's
 * refusals, names copied, sums across workers, each worker's block on lines
 * of its own, a scrape racing four writers, and the spare slots a reload
 * takes. The text it is read back from is test_metrics_exposition.c's. */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "metrics.h"
#include "metrics_testlib.h"

/* ---- histogram buckets ---- */

Test(metrics, bucket_edges)
{
	static const struct {
		uint64_t ns;
		int bucket;
	} rows[] = {
	        {0, 0},
	        {1, 0},
	        {1000000, 0},
	        {1000001, 1},
	        {2500000, 1},
	        {2500001, 2},
	        {999999999, 9},
	        {1000000000, 9},
	        {1000000001, 10},
	        {10000000000, 12},
	        {10000000001, 13},
	        {UINT64_MAX, 13},
	};

	for (size_t i = 0; i < N_ELEM(rows); i++)
		cr_expect_eq(metrics_dur_bucket(rows[i].ns), rows[i].bucket,
		             "%" PRIu64 ": %d != %d", rows[i].ns, metrics_dur_bucket(rows[i].ns),
		             rows[i].bucket);
	/* Every bound: on it is in, one nanosecond past is in the next. */
	for (int b = 0; b < METRICS_DUR_N - 1; b++) {
		cr_expect_eq(metrics_dur_bucket(metrics_dur_le_ns[b]), b, "bound %d", b);
		cr_expect_eq(metrics_dur_bucket(metrics_dur_le_ns[b] + 1), b + 1, "bound %d + 1",
		             b);
		if (b > 0)
			cr_expect_gt(metrics_dur_le_ns[b], metrics_dur_le_ns[b - 1],
			             "ascending at %d", b);
	}
}

Test(metrics, bucket_on_bound_rendered)
{
	static const char *const routes[] = {"r"};
	struct metrics *m = metrics_new(1, 1, routes, 0, NULL);
	char *t, buf[64];

	cr_assert_not_null(m);
	metrics_req(metrics_worker(m, 0), 0, 200, 250000000); /* exactly 0.25 s */
	metrics_req(metrics_worker(m, 0), 0, 200, 10000000001);
	t = render(m);
	cr_expect_eq(
	        value_u64(t, "tracegate_request_duration_seconds_bucket{route=\"r\",le=\"0.1\"}"),
	        0);
	cr_expect_eq(
	        value_u64(t, "tracegate_request_duration_seconds_bucket{route=\"r\",le=\"0.25\"}"),
	        1);
	cr_expect_eq(
	        value_u64(t, "tracegate_request_duration_seconds_bucket{route=\"r\",le=\"10\"}"),
	        1);
	cr_expect_eq(
	        value_u64(t, "tracegate_request_duration_seconds_bucket{route=\"r\",le=\"+Inf\"}"),
	        2);
	cr_expect_eq(value_u64(t, "tracegate_request_duration_seconds_count{route=\"r\"}"), 2);
	cr_expect_str_eq(value_str(t, "tracegate_request_duration_seconds_sum{route=\"r\"}", buf),
	                 "10.250000001");
	free(t);
	metrics_free(m);
}

/* ---- status classes and indexes ---- */

Test(metrics, status_class)
{
	static const char *const routes[] = {"r"};
	static const struct {
		int status;
		const char *cls;
	} rows[] = {
	        {100, "1xx"},
	        {199, "1xx"},
	        {200, "2xx"},
	        {299, "2xx"},
	        {300, "3xx"},
	        {404, "4xx"},
	        {499, "4xx"},
	        {500, "5xx"},
	        {599, "5xx"},
	        /* out of range: the nearest class */
	        {0, "1xx"},
	        {99, "1xx"},
	        {-1, "1xx"},
	        {600, "5xx"},
	        {999, "5xx"},
	};
	static const char *const cls[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

	for (size_t i = 0; i < N_ELEM(rows); i++) {
		struct metrics *m = metrics_new(1, 1, routes, 0, NULL);
		char *t;

		cr_assert_not_null(m);
		metrics_req(metrics_worker(m, 0), 0, rows[i].status, 5);
		t = render(m);
		for (size_t c = 0; c < N_ELEM(cls); c++) {
			char series[128];

			snprintf(series, sizeof(series),
			         "tracegate_requests_total{route=\"r\",code_class=\"%s\"}", cls[c]);
			cr_expect_eq(value_u64(t, series), strcmp(cls[c], rows[i].cls) == 0 ? 1 : 0,
			             "status %d, class %s", rows[i].status, cls[c]);
		}
		free(t);
		metrics_free(m);
	}
}

Test(metrics, indexes_out_of_range)
{
	static const char *const routes[] = {"a", "b"}, *const ups[] = {"u"};
	struct metrics *m = metrics_new(1, 2, routes, 1, ups);
	struct metrics_w *w;
	char *t;

	cr_assert_not_null(m);
	w = metrics_worker(m, 0);
	/* A route index past every slot is counted as unrouted. */
	metrics_req(w, 1 << 20, 200, 1);
	metrics_req(w, -7, 200, 1);
	metrics_req(w, METRICS_NO_ROUTE, 200, 1);
	metrics_req(w, 1, 200, 1);
	/* An upstream index out of range counts nothing anywhere. */
	metrics_ups_inc(w, 1 << 20, METRICS_UPS_RETRIES);
	metrics_ups_inc(w, -1, METRICS_UPS_RETRIES);
	metrics_ups_conns_add(w, 1 << 20, 5);
	/* A NULL handle (metrics off) counts nothing. */
	metrics_req(NULL, 0, 200, 1);
	metrics_ups_inc(NULL, 0, METRICS_UPS_RETRIES);
	metrics_ups_conns_add(NULL, 0, 1);
	metrics_client_conns_add(NULL, 1);
	t = render(m);
	cr_expect_eq(value_u64(t, "tracegate_requests_total{route=\"(none)\",code_class=\"2xx\"}"),
	             3);
	cr_expect_eq(value_u64(t, "tracegate_requests_total{route=\"a\",code_class=\"2xx\"}"), 0);
	cr_expect_eq(value_u64(t, "tracegate_requests_total{route=\"b\",code_class=\"2xx\"}"), 1);
	cr_expect_eq(value_u64(t, "tracegate_upstream_retries_total{upstream=\"u\"}"), 0);
	cr_expect_eq(value_i64(t, "tracegate_upstream_connections{upstream=\"u\"}"), 0);
	cr_expect_eq(value_i64(t, "tracegate_client_connections"), 0);
	free(t);

	cr_expect_null(metrics_worker(m, -1));
	cr_expect_null(metrics_worker(m, 1));
	metrics_free(m);
}

Test(metrics, new_rejects)
{
	static const char *const one[] = {"x"}, *const holed[] = {"x", NULL};

	errno = 0;
	cr_expect_null(metrics_new(0, 1, one, 1, one));
	cr_expect_eq(errno, EINVAL);
	errno = 0;
	cr_expect_null(metrics_new(1, -1, one, 1, one));
	cr_expect_eq(errno, EINVAL);
	errno = 0;
	cr_expect_null(metrics_new(1, 1, NULL, 0, NULL));
	cr_expect_eq(errno, EINVAL);
	errno = 0;
	cr_expect_null(metrics_new(1, 1, one, 2, holed));
	cr_expect_eq(errno, EINVAL);
	errno = 0;
	cr_expect_null(metrics_new(1, 65537, one, 0, NULL));
	cr_expect_eq(errno, EINVAL);
	metrics_free(NULL);
}

/* The names are copied: the caller's config may go away (reload). */
Test(metrics, names_copied)
{
	char route[] = "api", ups[] = "orders";
	const char *routes[] = {route}, *upsv[] = {ups};
	struct metrics *m = metrics_new(1, 1, routes, 1, upsv);
	char *t;

	cr_assert_not_null(m);
	route[0] = 'X';
	ups[0] = 'X';
	t = render(m);
	cr_expect_not_null(
	        find_value(t, "tracegate_requests_total{route=\"api\",code_class=\"2xx\"}"));
	cr_expect_not_null(find_value(t, "tracegate_upstream_connections{upstream=\"orders\"}"));
	free(t);
	metrics_free(m);
}

/* ---- sums across workers ---- */

Test(metrics, sums_across_workers)
{
	static const char *const routes[] = {"r"}, *const ups[] = {"u", "v"};
	struct metrics *m = metrics_new(3, 1, routes, 2, ups);
	char *t, buf[64];

	cr_assert_not_null(m);
	for (int w = 0; w < 3; w++) {
		struct metrics_w *mw = metrics_worker(m, w);

		/* worker w counts w + 1 of each: 1 + 2 + 3 = 6 */
		for (int i = 0; i <= w; i++) {
			metrics_req(mw, 0, 201, 1000000000);
			metrics_ups_inc(mw, 1, METRICS_UPS_POOL_MISSES);
			metrics_ups_conns_add(mw, 0, 1);
			metrics_client_conns_add(mw, 1);
		}
	}
	/* A worker below zero on its own (impossible when opens and closes
	 * pair up, but a sum must not care) still sums exactly. */
	metrics_client_conns_add(metrics_worker(m, 0), -9);
	metrics_ups_conns_add(metrics_worker(m, 2), 0, -7);
	t = render(m);
	cr_expect_eq(value_u64(t, "tracegate_requests_total{route=\"r\",code_class=\"2xx\"}"), 6);
	cr_expect_eq(value_u64(t, "tracegate_request_duration_seconds_count{route=\"r\"}"), 6);
	cr_expect_str_eq(value_str(t, "tracegate_request_duration_seconds_sum{route=\"r\"}", buf),
	                 "6");
	cr_expect_eq(value_i64(t, "tracegate_client_connections"), -3);
	cr_expect_eq(value_i64(t, "tracegate_upstream_connections{upstream=\"u\"}"), -1);
	cr_expect_eq(value_i64(t, "tracegate_upstream_connections{upstream=\"v\"}"), 0);
	cr_expect_eq(value_u64(t, "tracegate_upstream_pool_misses_total{upstream=\"u\"}"), 0);
	cr_expect_eq(value_u64(t, "tracegate_upstream_pool_misses_total{upstream=\"v\"}"), 6);
	cr_expect_eq(value_u64(t, "tracegate_upstream_pool_hits_total{upstream=\"v\"}"), 0);
	free(t);
	metrics_free(m);
}

/* Each worker's block lies on cache-line pairs of its own. */
Test(metrics, blocks_apart)
{
	static const char *const routes[] = {"r"}, *const ups[] = {"u"};
	struct metrics *m = metrics_new(4, 1, routes, 1, ups);

	cr_assert_not_null(m);
	for (int w = 0; w < 4; w++) {
		struct metrics_w *mw = metrics_worker(m, w);
		uintptr_t lo = (uintptr_t)mw, hi = (uintptr_t)&mw->ups[METRICS_UPS_N - 1];

		cr_expect_eq(lo % 128, 0, "worker %d at %#lx", w, (unsigned long)lo);
		cr_expect_eq((uintptr_t)mw->req % 128, 0, "worker %d counters", w);
		/* no other block starts within this one's lines */
		for (int o = 0; o < 4; o++) {
			uintptr_t other = (uintptr_t)metrics_worker(m, o);

			if (o != w)
				cr_expect(other > hi / 128 * 128 + 127 || other + 127 < lo,
				          "workers %d and %d share a line", w, o);
		}
	}
	metrics_free(m);
}

/* ---- a scrape racing the writers ---- */

#define RACE_WORKERS 4
#define RACE_ITERS   1000000

struct race {
	struct metrics *m;
	int w;
	atomic_int *running;
	atomic_int *scrapes;
	pthread_barrier_t *start;
};

static void *race_writer(void *arg)
{
	struct race *r = arg;
	struct metrics_w *mw = metrics_worker(r->m, r->w);

	pthread_barrier_wait(r->start);
	for (int i = 0; i < RACE_ITERS; i++) {
		/* At a third and two thirds, wait for a first and a second
		 * scrape: at least two surely read the blocks while they are
		 * being written, however the threads are scheduled. */
		if (i == RACE_ITERS / 3 || i == 2 * (RACE_ITERS / 3))
			while (atomic_load(r->scrapes) < (i == RACE_ITERS / 3 ? 1 : 2))
				sched_yield();
		metrics_req(mw, i & 1, 200, (uint64_t)(i % 3) * 1000000);
		metrics_ups_inc(mw, 0, METRICS_UPS_POOL_HITS);
		metrics_client_conns_add(mw, 1);
		metrics_client_conns_add(mw, -1);
	}
	metrics_client_conns_add(mw, 1);
	atomic_fetch_sub(r->running, 1);
	return NULL;
}

struct race_scrape {
	struct metrics *m;
	atomic_int *running;
	atomic_int scrapes;
	char err[512]; /* the first problem seen; criterion asserts belong to the main thread */
};

/* Sets <err> unless set: what a scrape must never show. */
static void race_fail(struct race_scrape *s, const char *what, uint64_t a, uint64_t b)
{
	if (!s->err[0])
		snprintf(s->err, sizeof(s->err), "scrape %d: %s (%" PRIu64 ", %" PRIu64 ")",
		         atomic_load(&s->scrapes), what, a, b);
}

static uint64_t race_val(const char *t, const char *series)
{
	const char *v = find_value(t, series);

	return v ? strtoull(v, NULL, 10) : UINT64_MAX;
}

static void *race_scraper(void *arg)
{
	struct race_scrape *s = arg;
	uint64_t last = 0, max = (uint64_t)RACE_WORKERS * RACE_ITERS / 2;

	while (atomic_load(s->running) > 0 || atomic_load(&s->scrapes) == 0) {
		struct evbuffer *b = evbuffer_new();
		char *t;
		uint64_t req, inf, count, prev = 0;
		int64_t conns;
		size_t n;

		if (!b || metrics_render(s->m, b)) {
			race_fail(s, "render failed", 0, 0);
			evbuffer_free(b);
			atomic_fetch_add(&s->scrapes, 2); /* the writers wait for two */
			return NULL;
		}
		n = evbuffer_get_length(b);
		t = malloc(n + 1);
		evbuffer_remove(b, t, n);
		t[n] = '\0';
		evbuffer_free(b);

		req = race_val(t, "tracegate_requests_total{route=\"a\",code_class=\"2xx\"}");
		if (req < last || req > max)
			race_fail(s, "requests went back or past the end", req, last);
		last = req;
		for (size_t i = 0; i < METRICS_DUR_N - 1; i++) {
			char series[128], le[16];
			uint64_t v;

			snprintf(le, sizeof(le), "%g", (double)metrics_dur_le_ns[i] / 1e9);
			snprintf(series, sizeof(series),
			         "tracegate_request_duration_seconds_bucket{route=\"b\",le=\"%s\"}",
			         le);
			v = race_val(t, series);
			if (v == UINT64_MAX || v < prev)
				race_fail(s, "buckets not cumulative", v, prev);
			prev = v;
		}
		inf = race_val(
		        t, "tracegate_request_duration_seconds_bucket{route=\"b\",le=\"+Inf\"}");
		count = race_val(t, "tracegate_request_duration_seconds_count{route=\"b\"}");
		if (inf != count || inf < prev)
			race_fail(s, "+Inf bucket and _count differ", inf, count);
		conns = (int64_t)race_val(t, "tracegate_client_connections");
		if (conns < 0 || conns > RACE_WORKERS)
			race_fail(s, "client connections out of range", (uint64_t)conns, 0);
		free(t);
		atomic_fetch_add(&s->scrapes, 1);
		/* Leave a core to the writers: on two cores a scraper that
		 * never sleeps leaves them one, and they would only take
		 * turns instead of running side by side. */
		usleep(100);
	}
	return NULL;
}

Test(metrics, scrape_races_writers)
{
	static const char *const routes[] = {"a", "b"}, *const ups[] = {"u"};
	struct metrics *m = metrics_new(RACE_WORKERS, 2, routes, 1, ups);
	atomic_int running = RACE_WORKERS;
	pthread_barrier_t start;
	struct race r[RACE_WORKERS];
	struct race_scrape s = {.m = NULL};
	pthread_t th[RACE_WORKERS], scraper;
	uint64_t per_route = (uint64_t)RACE_WORKERS * RACE_ITERS / 2;
	char *t;

	cr_assert_not_null(m);
	cr_assert_eq(pthread_barrier_init(&start, NULL, RACE_WORKERS), 0);
	s.m = m;
	s.running = &running;
	cr_assert_eq(pthread_create(&scraper, NULL, race_scraper, &s), 0);
	for (int i = 0; i < RACE_WORKERS; i++) {
		r[i] = (struct race){.m = m,
		                     .w = i,
		                     .running = &running,
		                     .scrapes = &s.scrapes,
		                     .start = &start};
		cr_assert_eq(pthread_create(&th[i], NULL, race_writer, &r[i]), 0);
	}
	for (int i = 0; i < RACE_WORKERS; i++)
		pthread_join(th[i], NULL);
	pthread_join(scraper, NULL);
	pthread_barrier_destroy(&start);
	cr_expect_str_empty(s.err, "%s", s.err);
	cr_expect_geq(atomic_load(&s.scrapes), 2, "scrapes: %d", atomic_load(&s.scrapes));

	t = render(m);
	cr_expect_eq(value_u64(t, "tracegate_requests_total{route=\"a\",code_class=\"2xx\"}"),
	             per_route);
	cr_expect_eq(value_u64(t, "tracegate_requests_total{route=\"b\",code_class=\"2xx\"}"),
	             per_route);
	cr_expect_eq(value_u64(t, "tracegate_request_duration_seconds_count{route=\"a\"}"),
	             per_route);
	/* i % 3 ms: a third of them 0, 1ms (le 0.001) and 2ms (le 0.0025) */
	cr_expect_eq(
	        value_u64(t,
	                  "tracegate_request_duration_seconds_bucket{route=\"a\",le=\"0.001\"}") +
	                value_u64(t, "tracegate_request_duration_seconds_bucket{route=\"b\",le=\""
	                             "0.001\"}"),
	        (uint64_t)RACE_WORKERS * ((RACE_ITERS + 2) / 3 + (RACE_ITERS + 1) / 3));
	cr_expect_eq(value_u64(t, "tracegate_upstream_pool_hits_total{upstream=\"u\"}"),
	             (uint64_t)RACE_WORKERS * RACE_ITERS);
	cr_expect_eq(value_i64(t, "tracegate_client_connections"), RACE_WORKERS);
	free(t);
	metrics_free(m);
}

/* A reload's new names take spare slots, shown from then on; a name keeps
 * its slot (and its counts) across reloads; the spares run out cleanly. */
Test(metrics, reload_slots)
{
	static const char *const routes[] = {"a"}, *const ups[] = {"u"};
	struct metrics *m = metrics_new(1, 1, routes, 1, ups);
	struct metrics_w *w;
	char *t, name[32];
	int slot, n;

	cr_assert_not_null(m);
	w = metrics_worker(m, 0);
	cr_expect_eq(metrics_route_slot(m, "a"), 0);
	cr_expect_eq(metrics_ups_slot(m, "u"), 0);
	metrics_req(w, 0, 200, 1);
	t = render(m);
	cr_expect_null(strstr(t, "route=\"b\""), "%s", t);
	free(t);
	slot = metrics_route_slot(m, "b");
	cr_expect_eq(slot, 1);
	cr_expect_eq(metrics_ups_slot(m, "v"), 1);
	metrics_req(w, slot, 503, 1);
	metrics_ups_inc(w, 1, METRICS_UPS_RETRIES);
	cr_expect_eq(metrics_route_slot(m, "a"), 0);
	t = render(m);
	cr_expect_eq(value_u64(t, "tracegate_requests_total{route=\"a\",code_class=\"2xx\"}"), 1);
	cr_expect_eq(value_u64(t, "tracegate_requests_total{route=\"b\",code_class=\"5xx\"}"), 1);
	cr_expect_eq(value_u64(t, "tracegate_upstream_retries_total{upstream=\"v\"}"), 1);
	/* the unrouted series still comes last, after the new route */
	cr_expect(strstr(t, "route=\"b\"") < strstr(t, "route=\"(none)\""), "%s", t);
	free(t);
	for (n = 0; n < 1000; n++) {
		snprintf(name, sizeof(name), "r%d", n);
		if ((slot = metrics_route_slot(m, name)) < 0)
			break;
	}
	cr_expect_eq(slot, -ENOSPC);
	cr_expect_gt(n, 100, "a reload can add many names: %d", n);
	metrics_free(m);
}
