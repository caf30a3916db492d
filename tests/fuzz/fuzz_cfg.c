/* fuzz_cfg.c: the config reader (gateway/cfg*.c) with every section the
 * binary knows (admin_declare(), flt_declare_all(), as main.c does). The
 * input is the file: it goes through cfg_load() from a memfd, so NUL bytes,
 * a BOM and CRLF reach the reader as they would from disk. A config that
 * loads is written back with cfg_write() (what /config shows): that text must
 * load again (unless it shows a value no file holds) and write back
 * identically. Host names never reach DNS: this
 * driver's getaddrinfo() knows "localhost" only.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "admin.h"
#include "cfg.h"
#include "filter.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static int cfg_fd = -1;
static char cfg_path[64];
static FILE *devnull;

/* Replaces libc's (and the sanitizer's interceptor, a weak symbol): a
 * resolver query per input would make the fuzzer as slow as the network,
 * and its answers would make runs differ. */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
	struct {
		struct addrinfo ai;
		struct sockaddr_in sin;
	} * r;

	(void)service;
	if (!node || strcmp(node, "localhost") != 0 ||
	    (hints && hints->ai_family != AF_UNSPEC && hints->ai_family != AF_INET))
		return EAI_NONAME;
	if (!(r = calloc(1, sizeof(*r))))
		return EAI_MEMORY;
	r->sin.sin_family = AF_INET;
	r->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->ai.ai_family = AF_INET;
	r->ai.ai_socktype = SOCK_STREAM;
	r->ai.ai_addr = (struct sockaddr *)&r->sin;
	r->ai.ai_addrlen = sizeof(r->sin);
	*res = &r->ai;
	return 0;
}

void freeaddrinfo(struct addrinfo *res)
{
	free(res); /* one block, from getaddrinfo() above */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (admin_declare() || flt_declare_all(flt_builtin))
		abort();
	cfg_fd = memfd_create("fuzz_cfg", 0);
	devnull = fopen("/dev/null", "w");
	if (cfg_fd < 0 || !devnull)
		abort();
	snprintf(cfg_path, sizeof(cfg_path), "/proc/self/fd/%d", cfg_fd);
	return 0;
}

/* cfg_write() of <c> into a malloc'd string. */
static char *dump(const struct cfg *c, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (!f)
		abort();
	FUZZ_ASSERT(cfg_write(c, f) == 0, "cfg_write failed");
	if (fclose(f))
		abort();
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg *c = NULL, *c2 = NULL;
	char *text, *text2;
	size_t len, len2;
	int rc;

	if (ftruncate(cfg_fd, 0) || pwrite(cfg_fd, data, size, 0) != (ssize_t)size)
		abort();
	rc = cfg_load(cfg_path, devnull, &c);
	FUZZ_ASSERT(rc == 0 ? c != NULL : c == NULL, "%d", rc);
	FUZZ_ASSERT(rc == 0 || rc == -EINVAL, "%d", rc);
	if (rc)
		return 0;

	/* what /config shows is a config file, the same one */
	text = dump(c, &len);
	rc = cfg_load_string(cfg_path, text, devnull, &c2);
	/* Two values are shown, by design, as what no file holds: a redacted
	 * secret, and extension methods (one bit, CFG_M_OTHER, not names). */
	if (rc == 0 || (!strstr(text, "<redacted>") && !strstr(text, "(an extension method)"))) {
		if (rc)
			cfg_load_string(cfg_path, text, stderr, &c2);
		FUZZ_ASSERT(rc == 0, "the written config does not load:\n%s", text);
		text2 = dump(c2, &len2);
		FUZZ_ASSERT(len == len2 && memcmp(text, text2, len) == 0,
		            "written, loaded and written again:\n%s\nthen:\n%s", text, text2);
		free(text2);
	}
	cfg_free(c2);
	free(text);
	cfg_free(c);
	return 0;
}
