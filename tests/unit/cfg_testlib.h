/* cfg_testlib.h: loaders and renderers the cfg unit suites share (test_cfg.c,
 * test_cfg_files.c). Test code only: static functions, one copy per suite. */
#ifndef TG_CFG_TESTLIB_H
#define TG_CFG_TESTLIB_H

#include <criterion/criterion.h>
#include <errno.h>
#include <glob.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cfg.h"
#ifndef TG_SOURCE_DIR
#error "define TG_SOURCE_DIR to the repository root"
#endif

/* Loads <text> as "t.ini"; returns what was written to the error stream. */
static inline char *load(const char *text, struct cfg **out, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&buf, &len);

	cr_assert_not_null(err);
	*rc = cfg_load_string("t.ini", text, err, out);
	fclose(err);
	return buf;
}

static inline struct cfg *load_ok(const char *text)
{
	struct cfg *c;
	int rc;
	char *err = load(text, &c, &rc);

	cr_assert_str_empty(err, "unexpected errors for:\n%s\n%s", text, err);
	cr_assert_eq(rc, 0);
	cr_assert_not_null(c);
	free(err);
	return c;
}

/* Asserts that <text> fails with exactly <want> on the error stream. */
static inline void expect_errors(const char *name, const char *text, const char *want)
{
	struct cfg *c;
	int rc;
	char *err = load(text, &c, &rc);

	cr_expect_str_eq(err, want, "case %s:\n--- got\n%s--- want\n%s", name, err, want);
	cr_expect_eq(rc, -EINVAL, "case %s: rc %d", name, rc);
	cr_expect_null(c, "case %s", name);
	cfg_free(c);
	free(err);
}

static inline const struct cfg_key *find_key(const char *sect, const char *key)
{
	const struct cfg_section *s = cfg_section_find(sect);
	const struct cfg_key *k;

	cr_assert_not_null(s, "no section %s", sect);
	for (k = s->keys; k->name; k++)
		if (strcmp(k->name, key) == 0)
			return k;
	cr_assert_fail("no key %s in [%s]", key, sect);
	return NULL;
}

/* The struct a built-in section's first instance was loaded into. */
static inline void *section_base(struct cfg *c, const char *sect)
{
	if (strcmp(sect, "gateway") == 0)
		return &c->gw;
	if (strcmp(sect, "upstream") == 0)
		return &c->upstreams[0];
	if (strcmp(sect, "route") == 0)
		return &c->routes[0];
	return (void *)cfg_ext_get(c, sect, NULL); /* a registered section */
}

/* Renders a loaded field as text, whatever its type, to compare with tables. */
static inline void render(const struct cfg_key *k, const void *base, char *out, size_t len)
{
	const char *f = (const char *)base + k->off;
	uint64_t v = 0;
	int i, n;

	switch (k->type) {
	case CFG_T_STR:
		snprintf(out, len, "%s", *(char *const *)f ? *(char *const *)f : "(null)");
		break;
	case CFG_T_BOOL:
		snprintf(out, len, "%s", *(const bool *)f ? "on" : "off");
		break;
	case CFG_T_ENUM:
		memcpy(&i, f, sizeof(i));
		snprintf(out, len, "%s", k->words[i]);
		break;
	case CFG_T_METHODS:
		snprintf(out, len, "0x%x", *(const unsigned *)f);
		break;
	case CFG_T_ADDRS:
		memcpy(&n, (const char *)base + k->off_n, sizeof(n));
		out[0] = '\0';
		for (i = 0; i < n; i++)
			snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "",
			         ((const struct cfg_addr *)f)[i].text);
		break;
	case CFG_T_CUSTOM:
		/* any shape: its bytes, as far as they fit */
		out[0] = '\0';
		for (size_t b = 0; b < k->size && 2 * b + 3 < len; b++)
			snprintf(out + 2 * b, 3, "%02x", (unsigned char)f[b]);
		break;
	default:
		memcpy(&v, f, k->size); /* little-endian: the low bytes */
		snprintf(out, len, "%llu", (unsigned long long)v);
		break;
	}
}

/* Reads a whole file (empty ones too) into a new string. */
static inline char *slurp(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len), *f = fopen(path, "r");
	int ch;

	cr_assert_not_null(f, "cannot open %s", path);
	while ((ch = getc(f)) != EOF)
		putc(ch, out);
	fclose(f);
	fclose(out);
	return buf;
}

/* The smallest file with one instance of each built-in section. */
#define MINIMAL "[upstream u]\nservers = 127.0.0.1:1\n[route r]\nupstream = u\n"

#endif
