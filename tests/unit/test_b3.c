/* test_b3.c: B3 single and multi header parsing against the
 * openzipkin/b3-propagation rules, and the single-header writer. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "trace/b3.h"

#define T32  "80f198ee56343ba864fe8b2a57d3eff7"
#define T16  "64fe8b2a57d3eff7"
#define T16P "000000000000000064fe8b2a57d3eff7"
#define S    "e457b5a2e4d86bd1"
#define P    "05e3ac9a4f6e3b90"
#define Z16  "0000000000000000"
#define Z32  Z16 Z16

#define NOSET ((enum b3_sampled)99)

struct b3_case {
	const char *v;
	int ret;
	enum b3_sampled s;
	const char *trace; /* expected 32-digit trace-id when ret == 0 */
	uint8_t flags;
};

static const struct b3_case single_cases[] = {
        {T32 "-" S, 0, B3_DEFER, T32, 0},
        {T32 "-" S "-1", 0, B3_ACCEPT, T32, TRACECTX_F_SAMPLED},
        {T32 "-" S "-0", 0, B3_DENY, T32, 0},
        {T32 "-" S "-d", 0, B3_DEBUG, T32, TRACECTX_F_SAMPLED},
        {T32 "-" S "-1-" P, 0, B3_ACCEPT, T32, TRACECTX_F_SAMPLED},
        {T32 "-" S "-0-" P, 0, B3_DENY, T32, 0},
        {T16 "-" S, 0, B3_DEFER, T16P, 0},
        {T16 "-" S "-d-" P, 0, B3_DEBUG, T16P, TRACECTX_F_SAMPLED},
        {Z16 T16 "-" S "-1", 0, B3_ACCEPT, T16P, TRACECTX_F_SAMPLED},
        {"0", -ENOENT, B3_DENY, NULL, 0},
        {"1", -ENOENT, B3_ACCEPT, NULL, 0},
        {"d", -ENOENT, B3_DEBUG, NULL, 0},
        {"", -EINVAL, NOSET, NULL, 0},
        {"2", -EINVAL, NOSET, NULL, 0},
        {"D", -EINVAL, NOSET, NULL, 0},
        {"-", -EINVAL, NOSET, NULL, 0},
        {"true", -EINVAL, NOSET, NULL, 0},
        {"01", -EINVAL, NOSET, NULL, 0},
        {"0-", -EINVAL, NOSET, NULL, 0},
        {T32, -EINVAL, NOSET, NULL, 0},
        {T32 "-", -EINVAL, NOSET, NULL, 0},
        {"-" S, -EINVAL, NOSET, NULL, 0},
        {"80F198EE56343BA864FE8B2A57D3EFF7-" S, -EINVAL, NOSET, NULL, 0},
        {T32 "-E457B5A2E4D86BD1", -EINVAL, NOSET, NULL, 0},
        {T32 "-" S "-1-05E3AC9A4F6E3B90", -EINVAL, NOSET, NULL, 0},
        {"80f198ee56343ba864fe8b2a57d3eff-" S, -EINVAL, NOSET, NULL, 0},
        {T32 "0-" S, -EINVAL, NOSET, NULL, 0},
        {"64fe8b2a57d3eff-" S, -EINVAL, NOSET, NULL, 0},
        {T16 "0-" S, -EINVAL, NOSET, NULL, 0},
        {"64fe8b2a57d3eff7e457b5a2-" S, -EINVAL, NOSET, NULL, 0},
        {T32 "-e457b5a2e4d86bd", -EINVAL, NOSET, NULL, 0},
        {T32 "-" S "0", -EINVAL, NOSET, NULL, 0},
        {T32 "-" S "-1-05e3ac9a4f6e3b9", -EINVAL, NOSET, NULL, 0},
        {T32 "-" S "-1-" P "0", -EINVAL, NOSET, NULL, 0},
        {T32 "-80f198ee56343ba864fe8b2a57d3eff7", -EINVAL, NOSET, NULL, 0},
        {Z32 "-" S, -EINVAL, NOSET, NULL, 0},
        {Z16 "-" S, -EINVAL, NOSET, NULL, 0},
        {T32 "-" Z16, -EINVAL, NOSET, NULL, 0},
        {T32 "-" S "-1-" Z16, -EINVAL, NOSET, NULL, 0},
        {T32 "-" S "-2", -EINVAL, NOSET, NULL, 0},
        {T32 "-" S "-D", -EINVAL, NOSET, NULL, 0},
        {T32 "-" S "-11", -EINVAL, NOSET, NULL, 0},
        {T32 "-" S "-true", -EINVAL, NOSET, NULL, 0},
        {T32 "-" S "-", -EINVAL, NOSET, NULL, 0},
        {T32 "-" S "-1-", -EINVAL, NOSET, NULL, 0},
        {T32 "-" S "-" P, -EINVAL, NOSET, NULL, 0},
        {T32 "-" S "-1-" P "-", -EINVAL, NOSET, NULL, 0},
        {T32 "-" S "-1-" P "-1", -EINVAL, NOSET, NULL, 0},
        {T32 "--" S, -EINVAL, NOSET, NULL, 0},
        {" " T32 "-" S, -EINVAL, NOSET, NULL, 0},
        {T32 "-" S " ", -EINVAL, NOSET, NULL, 0},
        {"g0f198ee56343ba864fe8b2a57d3eff7-" S, -EINVAL, NOSET, NULL, 0},
};

static void check(size_t i, const char *what, int ret, const struct tracectx *tc, enum b3_sampled s,
                  int want_ret, enum b3_sampled want_s, const char *want_trace, uint8_t want_flags)
{
	char t[33] = {0}, sp[17] = {0};

	cr_expect_eq(ret, want_ret, "%s %zu: ret %d", what, i, ret);
	if (want_ret != -EINVAL)
		cr_expect_eq(s, want_s, "%s %zu: sampled %d", what, i, s);
	if (ret != 0 || want_ret != 0)
		return;
	tracectx_hex(tc->trace_id, 16, t);
	tracectx_hex(tc->span_id, 8, sp);
	cr_expect_str_eq(t, want_trace, "%s %zu", what, i);
	cr_expect_str_eq(sp, S, "%s %zu", what, i);
	cr_expect_eq(tc->flags, want_flags, "%s %zu: flags %#x", what, i, tc->flags);
}

Test(b3, single_table)
{
	for (size_t i = 0; i < sizeof(single_cases) / sizeof(single_cases[0]); i++) {
		const struct b3_case *c = &single_cases[i];
		struct tracectx tc;
		enum b3_sampled s = NOSET;
		int ret;

		memset(&tc, 0xaa, sizeof(tc));
		ret = b3_parse_single(c->v, strlen(c->v), &tc, &s);
		check(i, c->v, ret, &tc, s, c->ret, c->s, c->trace, c->flags);
	}
}

struct multi_case {
	const char *trace, *span, *sampled, *flags;
	int ret;
	enum b3_sampled s;
	const char *want_trace;
	uint8_t want_flags;
};

static const struct multi_case multi_cases[] = {
        {T32, S, NULL, NULL, 0, B3_DEFER, T32, 0},
        {T32, S, "1", NULL, 0, B3_ACCEPT, T32, TRACECTX_F_SAMPLED},
        {T32, S, "true", NULL, 0, B3_ACCEPT, T32, TRACECTX_F_SAMPLED},
        {T32, S, "0", NULL, 0, B3_DENY, T32, 0},
        {T32, S, "false", NULL, 0, B3_DENY, T32, 0},
        {T32, S, NULL, "1", 0, B3_DEBUG, T32, TRACECTX_F_SAMPLED},
        {T32, S, "1", "1", 0, B3_DEBUG, T32, TRACECTX_F_SAMPLED},
        {T32, S, "0", "1", 0, B3_DEBUG, T32, TRACECTX_F_SAMPLED},
        {T32, S, "1", "0", 0, B3_ACCEPT, T32, TRACECTX_F_SAMPLED},
        {T32, S, NULL, "0", 0, B3_DEFER, T32, 0},
        {T16, S, "1", NULL, 0, B3_ACCEPT, T16P, TRACECTX_F_SAMPLED},
        /* No ids, or half of them: only a decision can be carried on. */
        {NULL, NULL, "1", NULL, -ENOENT, B3_ACCEPT, NULL, 0},
        {NULL, NULL, "0", NULL, -ENOENT, B3_DENY, NULL, 0},
        {NULL, NULL, "false", NULL, -ENOENT, B3_DENY, NULL, 0},
        {NULL, NULL, NULL, "1", -ENOENT, B3_DEBUG, NULL, 0},
        {NULL, NULL, NULL, NULL, -ENOENT, B3_DEFER, NULL, 0},
        {NULL, NULL, NULL, "0", -ENOENT, B3_DEFER, NULL, 0},
        {T32, NULL, "1", NULL, -ENOENT, B3_ACCEPT, NULL, 0},
        {NULL, S, "0", NULL, -ENOENT, B3_DENY, NULL, 0},
        {T32, NULL, NULL, "1", -ENOENT, B3_DEBUG, NULL, 0},
        {T32, NULL, NULL, NULL, -EINVAL, NOSET, NULL, 0},
        {NULL, S, NULL, NULL, -EINVAL, NOSET, NULL, 0},
        {T32, NULL, NULL, "0", -EINVAL, NOSET, NULL, 0},
        /* Anything present and malformed refuses the whole set. */
        {T32, S, "2", NULL, -EINVAL, NOSET, NULL, 0},
        {T32, S, "True", NULL, -EINVAL, NOSET, NULL, 0},
        {T32, S, "yes", NULL, -EINVAL, NOSET, NULL, 0},
        {T32, S, "", NULL, -EINVAL, NOSET, NULL, 0},
        {T32, S, "d", NULL, -EINVAL, NOSET, NULL, 0},
        {T32, S, NULL, "2", -EINVAL, NOSET, NULL, 0},
        {T32, S, NULL, "true", -EINVAL, NOSET, NULL, 0},
        {T32, S, NULL, "", -EINVAL, NOSET, NULL, 0},
        {NULL, NULL, "yes", NULL, -EINVAL, NOSET, NULL, 0},
        {"80F198EE56343BA864FE8B2A57D3EFF7", S, "1", NULL, -EINVAL, NOSET, NULL, 0},
        {T32, "E457B5A2E4D86BD1", "1", NULL, -EINVAL, NOSET, NULL, 0},
        {"80f198ee56343ba864fe8b2a57d3eff", S, NULL, NULL, -EINVAL, NOSET, NULL, 0},
        {T32, "e457b5a2e4d86bd", NULL, NULL, -EINVAL, NOSET, NULL, 0},
        {T32, S "0", NULL, NULL, -EINVAL, NOSET, NULL, 0},
        {Z32, S, "1", NULL, -EINVAL, NOSET, NULL, 0},
        {Z16, S, "1", NULL, -EINVAL, NOSET, NULL, 0},
        {T32, Z16, "1", NULL, -EINVAL, NOSET, NULL, 0},
        {T32 "-" S, S, NULL, NULL, -EINVAL, NOSET, NULL, 0},
        {"zz", NULL, "1", NULL, -EINVAL, NOSET, NULL, 0},
        {NULL, "zz", "0", NULL, -EINVAL, NOSET, NULL, 0},
};

static size_t len_of(const char *s)
{
	return s ? strlen(s) : 0;
}

Test(b3, multi_table)
{
	for (size_t i = 0; i < sizeof(multi_cases) / sizeof(multi_cases[0]); i++) {
		const struct multi_case *c = &multi_cases[i];
		struct tracectx tc;
		enum b3_sampled s = NOSET;
		int ret;

		memset(&tc, 0xaa, sizeof(tc));
		ret = b3_parse_multi(c->trace, len_of(c->trace), c->span, len_of(c->span),
		                     c->sampled, len_of(c->sampled), c->flags, len_of(c->flags),
		                     &tc, &s);
		check(i, "multi", ret, &tc, s, c->ret, c->s, c->want_trace, c->want_flags);
	}
}

Test(b3, multi_reads_only_len)
{
	struct tracectx tc;
	enum b3_sampled s;

	/* Values need not be NUL-terminated: the lengths bound every read. */
	cr_expect_eq(b3_parse_multi(T32 "xx", 32, S "yy", 16, "1zz", 1, "1", 0, &tc, &s), -EINVAL);
	cr_expect_eq(b3_parse_multi(T32 "xx", 32, S "yy", 16, "1zz", 1, NULL, 0, &tc, &s), 0);
	cr_expect_eq(s, B3_ACCEPT);
	cr_expect_eq(b3_parse_single(T32 "-" S "-1-" P "zz", 68, &tc, &s), 0);
	cr_expect_eq(b3_parse_single("1d", 1, &tc, &s), -ENOENT);
	cr_expect_eq(s, B3_ACCEPT);
}

struct fmt_case {
	const char *trace, *span;
	uint8_t flags;
	const char *out;
};

static const struct fmt_case fmt_cases[] = {
        {T32, S, 0x01, T32 "-" S "-1"},
        {T32, S, 0x00, T32 "-" S "-0"},
        {T32, S, 0x03, T32 "-" S "-1"},
        {T32, S, 0x02, T32 "-" S "-0"},
        {T16P, S, 0x01, T16P "-" S "-1"},
        {"ffffffffffffffffffffffffffffffff", "0000000000000001", 0x00,
         "ffffffffffffffffffffffffffffffff-0000000000000001-0"},
};

Test(b3, format_single_table)
{
	for (size_t i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
		const struct fmt_case *c = &fmt_cases[i];
		uint8_t tid[16], sid[8];
		char out[B3_SINGLE_MAX + 1];
		struct tracectx tc;
		enum b3_sampled s;
		size_t n;

		cr_assert_eq(tracectx_unhex(c->trace, 16, tid), 0);
		cr_assert_eq(tracectx_unhex(c->span, 8, sid), 0);
		memset(out, '#', sizeof(out));
		n = b3_format_single(tid, sid, c->flags, out);
		cr_assert_leq(n, B3_SINGLE_MAX);
		cr_expect_eq(out[n], '#', "case %zu: wrote past its length", i);
		out[n] = '\0';
		cr_expect_str_eq(out, c->out, "case %zu", i);
		/* What we write, we read back. */
		cr_assert_eq(b3_parse_single(out, n, &tc, &s), 0, "case %zu", i);
		cr_expect_arr_eq(tc.trace_id, tid, 16);
		cr_expect_arr_eq(tc.span_id, sid, 8);
		cr_expect_eq(tc.flags, c->flags & TRACECTX_F_SAMPLED);
		cr_expect_eq(s, c->flags & TRACECTX_F_SAMPLED ? B3_ACCEPT : B3_DENY);
	}
}

Test(b3, single_max_fits)
{
	struct tracectx tc;
	enum b3_sampled s;
	const char *v = T32 "-" S "-d-" P;

	cr_expect_eq(strlen(v), B3_SINGLE_MAX);
	cr_expect_eq(b3_parse_single(v, strlen(v), &tc, &s), 0);
	cr_expect_eq(s, B3_DEBUG);
}
