/* metrics_testlib.h: reading a registry's exposition back, for the metrics
 * unit suites (test_metrics_registry.c, test_metrics_exposition.c): drain a
 * buffer, render a registry, find a sample's value. Test code only: static
 * inline functions, one copy per suite. */
#ifndef TG_METRICS_TESTLIB_H
#define TG_METRICS_TESTLIB_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "metrics.h"

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The contents of <b>, NUL-terminated, drained; the caller frees it. */
static inline char *take(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	cr_assert_not_null(s);
	cr_assert_eq(evbuffer_remove(b, s, n), (int)n);
	s[n] = '\0';
	return s;
}

static inline char *render(struct metrics *m)
{
	struct evbuffer *b = evbuffer_new();
	char *s;

	cr_assert_not_null(b);
	cr_assert_eq(metrics_render(m, b), 0);
	s = take(b);
	evbuffer_free(b);
	return s;
}

/* The value text of the sample line that starts with <series> + ' ', or
 * NULL. */
static inline const char *find_value(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return p + n + 1;
	return NULL;
}

/* The value text of <series>, up to its newline, in <buf> of 64 bytes. */
static inline const char *value_str(const char *text, const char *series, char *buf)
{
	const char *v = find_value(text, series);

	cr_assert_not_null(v, "no sample %s in:\n%s", series, text);
	snprintf(buf, 64, "%.*s", (int)strcspn(v, "\n"), v);
	return buf;
}

static inline uint64_t value_u64(const char *text, const char *series)
{
	const char *v = find_value(text, series);

	cr_assert_not_null(v, "no sample %s in:\n%s", series, text);
	return strtoull(v, NULL, 10);
}

static inline int64_t value_i64(const char *text, const char *series)
{
	const char *v = find_value(text, series);

	cr_assert_not_null(v, "no sample %s in:\n%s", series, text);
	return strtoll(v, NULL, 10);
}

#endif
