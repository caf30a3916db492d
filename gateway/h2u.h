/* h2u.h: HTTP/2 to upstream servers (protocol = h2c | h2): a txn's attempt
 * is a stream on one of a few connections per worker and server.
 *
 * proxy.c runs the attempt as for HTTP/1 (server choice, retries, filters,
 * body relays, the client side); this module is the transport: streams,
 * their flow control and the connections they share.
 */
#ifndef TG_H2U_H
#define TG_H2U_H

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;
struct txn;
struct ups_server;

/* Starts the attempt of <t> on t->srv, whose request head is prepared: a
 * new stream on a connection with room for one, or on a new connection. On
 * failure <t> is answered (502). Worker thread. */
void h2u_attempt(struct txn *t);

/* Ends the attempt of <t> (t->us becomes NULL): the stream is reset unless
 * <clean> (the response is complete). */
void h2u_release(struct txn *t, bool clean);

/* Where proxy_pump_request() puts the request body of <t>, and the call
 * that sends what it put there. */
struct evbuffer *h2u_req_sink(struct txn *t);
void h2u_req_flush(struct txn *t);

/* Response body bytes of <t> not relayed yet, and the call that says <n>
 * of them moved on (the server may send that much more). */
struct evbuffer *h2u_resp_source(struct txn *t);
void h2u_resp_moved(struct txn *t, size_t n);

/* Closes every HTTP/2 connection of <s>; none carries a txn. */
void h2u_flush(struct ups_server *s);

#endif
