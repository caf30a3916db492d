/* tls_up.h: TLS to upstream servers ([upstream] tls = on): one client
 * context per upstream and configuration generation, the SSL of each
 * connection (SNI, the name verified, ALPN), session resumption per server,
 * and the reason a handshake failed.
 *
 * A struct tls_up is made with its generation and freed with it; each SSL
 * holds a reference to the context it was made from, so a connection
 * outlives the generation it was opened under.
 */
#ifndef TG_TLS_UP_H
#define TG_TLS_UP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct bufferevent;
struct cfg_upstream;
struct uconn;
struct ups_server;

struct tls_up;

/* Checks that <path> is a readable PEM file holding at least one
 * certificate. Returns 0, or -1 with <msg> saying why. Any thread. */
int tls_up_ca_check(const char *path, char *msg, size_t msglen);

/* Builds the client context of upstream <u> (u->tls set). Returns it, or
 * NULL with <msg> set (OpenSSL's reason included). Main thread. */
struct tls_up *tls_up_new(const struct cfg_upstream *u, char *msg, size_t msglen);

/* Frees <tu>; the connections made from it keep their context. NULL
 * allowed. Any thread. */
void tls_up_free(struct tls_up *tu);

/* Returns a new client SSL for connection <uc> to server uc->srv: SNI and
 * the name verified from tls_server_name or the server's host, the
 * server's last session offered for resumption. The SSL borrows <uc> until
 * it is freed: it sets uc->tcp_ns when the ClientHello goes out (TCP was
 * connected by then) and caches the sessions it gets in uc->srv. NULL on
 * ENOMEM. The caller owns the SSL (a bufferevent it is handed to takes
 * it). Worker thread of the server. */
SSL *tls_up_ssl(struct tls_up *tu, struct uconn *uc);

/* After the handshake of <ssl> (a connection to <s>) completed: returns 0,
 * or -1 with <why> set when it is not usable (ALPN did not choose h2 for
 * protocol = h2). Counts a resumed session in *<resumed>. Worker thread. */
int tls_up_established(SSL *ssl, const struct cfg_upstream *u, bool *resumed, char *why,
                       size_t len);

/* Writes why the handshake on TLS bufferevent <bev> failed into <out,len>:
 * OpenSSL's reason, the certificate verification result when that failed,
 * else the socket error <err> or "connection closed". Returns <out>. */
const char *tls_up_error(struct bufferevent *bev, int err, char *out, size_t len);

/* Takes the errors TLS bufferevent <bev> collected; returns the first of
 * OpenSSL's (the cause), 0 when there was none. */
unsigned long tls_up_bev_error(struct bufferevent *bev);

/* Writes OpenSSL's reason for error <e> into <out,len>; returns <out>. */
const char *tls_up_reason(unsigned long e, char *out, size_t len);

/* Is the idle TLS connection on <ssl> still open with nothing unread?
 * Reads what the socket holds through OpenSSL (session tickets are taken
 * in, data or a close_notify mean no). Worker thread. */
bool tls_up_is_alive(SSL *ssl);

/* Forgets the session cached for <s>. */
void tls_up_forget(struct ups_server *s);

#endif
