/* tls_up.c: client-side TLS for upstream connections: one SSL_CTX per
 * [upstream] with tls = on and generation (trust anchors, client
 * certificate, ALPN), and per connection the SSL that names and verifies
 * its server. Each server keeps the last session it gave us, offered on
 * the next connect to it from the same context.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cfg.h"
#include "tls.h"
#include "tls_up.h"
#include "upool.h"
#include "upstream.h"
#include "util.h"

struct tls_up {
	SSL_CTX *ctx;
	uint64_t id; /* tags the sessions made from <ctx> */
};

/* A context's id lives in its app data: the sessions' callback reads it
 * from there even after the struct tls_up is gone. */
static atomic_uint_fast64_t tls_up_next_id = 1;

int tls_up_ca_check(const char *path, char *msg, size_t msglen)
{
	FILE *f = fopen(path, "r");
	X509 *x;
	int n = 0;

	if (!f) {
		snprintf(msg, msglen, "cannot read CA file \"%.100s\": %s", path, strerror(errno));
		return -1;
	}
	while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
		X509_free(x);
		n++;
	}
	fclose(f);
	ERR_clear_error(); /* the end of the file reads as an error */
	if (n == 0) {
		snprintf(msg, msglen, "no PEM certificate in CA file \"%.100s\"", path);
		return -1;
	}
	return 0;
}

/* A server's session came (TLS 1.3: a ticket after the handshake): keep a
 * copy for the next connection to that server. A copy, because freeing a
 * connection without a close_notify, as the pool does, marks the session
 * it holds as not resumable. */
static int tls_up_on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct uconn *uc = SSL_get_app_data(ssl);
	struct ups_server *s;
	SSL_SESSION *copy;

	if (!uc || !SSL_SESSION_is_resumable(sess) || !(copy = SSL_SESSION_dup(sess)))
		return 0;
	s = uc->srv;
	SSL_SESSION_free(s->tls_sess);
	s->tls_sess = copy;
	s->tls_sess_ctx = (uint64_t)(uintptr_t)SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	return 0; /* OpenSSL keeps its reference to <sess> */
}

/* The ClientHello went out: the TCP connection was up by then. */
static void tls_up_on_info(const SSL *ssl, int where, int ret)
{
	struct uconn *uc = SSL_get_app_data(ssl);

	(void)ret;
	if ((where & SSL_CB_CONNECT_LOOP) && SSL_get_state(ssl) == TLS_ST_CW_CLNT_HELLO && uc &&
	    !uc->tcp_ns)
		uc->tcp_ns = util_mono_ns();
}

static const unsigned char tls_up_alpn_h2[] = "\x02h2";
static const unsigned char tls_up_alpn_h1[] = "\x08http/1.1";

struct tls_up *tls_up_new(const struct cfg_upstream *u, char *msg, size_t msglen)
{
	struct tls_up *tu = calloc(1, sizeof(*tu));
	bool h2 = u->protocol == CFG_PROTO_H2;
	char why[200];

	if (!tu || !(tu->ctx = SSL_CTX_new(TLS_client_method()))) {
		snprintf(msg, msglen, "cannot create a TLS context: %s",
		         tls_last_error(why, sizeof(why)));
		free(tu);
		return NULL;
	}
	tu->id = atomic_fetch_add(&tls_up_next_id, 1);
	SSL_CTX_set_app_data(tu->ctx, (void *)(uintptr_t)tu->id);
	SSL_CTX_set_min_proto_version(tu->ctx, u->tls_min_version == CFG_TLS_1_3 ? TLS1_3_VERSION
	                                                                         : TLS1_2_VERSION);
	SSL_CTX_set_options(tu->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	/* an idle pooled connection gives its read and write buffers back */
	SSL_CTX_set_mode(tu->ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(tu->ctx, u->tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	/* sessions are kept per server (tls_up_on_new_session), not in the
	 * context, which every worker shares */
	SSL_CTX_set_session_cache_mode(tu->ctx,
	                               SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(tu->ctx, tls_up_on_new_session);
	SSL_CTX_set_info_callback(tu->ctx, tls_up_on_info);
	ERR_clear_error();
	/* SSL_CTX_set_alpn_protos() returns 0 on success */
	if (SSL_CTX_set_alpn_protos(tu->ctx, h2 ? tls_up_alpn_h2 : tls_up_alpn_h1,
	                            h2 ? sizeof(tls_up_alpn_h2) - 1 : sizeof(tls_up_alpn_h1) - 1)) {
		snprintf(msg, msglen, "cannot set ALPN: %s", tls_last_error(why, sizeof(why)));
		goto fail;
	}
	if (u->tls_ca_file ? SSL_CTX_load_verify_locations(tu->ctx, u->tls_ca_file, NULL) != 1
	                   : SSL_CTX_set_default_verify_paths(tu->ctx) != 1) {
		/* the config check read the file a moment ago: it changed since */
		snprintf(msg, msglen, "cannot load the trust anchors %.100s: %s",
		         u->tls_ca_file ? u->tls_ca_file : "(system store)",
		         tls_last_error(why, sizeof(why)));
		goto fail;
	}
	if (u->tls_cert_file &&
	    (SSL_CTX_use_certificate_chain_file(tu->ctx, u->tls_cert_file) != 1 ||
	     SSL_CTX_use_PrivateKey_file(tu->ctx, u->tls_key_file, SSL_FILETYPE_PEM) != 1 ||
	     SSL_CTX_check_private_key(tu->ctx) != 1)) {
		snprintf(msg, msglen, "cannot load %.100s / %.100s: %s", u->tls_cert_file,
		         u->tls_key_file, tls_last_error(why, sizeof(why)));
		goto fail;
	}
	return tu;
fail:
	SSL_CTX_free(tu->ctx);
	free(tu);
	return NULL;
}

void tls_up_free(struct tls_up *tu)
{
	if (!tu)
		return;
	SSL_CTX_free(tu->ctx);
	free(tu);
}

/* Writes the host part of "1.2.3.4:80" or "[::1]:80" into <out>. */
static const char *tls_up_addr_ip(const char *text, char *out, size_t len)
{
	const char *colon = strrchr(text, ':');
	size_t n = colon ? (size_t)(colon - text) : strlen(text);

	if (text[0] == '[' && n >= 2) {
		text++;
		n -= 2;
	}
	snprintf(out, len, "%.*s", (int)n, text);
	return out;
}

static bool tls_up_is_ip(const char *name)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

SSL *tls_up_ssl(struct tls_up *tu, struct uconn *uc)
{
	struct ups_server *s = uc->srv;
	const struct cfg_upstream *u = s->ups->cfg;
	const char *name = u->tls_server_name ? u->tls_server_name
	                   : s->addr->name[0] ? s->addr->name
	                                      : NULL;
	char ip[64];
	SSL *ssl = SSL_new(tu->ctx);
	int ok;

	if (!ssl)
		return NULL;
	SSL_set_app_data(ssl, uc);
	if (!name)
		name = tls_up_addr_ip(s->addr->text, ip, sizeof(ip));
	/* RFC 6066 3: no IP literal in SNI; the address is still verified
	 * against the certificate's IP subjectAltNames */
	if (tls_up_is_ip(name))
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1;
	else
		ok = SSL_set_tlsext_host_name(ssl, name) == 1 && SSL_set1_host(ssl, name) == 1;
	if (ok && s->tls_sess && s->tls_sess_ctx == tu->id)
		ok = SSL_set_session(ssl, s->tls_sess) == 1;
	if (!ok) {
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

int tls_up_established(SSL *ssl, const struct cfg_upstream *u, bool *resumed, char *why, size_t len)
{
	*resumed = SSL_session_reused(ssl);
	if (u->protocol == CFG_PROTO_H2 && !tls_is_h2(ssl)) {
		snprintf(why, len, "the server did not choose h2 by ALPN");
		return -1;
	}
	return 0;
}

const char *tls_up_reason(unsigned long e, char *out, size_t len)
{
	const char *reason = ERR_reason_error_string(e);

	if (reason)
		snprintf(out, len, "%s", reason);
	else
		ERR_error_string_n(e, out, len);
	return out;
}

unsigned long tls_up_bev_error(struct bufferevent *bev)
{
	unsigned long e, first = 0;

	/* libevent puts SSL_get_error()'s code (SSL_ERROR_SSL, _SYSCALL...)
	 * before OpenSSL's own errors: those say nothing. The first real one is
	 * the cause; the later ones say where. */
	while ((e = bufferevent_get_openssl_error(bev)))
		if (!first && (ERR_GET_LIB(e) != 0 || e > 0xff))
			first = e;
	return first;
}

const char *tls_up_error(struct bufferevent *bev, int err, char *out, size_t len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	unsigned long e = tls_up_bev_error(bev);
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	size_t n = 0;

	if (!e)
		e = ERR_peek_error();
	ERR_clear_error();
	out[0] = '\0';
	if (e)
		n = strlen(tls_up_reason(e, out, len));
	if (vr != X509_V_OK && n < len)
		snprintf(out + n, len - n, "%s%s", n ? ": " : "",
		         X509_verify_cert_error_string(vr));
	else if (!e)
		snprintf(out, len, "%s", err ? strerror(err) : "connection closed");
	return out;
}

bool tls_up_is_alive(SSL *ssl)
{
	char b;
	int n, e;

	ERR_clear_error();
	n = SSL_peek(ssl, &b, 1);
	if (n > 0)
		return false; /* the server spoke out of turn */
	e = SSL_get_error(ssl, n);
	ERR_clear_error();
	return e == SSL_ERROR_WANT_READ;
}

void tls_up_forget(struct ups_server *s)
{
	SSL_SESSION_free(s->tls_sess);
	s->tls_sess = NULL;
	s->tls_sess_ctx = 0;
}
