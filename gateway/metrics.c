/* metrics.c: the counters' memory and the scrape.
 *
 * metrics_new() lays out one block per worker (struct metrics_w, then every
 * counter) on cache lines of its own; the workers bump them through the
 * inline helpers of metrics.h. The admin thread's metrics_render() adds the
 * blocks up and writes Prometheus text format 0.0.4, then calls the sources
 * other modules registered. Owns the copies of the route and upstream names.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "metrics.h"
#include "util.h"

/* Not 64: x86's adjacent-line prefetcher pulls cache lines in pairs, so two
 * writers 64 bytes apart still contend. */
#define METRICS_LINE  128
#define METRICS_MAX_N 65536 /* routes or upstreams: a typo guard, not a real limit */
/* Slots for route and upstream names that reloads add: a name keeps its slot
 * for the process's life, so its counters never go back to zero. */
#define METRICS_SPARE 256

const uint64_t metrics_dur_le_ns[METRICS_DUR_N - 1] = {
        1000000,   2500000,   5000000,    10000000,   25000000,   50000000,    100000000,
        250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};

static const char *const metrics_code_name[METRICS_CODE_N] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

static const struct {
	const char *name;
	enum metrics_type type;
	const char *help;
} metrics_ups_fam[METRICS_UPS_N] = {
        [METRICS_UPS_CONNECT_FAILURES] = {"tracegate_upstream_connect_failures_total",
                                          METRICS_COUNTER,
                                          "Connects to an upstream's servers that failed or timed "
                                          "out."},
        [METRICS_UPS_TIMEOUTS] = {"tracegate_upstream_timeouts_total", METRICS_COUNTER,
                                  "Upstream responses that did not come within "
                                  "response_timeout_ms."},
        [METRICS_UPS_RETRIES] = {"tracegate_upstream_retries_total", METRICS_COUNTER,
                                 "Requests sent again to another server of the upstream."},
        [METRICS_UPS_POOL_HITS] = {"tracegate_upstream_pool_hits_total", METRICS_COUNTER,
                                   "Requests that reused an idle keep-alive connection."},
        [METRICS_UPS_POOL_MISSES] = {"tracegate_upstream_pool_misses_total", METRICS_COUNTER,
                                     "Requests that found no idle connection and connected."},
        [METRICS_UPS_TLS_FAILURES] = {"tracegate_upstream_tls_failures_total", METRICS_COUNTER,
                                      "TLS handshakes with an upstream's servers that failed or "
                                      "timed out."},
        [METRICS_UPS_TLS_RESUMED] = {"tracegate_upstream_tls_resumed_total", METRICS_COUNTER,
                                     "TLS connections to an upstream's servers that resumed a "
                                     "session."},
        [METRICS_UPS_CONNS] = {"tracegate_upstream_connections", METRICS_GAUGE,
                               "Open connections to the upstream's servers."},
};

struct metrics {
	int n_workers;
	int cap_routes; /* slots; slot cap_routes is METRICS_NO_ROUTE */
	int cap_ups;
	/* Named slots. A name is written before the count that shows it is
	 * published (release), so the scrape (acquire) never reads a slot
	 * that is being named. Main thread writes, admin thread reads. */
	_Atomic int n_routes;
	_Atomic int n_ups;
	char **route_names;   /* [cap_routes] */
	char **ups_names;     /* [cap_ups] */
	struct metrics_w **w; /* [n_workers] */
	/* Offsets of the arrays from req[0]: every block has the same layout,
	 * so the scrape names a counter by one index for all workers. */
	size_t o_dur, o_dur_ns, o_ups;
	_Atomic uint64_t reloads;
	_Atomic uint64_t reload_failures;
	struct {
		metrics_source_fn fn;
		void *arg;
	} src[METRICS_SOURCES];
	int n_src;
};

static size_t metrics_round(size_t n)
{
	return (n + METRICS_LINE - 1) / METRICS_LINE * METRICS_LINE;
}

static char **metrics_names(int n, int cap, const char *const *names)
{
	char **v = calloc((size_t)cap, sizeof(*v));

	for (int i = 0; v && i < n; i++) {
		if (!(v[i] = strdup(names[i]))) {
			while (i--)
				free(v[i]);
			free(v);
			return NULL;
		}
	}
	return v;
}

static bool metrics_names_ok(int n, const char *const *names)
{
	if (n < 0 || n > METRICS_MAX_N || (n && !names))
		return false;
	for (int i = 0; i < n; i++)
		if (!names[i])
			return false;
	return true;
}

struct metrics *metrics_new(int n_workers, int n_routes, const char *const *route_names, int n_ups,
                            const char *const *ups_names)
{
	struct metrics *m;
	size_t slots, n_ctr, hdr, size;

	if (n_workers < 1 || n_workers > METRICS_MAX_N ||
	    !metrics_names_ok(n_routes, route_names) || !metrics_names_ok(n_ups, ups_names)) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		goto nomem;
	m->n_workers = n_workers;
	m->cap_routes = n_routes + METRICS_SPARE;
	m->cap_ups = n_ups + METRICS_SPARE;
	atomic_init(&m->n_routes, n_routes);
	atomic_init(&m->n_ups, n_ups);
	slots = (size_t)m->cap_routes + 1;
	m->o_dur = slots * METRICS_CODE_N;
	m->o_dur_ns = m->o_dur + slots * METRICS_DUR_N;
	m->o_ups = m->o_dur_ns + slots;
	n_ctr = m->o_ups + (size_t)m->cap_ups * METRICS_UPS_N;
	/* The header shares its first line with nothing another thread
	 * writes: the worker's own gauge only. */
	hdr = metrics_round(sizeof(struct metrics_w));
	size = metrics_round(hdr + n_ctr * sizeof(_Atomic uint64_t));

	m->route_names = metrics_names(n_routes, m->cap_routes, route_names);
	m->ups_names = metrics_names(n_ups, m->cap_ups, ups_names);
	m->w = calloc((size_t)n_workers, sizeof(*m->w));
	if (!m->route_names || !m->ups_names || !m->w)
		goto nomem;
	for (int i = 0; i < n_workers; i++) {
		struct metrics_w *w = aligned_alloc(METRICS_LINE, size);

		if (!w)
			goto nomem;
		/* All-zero bytes are a zero lock-free atomic on every target
		 * we build for; atomic_init() on each would say the same. */
		memset(w, 0, size);
		w->n_routes = m->cap_routes;
		w->n_ups = m->cap_ups;
		w->req = (_Atomic uint64_t *)((char *)w + hdr);
		w->dur = w->req + m->o_dur;
		w->dur_ns = w->req + m->o_dur_ns;
		w->ups = w->req + m->o_ups;
		m->w[i] = w;
	}
	return m;
nomem:
	metrics_free(m);
	errno = ENOMEM;
	return NULL;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (int i = 0; m->w && i < m->n_workers; i++)
		free(m->w[i]);
	free(m->w);
	for (int i = 0; m->route_names && i < m->cap_routes; i++)
		free(m->route_names[i]);
	free(m->route_names);
	for (int i = 0; m->ups_names && i < m->cap_ups; i++)
		free(m->ups_names[i]);
	free(m->ups_names);
	free(m);
}

struct metrics_w *metrics_worker(struct metrics *m, int w)
{
	return w >= 0 && w < m->n_workers ? m->w[w] : NULL;
}

void metrics_config_reload(struct metrics *m, bool ok)
{
	atomic_fetch_add_explicit(ok ? &m->reloads : &m->reload_failures, 1, memory_order_relaxed);
}

/* The slot of <name> among the <*n> named of <names>, naming a free one
 * when <name> is new. */
static int metrics_slot(char **names, _Atomic int *n, int cap, const char *name)
{
	int have = atomic_load_explicit(n, memory_order_relaxed);

	for (int i = 0; i < have; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	if (have == cap)
		return -ENOSPC;
	if (!(names[have] = strdup(name)))
		return -ENOMEM;
	atomic_store_explicit(n, have + 1, memory_order_release);
	return have;
}

int metrics_route_slot(struct metrics *m, const char *name)
{
	return metrics_slot(m->route_names, &m->n_routes, m->cap_routes, name);
}

int metrics_ups_slot(struct metrics *m, const char *name)
{
	return metrics_slot(m->ups_names, &m->n_ups, m->cap_ups, name);
}

int metrics_add_source(struct metrics *m, metrics_source_fn fn, void *arg)
{
	if (m->n_src == METRICS_SOURCES)
		return -ENOSPC;
	m->src[m->n_src].fn = fn;
	m->src[m->n_src].arg = arg;
	m->n_src++;
	return 0;
}

/* ---- text format writers ---- */

/* A metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) when <colon>, else a label name
 * ([a-zA-Z_][a-zA-Z0-9_]*). */
static bool metrics_is_name(const char *s, bool colon)
{
	if (!*s)
		return false;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		          (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');

		if (!ok)
			return false;
	}
	return true;
}

/* Checks <labels> before anything is written, so a bad one leaves <out>
 * as it was. "le" is the histogram's own. */
static bool metrics_labels_ok(const char *const *labels, bool histogram)
{
	for (; labels && labels[0]; labels += 2) {
		if (!metrics_is_name(labels[0], false) || strncmp(labels[0], "__", 2) == 0 ||
		    !labels[1] || (histogram && strcmp(labels[0], "le") == 0))
			return false;
	}
	return true;
}

static int metrics_put(struct evbuffer *out, const char *s, size_t n)
{
	return evbuffer_add(out, s, n) ? -ENOMEM : 0;
}

static int metrics_puts(struct evbuffer *out, const char *s)
{
	return metrics_put(out, s, strlen(s));
}

/* Appends <s> escaped: backslash and newline always, the double quote
 * inside a label value (<quote>). Runs without escapes go in one piece. */
static int metrics_put_esc(struct evbuffer *out, const char *s, bool quote)
{
	const char *set = quote ? "\\\n\"" : "\\\n";
	int rc;

	for (;;) {
		size_t n = strcspn(s, set);

		if ((rc = metrics_put(out, s, n)))
			return rc;
		if (!s[n])
			return 0;
		if ((rc = metrics_puts(out, s[n] == '\n' ? "\\n" : s[n] == '"' ? "\\\"" : "\\\\")))
			return rc;
		s += n + 1;
	}
}

/* Writes "<name><suffix>{labels,le="<le>"} <val>\n"; <le> may be NULL.
 * The names were checked by the caller. */
static int metrics_sample(struct evbuffer *out, const char *name, const char *suffix,
                          const char *const *labels, const char *le, const char *val)
{
	bool any = (labels && labels[0]) || le;
	const char *sep = "{";
	int rc;

	if ((rc = metrics_puts(out, name)) || (rc = metrics_puts(out, suffix)))
		return rc;
	for (; labels && labels[0]; labels += 2) {
		if ((rc = metrics_puts(out, sep)) || (rc = metrics_puts(out, labels[0])) ||
		    (rc = metrics_puts(out, "=\"")) ||
		    (rc = metrics_put_esc(out, labels[1], true)) || (rc = metrics_puts(out, "\"")))
			return rc;
		sep = ",";
	}
	if (le && ((rc = metrics_puts(out, sep)) || (rc = metrics_puts(out, "le=\"")) ||
	           (rc = metrics_puts(out, le)) || (rc = metrics_puts(out, "\""))))
		return rc;
	if (any && (rc = metrics_puts(out, "}")))
		return rc;
	if ((rc = metrics_puts(out, " ")) || (rc = metrics_puts(out, val)) ||
	    (rc = metrics_puts(out, "\n")))
		return rc;
	return 0;
}

int metrics_write_family(struct evbuffer *out, const char *name, enum metrics_type type,
                         const char *help)
{
	static const char *const type_name[] = {
	        [METRICS_COUNTER] = "counter",
	        [METRICS_GAUGE] = "gauge",
	        [METRICS_HISTOGRAM] = "histogram",
	};
	int rc;

	if (!metrics_is_name(name, true) || (unsigned)type >= ARRAY_SIZE(type_name) || !help)
		return -EINVAL;
	if ((rc = metrics_puts(out, "# HELP ")) || (rc = metrics_puts(out, name)) ||
	    (rc = metrics_puts(out, " ")) || (rc = metrics_put_esc(out, help, false)) ||
	    (rc = metrics_puts(out, "\n# TYPE ")) || (rc = metrics_puts(out, name)) ||
	    (rc = metrics_puts(out, " ")) || (rc = metrics_puts(out, type_name[type])) ||
	    (rc = metrics_puts(out, "\n")))
		return rc;
	return 0;
}

int metrics_write_u64(struct evbuffer *out, const char *name, const char *const *labels, uint64_t v)
{
	char val[UTIL_U64_DIGITS + 1];

	if (!metrics_is_name(name, true) || !metrics_labels_ok(labels, false))
		return -EINVAL;
	val[util_u64_dec(val, v)] = '\0';
	return metrics_sample(out, name, "", labels, NULL, val);
}

int metrics_write_i64(struct evbuffer *out, const char *name, const char *const *labels, int64_t v)
{
	char val[UTIL_U64_DIGITS + 2];

	if (!metrics_is_name(name, true) || !metrics_labels_ok(labels, false))
		return -EINVAL;
	snprintf(val, sizeof(val), "%" PRId64, v);
	return metrics_sample(out, name, "", labels, NULL, val);
}

int metrics_write_f64(struct evbuffer *out, const char *name, const char *const *labels, double v)
{
	char val[32];

	if (!metrics_is_name(name, true) || !metrics_labels_ok(labels, false))
		return -EINVAL;
	if (isnan(v)) {
		strcpy(val, "NaN");
	} else if (isinf(v)) {
		strcpy(val, v > 0 ? "+Inf" : "-Inf");
	} else {
		/* %.17g always reads back exactly but shows 0.1 as
		 * 0.10000000000000001: take the first precision that does. */
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(val, sizeof(val), "%.*g", prec, v);
			if (strtod(val, NULL) == v)
				break;
		}
	}
	return metrics_sample(out, name, "", labels, NULL, val);
}

/* Writes <ns> as decimal seconds, exactly, without trailing zeros ("0.0025",
 * "10"): "le" strings must match from one scrape to the next, which a
 * float's rounding would not promise. Returns <buf>, of 32 bytes. */
static const char *metrics_ns_sec(char *buf, uint64_t ns)
{
	uint64_t frac = ns % 1000000000;
	size_t n = util_u64_dec(buf, ns / 1000000000);

	if (frac) {
		buf[n++] = '.';
		for (uint64_t d = 100000000; d && frac; d /= 10) {
			buf[n++] = (char)('0' + frac / d);
			frac %= d;
		}
	}
	buf[n] = '\0';
	return buf;
}

int metrics_write_histogram(struct evbuffer *out, const char *name, const char *const *labels,
                            const uint64_t *le_ns, int n_le, const uint64_t *counts,
                            uint64_t sum_ns)
{
	char le[32], val[32];
	uint64_t cum = 0;
	int rc;

	if (!metrics_is_name(name, true) || !metrics_labels_ok(labels, true) || n_le < 0)
		return -EINVAL;
	for (int i = 0; i <= n_le; i++) {
		cum += counts[i];
		val[util_u64_dec(val, cum)] = '\0';
		rc = metrics_sample(out, name, "_bucket", labels,
		                    i < n_le ? metrics_ns_sec(le, le_ns[i]) : "+Inf", val);
		if (rc)
			return rc;
	}
	if ((rc = metrics_sample(out, name, "_sum", labels, NULL, metrics_ns_sec(le, sum_ns))))
		return rc;
	return metrics_sample(out, name, "_count", labels, NULL, val);
}

/* ---- the scrape ---- */

/* Counter <i> (an index from req[0]) summed over the workers. A relaxed
 * load is enough: each worker's value is read whole, and a scrape promises
 * no order between counters. */
static uint64_t metrics_sum(const struct metrics *m, size_t i)
{
	uint64_t s = 0;

	for (int w = 0; w < m->n_workers; w++)
		s += atomic_load_explicit(&m->w[w]->req[i], memory_order_relaxed);
	return s;
}

static const char *metrics_route_name(const struct metrics *m, int r)
{
	return r < m->cap_routes ? m->route_names[r] : METRICS_NO_ROUTE_NAME;
}

/* The route slot after <r> to render: the named ones, then METRICS_NO_ROUTE's
 * (cap_routes), then cap_routes + 1: the end. */
static int metrics_route_next(struct metrics *m, int r)
{
	if (r >= m->cap_routes)
		return m->cap_routes + 1;
	return ++r < atomic_load_explicit(&m->n_routes, memory_order_acquire) ? r : m->cap_routes;
}

static int metrics_render_requests(struct metrics *m, struct evbuffer *out)
{
	static const char name[] = "tracegate_requests_total";
	int rc = metrics_write_family(out, name, METRICS_COUNTER,
	                              "Requests answered, by route and status class.");

	for (int r = metrics_route_next(m, -1); !rc && r <= m->cap_routes;
	     r = metrics_route_next(m, r)) {
		for (int c = 0; !rc && c < METRICS_CODE_N; c++) {
			const char *labels[] = {"route", metrics_route_name(m, r), "code_class",
			                        metrics_code_name[c], NULL};

			rc = metrics_write_u64(out, name, labels,
			                       metrics_sum(m, (size_t)r * METRICS_CODE_N + c));
		}
	}
	return rc;
}

static int metrics_render_durations(struct metrics *m, struct evbuffer *out)
{
	static const char name[] = "tracegate_request_duration_seconds";
	int rc = metrics_write_family(out, name, METRICS_HISTOGRAM,
	                              "Time taken to answer requests, by route.");

	for (int r = metrics_route_next(m, -1); !rc && r <= m->cap_routes;
	     r = metrics_route_next(m, r)) {
		const char *labels[] = {"route", metrics_route_name(m, r), NULL};
		size_t o = m->o_dur + (size_t)r * METRICS_DUR_N;
		uint64_t counts[METRICS_DUR_N];

		for (int b = 0; b < METRICS_DUR_N; b++)
			counts[b] = metrics_sum(m, o + b);
		rc = metrics_write_histogram(out, name, labels, metrics_dur_le_ns,
		                             METRICS_DUR_N - 1, counts,
		                             metrics_sum(m, m->o_dur_ns + r));
	}
	return rc;
}

static int metrics_render_conns(struct metrics *m, struct evbuffer *out)
{
	static const char name[] = "tracegate_client_connections";
	uint64_t s = 0;
	int rc;

	for (int w = 0; w < m->n_workers; w++)
		s += atomic_load_explicit(&m->w[w]->client, memory_order_relaxed);
	rc = metrics_write_family(out, name, METRICS_GAUGE, "Open client connections.");
	/* The two's complement sum of the workers' net changes is the net
	 * total, whatever the order the workers' +1 and -1 came in. */
	return rc ? rc : metrics_write_i64(out, name, NULL, (int64_t)s);
}

static uint64_t metrics_conn_sum(struct metrics *m, enum metrics_conn what)
{
	uint64_t s = 0;

	for (int w = 0; w < m->n_workers; w++)
		s += atomic_load_explicit(&m->w[w]->conn_ev[what], memory_order_relaxed);
	return s;
}

static int metrics_render_conn_events(struct metrics *m, struct evbuffer *out)
{
	static const struct {
		const char *name, *help;
		enum metrics_conn what;
	} fam[] = {
	        {"tracegate_tls_handshakes_total", "TLS handshakes completed with clients.",
	         METRICS_TLS_HANDSHAKES},
	        {"tracegate_tls_resumed_total", "TLS handshakes that resumed an earlier session.",
	         METRICS_TLS_RESUMED},
	        {"tracegate_tls_handshake_failures_total",
	         "TLS handshakes with clients that failed or were abandoned.",
	         METRICS_TLS_FAILURES},
	        {"tracegate_h2_connections_total", "Client connections that spoke HTTP/2.",
	         METRICS_H2_CONNS},
	        {"tracegate_h2_streams_total", "HTTP/2 streams that carried a request.",
	         METRICS_H2_STREAMS},
	};
	static const char *const abuse[][2] = {
	        [METRICS_H2_GOAWAY_RAPID_RESET - METRICS_H2_GOAWAY_RAPID_RESET] = {"kind",
	                                                                           "rapid_reset"},
	        [METRICS_H2_GOAWAY_FLOOD -
	                METRICS_H2_GOAWAY_RAPID_RESET] = {"kind", "control_flood"},
	        [METRICS_H2_GOAWAY_PROTOCOL - METRICS_H2_GOAWAY_RAPID_RESET] = {"kind", "protocol"},
	        [METRICS_H2_STALLED - METRICS_H2_GOAWAY_RAPID_RESET] = {"kind", "stalled_stream"},
	};
	static const char abuse_name[] = "tracegate_h2_abuse_total";
	int rc = 0;

	for (size_t i = 0; !rc && i < sizeof(fam) / sizeof(fam[0]); i++)
		if (!(rc = metrics_write_family(out, fam[i].name, METRICS_COUNTER, fam[i].help)))
			rc = metrics_write_u64(out, fam[i].name, NULL,
			                       metrics_conn_sum(m, fam[i].what));
	if (!rc)
		rc = metrics_write_family(
		        out, abuse_name, METRICS_COUNTER,
		        "HTTP/2 connections closed with GOAWAY, or streams reset, "
		        "to protect the gateway, by kind.");
	for (int k = METRICS_H2_GOAWAY_RAPID_RESET; !rc && k <= METRICS_H2_STALLED; k++) {
		const char *labels[] = {abuse[k - METRICS_H2_GOAWAY_RAPID_RESET][0],
		                        abuse[k - METRICS_H2_GOAWAY_RAPID_RESET][1], NULL};

		rc = metrics_write_u64(out, abuse_name, labels, metrics_conn_sum(m, k));
	}
	return rc;
}

static int metrics_render_ups(struct metrics *m, struct evbuffer *out)
{
	int rc = 0, n_ups = atomic_load_explicit(&m->n_ups, memory_order_acquire);

	for (int f = 0; !rc && f < METRICS_UPS_N; f++) {
		const char *name = metrics_ups_fam[f].name;

		rc = metrics_write_family(out, name, metrics_ups_fam[f].type,
		                          metrics_ups_fam[f].help);
		for (int u = 0; !rc && u < n_ups; u++) {
			const char *labels[] = {"upstream", m->ups_names[u], NULL};
			uint64_t v = metrics_sum(m, m->o_ups + (size_t)u * METRICS_UPS_N + f);

			rc = metrics_ups_fam[f].type == METRICS_GAUGE
			             ? metrics_write_i64(out, name, labels, (int64_t)v)
			             : metrics_write_u64(out, name, labels, v);
		}
	}
	return rc;
}

static int metrics_render_reloads(struct metrics *m, struct evbuffer *out)
{
	static const char ok[] = "tracegate_config_reloads_total";
	static const char bad[] = "tracegate_config_reload_failures_total";
	int rc;

	if ((rc = metrics_write_family(out, ok, METRICS_COUNTER,
	                               "Configuration reloads that took effect.")) ||
	    (rc = metrics_write_u64(out, ok, NULL,
	                            atomic_load_explicit(&m->reloads, memory_order_relaxed))) ||
	    (rc = metrics_write_family(out, bad, METRICS_COUNTER,
	                               "Configuration reloads refused: the file had errors, or "
	                               "changed what takes a restart.")))
		return rc;
	return metrics_write_u64(out, bad, NULL,
	                         atomic_load_explicit(&m->reload_failures, memory_order_relaxed));
}

int metrics_render(struct metrics *m, struct evbuffer *out)
{
	size_t start = evbuffer_get_length(out);
	int rc;

	if ((rc = metrics_render_requests(m, out)) || (rc = metrics_render_durations(m, out)) ||
	    (rc = metrics_render_conns(m, out)) || (rc = metrics_render_conn_events(m, out)) ||
	    (rc = metrics_render_ups(m, out)) || (rc = metrics_render_reloads(m, out)))
		return rc;
	for (int i = 0; i < m->n_src; i++) {
		if ((rc = m->src[i].fn(out, m->src[i].arg)))
			return rc;
		/* The core's part is bounded by the config; a source's is
		 * not, and a scrape must not eat the memory of the workers. */
		if (evbuffer_get_length(out) - start > METRICS_MAX_BYTES)
			return -EMSGSIZE;
	}
	return 0;
}

static struct metrics *metrics_the;

void metrics_set_process(struct metrics *m)
{
	metrics_the = m;
}

struct metrics *metrics_process(void)
{
	return metrics_the;
}
