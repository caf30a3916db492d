/* relay.h: moving one message body from a source buffer to a sink buffer.
 *
 * Decodes the source framing (Content-Length, chunked, until close) and
 * writes the sink framing (raw, or re-framed chunked), moving data chains
 * between evbuffers without copying them. Pure over two evbuffers, so the
 * request and response directions share it, and tests drive it without
 * sockets. Backpressure is the caller's: it stops reading the source while
 * the sink holds more than its high watermark.
 */
#ifndef TG_RELAY_H
#define TG_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "h1.h"

struct evbuffer;

enum relay_framing {
	RELAY_NONE = 0, /* no body */
	RELAY_LENGTH,   /* exactly <length> bytes */
	RELAY_CHUNKED,  /* chunked coding */
	RELAY_CLOSE,    /* until the source closes (responses only) */
};

struct relay {
	enum relay_framing in;
	enum relay_framing out; /* RELAY_LENGTH and RELAY_CLOSE both mean raw bytes */
	uint64_t left;          /* RELAY_LENGTH source bytes still expected */
	struct h1_chunk ck;     /* RELAY_CHUNKED source decoder */
	uint64_t bytes;         /* body bytes moved so far (decoded) */
	bool done;
};

/* Sets <r> to move a body framed as <in> (with <length> for RELAY_LENGTH)
 * and write it framed as <out>. A body of length 0 is done at once. */
void relay_init(struct relay *r, enum relay_framing in, uint64_t length, enum relay_framing out);

/* Moves what <src> holds of the body to <dst>, never past the body's end (the
 * next pipelined message stays in <src>). Returns 1 when the body is complete
 * (the chunked terminator written to <dst> when out is chunked), 0 when more
 * is needed, or an enum h1_err for bad chunked framing. */
int relay_move(struct relay *r, struct evbuffer *src, struct evbuffer *dst);

/* The source closed. Returns 1 when that ends the body cleanly (RELAY_CLOSE;
 * the terminator is written for a chunked sink), or -1: the body is cut. */
int relay_eof(struct relay *r, struct evbuffer *dst);

#endif
