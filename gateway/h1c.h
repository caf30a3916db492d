/* h1c.h: HTTP/1.x on a client connection: reading request heads into txns,
 * writing response heads, and the gateway's own (error) responses.
 */
#ifndef TG_H1C_H
#define TG_H1C_H

struct conn;
struct txn;

/* The response sink of a txn wakes its writer again below this. */
#define H1C_OUT_LOW (64 * 1024)

/* The client side of HTTP/1 txns (txn.h). */
extern const struct txn_client h1c_client;

/* Bytes arrived on <c> while no txn runs: parses a head if one is complete,
 * answers a broken one, or arms the header timeout. Worker thread. */
void h1c_on_head_bytes(struct conn *c);

/* The head of the request on <c> did not arrive in time: 408 and close. */
void h1c_head_timeout(struct conn *c);

/* Answers <t> from the gateway itself: <status> with a small text body
 * "<status> <reason>: <detail>". Closes the connection afterwards unless
 * the request was fully read and the client keeps alive. When the response
 * head already went out, the client connection is closed instead (the
 * client then sees a truncated response, never a "complete" wrong one). */
void h1c_reply_local(struct txn *t, int status, const char *detail);

/* Writes the status line and head of the upstream response t->resp to the
 * client, choosing the client-side framing, and sets t->resp_body. Returns
 * 0 or a negative errno. */
int h1c_write_resp_head(struct txn *t);

/* Writes an informational (1xx) response t->resp to an HTTP/1.1 client. */
void h1c_write_interim(struct txn *t);

#endif
