/* fuzz_h1_chunk.c: the chunked decoder (gateway/h1_chunk.c), driven the way
 * relay.c drives it: parse framing, move data, repeat. Each input is fed
 * whole, a byte at a time and in 5-byte pieces; all three must agree on the
 * verdict, the bytes consumed and the body. A complete body, framed again the
 * way relay.c writes it, must decode to the same bytes.
 */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "h1.h"

#define MAX_TRAILER 256

struct run {
	int verdict; /* 1 done, 0 needs more, else the H1_E_* */
	size_t off;  /* bytes consumed */
	char *body;  /* decoded data, up to the input's length */
	size_t body_len;
};

/* Decodes <in,len>, letting the decoder see <step> more bytes each time it
 * makes no progress (<step> 0: everything at once). */
static void dechunk(const char *in, size_t len, size_t step, struct run *o)
{
	struct h1_chunk c;
	size_t have = step ? 0 : len, off = 0;

	h1_chunk_init(&c, MAX_TRAILER);
	o->body_len = 0;
	for (;;) {
		ssize_t n;

		if (c.state == H1_CK_DONE) {
			o->verdict = 1;
			break;
		}
		if (c.state == H1_CK_DATA) {
			size_t take = have - off < c.remaining ? have - off : (size_t)c.remaining;

			memcpy(o->body + o->body_len, in + off, take);
			o->body_len += take;
			off += take;
			h1_chunk_data(&c, take);
			n = (ssize_t)take;
		} else {
			n = h1_chunk_parse(&c, in + off, have - off);
			if (n < 0) {
				o->verdict = (int)n;
				break;
			}
			FUZZ_ASSERT((size_t)n <= have - off, "consumed %zd of %zu", n, have - off);
			off += (size_t)n;
			if (c.state == H1_CK_DATA || c.state == H1_CK_DONE)
				continue;
		}
		if (n == 0) {
			if (have == len) {
				o->verdict = 0;
				break;
			}
			have = have + step < len ? have + step : len;
		}
	}
	o->off = off;
	if (o->verdict < 0)
		FUZZ_ASSERT(o->verdict >= H1_E_TRAILER && o->verdict <= H1_E_CHUNK_SIZE, "error %d",
		            o->verdict);
}

static void same(const struct run *a, const struct run *b, const char *how)
{
	FUZZ_ASSERT(a->verdict == b->verdict, "%s: verdict %d, whole %d", how, b->verdict,
	            a->verdict);
	/* an error says nothing of what the failing call had consumed */
	if (a->verdict < 0)
		return;
	FUZZ_ASSERT(a->off == b->off, "%s: consumed %zu, whole %zu", how, b->off, a->off);
	FUZZ_ASSERT(a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0,
	            "%s: body %zu bytes, whole %zu", how, b->body_len, a->body_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct run whole, bytes, pieces, again;
	char *framed;
	int n;

	whole.body = malloc(size + 1);
	bytes.body = malloc(size + 1);
	pieces.body = malloc(size + 1);
	again.body = malloc(size + 1);
	framed = malloc(size + 32);
	if (!whole.body || !bytes.body || !pieces.body || !again.body || !framed)
		abort();

	dechunk(in, size, 0, &whole);
	dechunk(in, size, 1, &bytes);
	dechunk(in, size, 5, &pieces);
	same(&whole, &bytes, "a byte at a time");
	same(&whole, &pieces, "5-byte pieces");

	if (whole.verdict == 1 && whole.body_len > 0) {
		/* relay.c's framing: "%zx\r\n" data "\r\n", then "0\r\n\r\n" */
		n = snprintf(framed, 32, "%zx\r\n", whole.body_len);
		memcpy(framed + n, whole.body, whole.body_len);
		memcpy(framed + n + whole.body_len, "\r\n0\r\n\r\n", 7);
		dechunk(framed, (size_t)n + whole.body_len + 7, 0, &again);
		FUZZ_ASSERT(again.verdict == 1 && again.body_len == whole.body_len &&
		                    memcmp(again.body, whole.body, whole.body_len) == 0,
		            "re-framed body: verdict %d, %zu bytes", again.verdict, again.body_len);
	}
	free(whole.body);
	free(bytes.body);
	free(pieces.body);
	free(again.body);
	free(framed);
	return 0;
}
