/* h1.h: HTTP/1.x head and chunked-body parser, strict per RFC 9110/9112.
 *
 * Pure functions over bytes: no I/O, no allocation, no global state, so the
 * fuzzers and the unit tests drive exactly what the proxy runs. Parsed heads
 * point into the caller's buffer (zero copy); they stay valid only while that
 * buffer does. The connection code (h1c.c) owns buffers and decides statuses.
 */
#ifndef TG_H1_H
#define TG_H1_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

/* Parse errors: negative, each mapped to a status by h1_err_status(). */
enum h1_err {
	H1_E_SYNTAX = -1,         /* malformed line, bare LF, missing CRLF, bad version */
	H1_E_METHOD = -2,         /* method is not a token */
	H1_E_TARGET = -3,         /* invalid request-target for its form */
	H1_E_VERSION = -4,        /* not HTTP/1.0 or HTTP/1.1 */
	H1_E_HEADER_NAME = -5,    /* empty, non-token, or whitespace before the colon */
	H1_E_HEADER_VALUE = -6,   /* NUL, bare CR, LF, or other control character in a value */
	H1_E_OBS_FOLD = -7,       /* a header line starting with SP or HTAB */
	H1_E_CONTENT_LENGTH = -8, /* not 1*DIGIT, overflow, or several differing values */
	H1_E_CL_AND_TE = -9,      /* both Content-Length and Transfer-Encoding */
	H1_E_TRANSFER_ENCODING =
	        -10,        /* anything but exactly one final "chunked" (or HTTP/1.0 with TE) */
	H1_E_HOST = -11,    /* HTTP/1.1 without Host, several Host, or an invalid Host */
	H1_E_CONNECT = -12, /* CONNECT method: a gateway never tunnels arbitrary hosts */
	H1_E_HEAD_TOO_LARGE = -13,   /* head exceeds max_head_bytes */
	H1_E_TOO_MANY_HEADERS = -14, /* more header fields than max_headers */
	H1_E_TARGET_TOO_LONG = -15,  /* request-target longer than max_target_bytes */
	H1_E_STATUS = -16,           /* response status line: not 3 digits, 1xx-5xx... */
	H1_E_CHUNK_SIZE = -17,       /* empty, non-hex, or overflowing chunk size */
	H1_E_CHUNK_EXT = -18,        /* chunk extension does not follow the grammar, or too long */
	H1_E_CHUNK_FRAMING = -19,    /* chunk data not followed by CRLF */
	H1_E_TRAILER = -20,          /* invalid trailer field line or trailers too large */
};

/* Bounds the parser enforces; all come from the configuration. */
struct h1_limits {
	size_t max_head_bytes;   /* whole head, request line/status line to the empty line */
	size_t max_target_bytes; /* request-target alone */
	unsigned max_headers;    /* header field lines; must not exceed the caller's array */
};

struct h1_hdr {
	const char *name;
	size_t name_len;
	const char *value; /* leading and trailing OWS removed */
	size_t value_len;
};

/* Framing and connection facts derived while parsing (flags of h1_msg.flags). */
#define H1_F_CHUNKED        0x0001u /* Transfer-Encoding: chunked (final) */
#define H1_F_CONN_CLOSE     0x0002u /* Connection contains "close" */
#define H1_F_CONN_KEEPALIVE 0x0004u /* Connection contains "keep-alive" */
#define H1_F_CONN_UPGRADE                                                                          \
	0x0008u /* Connection contains "upgrade" and an Upgrade field is present */
#define H1_F_EXPECT_CONTINUE 0x0010u /* Expect: 100-continue (case-insensitive) */
#define H1_F_ABSOLUTE_FORM   0x0020u /* request-target is absolute-form (http:// or https://) */
#define H1_F_ASTERISK_FORM   0x0040u /* request-target is "*" (OPTIONS only) */
#define H1_F_HAS_CL          0x0080u /* a Content-Length field was present */

/* One parsed head, request or response. */
struct h1_msg {
	/* request line (requests only) */
	const char *method;
	size_t method_len;
	const char *target; /* as received */
	size_t target_len;
	/* authority to route on: the absolute-form target's authority when present
	 * (RFC 9112 3.2.2: Host is then ignored), otherwise the Host value; NULL
	 * only for an HTTP/1.0 request without Host. */
	const char *authority;
	size_t authority_len;
	/* path and query: the origin-form target, or the absolute-form target's
	 * path part ("/" when it has none); "*" for asterisk-form */
	const char *path;
	size_t path_len;

	/* status line (responses only) */
	int status;
	const char *reason;
	size_t reason_len;

	int version_minor; /* 0 or 1 */

	/* in: capacity of <hdrs> (at least lim->max_headers); out: fields parsed */
	struct h1_hdr *hdrs;
	unsigned n_hdrs;

	int64_t content_length; /* -1 when absent */
	unsigned flags;         /* H1_F_* */
};

/* Scans <buf,len> for the end of a head, resuming at *<scanned> (0 on the
 * first call; updated so the next call does not rescan). Returns the length
 * of the head through its empty line when "\r\n\r\n" was found, or the offset
 * just past a bare LF (so that the full parser runs and rejects it), or 0 when
 * more bytes are needed. O(new bytes) per call: the slowloris guard. */
size_t h1_head_scan(const char *buf, size_t len, size_t *scanned);

/* Parses a request head at the start of <buf,len>. <m->hdrs> and <m->n_hdrs>
 * must be set by the caller. Returns >0 the head length consumed (through
 * the empty line), 0 when the head is incomplete and nothing is wrong yet, or
 * an enum h1_err. An incomplete head longer than <lim->max_head_bytes> is
 * H1_E_HEAD_TOO_LARGE (or H1_E_TARGET_TOO_LONG when the target alone is).
 * Validates: method token, target form and characters, version, every field
 * line, Host (required, single and valid for HTTP/1.1), Content-Length and
 * Transfer-Encoding per RFC 9112 6.1-6.3 (anything ambiguous is an error). */
int h1_parse_request(const char *buf, size_t len, const struct h1_limits *lim, struct h1_msg *m);

/* Parses a response status line and head, with the same strictness for the
 * fields and framing (an upstream is not trusted more than a client). Same
 * return convention. Host and target rules do not apply. */
int h1_parse_response(const char *buf, size_t len, const struct h1_limits *lim, struct h1_msg *m);

/* Returns the status that answers parse error <err> (400, 405, 414, 431). */
int h1_err_status(int err);

/* Returns a short static text for <err>, for logs and error bodies. */
const char *h1_err_str(int err);

/* Returns true when <name,len> equals <lit> ignoring ASCII case. Inline so
 * that the length of a literal <lit> is known at compile time: most names
 * differ in length and cost one compare. */
static inline bool h1_name_eq(const char *name, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(name, lit, len) == 0;
}

/* Iterates a comma-separated list value (RFC 9110 5.6.1): on each call sets
 * <tok,tok_len> to the next non-empty element with OWS trimmed, advancing *<p>.
 * Returns false when the list is exhausted. */
bool h1_list_next(const char **p, const char *end, const char **tok, size_t *tok_len);

/* Chunked transfer coding (RFC 9112 7.1), incrementally. */
enum h1_chunk_state {
	H1_CK_SIZE = 0, /* expecting a chunk-size line */
	H1_CK_DATA,     /* <remaining> body bytes follow; the caller moves them itself */
	H1_CK_DATA_END, /* expecting the CRLF after chunk data */
	H1_CK_TRAILER,  /* expecting trailer field lines or the final CRLF */
	H1_CK_DONE,     /* message complete */
};

#define H1_CHUNK_LINE_MAX 4096 /* longest chunk-size line (with extensions) accepted */

struct h1_chunk {
	enum h1_chunk_state state;
	uint64_t remaining;   /* data bytes left in the current chunk (H1_CK_DATA) */
	size_t trailer_bytes; /* trailer section bytes seen, bounded by max_trailer_bytes */
	size_t max_trailer_bytes;
};

/* Sets <c> to expect the first chunk-size line; trailers are bounded by
 * <max_trailer_bytes>. */
void h1_chunk_init(struct h1_chunk *c, size_t max_trailer_bytes);

/* Consumes framing lines (chunk-size lines, data CRLFs, trailer lines, final
 * CRLF) from the start of <buf,len>, never body data. Returns the number of
 * bytes consumed (0 when a whole line is not there yet or when c->state is
 * H1_CK_DATA or H1_CK_DONE), or an enum h1_err. A line longer than
 * H1_CHUNK_LINE_MAX without its CRLF is H1_E_CHUNK_EXT. Callers loop: parse,
 * then when the state is H1_CK_DATA move up to c->remaining bytes and report
 * them with h1_chunk_data(). Trailer fields are validated and dropped. */
ssize_t h1_chunk_parse(struct h1_chunk *c, const char *buf, size_t len);

/* Accounts <n> data bytes (n <= c->remaining) that the caller moved. */
void h1_chunk_data(struct h1_chunk *c, size_t n);

#endif
