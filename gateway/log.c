/* log.c: the error log. Formats a whole line on the stack and writes it once,
 * so concurrent workers never interleave and a full disk never blocks more
 * than one write.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

_Atomic int log_level = LOG_INFO;

static const char *const log_names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *s)
{
	for (int i = 0; i < (int)(sizeof(log_names) / sizeof(log_names[0])); i++)
		if (strcmp(s, log_names[i]) == 0)
			return i;
	return -1;
}

void log_emit(int level, int wid, uint64_t cid, uint64_t rid, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s [", ts.tv_nsec / 1000000,
	                      log_names[level]);
	if (wid < 0)
		r = snprintf(line + n, sizeof(line) - n, "main] ");
	else if (cid == 0)
		r = snprintf(line + n, sizeof(line) - n, "w%d] ", wid);
	else if (rid == 0)
		r = snprintf(line + n, sizeof(line) - n, "w%d c%llu] ", wid,
		             (unsigned long long)cid);
	else
		r = snprintf(line + n, sizeof(line) - n, "w%d c%llu r%llu] ", wid,
		             (unsigned long long)cid, (unsigned long long)rid);
	n += (size_t)r;

	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (r < 0)
		r = 0;
	n += (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2; /* truncated: still one whole line */
	line[n++] = '\n';
	/* stderr may be a closed pipe; a lost log line must not kill the proxy */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
