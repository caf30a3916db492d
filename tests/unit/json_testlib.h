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
#ifndef TG_SOURCE_DIR
#error "define TG_SOURCE_DIR to the repository root"
/* Formats a line and expects it in <out>. */
#define expect_linef(out, ...)                                                                     \
	do {                                                                                       \
		char l_[256];                                                                      \
		snprintf(l_, sizeof(l_), __VA_ARGS__);                                             \
		cr_expect(json_has(out, l_), "missing line %s", l_);                               \
	} while (0)

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

#endif
