/* certs_testlib.h: tests/support/mkcerts.sh's standard set of test
 * certificates for the unit suites that load real files (test_cfg.c,
 * test_tls_up.c); the integration suites have harness_certs(). Test code
 * only: static functions, one copy per suite. */
#ifndef TG_CERTS_TESTLIB_H
#define TG_CERTS_TESTLIB_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef TG_SOURCE_DIR
#error "define TG_SOURCE_DIR to the repository root"
#endif

/* Every directory certs_make() makes is this and six characters. */
#define CERTS_DIR_PREFIX "/tmp/tg-certs-"
#define CERTS_DIR_LEN    (sizeof(CERTS_DIR_PREFIX) - 1 + 6)

/* Makes the set in a new directory, whose path it writes to <dir,len>. */
static inline void certs_make(char *dir, size_t len)
{
	char cmd[512];

	snprintf(dir, len, CERTS_DIR_PREFIX "XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "sh %s/tests/support/mkcerts.sh %s", TG_SOURCE_DIR, dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* Removes a directory certs_make() made, and nothing else. */
static inline void certs_remove(const char *dir)
{
	char cmd[512];

	cr_assert(strncmp(dir, CERTS_DIR_PREFIX, sizeof(CERTS_DIR_PREFIX) - 1) == 0, "%s", dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

#endif
