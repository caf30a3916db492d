/* util.h: small helpers shared by the gateway modules: clocks, addresses. */
#ifndef TG_UTIL_H
#define TG_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* How many ended objects a worker keeps for reuse (txns, HTTP/2 streams):
 * <n>, or none in the AddressSanitizer build, which then still catches a
 * use after the end. */
#if defined(__SANITIZE_ADDRESS__)
#define UTIL_SPARE(n) 0
#else
#define UTIL_SPARE(n) (n)
#endif

/* Returns CLOCK_MONOTONIC in nanoseconds: for durations. */
uint64_t util_mono_ns(void);

/* Returns CLOCK_REALTIME in nanoseconds since the Unix epoch: for timestamps. */
uint64_t util_wall_ns(void);

#define UTIL_U64_DIGITS 20 /* the longest decimal uint64_t */

/* Writes <v> in decimal at <buf> (room for UTIL_U64_DIGITS) without a NUL.
 * Returns the length. printf's parsing of its format costs more than the
 * digits on the request path. */
size_t util_u64_dec(char *buf, uint64_t v);

/* Copies <n> bytes of <src> to <p>. Returns the end of the copy: heads are
 * written piece by piece into one reserved stretch this way, which costs
 * less than an evbuffer_add() (and its callbacks) per piece. */
static inline char *util_put(char *p, const void *src, size_t n)
{
	memcpy(p, src, n);
	return p + n;
}

/* The same for string literal <lit>, without its NUL. */
#define UTIL_PUT_LIT(p, lit) util_put((p), (lit), sizeof(lit) - 1)

/* Formats the address of <sa> as "ip" into <buf,len> (no port). Returns <buf>. */
const char *util_addr_ip(const struct sockaddr *sa, char *buf, size_t len);

/* Formats <sa> as "ip:port" or "[ip6]:port" into <buf,len>. Returns <buf>. */
const char *util_addr_text(const struct sockaddr *sa, char *buf, size_t len);

/* Returns the port of <sa> in host order. */
int util_addr_port(const struct sockaddr *sa);

#endif
