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

/* ---- For an upstream transport other than HTTP/1 (h2u.c) ------------------
 * The same steps proxy.c's own HTTP/1 leg takes; each may end <t>. */

enum txn_ups_err;

/* The current attempt failed before the client had a response head: retry
 * when that is safe, else answer 502 or 504. */
void proxy_attempt_failed(struct txn *t, enum txn_ups_err e);

/* Same, with <why> (borrowed until return; NULL for none) added to the
 * log line: a TLS handshake's reason. */
void proxy_attempt_failed_why(struct txn *t, enum txn_ups_err e, const char *why);

/* Answers <t> with <status>, releasing the upstream side. */
void proxy_fail(struct txn *t, int status, const char *detail);

/* A failure after the response started: the client sees a cut response. */
void proxy_cut(struct txn *t, const char *why);

/* The final response head is in t->resp: filters, then the client. Returns
 * 0, or -1 when <t> was failed. */
int proxy_resp_head(struct txn *t);

/* Relays response body bytes to the client. Returns 1 when <t> is gone. */
int proxy_pump_response(struct txn *t);

/* The upstream ended the response body (or the stream): completes <t>, or
 * cuts it when the body is short. */
void proxy_resp_eof(struct txn *t);

/* The response is complete upstream: releases the attempt, finishes <t>
 * once the client has it all. */
void proxy_resp_done(struct txn *t);

/* Moves request body bytes from the client towards the upstream. */
void proxy_pump_request(struct txn *t);

#endif
