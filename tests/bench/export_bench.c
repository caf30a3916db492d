/* export_bench.c: how fast the exporters' encoders turn span records into
 * request bodies, on one core. A benchmark, not a test: it prints figures
 * and exits 0 whatever they are.
 *
 * Usage: tg-export-bench [SECONDS]     run about SECONDS (default 2)
 *        tg-export-bench -n BATCHES    run exactly BATCHES (for valgrind, perf)
 *
 * The batch is what a busy gateway hands an exporter: 512 spans, half
 * SERVER spans with 14 attributes, half CLIENT spans with 8 attributes
 * and 5 timing events, strings of typical length, distinct ids.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trace/encode.h"

#define BENCH_BATCH 512

#define STR(s, k, v) span_attr_str(s, k, v, strlen(v))

static void bench_ids(struct span *s, uint64_t seed)
{
	/* splitmix64: ids that look random, the same on every run */
	for (int i = 0; i < 4; i++) {
		uint64_t z = (seed += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		if (i < 2)
			memcpy(s->trace_id + 8 * i, &z, 8);
		else if (i == 2)
			memcpy(s->span_id, &z, 8);
		else
			memcpy(s->parent_id, &z, 8);
	}
}

static void bench_server(struct span *s, uint64_t seed, uint64_t t0)
{
	span_reset(s);
	bench_ids(s, seed);
	s->kind = SPAN_KIND_SERVER;
	s->flags = 0x03;
	s->start_ns = t0;
	s->end_ns = t0 + 2345678;
	span_set_name(s, "GET /api/orders", 15);
	span_set_tracestate(s, "ot=th:c,vendor=abc123", 21);
	STR(s, SPAN_A_HTTP_REQUEST_METHOD, "GET");
	STR(s, SPAN_A_URL_PATH, "/api/orders/1234567/items");
	STR(s, SPAN_A_URL_QUERY, "page=2&limit=50");
	STR(s, SPAN_A_URL_SCHEME, "http");
	STR(s, SPAN_A_HTTP_ROUTE, "/api/orders");
	STR(s, SPAN_A_TG_ROUTE, "orders");
	STR(s, SPAN_A_USER_AGENT,
	    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0");
	STR(s, SPAN_A_CLIENT_ADDRESS, "203.0.113.17");
	span_attr_int(s, SPAN_A_CLIENT_PORT, 51234);
	STR(s, SPAN_A_SERVER_ADDRESS, "shop.example.com");
	span_attr_int(s, SPAN_A_SERVER_PORT, 443);
	STR(s, SPAN_A_NET_PROTOCOL_VERSION, "1.1");
	span_attr_int(s, SPAN_A_HTTP_RESPONSE_STATUS_CODE, 200);
	STR(s, SPAN_A_TG_UPSTREAM, "orders");
}

static void bench_client(struct span *s, uint64_t seed, uint64_t t0)
{
	span_reset(s);
	bench_ids(s, seed);
	s->kind = SPAN_KIND_CLIENT;
	s->flags = 0x03;
	s->start_ns = t0 + 20000;
	s->end_ns = t0 + 2300000;
	span_set_name(s, "GET", 3);
	for (int i = 0; i < SPAN_EV_N; i++)
		if (i != SPAN_EV_TLS_END)
			s->ev_ns[i] = t0 + 20000 + 400000 * (uint64_t)i;
	STR(s, SPAN_A_HTTP_REQUEST_METHOD, "GET");
	STR(s, SPAN_A_SERVER_ADDRESS, "10.0.3.21");
	span_attr_int(s, SPAN_A_SERVER_PORT, 9001);
	STR(s, SPAN_A_NET_PEER_ADDRESS, "10.0.3.21");
	span_attr_int(s, SPAN_A_NET_PEER_PORT, 9001);
	STR(s, SPAN_A_PEER_SERVICE, "orders");
	STR(s, SPAN_A_NET_PROTOCOL_VERSION, "1.1");
	span_attr_int(s, SPAN_A_HTTP_RESPONSE_STATUS_CODE, 200);
}

static double bench_now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static struct span spans[BENCH_BATCH];
	static const struct span *list[BENCH_BATCH];
	const struct export_resource res = {
	        .service_name = "tracegate",
	        .service_version = TG_VERSION,
	        .host_name = "gw-bench-1",
	};
	uint64_t t0 = 1700000000000000000ull, batches = 0, bytes = 0, want = 0;
	struct tbuf b = {0};
	double secs = 2.0, w0, c0, wall, cpu, n;

	if (argc == 2)
		secs = strtod(argv[1], NULL);
	else if (argc == 3 && strcmp(argv[1], "-n") == 0)
		want = strtoull(argv[2], NULL, 10);
	if ((argc != 1 && argc != 2 && !want) || !(secs > 0)) {
		fprintf(stderr, "usage: %s [SECONDS | -n BATCHES]\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < BENCH_BATCH; i++) {
		if (i % 2)
			bench_client(&spans[i], (uint64_t)i, t0 + 1000000 * (uint64_t)i);
		else
			bench_server(&spans[i], (uint64_t)i, t0 + 1000000 * (uint64_t)i);
		list[i] = &spans[i];
	}

	/* one batch first: the buffer reaches its size outside the clock */
	if (otlp_pb_encode(&b, &res, list, BENCH_BATCH)) {
		fprintf(stderr, "otlp_pb_encode: out of memory\n");
		return 1;
	}
	w0 = bench_now(CLOCK_MONOTONIC);
	c0 = bench_now(CLOCK_THREAD_CPUTIME_ID);
	do {
		/* the clock is read every 64 batches, not every batch */
		for (int k = 0; k < 64 && (!want || batches < want); k++, batches++) {
			tbuf_reset(&b);
			if (otlp_pb_encode(&b, &res, list, BENCH_BATCH)) {
				fprintf(stderr, "otlp_pb_encode: out of memory\n");
				return 1;
			}
			bytes += b.len;
		}
	} while (want ? batches < want : bench_now(CLOCK_MONOTONIC) - w0 < secs);
	wall = bench_now(CLOCK_MONOTONIC) - w0;
	cpu = bench_now(CLOCK_THREAD_CPUTIME_ID) - c0;

	/* spans per CPU second is the figure to compare when the machine is
	 * busy: the wall-clock rate then also counts the time others ran */
	n = (double)(batches * BENCH_BATCH);
	printf("encoder  batch  spans/s     spans/cpu-s  ns/span (cpu)  bytes/span  MB/s (cpu)\n");
	printf("otlp_pb  %-5d  %-10.0f  %-11.0f  %-13.1f  %-10.1f  %.1f\n", BENCH_BATCH, n / wall,
	       n / cpu, cpu * 1e9 / n, (double)bytes / n, (double)bytes / cpu / 1e6);
	tbuf_free(&b);
	return 0;
}
