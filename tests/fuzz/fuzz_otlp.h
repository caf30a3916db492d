/* fuzz_otlp.h: the OTLP decoders' contract (otlp_decode.h), checked the
 * same way for both front ends (fuzz_otlp_pb.c, fuzz_otlp_json.c): what
 * the callback sees, and what a refused body leaves behind.
 */
#ifndef TG_FUZZ_OTLP_H
#define TG_FUZZ_OTLP_H

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "trace/otlp_decode.h"

typedef int (*otlp_decode_fn)(const void *body, size_t len, otlp_span_cb cb, void *arg,
                              size_t *skipped, char *err, size_t errlen);

static bool fuzz_otlp_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* The renderings are strict JSON: jansson refuses text that is not UTF-8
 * and, so told, repeated keys. */
static void fuzz_otlp_json_ok(const char *p, size_t n, bool array)
{
	json_error_t je;
	json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);

	FUZZ_ASSERT(v && (array ? json_is_array(v) : json_is_object(v)), "%s: %.*s", je.text,
	            (int)n, p);
	json_decref(v);
}

static int fuzz_otlp_on_span(void *arg, const struct otlp_span_in *s)
{
	size_t *calls = arg;

	(*calls)++;
	FUZZ_ASSERT(!fuzz_otlp_zero(s->trace_id, 16) && !fuzz_otlp_zero(s->span_id, 8), "zero id");
	FUZZ_ASSERT(s->has_parent != fuzz_otlp_zero(s->parent_id, 8), "parent");
	FUZZ_ASSERT(s->kind >= 0 && s->kind <= 5 && s->status >= 0 && s->status <= 2, "%d %d",
	            s->kind, s->status);
	FUZZ_ASSERT(s->name || !s->name_len, "name");
	FUZZ_ASSERT(s->service || !s->service_len, "service");
	fuzz_otlp_json_ok(s->attrs_json, s->attrs_len, false);
	fuzz_otlp_json_ok(s->events_json, s->events_len, true);
	return 0;
}

/* Decodes <body,len> with <fn> and without a callback, checking the
 * contract. libFuzzer's buffer is exactly <len> bytes: a read past the body
 * is caught. */
static void fuzz_otlp_check(otlp_decode_fn fn, const uint8_t *body, size_t len)
{
	char err[128], err2[128];
	size_t calls = 0, skipped = 12345, skipped2 = 12345;
	int rc, rc2;

	memset(err, 'x', sizeof(err));
	rc = fn(body, len, fuzz_otlp_on_span, &calls, &skipped, err, sizeof(err));
	FUZZ_ASSERT(memchr(err, '\0', sizeof(err)), "err not terminated");
	if (rc < 0) {
		FUZZ_ASSERT(rc == -1, "%d", rc);
		FUZZ_ASSERT(calls == 0, "%zu spans delivered, then refused", calls);
		FUZZ_ASSERT(err[0] && !strchr(err, '\n'), "reason: \"%s\"", err);
	} else {
		FUZZ_ASSERT((size_t)rc == calls, "returned %d, delivered %zu", rc, calls);
		FUZZ_ASSERT(skipped != 12345, "skipped not set");
		FUZZ_ASSERT(!strchr(err, '\n'), "%s", err);
		FUZZ_ASSERT((skipped == 0) == (err[0] == '\0'), "%zu skipped: \"%s\"", skipped,
		            err);
	}
	/* checking only (no callback) counts the same spans */
	rc2 = fn(body, len, NULL, NULL, &skipped2, err2, sizeof(err2));
	FUZZ_ASSERT(rc2 == rc, "%d without a callback, %d with", rc2, rc);
	if (rc >= 0)
		FUZZ_ASSERT(skipped2 == skipped, "%zu, %zu", skipped2, skipped);
}

#endif
