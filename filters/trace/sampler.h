/* sampler.h: OpenTelemetry consistent probability sampling (the
 * specification's tracestate-probability-sampling: 56-bit randomness R,
 * rejection threshold T, "ot=th:" and "ot=rv:" in tracestate) and the
 * per-route rate cap on sampled traces.
 *
 * Pure functions, except struct sampler_rate, which is shared by all worker
 * threads and updated with atomics (no locks).
 */
#ifndef TG_SAMPLER_H
#define TG_SAMPLER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SAMPLER_MAX_T  (UINT64_C(1) << 56) /* threshold of "never sample" */
#define SAMPLER_R_MASK (SAMPLER_MAX_T - 1)
#define SAMPLER_TH_MAX 14 /* hex digits of a threshold */

/* Returns the rejection threshold T for probability <p> in [0,1]:
 * T = 2^56 - round(p * 2^56), computed without losing precision for tiny
 * or near-1 <p>. p = 1 gives 0 (always), p = 0 gives SAMPLER_MAX_T (never).
 * Out of range, <p> clamps: above 1 is always, below 0 or NaN never; a <p>
 * below 2^-57 rounds to never. */
uint64_t sampler_threshold(double p);

/* Returns true when randomness <r> (56 bits) is sampled at threshold <t>:
 * r >= t. */
static inline bool sampler_keep(uint64_t r, uint64_t t)
{
	return r >= t;
}

/* Returns the randomness of <trace_id>: its right-most 7 bytes. */
uint64_t sampler_trace_r(const uint8_t trace_id[16]);

/* Writes <t> (< SAMPLER_MAX_T) as the "th" value: 14 lowercase hex digits
 * with trailing zeros removed, "0" for 0. Returns the length (no NUL). A
 * larger <t> saturates to "ffffffffffffff", never wraps to "0". */
size_t sampler_th_format(uint64_t t, char out[SAMPLER_TH_MAX]);

/* What the "ot" tracestate entry said. */
struct sampler_ot {
	bool has_th, has_rv;
	uint64_t th; /* threshold, < 2^56 */
	uint64_t rv; /* explicit randomness, < 2^56 */
};

/* Parses an "ot" entry value <v,len>: ";"-separated "key:value" sub-keys.
 * "th" is 1 to 14 lowercase hex digits (right-padded with zeros to 14); "rv"
 * exactly 14. Other sub-keys are kept as they are. A malformed th or rv is
 * ignored as if absent (and sampler_ot_format() then leaves it out), so a
 * bad value never spreads. An empty <v> is no entry (0, nothing set).
 * Returns 0, or -EINVAL when the list itself does not parse (grammar, a
 * repeated key, over 256 characters); <ot> then says nothing. */
int sampler_ot_parse(const char *v, size_t len, struct sampler_ot *ot);

/* Writes the "ot" value that results from setting th to <t> (or removing th
 * when <t> is SAMPLER_MAX_T) in the entry <v,len> (NULL or empty when there
 * was none): other sub-keys keep their order, a malformed th or rv is
 * dropped, th comes first; an entry that does not parse is dropped whole.
 * Returns the length written into <out,cap> (0 when nothing is left: the
 * caller then removes the "ot" entry), or -ENOSPC when the result exceeds
 * <cap> or the spec's 256 characters. */
int sampler_ot_format(const char *v, size_t len, uint64_t t, char *out, size_t cap);

/* A cap of <per_second> sampled traces per second with a burst of one
 * second's worth, as a generic cell rate algorithm on one atomic word. */
struct sampler_rate {
	_Atomic uint64_t tat_ns; /* theoretical arrival time */
	uint64_t interval_ns;    /* 1e9 / per_second; 0 = no cap */
	uint64_t burst_ns;
};

/* Sets up <r> for <per_second> (0 = no cap; above 1e9 the cap is 1e9).
 * Boot thread. */
void sampler_rate_init(struct sampler_rate *r, uint32_t per_second);

/* Takes one token at monotonic time <now_ns>. Returns true when the trace
 * may be sampled. Any thread, lock-free. */
bool sampler_rate_take(struct sampler_rate *r, uint64_t now_ns);

#endif
