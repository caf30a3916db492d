/* proxy.h: the upstream leg of a txn: server choice, pooled or new
 * connection, request out, response in, retries, and the socket callbacks of
 * both sides while a txn runs.
 */
#ifndef TG_PROXY_H
#define TG_PROXY_H

struct txn;

/* The request head of <t> is parsed and routed: runs the filters and starts
 * the first upstream attempt (or answers locally). */
void proxy_start(struct txn *t);

/* Client socket callbacks while <t> runs (see conn.c). */
void proxy_on_client_read(struct txn *t);
void proxy_on_client_write(struct txn *t);
void proxy_on_client_event(struct txn *t, short what);

/* The client connection is closing under <t>: frees the upstream side (the
 * upstream connection is not reused) and finishes <t> as an abort. */
void proxy_abort(struct txn *t);

/* Finishes <t> if its response is complete and flushed. Returns 1 when it
 * did (then <t> is gone), 0 otherwise. */
int proxy_try_finish(struct txn *t);

#endif
