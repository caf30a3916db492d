/* otlp_decode_priv.h: what the two OTLP front ends (otlp_decode_pb.c,
 * otlp_decode_json.c) share from otlp_decode.c: the decoding state, the
 * span under construction, the JSON renderings of values and the two-pass
 * driver. Internal to those three files; nothing else includes it.
 */
#ifndef TG_OTLP_DECODE_PRIV_H
#define TG_OTLP_DECODE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/otlp_decode.h"
#include "trace/tbuf.h"

/* Keys of all the JSON objects open at once (the attributes and the
 * key-value lists inside them), for finding repeated keys. */
#define OTLP_DECODE_KEYS 512

/* A rendered key, as an offset into the tbuf its object is written to. */
struct otlp_decode_key {
	size_t off, len;
};

/* Where an id came from: its decoded length (up to the buffer's 16 bytes
 * are kept), or OTLP_DECODE_ID_BAD for a JSON string neither hex nor
 * base64. */
#define OTLP_DECODE_ID_BAD SIZE_MAX

struct otlp_decode {
	bool checking; /* the first pass: check, render, deliver nothing */
	bool oom;      /* a tbuf failed to grow at some point */
	otlp_span_cb cb;
	void *arg;
	const char *service; /* the current resource's service.name */
	size_t service_len;
	struct otlp_span_in span; /* the span being read */
	size_t trace_len, span_len, parent_len;
	uint32_t dropped_sent;     /* the span's dropped_attributes_count */
	struct tbuf attrs, events; /* the span's renderings */
	int attrs_mark;            /* the attributes object's key mark */
	struct tbuf scratch;       /* values rendered only to check them */
	struct tbuf bin;           /* a JSON bytesValue, decoded */
	struct otlp_decode_key keys[OTLP_DECODE_KEYS];
	int nkeys;
	int rs, ss, sp; /* resourceSpans, scopeSpans, spans index; -1 = outside */
	size_t skipped, delivered;
	char *err;
	size_t errlen;
};

/* Walks a whole request, calling otlp_decode_span_*() for each span;
 * returns 0, 1 when the callback stopped it, or -1 (after
 * otlp_decode_fail()). */
typedef int (*otlp_decode_walk)(struct otlp_decode *d, const void *req);

/* Runs <walk> on <req>, a body of <len> bytes, twice: once to check
 * everything (no callback), then, if that passed and <cb> is not NULL, to
 * deliver to <cb>. Returns what otlp_decode_pb() does. */
int otlp_decode_run(otlp_decode_walk walk, const void *req, size_t len, otlp_span_cb cb, void *arg,
                    size_t *skipped, char *err, size_t errlen);

/* Writes "<where>: <fmt...>" to the caller's error buffer; returns -1. */
int otlp_decode_fail(struct otlp_decode *d, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Empties <b> for reuse, keeping an allocation failure in <d->oom>
 * (tbuf_reset() would clear it). */
void otlp_decode_reset(struct otlp_decode *d, struct tbuf *b);

/* Starts span <d->sp>: clears the record and opens its renderings. */
void otlp_decode_span_begin(struct otlp_decode *d);

/* Ends the span: closes the renderings, checks the ids, then skips it or
 * hands it to the callback. Returns 0, or 1 when the callback said stop. */
int otlp_decode_span_end(struct otlp_decode *d);

/* Opens a JSON object in <b>; returns the mark otlp_decode_key() and
 * otlp_decode_obj_close() take. */
int otlp_decode_obj_open(struct otlp_decode *d, struct tbuf *b);
void otlp_decode_obj_close(struct otlp_decode *d, struct tbuf *b, int mark);

/* Writes the member key <k,n> of the object opened at <mark>. Returns
 * false when the member is left out (a repeated key, a NUL in it, or past
 * the caps):
 * the caller still renders the value, to check it, then sets <b>'s length
 * back to *<undo>. */
bool otlp_decode_key(struct otlp_decode *d, struct tbuf *b, int mark, const char *k, size_t n,
                     size_t *undo);

/* Appends <v> as a JSON number, shortest form that reads back the same;
 * NaN and the infinities as proto3's JSON strings. */
void otlp_decode_double(struct tbuf *b, double v);

/* Appends the <n> bytes at <p> as a quoted base64 string (RFC 4648, with
 * padding). */
void otlp_decode_base64(struct tbuf *b, const uint8_t *p, size_t n);

/* Decodes base64 <s,n>, standard or URL-safe alphabet, padding optional, as
 * proto3's JSON mapping reads bytes. Appends to <out> when not NULL; stores
 * at most <cap> bytes in <id> otherwise. Returns the decoded length, or -1
 * when <s> is not base64. */
long otlp_decode_unbase64(const char *s, size_t n, struct tbuf *out, uint8_t *id, size_t cap);

/* Reads span id <s,n> (hex, else base64) into <id> (<cap> bytes); returns
 * its length in bytes, or OTLP_DECODE_ID_BAD. */
size_t otlp_decode_id(const char *s, size_t n, uint8_t *id, size_t cap);

#endif
