/* h2c.h: HTTP/2 on a client connection (nghttp2): each stream is a txn
 * through the same routes, filters and upstreams as HTTP/1.
 *
 * Chosen by ALPN "h2" after a TLS handshake, or by the connection preface
 * on a cleartext listener (h2c with prior knowledge). conn.c hands the
 * socket callbacks of a connection in CONN_ST_H2 to the functions below.
 */
#ifndef TG_H2C_H
#define TG_H2C_H

struct conn;
struct evbuffer;
struct worker;

/* Looks at the first bytes of a cleartext connection in <in>. Returns 1
 * when they are the HTTP/2 connection preface, 0 when they are a strict
 * beginning of it (wait for more), -1 when they are something else. */
int h2c_preface(struct evbuffer *in);

/* Switches <c> to HTTP/2: our SETTINGS go out, buffered bytes are read. On
 * failure <c> is closed. */
void h2c_start(struct conn *c);

/* Socket callbacks of <c> in CONN_ST_H2. h2c_on_event() closes <c>. */
void h2c_on_read(struct conn *c);
void h2c_on_write(struct conn *c);
void h2c_on_event(struct conn *c, short what);

/* The connection timer fired: idle connection, or streams without
 * progress. */
void h2c_on_timer(struct conn *c);

/* Graceful stop: GOAWAY, the open streams finish, then <c> closes. */
void h2c_drain(struct conn *c);

/* Frees the ended streams worker <w> kept for reuse. */
void h2c_spare_free(struct worker *w);

/* Frees the HTTP/2 state of <c>, which conn_close() is closing: the txn of
 * every open stream ends as a client abort. */
void h2c_free(struct conn *c);

#endif
