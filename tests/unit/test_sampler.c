/* test_sampler.c: thresholds against the spec's table, th/rv in the "ot"
 * tracestate entry, the keep rule in distribution, and the GCRA rate cap on
 * synthetic clocks (one thread and two). */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "trace/sampler.h"

#define T_HALF UINT64_C(0x80000000000000)

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* th string of <t>, NUL-terminated into <buf>. */
static const char *th_str(uint64_t t, char buf[SAMPLER_TH_MAX + 1])
{
	buf[sampler_th_format(t, buf)] = '\0';
	return buf;
}

Test(sampler, threshold_exact)
{
	static const struct {
		double p;
		uint64_t t;
	} rows[] = {
	        {1.0, 0},
	        {0.0, SAMPLER_MAX_T},
	        {0.5, T_HALF},
	        {0.25, UINT64_C(0xc0000000000000)},
	        {0.125, UINT64_C(0xe0000000000000)},
	        {0.0625, UINT64_C(0xf0000000000000)},
	        {0.75, UINT64_C(0x40000000000000)},
	        /* not dyadic: exact results of 2^56 - round(p * 2^56) */
	        {0.1, UINT64_C(0xe6666666666666)},
	        {0.2, UINT64_C(0xcccccccccccccc)},
	        {1.0 / 3, UINT64_C(0xaaaaaaaaaaaaac)},
	        {0.01, UINT64_C(0xfd70a3d70a3d71)},
	        {1e-9, UINT64_C(72057593965870342)},
	        {0.999999999, UINT64_C(72057592)},
	        /* the ends of the valid range, and below it */
	        {0x1p-56, SAMPLER_R_MASK},
	        {1.0 - 0x1p-53, 8},
	        {0x1p-58, SAMPLER_MAX_T},
	        /* out of range clamps; NaN is "never" */
	        {-0.5, SAMPLER_MAX_T},
	        {1.5, 0},
	        {INFINITY, 0},
	        {-INFINITY, SAMPLER_MAX_T},
	        {NAN, SAMPLER_MAX_T},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		cr_expect_eq(sampler_threshold(rows[i].p), rows[i].t, "p=%.17g: %#llx != %#llx",
		             rows[i].p, (unsigned long long)sampler_threshold(rows[i].p),
		             (unsigned long long)rows[i].t);
}

/* <t> rounded half-up to <n> hex digits, trailing zeros removed: how the
 * spec's table shows a threshold at a given precision. */
static const char *th_rounded(uint64_t t, size_t n, char buf[SAMPLER_TH_MAX + 1])
{
	unsigned shift = 4 * (unsigned)(SAMPLER_TH_MAX - n);

	if (shift)
		t = (t + (UINT64_C(1) << (shift - 1))) >> shift << shift;
	return th_str(t, buf);
}

Test(sampler, threshold_spec_table)
{
	/* tracestate-probability-sampling.md, 1-in-N table, precision 3, 4, 5 */
	static const struct {
		double p;
		const char *th[3];
	} rows[] = {
	        {1, {"0", "0", "0"}},
	        {0.5, {"8", "8", "8"}},
	        {0.3333333333333333, {"aab", "aaab", "aaaab"}},
	        {0.25, {"c", "c", "c"}},
	        {0.2, {"ccd", "cccd", "ccccd"}},
	        {0.125, {"e", "e", "e"}},
	        {0.1, {"e66", "e666", "e6666"}},
	        {0.0625, {"f", "f", "f"}},
	        {0.01, {"fd71", "fd70a", "fd70a4"}},
	        {0.001, {"ffbe7", "ffbe77", "ffbe76d"}},
	        {0.0001, {"fff972", "fff9724", "fff97247"}},
	        {0.00001, {"ffff584", "ffff583a", "ffff583a5"}},
	        {0.000001, {"ffffef4", "ffffef39", "ffffef391"}},
	};
	char buf[SAMPLER_TH_MAX + 1];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t t = sampler_threshold(rows[i].p);

		for (int k = 0; k < 3; k++) {
			const char *want = rows[i].th[k];
			/* a dyadic row is exact: its th has fewer digits than
			 * the precision, so round at that precision instead */
			size_t n = strlen(want) < 3 ? (size_t)3 + (size_t)k : strlen(want);

			cr_expect_str_eq(th_rounded(t, n, buf), want, "p=%g precision %zu",
			                 rows[i].p, n);
		}
	}
	/* the spec's worked example: 1% at 5 digits is 0xfd70a400000000 */
	cr_expect_str_eq(th_str(UINT64_C(0xfd70a400000000), buf), "fd70a4");
}

Test(sampler, threshold_is_monotonic)
{
	uint64_t prev = SAMPLER_MAX_T;

	for (int i = 0; i <= 1000; i++) {
		uint64_t t = sampler_threshold(i / 1000.0);

		cr_expect_leq(t, prev, "p=%g", i / 1000.0);
		prev = t;
	}
}

Test(sampler, th_format)
{
	static const struct {
		uint64_t t;
		const char *th;
	} rows[] = {
	        {0, "0"},
	        {T_HALF, "8"},
	        {UINT64_C(0xc0000000000000), "c"},
	        {UINT64_C(0xfd70a400000000), "fd70a4"},
	        {UINT64_C(0x0f000000000000), "0f"},
	        {UINT64_C(0x00000000000010), "0000000000001"},
	        {1, "00000000000001"},
	        {SAMPLER_R_MASK, "ffffffffffffff"},
	        {UINT64_C(0xe6666666666666), "e6666666666666"},
	        /* out of contract: saturates to the smallest probability, never
	         * wraps to "0" (always) */
	        {SAMPLER_MAX_T, "ffffffffffffff"},
	        {UINT64_MAX, "ffffffffffffff"},
	};
	char buf[SAMPLER_TH_MAX + 1];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		cr_expect_str_eq(th_str(rows[i].t, buf), rows[i].th, "t=%#llx",
		                 (unsigned long long)rows[i].t);
}

Test(sampler, th_round_trip)
{
	uint64_t seed = 42;
	char v[3 + SAMPLER_TH_MAX];
	struct sampler_ot ot;

	memcpy(v, "th:", 3);
	for (int i = 0; i < 10000; i++) {
		uint64_t t = splitmix64(&seed) & SAMPLER_R_MASK;
		size_t n;

		if (i < 56)
			t = UINT64_C(1) << i; /* every digit position */
		n = sampler_th_format(t, v + 3);
		cr_assert_eq(sampler_ot_parse(v, 3 + n, &ot), 0);
		cr_assert(ot.has_th);
		cr_assert_eq(ot.th, t, "%#llx", (unsigned long long)t);
	}
}

Test(sampler, trace_r)
{
	static const struct {
		uint8_t id[16];
		uint64_t r;
	} rows[] = {
	        {{0}, 0},
	        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0}, 0},
	        {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0x6e, 0x6d, 0x1a, 0x75, 0x83, 0x2a, 0x2f},
	         UINT64_C(0x6e6d1a75832a2f)},
	        {{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e,
	          0x0e, 0x47, 0x36},
	         UINT64_C(0xce929d0e0e4736)},
	        {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	         SAMPLER_R_MASK},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		cr_expect_eq(sampler_trace_r(rows[i].id), rows[i].r, "row %zu", i);
}

Test(sampler, keep_rule)
{
	cr_expect(sampler_keep(0, 0));
	cr_expect(sampler_keep(SAMPLER_R_MASK, 0));
	cr_expect(sampler_keep(T_HALF, T_HALF));
	cr_expect_not(sampler_keep(T_HALF - 1, T_HALF));
	cr_expect_not(sampler_keep(SAMPLER_R_MASK, SAMPLER_MAX_T));
	cr_expect(sampler_keep(SAMPLER_R_MASK, sampler_threshold(0x1p-56)));
	cr_expect_not(sampler_keep(SAMPLER_R_MASK - 1, sampler_threshold(0x1p-56)));
}

Test(sampler, keep_fraction_matches_p)
{
	static const double ps[] = {0.5, 0.1, 0.01};
	const int n = 200000;

	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		uint64_t seed = 0x5eed + i, t = sampler_threshold(ps[i]);
		double sigma = sqrt(ps[i] * (1 - ps[i]) / n), frac;
		int kept = 0;

		for (int k = 0; k < n; k++)
			kept += sampler_keep(splitmix64(&seed) & SAMPLER_R_MASK, t);
		frac = (double)kept / n;
		cr_expect_leq(fabs(frac - ps[i]), 4 * sigma, "p=%g kept %g", ps[i], frac);
	}
}

Test(sampler, ot_parse)
{
	static const struct {
		const char *v;
		int ret;
		bool has_th;
		uint64_t th;
		bool has_rv;
		uint64_t rv;
	} rows[] = {
	        {"th:c", 0, true, UINT64_C(0xc0000000000000), false, 0},
	        {"th:0", 0, true, 0, false, 0},
	        {"th:8", 0, true, T_HALF, false, 0},
	        {"th:fd70a4", 0, true, UINT64_C(0xfd70a400000000), false, 0},
	        {"th:ffffffffffffff", 0, true, SAMPLER_R_MASK, false, 0},
	        {"rv:abcdef01234567;th:8", 0, true, T_HALF, true, UINT64_C(0xabcdef01234567)},
	        {"rv:6e6d1a75832a2f", 0, false, 0, true, UINT64_C(0x6e6d1a75832a2f)},
	        {"foo:bar;th:c;x:y", 0, true, UINT64_C(0xc0000000000000), false, 0},
	        {"p:8;r:62", 0, false, 0, false, 0},
	        {"x1:c;a:;b:A.b_c-D", 0, false, 0, false, 0},
	        /* malformed th or rv: the list is fine, the value is ignored */
	        {"th:", 0, false, 0, false, 0},
	        {"th:ccccccccccccccc", 0, false, 0, false, 0},
	        {"th:C", 0, false, 0, false, 0},
	        {"th:-1", 0, false, 0, false, 0},
	        {"th:0x8", 0, false, 0, false, 0},
	        {"rv:123", 0, false, 0, false, 0},
	        {"rv:abcdef012345678", 0, false, 0, false, 0},
	        {"rv:ABCDEF01234567", 0, false, 0, false, 0},
	        {"rv:;th:c", 0, true, UINT64_C(0xc0000000000000), false, 0},
	        /* no entry at all */
	        {"", 0, false, 0, false, 0},
	        /* not a list: the grammar, a key, a value character, unique keys */
	        {";", -EINVAL, false, 0, false, 0},
	        {";;", -EINVAL, false, 0, false, 0},
	        {"th:c;", -EINVAL, false, 0, false, 0},
	        {";th:c", -EINVAL, false, 0, false, 0},
	        {"th:c;;x:y", -EINVAL, false, 0, false, 0},
	        {"th", -EINVAL, false, 0, false, 0},
	        {":c", -EINVAL, false, 0, false, 0},
	        {"Th:c", -EINVAL, false, 0, false, 0},
	        {"1x:c", -EINVAL, false, 0, false, 0},
	        {"t-h:c", -EINVAL, false, 0, false, 0},
	        {"th:c d", -EINVAL, false, 0, false, 0},
	        {"th:c,x:y", -EINVAL, false, 0, false, 0},
	        {"a:b:c", -EINVAL, false, 0, false, 0},
	        {"th:c;th:8", -EINVAL, false, 0, false, 0},
	        {"th:c;x:y;th:8", -EINVAL, false, 0, false, 0},
	        {"a:1;b:2;a:3", -EINVAL, false, 0, false, 0},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sampler_ot ot;

		memset(&ot, 0xa5, sizeof(ot));
		cr_expect_eq(sampler_ot_parse(rows[i].v, strlen(rows[i].v), &ot), rows[i].ret, "%s",
		             rows[i].v);
		cr_expect_eq(ot.has_th, rows[i].has_th, "%s", rows[i].v);
		cr_expect_eq(ot.has_rv, rows[i].has_rv, "%s", rows[i].v);
		if (rows[i].has_th)
			cr_expect_eq(ot.th, rows[i].th, "%s", rows[i].v);
		if (rows[i].has_rv)
			cr_expect_eq(ot.rv, rows[i].rv, "%s", rows[i].v);
	}
}

/* A valid list of exactly <len> characters: "a:" then value characters. */
static void long_list(char *buf, size_t len)
{
	memcpy(buf, "a:", 2);
	memset(buf + 2, 'x', len - 2);
	buf[len] = '\0';
}

Test(sampler, ot_parse_length_limit)
{
	char buf[300];
	struct sampler_ot ot;

	long_list(buf, 256);
	cr_expect_eq(sampler_ot_parse(buf, 256, &ot), 0);
	long_list(buf, 257);
	cr_expect_eq(sampler_ot_parse(buf, 257, &ot), -EINVAL);
	cr_expect_eq(sampler_ot_parse(NULL, 0, &ot), 0);
	cr_expect_not(ot.has_th || ot.has_rv);
}

Test(sampler, ot_format)
{
	static const uint64_t C = UINT64_C(0xc0000000000000), NEVER = SAMPLER_MAX_T;
	static const struct {
		const char *v;
		uint64_t t;
		size_t cap;
		int ret;
		const char *out;
	} rows[] = {
	        {"", C, 64, 4, "th:c"},
	        {"", NEVER, 64, 0, ""},
	        {"", 0, 64, 4, "th:0"},
	        {"th:c", T_HALF, 64, 4, "th:8"},
	        {"th:c", NEVER, 64, 0, ""},
	        {"th:c", 1, 64, 17, "th:00000000000001"},
	        {"rv:abcdef01234567;th:8", C, 64, 22, "th:c;rv:abcdef01234567"},
	        {"rv:abcdef01234567;th:8", NEVER, 64, 17, "rv:abcdef01234567"},
	        {"foo:bar;th:c;x:y", 0, 64, 16, "th:0;foo:bar;x:y"},
	        {"foo:bar;th:c;x:y", NEVER, 64, 11, "foo:bar;x:y"},
	        {"p:8;r:62", T_HALF, 64, 13, "th:8;p:8;r:62"},
	        {"a:;b:A.b_c-D", T_HALF, 64, 17, "th:8;a:;b:A.b_c-D"},
	        /* malformed th or rv is dropped, never forwarded */
	        {"th:", T_HALF, 64, 4, "th:8"},
	        {"th:", NEVER, 64, 0, ""},
	        {"th:ccccccccccccccc", NEVER, 64, 0, ""},
	        {"th:C;foo:bar", NEVER, 64, 7, "foo:bar"},
	        {"rv:123;a:b", T_HALF, 64, 8, "th:8;a:b"},
	        {"a:b;rv:ABCDEF01234567", NEVER, 64, 3, "a:b"},
	        /* a list that does not parse is replaced whole */
	        {";;", T_HALF, 64, 4, "th:8"},
	        {";;", NEVER, 64, 0, ""},
	        {"Foo:bar;x:y", T_HALF, 64, 4, "th:8"},
	        {"foo:b@r", T_HALF, 64, 4, "th:8"},
	        {"th:c;th:8", C, 64, 4, "th:c"},
	        {"foo:bar;", NEVER, 64, 0, ""},
	        /* caps: exact fit, one short, nothing left with no room */
	        {"foo:bar", T_HALF, 12, 12, "th:8;foo:bar"},
	        {"foo:bar", T_HALF, 11, -ENOSPC, NULL},
	        {"foo:bar", T_HALF, 3, -ENOSPC, NULL},
	        {"foo:bar", NEVER, 7, 7, "foo:bar"},
	        {"foo:bar", NEVER, 6, -ENOSPC, NULL},
	        {"th:c", NEVER, 0, 0, ""},
	        {"", C, 0, -ENOSPC, NULL},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char out[64];
		int ret;

		memset(out, '#', sizeof(out));
		ret = sampler_ot_format(rows[i].v, strlen(rows[i].v), rows[i].t, out, rows[i].cap);
		cr_expect_eq(ret, rows[i].ret, "%s -> %d", rows[i].v, ret);
		if (ret >= 0 && rows[i].out) {
			cr_expect_eq(memcmp(out, rows[i].out, (size_t)ret), 0, "%s -> %.*s",
			             rows[i].v, ret, out);
			cr_expect_eq(out[ret], '#', "no write past the length");
		}
	}
}

Test(sampler, ot_format_null_and_limit)
{
	char in[300], out[400];
	int ret;

	cr_expect_eq(sampler_ot_format(NULL, 0, T_HALF, out, sizeof(out)), 4);
	cr_expect_eq(memcmp(out, "th:8", 4), 0);
	cr_expect_eq(sampler_ot_format(NULL, 0, SAMPLER_MAX_T, out, sizeof(out)), 0);

	/* 251 + ";" + "th:8" is exactly 256: fits; one more does not, whatever
	 * the buffer, because the spec caps the list at 256 characters */
	long_list(in, 251);
	ret = sampler_ot_format(in, 251, T_HALF, out, sizeof(out));
	cr_expect_eq(ret, 256);
	long_list(in, 252);
	cr_expect_eq(sampler_ot_format(in, 252, T_HALF, out, sizeof(out)), -ENOSPC);
	long_list(in, 256);
	cr_expect_eq(sampler_ot_format(in, 256, SAMPLER_MAX_T, out, sizeof(out)), 256);
	/* over the limit it is not a list: replaced */
	long_list(in, 257);
	cr_expect_eq(sampler_ot_format(in, 257, T_HALF, out, sizeof(out)), 4);
}

Test(sampler, ot_format_output_parses)
{
	static const char *ins[] = {"", "th:c", "rv:abcdef01234567;th:8", "foo:bar;th:c;x:y"};
	uint64_t seed = 7;

	for (size_t i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
		for (int k = 0; k < 100; k++) {
			uint64_t t = splitmix64(&seed) & SAMPLER_R_MASK;
			struct sampler_ot ot;
			char out[64];
			int n = sampler_ot_format(ins[i], strlen(ins[i]), t, out, sizeof(out));

			cr_assert_gt(n, 0);
			cr_assert_eq(sampler_ot_parse(out, (size_t)n, &ot), 0);
			cr_expect(ot.has_th);
			cr_expect_eq(ot.th, t);
		}
	}
}

#define MS UINT64_C(1000000)
#define S  UINT64_C(1000000000)

Test(sampler, rate_burst_then_interval)
{
	static const struct {
		uint64_t now;
		bool ok;
	} steps[] = {
	        /* rate 10: ten back to back, then one per 100 ms */
	        {0, true},
	        {0, true},
	        {0, true},
	        {0, true},
	        {0, true},
	        {0, true},
	        {0, true},
	        {0, true},
	        {0, true},
	        {0, true},
	        {0, false},
	        {50 * MS, false},
	        {100 * MS, true},
	        {100 * MS, false},
	        {199 * MS, false},
	        {200 * MS, true},
	        /* a long idle banks one burst, never more */
	        {3600 * S, true},
	        {3600 * S, true},
	        {3600 * S, true},
	        {3600 * S, true},
	        {3600 * S, true},
	        {3600 * S, true},
	        {3600 * S, true},
	        {3600 * S, true},
	        {3600 * S, true},
	        {3600 * S, true},
	        {3600 * S, false},
	        {3600 * S + 100 * MS, true},
	        /* a clock that steps back (another thread's older reading) */
	        {3600 * S, false},
	};
	struct sampler_rate r;

	sampler_rate_init(&r, 10);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		cr_expect_eq(sampler_rate_take(&r, S + steps[i].now), steps[i].ok, "step %zu", i);
}

Test(sampler, rate_edges)
{
	struct sampler_rate r;
	int n = 0;

	sampler_rate_init(&r, 0);
	for (int i = 0; i < 100000; i++)
		cr_expect(sampler_rate_take(&r, 0));

	/* 1e9 / 3 truncates; the burst still holds exactly 3 */
	sampler_rate_init(&r, 3);
	while (sampler_rate_take(&r, 0))
		n++;
	cr_expect_eq(n, 3);

	/* above 1e9/s: still a cap, not "no cap" */
	sampler_rate_init(&r, UINT32_MAX);
	cr_expect_eq(r.interval_ns, 1);
	cr_expect(sampler_rate_take(&r, 5));
	/* skip ahead to the last token of the burst rather than take 1e9 */
	atomic_store(&r.tat_ns, 5 + S - 1);
	cr_expect(sampler_rate_take(&r, 5));
	cr_expect_not(sampler_rate_take(&r, 5));
	cr_expect(sampler_rate_take(&r, 6));
}

struct rate_arg {
	struct sampler_rate *r;
	pthread_barrier_t *start;
	long at_zero, accepted;
};

/* 2e5 takes at time 0, all threads racing for one burst, then a walk over
 * two seconds of synthetic time in 1 us steps. */
static void *rate_worker(void *p)
{
	struct rate_arg *a = p;

	pthread_barrier_wait(a->start);
	for (int i = 0; i < 200000; i++)
		a->at_zero += sampler_rate_take(a->r, 0);
	for (uint64_t now = 0; now <= 2 * S; now += 1000)
		a->accepted += sampler_rate_take(a->r, now);
	return NULL;
}

Test(sampler, rate_two_threads_bound)
{
	struct sampler_rate r;
	struct rate_arg a[2];
	pthread_barrier_t start;
	pthread_t th[2];
	long at_zero = 0, total = 0;

	sampler_rate_init(&r, 100000);
	pthread_barrier_init(&start, NULL, 2);
	for (int i = 0; i < 2; i++) {
		a[i] = (struct rate_arg){.r = &r, .start = &start};
		cr_assert_eq(pthread_create(&th[i], NULL, rate_worker, &a[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		at_zero += a[i].at_zero;
		total += a[i].at_zero + a[i].accepted;
	}
	pthread_barrier_destroy(&start);
	/* a lost update would hand out more than the one burst */
	cr_expect_eq(at_zero, 100000);
	/* tat starts at 0, grows one interval per token and never runs more
	 * than a burst past the latest clock (2 s): (2 s + 1 s) / 10 us */
	cr_expect_leq(total, 300000, "accepted %ld", total);
	cr_expect_geq(total, 200000, "accepted %ld", total);
}
