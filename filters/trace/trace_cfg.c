/* trace_cfg.c: the tracing filter's configuration sections.
 *
 * [tracing] holds the defaults; the keys flagged CFG_K_ROUTE may be set in a
 * [route] as well and then hold for that route only (the loader merges them,
 * cfg_route.c). [exporter.otlp], [exporter.zipkin] and [exporter.jsonl]
 * configure the exporters. Boot thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "trace/trace.h"

#define TC(m) CFG_FIELD(struct trace_cfg, m)
#define TE(m) CFG_FIELD(struct trace_exp_cfg, m)
#define WORDS " \t,"
#define ROUTE CFG_K_ROUTE

static int trace_cfg_expected(char *msg, size_t msglen, const char *val, const char *what)
{
	char got[80];

	cfg_quote(got, sizeof(got), val);
	snprintf(msg, msglen, "expected %s, got %s", what, got);
	return -1;
}

static int trace_set_ratio(const struct cfg_key *k, const char *val, void *field, char *msg,
                           size_t msglen)
{
	char *end;
	double d;

	(void)k;
	errno = 0;
	d = strtod(val, &end);
	if (end == val || *end || errno || !isfinite(d) || d < 0.0 || d > 1.0 ||
	    strspn(val, "0123456789.eE-+") != strlen(val))
		return trace_cfg_expected(msg, msglen, val,
		                          "a probability from 0 to 1 (0.25, 1e-3)");
	*(double *)field = d;
	return 0;
}

/* Calls <fn> for each word of <val> (separated by blanks or commas).
 * Returns -1 when <fn> refuses one or when there is none. */
static int trace_words(const char *val, int (*fn)(const char *w, size_t n, void *arg), void *arg)
{
	size_t n;
	int count = 0;

	for (val += strspn(val, WORDS); *val; val += n, val += strspn(val, WORDS)) {
		n = strcspn(val, WORDS);
		if (fn(val, n, arg) < 0)
			return -1;
		count++;
	}
	return count ? 0 : -1;
}

static bool trace_word_is(const char *w, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(w, s, n) == 0;
}

static int trace_extract_one(const char *w, size_t n, void *arg)
{
	uint8_t *list = arg, fmt;
	int i;

	if (trace_word_is(w, n, "w3c"))
		fmt = TRACE_PROP_W3C;
	else if (trace_word_is(w, n, "b3"))
		fmt = TRACE_PROP_B3;
	else
		return -1;
	for (i = 0; list[i]; i++)
		if (list[i] == fmt)
			return -1;
	if (i >= 2)
		return -1;
	list[i] = fmt;
	return 0;
}

static int trace_set_extract(const struct cfg_key *k, const char *val, void *field, char *msg,
                             size_t msglen)
{
	uint8_t list[3] = {0};

	(void)k;
	if (trace_words(val, trace_extract_one, list) < 0)
		return trace_cfg_expected(msg, msglen, val,
		                          "an ordered list of w3c and b3, each at most once");
	memcpy(field, list, sizeof(list));
	return 0;
}

static int trace_inject_one(const char *w, size_t n, void *arg)
{
	unsigned *set = arg;

	if (trace_word_is(w, n, "w3c"))
		*set |= TRACE_PROP_W3C;
	else if (trace_word_is(w, n, "b3"))
		*set |= TRACE_PROP_B3;
	else if (trace_word_is(w, n, "b3multi"))
		*set |= TRACE_PROP_B3MULTI;
	else
		return -1;
	return 0;
}

static int trace_set_inject(const struct cfg_key *k, const char *val, void *field, char *msg,
                            size_t msglen)
{
	unsigned set = 0;

	(void)k;
	if (trace_words(val, trace_inject_one, &set) < 0)
		return trace_cfg_expected(msg, msglen, val, "one or more of w3c, b3 and b3multi");
	*(unsigned *)field = set;
	return 0;
}

static const char *const trace_exp_names[TRACE_EXP_N] = {
        [TRACE_EXP_OTLP] = "otlp",
        [TRACE_EXP_ZIPKIN] = "zipkin",
        [TRACE_EXP_JSONL] = "jsonl",
        [TRACE_EXP_MEMORY] = "memory",
};

static int trace_exporter_one(const char *w, size_t n, void *arg)
{
	unsigned *set = arg;

	for (int e = 0; e < TRACE_EXP_N; e++) {
		if (trace_word_is(w, n, trace_exp_names[e])) {
			*set |= 1u << e;
			return 0;
		}
	}
	return trace_word_is(w, n, "none") ? 0 : -1;
}

static int trace_set_exporters(const struct cfg_key *k, const char *val, void *field, char *msg,
                               size_t msglen)
{
	unsigned set = 0;

	(void)k;
	if (trace_words(val, trace_exporter_one, &set) < 0)
		return trace_cfg_expected(msg, msglen, val,
		                          "any of memory, otlp, zipkin and jsonl, or none");
	*(unsigned *)field = set;
	return 0;
}

/* "10.0.0.0/8", "::1", "2001:db8::/32": bits past the prefix must be zero,
 * so that a typo such as 10.1.0.0/8 is caught rather than widened. */
static int trace_cidr_one(const char *w, size_t n, void *arg)
{
	struct trace_cidrs *set = arg;
	struct trace_cidr *c;
	char text[64], *slash, *end;
	long bits;
	int max;

	if (n >= sizeof(text) || set->n == TRACE_CIDR_MAX)
		return -1;
	memcpy(text, w, n);
	text[n] = '\0';
	c = &set->v[set->n];
	memset(c, 0, sizeof(*c));
	if ((slash = strchr(text, '/')))
		*slash = '\0';
	if (inet_pton(AF_INET, text, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, text, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	bits = max;
	if (slash) {
		errno = 0;
		bits = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end || errno || bits < 0 || bits > max)
			return -1;
	}
	c->bits = (uint8_t)bits;
	for (int i = (int)bits; i < max; i++)
		if (c->addr[i / 8] & (0x80u >> (i % 8)))
			return -1;
	set->n++;
	return 0;
}

static int trace_set_cidrs(const struct cfg_key *k, const char *val, void *field, char *msg,
                           size_t msglen)
{
	struct trace_cidrs set = {0};

	(void)k;
	if (trace_words(val, trace_cidr_one, &set) < 0)
		return trace_cfg_expected(msg, msglen, val,
		                          "1 to 16 addresses or networks (127.0.0.1, 10.0.0.0/8, "
		                          "::1/128), host bits zero");
	memcpy(field, &set, sizeof(set));
	return 0;
}

/* A header name: an RFC 9110 token, stored lowercase. */
static int trace_check_header(char *val, char *msg, size_t msglen)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
	                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

	if (strspn(val, tchar) != strlen(val) || strlen(val) > 64)
		return trace_cfg_expected(msg, msglen, val, "a header name (letters, digits, '-')");
	for (char *p = val; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return 0;
}

/* ---- values written back, for /config ---------------------------------- */

static void trace_show_ratio(const struct cfg_key *k, const void *field, char *out, size_t len)
{
	(void)k;
	snprintf(out, len, "%.17g", *(const double *)field);
}

static void trace_show_extract(const struct cfg_key *k, const void *field, char *out, size_t len)
{
	const uint8_t *list = field;

	(void)k;
	out[0] = '\0';
	for (int i = 0; i < 3 && list[i]; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "",
		         list[i] == TRACE_PROP_W3C ? "w3c" : "b3");
}

static void trace_show_inject(const struct cfg_key *k, const void *field, char *out, size_t len)
{
	static const struct {
		unsigned bit;
		const char *word;
	} formats[] = {
	        {TRACE_PROP_W3C, "w3c"}, {TRACE_PROP_B3, "b3"}, {TRACE_PROP_B3MULTI, "b3multi"}};
	unsigned set = *(const unsigned *)field;

	(void)k;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (set & formats[i].bit)
			snprintf(out + strlen(out), len - strlen(out), "%s%s", out[0] ? " " : "",
			         formats[i].word);
}

static void trace_show_exporters(const struct cfg_key *k, const void *field, char *out, size_t len)
{
	unsigned set = *(const unsigned *)field;

	(void)k;
	out[0] = '\0';
	for (int e = 0; e < TRACE_EXP_N; e++)
		if (set & (1u << e))
			snprintf(out + strlen(out), len - strlen(out), "%s%s", out[0] ? " " : "",
			         trace_exp_names[e]);
	if (!set)
		snprintf(out, len, "none");
}

static void trace_show_cidrs(const struct cfg_key *k, const void *field, char *out, size_t len)
{
	const struct trace_cidrs *set = field;
	char ip[INET6_ADDRSTRLEN];

	(void)k;
	out[0] = '\0';
	for (int i = 0; i < set->n; i++) {
		inet_ntop(set->v[i].family, set->v[i].addr, ip, sizeof(ip));
		snprintf(out + strlen(out), len - strlen(out), "%s%s/%u", i ? " " : "", ip,
		         set->v[i].bits);
	}
}

static const char *const trace_parent_words[] = {"honor", "ignore", "restart", "restart_link",
                                                 NULL};

static const struct cfg_key trace_keys[] = {
        {"enabled", CFG_T_BOOL, TC(enabled), .def = "on", .flags = ROUTE,
         .doc = "off: requests pass with their trace headers untouched and no spans"},
        {"sample_ratio", CFG_T_CUSTOM, TC(sample_ratio), .set = trace_set_ratio,
         .show = trace_show_ratio, .def = "1.0", .flags = ROUTE, .unit = "probability",
         .doc = "head sampling probability for traces this gateway decides, 0 to 1"},
        {"parent", CFG_T_ENUM, TC(parent), .words = trace_parent_words, .def = "honor",
         .flags = ROUTE,
         .doc = "a caller's context: honor its decision, ignore it, restart, restart_link"},
        {"max_traces_per_second", CFG_T_UINT, TC(max_traces_per_second), .max = 1000000, .def = "0",
         .flags = ROUTE, .unit = "traces/s",
         .doc = "cap on sampled traces (all workers together); 0 = no cap"},
        {"extract", CFG_T_CUSTOM, TC(extract), .set = trace_set_extract, .show = trace_show_extract,
         .def = "w3c", .flags = ROUTE, .doc = "formats read from the request, in order: w3c, b3"},
        {"inject", CFG_T_CUSTOM, TC(inject), .set = trace_set_inject, .show = trace_show_inject,
         .def = "w3c", .flags = ROUTE, .doc = "formats written upstream: w3c, b3, b3multi"},
        {"server_timing", CFG_T_BOOL, TC(server_timing), .def = "off", .flags = ROUTE,
         .doc = "add Server-Timing: trace;desc=<traceparent> to responses"},
        {"traceresponse", CFG_T_BOOL, TC(traceresponse), .def = "off", .flags = ROUTE,
         .doc = "add the Level 2 traceresponse header to responses"},
        {"trace_id_header", CFG_T_STR, TC(trace_id_header), .check = trace_check_header,
         .flags = ROUTE, .doc = "response header that carries the trace-id; absent = none"},
        {"record_query", CFG_T_BOOL, TC(record_query), .def = "off", .flags = ROUTE,
         .doc = "record the query string as url.query (it may hold secrets)"},
        {"force_header", CFG_T_STR, TC(force_header), .check = trace_check_header, .flags = ROUTE,
         .doc = "request header that forces sampling, honoured from force_from only"},
        {"force_from", CFG_T_CUSTOM, TC(force_from), .set = trace_set_cidrs,
         .show = trace_show_cidrs, .flags = ROUTE, .unit = "CIDR list",
         .doc = "client networks allowed to use force_header"},
        {"exporters", CFG_T_CUSTOM, TC(exporters), .set = trace_set_exporters,
         .show = trace_show_exporters, .def = "memory",
         .doc = "where sampled spans go: any of memory, otlp, zipkin and jsonl, or none"},
        {"ring_spans", CFG_T_UINT, TC(ring_spans), .min = 16, .max = 1048576, .def = "1024",
         .unit = "spans",
         .doc = "per worker, finished spans waiting for the exporters; full = dropped"},
        {"flush_timeout_ms", CFG_T_MS, TC(flush_timeout_ms), .min = 0, .max = 600000, .def = "5000",
         .unit = "ms",
         .doc = "at shutdown, how long the exporters may take to send what is queued"},
        {.name = NULL},
};

static void trace_check(struct cfg_inst *in, void *obj)
{
	const struct trace_cfg *tc = obj;

	if (tc->force_header && tc->force_from.n == 0)
		cfg_report(in, "force_header",
		           "needs force_from: the networks allowed to force sampling");
}

static const struct cfg_section trace_section = {
        .name = "tracing",
        .keys = trace_keys,
        .size = sizeof(struct trace_cfg),
        .check = trace_check,
        .doc = "trace context, sampling and spans; keys marked (R) may be set per [route]",
        .restart = true,
};

/* clang-format off */
/* What every exporter section has. */
#define TRACE_EXP_QUEUE(batch, delay)                                                              \
	{"queue_size", CFG_T_UINT, TE(queue_size), .min = 1, .max = 1048576, .def = "2048",        \
	 .unit = "spans", .doc = "spans waiting for this exporter; full = new spans dropped"},     \
	{"batch_size", CFG_T_UINT, TE(batch_size), .min = 1, .max = 65536, .def = batch,           \
	 .unit = "spans", .doc = "spans per export, at most"},                                     \
	{"delay_ms", CFG_T_MS, TE(delay_ms), .min = 1, .max = 600000, .def = delay, .unit = "ms",  \
	 .doc = "longest time a finished span waits for its batch"}

/* What the exporters that POST to a collector have. */
#define TRACE_EXP_HTTP(url)                                                                        \
	{"endpoint", CFG_T_STR, TE(endpoint), .def = url, .check = trace_check_url,                \
	 .doc = "the collector's URL, http:// or https://"},                                       \
	{"compression", CFG_T_ENUM, TE(compression), .words = trace_compression_words,             \
	 .def = "gzip", .doc = "gzip or none"},                                                    \
	{"headers", CFG_T_STR, TE(headers), .check = trace_check_headers, .flags = CFG_K_SECRET,    \
	 .doc = "name=value pairs, comma separated, sent with every export (auth)"},               \
	{"ca_file", CFG_T_STR, TE(ca_file),                                                        \
	 .doc = "PEM trust anchors for https://; absent = the system's"},                          \
	{"timeout_ms", CFG_T_MS, TE(timeout_ms), .min = 1, .max = 600000, .def = "10000",          \
	 .unit = "ms", .doc = "one export attempt, connect to response"},                          \
	{"retry_ms", CFG_T_MS, TE(retry_ms), .min = 0, .max = 3600000, .def = "30000",             \
	 .unit = "ms", .doc = "how long a batch is retried before its spans are dropped"}
/* clang-format on */

static const char *const trace_compression_words[] = {"none", "gzip", NULL};
static const char *const trace_protocol_words[] = {"protobuf", "json", NULL};

static int trace_check_url(char *val, char *msg, size_t msglen)
{
	if (strncmp(val, "http://", 7) != 0 && strncmp(val, "https://", 8) != 0)
		return trace_cfg_expected(msg, msglen, val, "an http:// or https:// URL");
	return 0;
}

/* "x-api-key=abc, authorization=Bearer t": a header name, '=', a value
 * without control characters; the header lines are built by http_exp.c. */
static int trace_check_headers(char *val, char *msg, size_t msglen)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
	                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	const char *p = val;

	while (*p) {
		size_t name = (p += strspn(p, " \t"), strspn(p, tchar));

		if (name == 0 || p[name + strspn(p + name, " \t")] != '=')
			return trace_cfg_expected(msg, msglen, val,
			                          "name=value pairs separated by commas");
		p += name + 1 + strcspn(p + name + 1, ",");
		if (*p == ',')
			p++;
	}
	return 0;
}

static const struct cfg_key trace_otlp_keys[] = {
        TRACE_EXP_HTTP("http://127.0.0.1:4318/v1/traces"),
        {"protocol", CFG_T_ENUM, TE(protocol), .words = trace_protocol_words, .def = "protobuf",
         .doc = "protobuf or json (OTLP/HTTP)"},
        TRACE_EXP_QUEUE("512", "5000"),
        {.name = NULL},
};

static const struct cfg_key trace_zipkin_keys[] = {
        TRACE_EXP_HTTP("http://127.0.0.1:9411/api/v2/spans"),
        TRACE_EXP_QUEUE("512", "5000"),
        {.name = NULL},
};

static const struct cfg_key trace_jsonl_keys[] = {
        {"path", CFG_T_STR, TE(path), .def = "stdout",
         .doc = "stdout, stderr or a file (appended to): one JSON object per span"},
        TRACE_EXP_QUEUE("512", "200"),
        {.name = NULL},
};

static const struct cfg_key trace_memory_keys[] = {
        {"max_traces", CFG_T_UINT, TE(max_traces), .min = 1, .max = 1000000, .def = "1000",
         .unit = "traces", .doc = "traces kept for the viewer; the oldest goes first"},
        {"max_bytes", CFG_T_SIZE, TE(max_bytes), .min = 65536, .max = 1ull << 36, .def = "64m",
         .unit = "bytes", .doc = "memory the kept traces may use"},
        TRACE_EXP_QUEUE("512", "200"),
        {.name = NULL},
};

static const struct cfg_section trace_exp_sections[TRACE_EXP_N] = {
        [TRACE_EXP_OTLP] = {.name = "exporter.otlp",
                            .keys = trace_otlp_keys,
                            .size = sizeof(struct trace_exp_cfg),
                            .doc = "OTLP/HTTP to an OpenTelemetry Collector (or Jaeger, Tempo...)",
                            .restart = true},
        [TRACE_EXP_ZIPKIN] = {.name = "exporter.zipkin",
                              .keys = trace_zipkin_keys,
                              .size = sizeof(struct trace_exp_cfg),
                              .doc = "Zipkin v2 JSON to /api/v2/spans",
                              .restart = true},
        [TRACE_EXP_MEMORY] = {.name = "exporter.memory",
                              .keys = trace_memory_keys,
                              .size = sizeof(struct trace_exp_cfg),
                              .doc = "the embedded trace store behind the admin viewer",
                              .restart = true},
        [TRACE_EXP_JSONL] = {.name = "exporter.jsonl",
                             .keys = trace_jsonl_keys,
                             .size = sizeof(struct trace_exp_cfg),
                             .doc = "one JSON object per span to a file or stdout",
                             .restart = true},
};

int trace_cfg_declare(void)
{
	int err = cfg_register(&trace_section);

	for (int e = 0; e < TRACE_EXP_N && (!err || err == -EEXIST); e++)
		err = cfg_register(&trace_exp_sections[e]);
	return err == -EEXIST ? 0 : err;
}

const struct trace_cfg *trace_cfg_get(const struct cfg *c, const struct cfg_route *r)
{
	const struct trace_cfg *tc = r ? cfg_route_ext(r, "tracing") : NULL;

	return tc ? tc : cfg_ext_get(c, "tracing", NULL);
}

const struct trace_exp_cfg *trace_cfg_exporter(const struct cfg *c, enum trace_exp e,
                                               const char **name)
{
	if (name)
		*name = trace_exp_names[e];
	return cfg_ext_get(c, trace_exp_sections[e].name, NULL);
}

bool trace_cidrs_match(const struct trace_cidrs *set, const struct sockaddr *sa)
{
	const uint8_t *a;
	sa_family_t fam = sa->sa_family;

	if (fam == AF_INET)
		a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (fam == AF_INET6)
		a = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	else
		return false;
	for (int i = 0; i < set->n; i++) {
		const struct trace_cidr *c = &set->v[i];
		int full = c->bits / 8, rest = c->bits % 8;

		if (c->family != fam || memcmp(a, c->addr, (size_t)full) != 0)
			continue;
		if (rest && ((a[full] ^ c->addr[full]) & (0xffu << (8 - rest)) & 0xffu))
			continue;
		return true;
	}
	return false;
}
