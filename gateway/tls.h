/* tls.h: TLS termination for the client side: the server contexts a
 * configuration generation builds from its [certificate] sections, SNI
 * selection among them, ALPN and session resumption.
 *
 * A struct tls_srv is made with the generation and freed with it; each
 * client SSL holds its own reference to the context it was made from, so a
 * connection outlives the generation it was accepted under.
 */
#ifndef TG_TLS_H
#define TG_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

struct cfg;

/* tls_cert_check() verdicts: which key the problem is reported on. */
#define TLS_CHECK_CERT 1
#define TLS_CHECK_KEY  2

/* Loads certificate chain <cert_file> and private key <key_file> and checks
 * that they match. Returns 0, or TLS_CHECK_CERT / TLS_CHECK_KEY with <msg>
 * saying what is wrong (OpenSSL's reason included). Any thread. */
int tls_cert_check(const char *cert_file, const char *key_file, char *msg, size_t msglen);

struct tls_srv;

/* Builds the server contexts of <c>: one per [certificate], with the
 * [gateway] tls_* and http2 settings. Returns NULL with *<err> = 0 when <c>
 * has no TLS listener, or NULL with a negative errno in *<err> and <msg>
 * set on failure. Main thread. */
struct tls_srv *tls_srv_new(const struct cfg *c, int *err, char *msg, size_t msglen);

/* Frees <ts>; connections made from it keep their contexts. NULL allowed. */
void tls_srv_free(struct tls_srv *ts);

/* Returns a new server-side SSL for one client connection, or NULL on
 * ENOMEM. The caller owns it (a bufferevent it is handed to takes it). Any
 * thread. */
SSL *tls_srv_ssl(struct tls_srv *ts);

/* Returns true when the handshake of <ssl> chose HTTP/2 by ALPN. */
bool tls_is_h2(const SSL *ssl);

/* Writes the reason the last handshake on this thread failed into
 * <out,len> (OpenSSL's error queue, emptied), "connection closed" when the
 * queue is empty. Returns <out>. */
const char *tls_last_error(char *out, size_t len);

#endif
