/* log.h: the error log (stderr) and its levels.
 *
 * One line per event, written with a single write() so lines from several
 * threads never interleave: "<UTC time> <level> [<tag>] <message>". The tag
 * names who speaks: "main", a worker "w0", a connection "w0 c12", a request
 * "w0 c12 r3". Any thread may log.
 */
#ifndef TG_LOG_H
#define TG_LOG_H

#include <stdint.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,
	LOG_DEBUG = 3,
};

/* Messages above it are skipped. Set at boot and by reloads while the
 * workers read it: atomic, which costs nothing more than a plain int to
 * read on the targets we build for. */
extern _Atomic int log_level;

/* Parses "error" | "warn" | "info" | "debug". Returns the level or -1. */
int log_level_parse(const char *s);

/* Writes one line at <level>. <wid> < 0 means the main thread; <cid> and
 * <rid> 0 mean no connection or request. Use the macros below. */
void log_emit(int level, int wid, uint64_t cid, uint64_t rid, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

#define log_on(level) ((level) <= log_level)

#define log_main(level, ...)                                                                       \
	do {                                                                                       \
		if (log_on(level))                                                                 \
			log_emit(level, -1, 0, 0, __VA_ARGS__);                                    \
	} while (0)

#define log_at(level, wid, cid, rid, ...)                                                          \
	do {                                                                                       \
		if (log_on(level))                                                                 \
			log_emit(level, wid, cid, rid, __VA_ARGS__);                               \
	} while (0)

#endif
