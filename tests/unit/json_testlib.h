/* json_testlib.h: reading an encoder's JSON back with Python's json module
 * (tests/support/jsoncheck.py), for the encoder suites (test_otlp_json.c,
 * test_zipkin.c). Test code only: static functions, one copy per suite. */
#ifndef TG_JSON_TESTLIB_H
#define TG_JSON_TESTLIB_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trace/encode.h"
#ifndef TG_SOURCE_DIR
#error "define TG_SOURCE_DIR to the repository root"
#endif

/* Runs jsoncheck.py on the <len> bytes at <body>; returns its output with a
 * '\n' in front (so every line is "\n<line>\n"), malloc'd, and its exit
 * status in *<rc> (0 = strict JSON). */
static char *json_check_rc(const char *body, size_t len, int *rc)
{
	char path[] = "/tmp/tg-json-XXXXXX", cmd[256], chunk[4096];
	int fd = mkstemp(path);
	char *out = NULL;
	size_t out_len = 0, n;
	FILE *mem, *p;
	int st;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, body, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "python3 '%s/tests/support/jsoncheck.py' '%s'", TG_SOURCE_DIR,
	         path);
	cr_assert_not_null(mem = open_memstream(&out, &out_len));
	fputc('\n', mem);
	cr_assert_not_null(p = popen(cmd, "r"));
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		fwrite(chunk, 1, n, mem);
	st = pclose(p);
	fclose(mem);
	unlink(path);
	cr_assert(WIFEXITED(st), "jsoncheck.py did not run");
	*rc = WEXITSTATUS(st);
	return out;
}

/* The same for a body that must be strict JSON. */
static char *json_check(const char *body, size_t len)
{
	int rc;
	char *out = json_check_rc(body, len, &rc);

	cr_assert_eq(rc, 0, "not strict JSON:\n%.*s", (int)(len < 4000 ? len : 4000), body);
	return out;
}

/* True when <out> holds the line <line> exactly. */
static bool json_has(const char *out, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = out + 1; (p = strstr(p, line)); p++)
		if (p[-1] == '\n' && p[n] == '\n')
			return true;
	return false;
}

/* True when some line of <out> starts with <prefix>. */
static bool json_has_prefix(const char *out, const char *prefix)
{
	for (const char *p = out + 1; (p = strstr(p, prefix)); p++)
		if (p[-1] == '\n')
			return true;
	return false;
}

/* Each line of the NULL-terminated <lines> must be in <out>. */
#define expect_lines(out, ...)                                                                     \
	do {                                                                                       \
		static const char *const want_[] = {__VA_ARGS__, NULL};                            \
		for (int i_ = 0; want_[i_]; i_++)                                                  \
			cr_expect(json_has(out, want_[i_]), "missing line %s", want_[i_]);         \
	} while (0)

/* Formats a line and expects it in <out>. */
#define expect_linef(out, ...)                                                                     \
	do {                                                                                       \
		char l_[256];                                                                      \
		snprintf(l_, sizeof(l_), __VA_ARGS__);                                             \
		cr_expect(json_has(out, l_), "missing line %s", l_);                               \
	} while (0)

#define T0 1700000000123456789ull /* the spans' start, ns */

typedef int (*json_encoder_fn)(struct tbuf *b, const struct export_resource *res,
                               const struct span *const *spans, int n);

/* Encodes <n> spans with <enc>; returns what jsoncheck.py read (json_check()). */
static char *json_encode(json_encoder_fn enc, const struct export_resource *res,
                         const struct span *const *spans, int n)
{
	struct tbuf b = {0};
	char *out;

	cr_assert_eq(enc(&b, res, spans, n), 0);
	out = json_check(b.p, b.len);
	tbuf_free(&b);
	return out;
}

/* Resets <s> to a 2.5 ms span "GET /api" of <kind> with fixed ids. */
static void json_span_fill(struct span *s, enum span_kind kind)
{
	span_reset(s);
	for (int i = 0; i < 16; i++)
		s->trace_id[i] = (uint8_t)(1 + i);
	for (int i = 0; i < 8; i++)
		s->span_id[i] = (uint8_t)(0xa0 + i);
	s->kind = (uint8_t)kind;
	s->flags = 1;
	s->start_ns = T0;
	s->end_ns = T0 + 2500000;
	span_set_name(s, "GET /api", 8);
}

#endif
