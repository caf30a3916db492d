/* fuzz.h: what the libFuzzer drivers share. A property a driver checks
 * beyond memory safety ends the run like a crash when it fails, so that
 * libFuzzer saves the input (crash-<sha1>) and minimizes it like any other.
 */
#ifndef TG_FUZZ_H
#define TG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks <cond>; on failure prints where, the condition and the printf
 * arguments that follow, then aborts. */
#define FUZZ_ASSERT(cond, ...)                                                                     \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: property violated: %s: ", __FILE__, __LINE__,      \
			        #cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
