/* fuzz_h1_head.c: request and response heads (gateway/h1.c). Each input is
 * parsed as a request and as a response, under the default limits and under
 * the smallest a config allows. Beyond memory safety it checks what the
 * connection code relies on: bytes arriving in pieces change no verdict, a
 * head the parser accepts ends where h1_head_scan() says, whatever the scan
 * stops at is accepted or refused (never "need more"), and the parsed fields
 * point into the head and hold no byte the grammar forbids.
 */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "h1.h"

#define MAX_HEADERS   100
#define ALL_PREFIXES  512 /* inputs up to this long: every prefix is parsed */
#define SOME_PREFIXES 256 /* longer ones: this many, at line and field edges */

static const struct h1_limits lim_default = {16384, 8192, MAX_HEADERS};
static const struct h1_limits lim_smallest = {1024, 64, 8};

typedef int (*parse_fn)(const char *buf, size_t len, const struct h1_limits *lim, struct h1_msg *m);

static int parse(parse_fn fn, const char *buf, size_t len, const struct h1_limits *lim,
                 struct h1_msg *m, struct h1_hdr *hdrs)
{
	m->hdrs = hdrs;
	m->n_hdrs = MAX_HEADERS;
	return fn(buf, len, lim, m);
}

static bool within(const char *p, size_t n, const char *buf, size_t len)
{
	return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

/* An accepted head of <r> bytes at <buf>: its fields. */
static void check_fields(const struct h1_msg *m, const char *buf, int r, bool request,
                         const struct h1_limits *lim)
{
	size_t len = (size_t)r;

	FUZZ_ASSERT(m->version_minor == 0 || m->version_minor == 1, "%d", m->version_minor);
	FUZZ_ASSERT(m->n_hdrs <= lim->max_headers, "%u", m->n_hdrs);
	FUZZ_ASSERT((m->content_length >= 0) == !!(m->flags & H1_F_HAS_CL), "%lld",
	            (long long)m->content_length);
	FUZZ_ASSERT(!((m->flags & H1_F_CHUNKED) && (m->flags & H1_F_HAS_CL)), "%x", m->flags);
	if (request) {
		FUZZ_ASSERT(m->method_len > 0 && within(m->method, m->method_len, buf, len), "");
		FUZZ_ASSERT(m->target_len > 0 && within(m->target, m->target_len, buf, len), "");
		FUZZ_ASSERT(m->target_len <= lim->max_target_bytes, "%zu", m->target_len);
		/* "/" is a literal for an absolute-form target without a path */
		FUZZ_ASSERT(m->path_len > 0 && (within(m->path, m->path_len, buf, len) ||
		                                (m->path_len == 1 && m->path[0] == '/')),
		            "");
		FUZZ_ASSERT(m->authority ? within(m->authority, m->authority_len, buf, len)
		                         : m->version_minor == 0,
		            "");
	} else {
		FUZZ_ASSERT(m->status >= 100 && m->status <= 599, "%d", m->status);
		FUZZ_ASSERT(!m->reason || within(m->reason, m->reason_len, buf, len), "");
	}
	for (unsigned i = 0; i < m->n_hdrs; i++) {
		const struct h1_hdr *h = &m->hdrs[i];

		FUZZ_ASSERT(h->name_len > 0 && within(h->name, h->name_len, buf, len), "%u", i);
		FUZZ_ASSERT(within(h->value, h->value_len, buf, len), "%u", i);
		FUZZ_ASSERT(!memchr(h->name, ':', h->name_len), "%u", i);
		for (size_t j = 0; j < h->value_len; j++)
			FUZZ_ASSERT(h->value[j] != '\r' && h->value[j] != '\n' && h->value[j] != 0,
			            "header %u", i);
		if (h->value_len)
			FUZZ_ASSERT(h->value[0] != ' ' && h->value[0] != '\t' &&
			                    h->value[h->value_len - 1] != ' ' &&
			                    h->value[h->value_len - 1] != '\t',
			            "header %u", i);
	}
}

/* Prefix <k> is worth parsing: all of a short input, else near a CR, LF,
 * SP or colon, where the parser changes state. */
static bool interesting(const char *buf, size_t len, size_t k)
{
	if (len <= ALL_PREFIXES)
		return true;
	for (size_t j = k > 0 ? k - 1 : 0; j <= k && j < len; j++)
		if (buf[j] == '\r' || buf[j] == '\n' || buf[j] == ' ' || buf[j] == ':')
			return true;
	return false;
}

static void check(parse_fn fn, const char *buf, size_t len, const struct h1_limits *lim,
                  bool request)
{
	struct h1_hdr hdrs[MAX_HEADERS];
	struct h1_msg m;
	size_t scanned = 0, end, k, checked = 0;
	int r, p;

	r = parse(fn, buf, len, lim, &m, hdrs);
	if (r > 0) {
		FUZZ_ASSERT((size_t)r <= len, "%d > %zu", r, len);
		check_fields(&m, buf, r, request, lim);
	}

	/* The scan, whole and resumed a byte at a time, finds one end. */
	end = h1_head_scan(buf, len, &scanned);
	scanned = 0;
	for (k = 1; k <= len; k++) {
		size_t e = h1_head_scan(buf, k, &scanned);

		if (e) {
			FUZZ_ASSERT(e == end, "resumed scan %zu, whole scan %zu", e, end);
			break;
		}
	}
	FUZZ_ASSERT(k <= len || end == 0, "resumed scan found nothing, whole scan %zu", end);
	if (r > 0)
		FUZZ_ASSERT(end == (size_t)r, "head %d, scan %zu", r, end);
	/* what the connection code does: parse exactly what the scan found */
	if (end) {
		p = parse(fn, buf, end, lim, &m, hdrs);
		FUZZ_ASSERT(p != 0, "the scan stopped at %zu, the parser wants more", end);
	}

	/* Pieces: no prefix is accepted unless the whole is, with the same
	 * length; a prefix is refused only when the whole is. */
	for (k = 0; k < len && checked < SOME_PREFIXES + ALL_PREFIXES; k++) {
		if (!interesting(buf, len, k))
			continue;
		checked++;
		p = parse(fn, buf, k, lim, &m, hdrs);
		if (p > 0)
			FUZZ_ASSERT(p == r, "prefix %zu gave %d, the whole %d", k, p, r);
		if (r > 0 && k < (size_t)r)
			FUZZ_ASSERT(p == 0, "prefix %zu of a %d-byte head gave %d", k, r, p);
		if (p < 0)
			FUZZ_ASSERT(r < 0, "prefix %zu gave %d, the whole %d", k, p, r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;

	check(h1_parse_request, buf, size, &lim_default, true);
	check(h1_parse_request, buf, size, &lim_smallest, true);
	check(h1_parse_response, buf, size, &lim_default, false);
	check(h1_parse_response, buf, size, &lim_smallest, false);
	return 0;
}
