/* test_tracectx.c: traceparent and tracestate parsing and formatting against
 * the W3C Trace Context Level 2 grammar, and the per-thread random ids. */
/* A scripted RAND_METHOD (deprecated in OpenSSL 3, still honoured by
 * RAND_bytes) makes block refills and thread ownership observable. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <criterion/criterion.h>
#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trace/tracectx.h"

#define X16(s) s s s s s s s s s s s s s s s s
#define TID    "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID    "00f067aa0ba902b7"

static void hexof(const uint8_t *b, size_t n, char *out)
{
	tracectx_hex(b, n, out);
	out[2 * n] = '\0';
}

/* ---- traceparent ---------------------------------------------------------- */

struct tp_case {
	const char *v;
	int ret;
	uint8_t flags;
};

static const struct tp_case tp_cases[] = {
        {"00-" TID "-" SID "-01", 0, 0x01},
        {"00-" TID "-" SID "-00", 0, 0x00},
        {"00-" TID "-" SID "-02", 0, 0x02},
        {"00-" TID "-" SID "-03", 0, 0x03},
        {"00-" TID "-" SID "-ff", 0, 0x03},
        {"00-" TID "-" SID "-09", 0, 0x01},
        {"00-" TID "-" SID "-fe", 0, 0x02},
        {"00-" TID "-" SID "-0a", 0, 0x02},
        {"01-" TID "-" SID "-01", 0, 0x01},
        {"cc-" TID "-" SID "-01", 0, 0x01},
        {"fe-" TID "-" SID "-00", 0, 0x00},
        {"cc-" TID "-" SID "-01-what-the-future-will-be-like", 0, 0x01},
        {"01-" TID "-" SID "-09-", 0, 0x01},
        {"ff-" TID "-" SID "-01", -EINVAL, 0},
        {"ff-" TID "-" SID "-01-x", -EINVAL, 0},
        {"0A-" TID "-" SID "-01", -EINVAL, 0},
        {"CC-" TID "-" SID "-01", -EINVAL, 0},
        {"0g-" TID "-" SID "-01", -EINVAL, 0},
        {"0-" TID "-" SID "-01", -EINVAL, 0},
        {"000-" TID "-" SID "-01", -EINVAL, 0},
        {"00-" TID "-" SID "-01-extra", -EINVAL, 0},
        {"00-" TID "-" SID "-01-", -EINVAL, 0},
        {"00-" TID "-" SID "-01 ", -EINVAL, 0},
        {"00-" TID "-" SID "-001", -EINVAL, 0},
        {"00-" TID "-" SID "-1", -EINVAL, 0},
        {"00-" TID "-" SID "-0.", -EINVAL, 0},
        {"cc-" TID "-" SID "-01x", -EINVAL, 0},
        {"cc-" TID "-" SID "-012", -EINVAL, 0},
        {"cc-" TID "-" SID, -EINVAL, 0},
        {"", -EINVAL, 0},
        {"00", -EINVAL, 0},
        {"00-4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-01", -EINVAL, 0},
        {"00-4bf92f3577b34da6a3ce929d0e0e473A-" SID "-01", -EINVAL, 0},
        {"00-" TID "-00F067AA0BA902B7-01", -EINVAL, 0},
        {"00-" TID "-" SID "-0A", -EINVAL, 0},
        {"00-4bf92f3577b34da6a3ce929d0e0e473g-" SID "-01", -EINVAL, 0},
        {"00-" TID "-00f067aa0ba902bz-01", -EINVAL, 0},
        {"00-00000000000000000000000000000000-" SID "-01", -EINVAL, 0},
        {"00-" TID "-0000000000000000-01", -EINVAL, 0},
        {"cc-00000000000000000000000000000000-" SID "-01", -EINVAL, 0},
        {"00_" TID "-" SID "-01", -EINVAL, 0},
        {"00-" TID "_" SID "-01", -EINVAL, 0},
        {"00-" TID "-" SID "_01", -EINVAL, 0},
        {"00-4bf92f3577b34da6a3ce929d0e0e47361-00f067aa0ba902b-01", -EINVAL, 0},
        {"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", -EINVAL, 0},
        {" 00-" TID "-" SID "-0", -EINVAL, 0},
};

Test(tracectx, parse_table)
{
	for (size_t i = 0; i < sizeof(tp_cases) / sizeof(tp_cases[0]); i++) {
		const struct tp_case *c = &tp_cases[i];
		struct tracectx tc;
		char t[33], s[17];
		int ret;

		memset(&tc, 0xaa, sizeof(tc));
		ret = tracectx_parse(c->v, strlen(c->v), &tc);
		cr_expect_eq(ret, c->ret, "case %zu: \"%s\": %d", i, c->v, ret);
		if (ret != 0 || c->ret != 0)
			continue;
		hexof(tc.trace_id, 16, t);
		hexof(tc.span_id, 8, s);
		cr_expect_str_eq(t, TID, "case %zu", i);
		cr_expect_str_eq(s, SID, "case %zu", i);
		cr_expect_eq(tc.flags, c->flags, "case %zu: flags %#x", i, tc.flags);
	}
}

Test(tracectx, parse_reads_only_len)
{
	const char *v = "00-" TID "-" SID "-01-and-more";
	struct tracectx tc;

	cr_expect_eq(tracectx_parse(v, TRACECTX_TP_LEN, &tc), 0);
	cr_expect_eq(tracectx_parse(v, TRACECTX_TP_LEN - 1, &tc), -EINVAL);
}

Test(tracectx, format_round_trips)
{
	static const uint8_t flags[] = {0x00, 0x01, 0x02, 0x03};
	uint8_t tid[16], sid[8];
	char out[TRACECTX_TP_LEN + 1];

	for (int r = 0; r < 50; r++) {
		cr_assert_eq(tracectx_new_trace_id(tid), 0);
		cr_assert_eq(tracectx_new_span_id(sid), 0);
		for (size_t f = 0; f < sizeof(flags); f++) {
			struct tracectx tc;

			memset(out, '#', sizeof(out));
			tracectx_format(tid, sid, flags[f], out);
			cr_expect_eq(out[TRACECTX_TP_LEN], '#', "wrote past 55 characters");
			cr_assert_eq(tracectx_parse(out, TRACECTX_TP_LEN, &tc), 0, "%.55s", out);
			cr_expect_arr_eq(tc.trace_id, tid, 16);
			cr_expect_arr_eq(tc.span_id, sid, 8);
			cr_expect_eq(tc.flags, flags[f]);
		}
	}
}

Test(tracectx, format_exact_bytes)
{
	struct tracectx tc;
	char out[TRACECTX_TP_LEN + 1] = {0};
	const char *v = "cc-" TID "-" SID "-ff-x";

	cr_assert_eq(tracectx_parse(v, strlen(v), &tc), 0);
	tracectx_format(tc.trace_id, tc.span_id, 0xff, out);
	cr_expect_str_eq(out, "00-" TID "-" SID "-03");
}

struct hex_case {
	const char *s;
	size_t n;
	int ret;
	uint8_t b[4];
};

static const struct hex_case hex_cases[] = {
        {"", 0, 0, {0}},                              /* nothing to read */
        {"00", 1, 0, {0x00}},                         /* lowest */
        {"ff", 1, 0, {0xff}},                         /* highest */
        {"0a1b2c3d", 4, 0, {0x0a, 0x1b, 0x2c, 0x3d}}, /* nibble order */
        {"9f", 1, 0, {0x9f}},                         /* both ranges' ends */
        {"FF", 1, -EINVAL, {0}},                      /* uppercase */
        {"0G", 1, -EINVAL, {0}},                      /* past 'f', uppercase */
        {"g0", 1, -EINVAL, {0}},                      /* past 'f' */
        {" 1", 1, -EINVAL, {0}},                      /* space */
        {"0a1b2c3-", 4, -EINVAL, {0}},                /* bad last digit */
        {"0:", 1, -EINVAL, {0}},                      /* just past '9' */
        {"/0", 1, -EINVAL, {0}},                      /* just before '0' */
        {"`0", 1, -EINVAL, {0}},                      /* just before 'a' */
};

Test(tracectx, hex_table)
{
	for (size_t i = 0; i < sizeof(hex_cases) / sizeof(hex_cases[0]); i++) {
		const struct hex_case *c = &hex_cases[i];
		uint8_t b[4] = {0};
		char back[9] = {0};

		cr_expect_eq(tracectx_unhex(c->s, c->n, b), c->ret, "case %zu: \"%s\"", i, c->s);
		if (c->ret != 0)
			continue;
		cr_expect_arr_eq(b, c->b, c->n, "case %zu", i);
		tracectx_hex(b, c->n, back);
		cr_expect_str_eq(back, c->s, "case %zu", i);
	}
}

/* ---- random ids ----------------------------------------------------------- */

#define N_IDS 1000

static int cmp_id16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static int all_distinct_nonzero(uint8_t (*ids)[16], size_t n)
{
	static const uint8_t zero[16];

	for (size_t i = 0; i < n; i++)
		if (memcmp(ids[i], zero, 16) == 0)
			return 0;
	qsort(ids, n, 16, cmp_id16);
	for (size_t i = 1; i < n; i++)
		if (memcmp(ids[i - 1], ids[i], 16) == 0)
			return 0;
	return 1;
}

Test(tracectx, trace_ids_distinct)
{
	static uint8_t ids[N_IDS][16];

	for (size_t i = 0; i < N_IDS; i++)
		cr_assert_eq(tracectx_new_trace_id(ids[i]), 0);
	cr_expect(all_distinct_nonzero(ids, N_IDS));
}

Test(tracectx, span_ids_distinct)
{
	static uint8_t ids[N_IDS][16];

	memset(ids, 0, sizeof(ids));
	for (size_t i = 0; i < N_IDS; i++) {
		/* Span ids go in the low half; the high half is a marker so a
		 * zero span-id would still be caught below. */
		cr_assert_eq(tracectx_new_span_id(ids[i] + 8), 0);
		cr_assert(memcmp(ids[i] + 8, (uint8_t[8]){0}, 8) != 0);
		ids[i][0] = 1;
	}
	cr_expect(all_distinct_nonzero(ids, N_IDS));
}

Test(tracectx, rand_sizes_across_blocks)
{
	/* Sizes that straddle and exceed the 512-byte block. */
	static const size_t sizes[] = {0, 1, 7, 16, 500, 511, 512, 513, 1500, 3};
	static uint8_t buf[2048];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(buf, 0, sizeof(buf));
		cr_assert_eq(tracectx_rand(buf, sizes[i]), 0);
		for (size_t j = sizes[i]; j < sizeof(buf); j++)
			cr_assert_eq(buf[j], 0, "size %zu wrote byte %zu", sizes[i], j);
		if (sizes[i] >= 16)
			cr_expect(memcmp(buf, (uint8_t[16]){0}, 16) != 0);
	}
}

struct rand_thread {
	uint8_t ids[N_IDS][16];
	int ret;
};

static pthread_barrier_t rand_barrier;

static void *rand_thread_run(void *arg)
{
	struct rand_thread *rt = arg;

	/* Start together so that a block shared between threads would be
	 * raced over and show up as repeated ids. */
	pthread_barrier_wait(&rand_barrier);
	for (size_t i = 0; i < N_IDS; i++) {
		rt->ret = tracectx_new_trace_id(rt->ids[i]);
		if (rt->ret)
			break;
	}
	return NULL;
}

Test(tracectx, two_threads)
{
	static struct rand_thread rt[2];
	static uint8_t all[2 * N_IDS][16];
	pthread_t th[2];

	cr_assert_eq(pthread_barrier_init(&rand_barrier, NULL, 2), 0);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, rand_thread_run, &rt[i]), 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(rt[i].ret, 0);
		memcpy(all[i * N_IDS], rt[i].ids, sizeof(rt[i].ids));
	}
	pthread_barrier_destroy(&rand_barrier);
	cr_expect(all_distinct_nonzero(all, 2 * N_IDS), "threads shared random bytes");
}

/* Each RAND_bytes call fills the block with its call number minus one, so
 * the first block is all zeros. Each criterion test runs in its own process,
 * so installing it leaks into no other test. */
static int fake_calls, fake_fail;

static int fake_bytes(unsigned char *buf, int num)
{
	if (fake_fail)
		return 0;
	memset(buf, fake_calls++, (size_t)num);
	return 1;
}

static const RAND_METHOD fake_rand = {.bytes = fake_bytes};

static void fake_install(void)
{
	fake_calls = 0;
	fake_fail = 0;
	cr_assert_eq(RAND_set_rand_method(&fake_rand), 1);
}

Test(tracectx, rand_refills_per_block)
{
	static const struct {
		size_t n;
		int byte0, last, calls;
	} rows[] = {
	        {1, 0, 0, 1},    /* first block */
	        {510, 0, 0, 1},  /* 511 used */
	        {2, 0, 1, 2},    /* straddles into the second */
	        {511, 1, 1, 2},  /* second block used up exactly */
	        {1100, 2, 4, 5}, /* three more blocks, the last partly */
	};
	uint8_t buf[1200];

	fake_install();
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		cr_assert_eq(tracectx_rand(buf, rows[i].n), 0);
		cr_expect_eq(buf[0], rows[i].byte0, "row %zu", i);
		cr_expect_eq(buf[rows[i].n - 1], rows[i].last, "row %zu", i);
		cr_expect_eq(fake_calls, rows[i].calls, "row %zu", i);
	}
}

Test(tracectx, new_trace_id_skips_zero)
{
	uint8_t id[16];

	/* The whole first block is zeros: 32 candidate trace-ids rejected. */
	fake_install();
	cr_assert_eq(tracectx_new_trace_id(id), 0);
	cr_expect_eq(id[0], 1);
	cr_expect_eq(id[15], 1);
	cr_expect_eq(fake_calls, 2);
}

Test(tracectx, new_span_id_skips_zero)
{
	uint8_t id[8];

	fake_install();
	cr_assert_eq(tracectx_new_span_id(id), 0);
	cr_expect_eq(id[0], 1);
	cr_expect_eq(id[7], 1);
	cr_expect_eq(fake_calls, 2);
}

Test(tracectx, rand_failure_is_eio)
{
	uint8_t id[16];

	fake_install();
	fake_fail = 1;
	cr_expect_eq(tracectx_rand(id, 1), -EIO);
	cr_expect_eq(tracectx_new_trace_id(id), -EIO);
	cr_expect_eq(tracectx_new_span_id(id), -EIO);
	cr_expect_eq(tracectx_rand(id, 0), 0);
	fake_fail = 0;
	cr_expect_eq(tracectx_rand(id, 1), 0);
}

static void *fake_thread_run(void *arg)
{
	uint8_t *b = arg;

	return tracectx_rand(b, 1) == 0 ? b : NULL;
}

Test(tracectx, block_is_per_thread)
{
	uint8_t mine, theirs = 0xee;
	pthread_t th;
	void *ret;

	fake_install();
	cr_assert_eq(tracectx_rand(&mine, 1), 0);
	cr_expect_eq(mine, 0);
	/* A shared block would hand the thread byte 1 of block 0 instead of
	 * making it draw a block of its own. */
	cr_assert_eq(pthread_create(&th, NULL, fake_thread_run, &theirs), 0);
	pthread_join(th, &ret);
	cr_assert_not_null(ret);
	cr_expect_eq(theirs, 1);
	cr_assert_eq(tracectx_rand(&mine, 1), 0);
	cr_expect_eq(mine, 0, "the main thread's block was disturbed");
	cr_expect_eq(fake_calls, 2);
}

Test(tracectx, fork_does_not_repeat)
{
	uint8_t mine[16], theirs[16];
	int fds[2];
	pid_t pid;

	/* Fill this thread's block before forking. */
	cr_assert_eq(tracectx_rand(mine, 1), 0);
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		uint8_t id[16];

		if (tracectx_rand(id, 16) != 0 || write(fds[1], id, 16) != 16)
			_exit(1);
		_exit(0);
	}
	cr_assert_eq(tracectx_rand(mine, 16), 0);
	cr_assert_eq(read(fds[0], theirs, 16), 16);
	waitpid(pid, NULL, 0);
	close(fds[0]);
	close(fds[1]);
	cr_expect(memcmp(mine, theirs, 16) != 0, "child repeated the parent's bytes");
}

/* ---- tracestate keys and values ------------------------------------------- */

struct chk_case {
	const char *s;
	int ret;
};

static const struct chk_case key_cases[] = {
        {"a", 0},
        {"foo", 0},
        {"congo", 0},
        {"a0_-*/", 0},
        {"abcdefghijklmnopqrstuvwxyz0123456789_-*/", 0},
        {X16(X16("k")), 0},
        {"t@s", 0},
        {"0tenant@sys", 0},
        {"tenant_-*/@s0_-*/", 0},
        {"abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/", 0},
        {X16("abcdefghijklmno") "a@abcdefghijklmn", 0},
        {"", -EINVAL},
        {"0abc", -EINVAL},
        {"_a", -EINVAL},
        {"Foo", -EINVAL},
        {"fOo", -EINVAL},
        {"foo.bar", -EINVAL},
        {"foo ", -EINVAL},
        {" foo", -EINVAL},
        {"fo=o", -EINVAL},
        {X16(X16("k")) "k", -EINVAL},
        {X16("abcdefghijklmno") "ab@s", -EINVAL},
        {"t@abcdefghijklmno", -EINVAL},
        {"@foo", -EINVAL},
        {"foo@", -EINVAL},
        {"foo@@bar", -EINVAL},
        {"foo@bar@baz", -EINVAL},
        {"t@0s", -EINVAL},
        {"t@_s", -EINVAL},
        {"t@S", -EINVAL},
        {"_t@s", -EINVAL},
        {"T@s", -EINVAL},
        {"t.x@s", -EINVAL},
};

Test(tracestate, key_table)
{
	for (size_t i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
		const struct chk_case *c = &key_cases[i];

		cr_expect_eq(tracestate_key_check(c->s, strlen(c->s)), c->ret, "case %zu: \"%s\"",
		             i, c->s);
	}
}

static const struct chk_case val_cases[] = {
        {"1", 0},
        {"t61rcWkgMzE", 0},
        {" x", 0},
        {"a b", 0},
        {"!", 0},
        {"~", 0},
        {"\"#$%&'()*+-./0123456789:;<>?@[\\]^_`{|}~", 0},
        {X16(X16("v")), 0},
        {X16(X16("v")) "v", -EINVAL},
        {"", -EINVAL},
        {" ", -EINVAL},
        {"x ", -EINVAL},
        {"a,b", -EINVAL},
        {"a=b", -EINVAL},
        {"=", -EINVAL},
        {"a\tb", -EINVAL},
        {"a\nb", -EINVAL},
        {"\x7f", -EINVAL},
        {"\x1f", -EINVAL},
        {"caf\xc3\xa9", -EINVAL},
};

Test(tracestate, val_table)
{
	for (size_t i = 0; i < sizeof(val_cases) / sizeof(val_cases[0]); i++) {
		const struct chk_case *c = &val_cases[i];

		cr_expect_eq(tracestate_val_check(c->s, strlen(c->s)), c->ret, "case %zu: \"%s\"",
		             i, c->s);
	}
}

/* ---- tracestate lists ----------------------------------------------------- */

/* Parses up to three lines (NULL ends the list) and writes the members back
 * in canonical form into <out>; returns what tracestate_parse() returned. */
static int parse_canon(const char *const l[3], char *out, size_t cap)
{
	struct tracestate_member m[TRACESTATE_MAX_MEMBERS];
	size_t lens[3];
	int nl = 0, n, w;

	while (nl < 3 && l[nl]) {
		lens[nl] = strlen(l[nl]);
		nl++;
	}
	n = tracestate_parse(l, lens, nl, m);
	out[0] = '\0';
	if (n < 0)
		return n;
	w = tracestate_format(out, cap - 1, NULL, NULL, 0, m, n);
	cr_assert_geq(w, 0);
	out[w] = '\0';
	return n;
}

struct ts_case {
	const char *lines[3];
	int ret;
	const char *canon;
};

static const struct ts_case ts_cases[] = {
        {{"congo=t61rcWkgMzE"}, 1, "congo=t61rcWkgMzE"},
        {{"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"}, 2, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
        {{"a=1", "b=2,c=3"}, 3, "a=1,b=2,c=3"},
        {{"foo=1,bar=2", "rojo=1,congo=2", "baz=3"}, 5, "foo=1,bar=2,rojo=1,congo=2,baz=3"},
        {{",,a=1, ,b=2"}, 2, "a=1,b=2"},
        {{"foo=1 \t , \t bar=2, \t baz=3"}, 3, "foo=1,bar=2,baz=3"},
        {{"\t foo=1 \t"}, 1, "foo=1"},
        {{"a= x"}, 1, "a= x"},
        {{"a=x y"}, 1, "a=x y"},
        {{""}, 0, ""},
        {{"  "}, 0, ""},
        {{" , ,\t,"}, 0, ""},
        {{"", "foo=1"}, 1, "foo=1"},
        {{"foo=1", ""}, 1, "foo=1"},
        {{"t@s=1,s=2,0x@y=3"}, 3, "t@s=1,s=2,0x@y=3"},
        {{"a=1,b=2,a=3"}, -EINVAL, ""},
        {{"foo=1,foo=1"}, -EINVAL, ""},
        {{"foo=1", "foo=2"}, -EINVAL, ""},
        {{"foo =1"}, -EINVAL, ""},
        {{"FOO=1"}, -EINVAL, ""},
        {{"foo.bar=1"}, -EINVAL, ""},
        {{"foo@=1,bar=2"}, -EINVAL, ""},
        {{"@foo=1,bar=2"}, -EINVAL, ""},
        {{"foo@@bar=1,bar=2"}, -EINVAL, ""},
        {{"foo@bar@baz=1,bar=2"}, -EINVAL, ""},
        {{"foo"}, -EINVAL, ""},
        {{"foo="}, -EINVAL, ""},
        {{"foo= "}, -EINVAL, ""},
        {{"=1"}, -EINVAL, ""},
        {{"foo=1=2"}, -EINVAL, ""},
        {{"foo=a\tb"}, -EINVAL, ""},
        {{"ok=1", "bad"}, -EINVAL, ""},
        {{"foo=" X16(X16("v")) "v"}, -EINVAL, ""},
};

Test(tracestate, parse_table)
{
	char out[1024];

	for (size_t i = 0; i < sizeof(ts_cases) / sizeof(ts_cases[0]); i++) {
		const struct ts_case *c = &ts_cases[i];
		int n = parse_canon(c->lines, out, sizeof(out));

		cr_expect_eq(n, c->ret, "case %zu: %d", i, n);
		cr_expect_str_eq(out, c->canon, "case %zu", i);
	}
}

/* Builds "k0=v0,k1=v1,..." with <n> members into <buf>. */
static void make_list(int n, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%sk%d=v%d", i ? "," : "", i, i);
}

Test(tracestate, member_limit)
{
	static const struct {
		int n;
		int ret;
	} rows[] = {{31, 31}, {32, 32}, {33, -EINVAL}, {40, -EINVAL}};
	struct tracestate_member m[TRACESTATE_MAX_MEMBERS];
	char buf[512];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *l[1] = {buf};
		size_t len;

		make_list(rows[i].n, buf, sizeof(buf));
		len = strlen(buf);
		cr_expect_eq(tracestate_parse(l, &len, 1, m), rows[i].ret, "%d members", rows[i].n);
	}
	/* Empty members do not count toward the limit. */
	make_list(32, buf, sizeof(buf));
	strcat(buf, ",, ,");
	{
		const char *l[1] = {buf};
		size_t len = strlen(buf);

		cr_expect_eq(tracestate_parse(l, &len, 1, m), 32);
	}
}

struct fmt_case {
	const char *in;
	const char *key, *val;
	size_t cap;
	int ret;
	const char *out;
};

static const struct fmt_case fmt_cases[] = {
        {"", NULL, NULL, 64, 0, ""},
        {"", "tg", "abc", 64, 6, "tg=abc"},
        {"a=1,b=2", "tg", "x", 64, 12, "tg=x,a=1,b=2"},
        {"a=1,tg=old,b=2", "tg", "new", 64, 14, "tg=new,a=1,b=2"},
        {"tg=old", "tg", "new", 64, 6, "tg=new"},
        {"a=1,b=2", NULL, NULL, 64, 7, "a=1,b=2"},
        {" a=1 , b= 2 ", NULL, NULL, 64, 8, "a=1,b= 2"},
        {"t@s=1", "t", "2", 64, 9, "t=2,t@s=1"},
        {"a=1,b=2", "tg", "x", 12, 12, "tg=x,a=1,b=2"},
        {"a=1,b=2", "tg", "x", 11, -ENOSPC, NULL},
        {"a=1,b=2", "tg", "x", 3, -ENOSPC, NULL},
        {"a=1,b=2", NULL, NULL, 6, -ENOSPC, NULL},
        {"", "tg", "x", 0, -ENOSPC, NULL},
        {"", NULL, NULL, 0, 0, ""},
};

Test(tracestate, format_table)
{
	for (size_t i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
		const struct fmt_case *c = &fmt_cases[i];
		struct tracestate_member m[TRACESTATE_MAX_MEMBERS];
		const char *l[1] = {c->in};
		size_t len = strlen(c->in), vlen = c->val ? strlen(c->val) : 0;
		char out[128];
		int n, w;

		n = tracestate_parse(l, &len, 1, m);
		cr_assert_geq(n, 0, "case %zu", i);
		memset(out, '#', sizeof(out));
		w = tracestate_format(out, c->cap, c->key, c->val, vlen, m, n);
		cr_expect_eq(w, c->ret, "case %zu: %d", i, w);
		if (w < 0 || c->ret < 0)
			continue;
		cr_expect_eq(out[w], '#', "case %zu: wrote past its length", i);
		out[w] = '\0';
		cr_expect_str_eq(out, c->out, "case %zu", i);
		cr_expect_geq(tracestate_format_len(c->key ? strlen(c->key) : 0, vlen, m, n),
		              (size_t)w, "case %zu", i);
	}
}

Test(tracestate, format_drops_rightmost)
{
	static const struct {
		int n;
		const char *key;
		int members;
		const char *last;
	} rows[] = {
	        {32, "tg", 32, "k30=v30"}, /* new entry pushes k31 out */
	        {32, "k5", 32, "k31=v31"}, /* replacement keeps the count */
	        {32, NULL, 32, "k31=v31"},
	        {31, "tg", 32, "k30=v30"},
	};
	struct tracestate_member m[TRACESTATE_MAX_MEMBERS];
	char in[512], out[1024];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *l[1] = {in};
		size_t len, cap;
		int n, w, members = 1;
		const char *last;

		make_list(rows[i].n, in, sizeof(in));
		len = strlen(in);
		n = tracestate_parse(l, &len, 1, m);
		cr_assert_eq(n, rows[i].n);
		cap = tracestate_format_len(rows[i].key ? 2 : 0, 1, m, n);
		cr_assert_leq(cap, sizeof(out) - 1);
		w = tracestate_format(out, cap, rows[i].key, "z", 1, m, n);
		cr_assert_geq(w, 0, "row %zu: %d", i, w);
		out[w] = '\0';
		for (const char *p = out; *p; p++)
			members += *p == ',';
		last = strrchr(out, ',') + 1;
		cr_expect_eq(members, rows[i].members, "row %zu: %s", i, out);
		cr_expect_str_eq(last, rows[i].last, "row %zu", i);
		if (rows[i].key)
			cr_expect(strncmp(out, rows[i].key, 2) == 0 && out[2] == '=', "row %zu", i);
		cr_expect_null(strchr(out, ' '));
	}
}

Test(tracestate, find)
{
	struct tracestate_member m[TRACESTATE_MAX_MEMBERS];
	const char *l[1] = {"a=1,bb=2,t@s=3"};
	size_t len = strlen(l[0]);
	int n = tracestate_parse(l, &len, 1, m);

	cr_assert_eq(n, 3);
	cr_expect_eq(tracestate_find(m, n, "a", 1), 0);
	cr_expect_eq(tracestate_find(m, n, "bb", 2), 1);
	cr_expect_eq(tracestate_find(m, n, "t@s", 3), 2);
	cr_expect_eq(tracestate_find(m, n, "b", 1), -1);
	cr_expect_eq(tracestate_find(m, n, "t", 1), -1);
	cr_expect_eq(tracestate_find(m, 0, "a", 1), -1);
}
