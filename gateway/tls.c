/* tls.c: server-side TLS: one SSL_CTX per [certificate], the SNI callback
 * that moves a handshake to the context whose names match, ALPN (h2, then
 * http/1.1) and session resumption by cache and by ticket.
 *
 * The default (first) context owns the struct tls_srv through its ex_data:
 * a handshake still running on a connection accepted under an old
 * generation reads the SNI table through the context it holds, so the table
 * is freed with the last reference to that context, not with the generation.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cfg.h"
#include "tls.h"

#define TLS_MAX_NAMES 64 /* SNI names per certificate */

struct tls_cert {
	SSL_CTX *ctx;
	char *names[TLS_MAX_NAMES]; /* lowercase; "*.example.com" for a wildcard */
	int n_names;
};

struct tls_srv {
	struct tls_cert *certs; /* [0] is the default */
	int n_certs;
};

static int tls_ex_idx = -1;
static pthread_once_t tls_ex_once = PTHREAD_ONCE_INIT;

/* ex_data free callback of the default context: it took the table with it. */
static void tls_srv_release(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                            void *argp)
{
	struct tls_srv *ts = ptr;

	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (!ts)
		return;
	for (int i = 0; i < ts->n_certs; i++) {
		/* the default context is the one being freed */
		if (i > 0)
			SSL_CTX_free(ts->certs[i].ctx);
		for (int n = 0; n < ts->certs[i].n_names; n++)
			free(ts->certs[i].names[n]);
	}
	free(ts->certs);
	free(ts);
}

static void tls_ex_init(void)
{
	tls_ex_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, tls_srv_release);
}

const char *tls_last_error(char *out, size_t len)
{
	unsigned long e = ERR_get_error(), next;

	/* the first error is the root cause; the later ones say where */
	if (!e) {
		snprintf(out, len, "connection closed");
		return out;
	}
	while ((next = ERR_get_error()))
		;
	ERR_error_string_n(e, out, len);
	return out;
}

/* Whether OpenSSL error <e> says that a key is not the certificate's. */
static bool tls_is_mismatch(unsigned long e)
{
	return ERR_GET_LIB(e) == ERR_LIB_X509 && (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
	                                          ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH);
}

int tls_cert_check(const char *cert_file, const char *key_file, char *msg, size_t msglen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char why[200];
	int r = 0;

	if (!ctx) {
		snprintf(msg, msglen, "cannot create a TLS context: %s",
		         tls_last_error(why, sizeof(why)));
		return TLS_CHECK_CERT;
	}
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		snprintf(msg, msglen, "cannot load certificate chain \"%.100s\": %s", cert_file,
		         tls_last_error(why, sizeof(why)));
		r = TLS_CHECK_CERT;
	} else if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		/* OpenSSL compares a key with the certificate as it loads it: a
		 * readable key of another certificate fails here, not below */
		if (tls_is_mismatch(ERR_peek_error()))
			snprintf(msg, msglen,
			         "private key \"%.100s\" does not match the certificate in %.100s",
			         key_file, cert_file);
		else
			snprintf(msg, msglen, "cannot load private key \"%.100s\": %s", key_file,
			         tls_last_error(why, sizeof(why)));
		ERR_clear_error();
		r = TLS_CHECK_KEY;
	} else if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(msg, msglen,
		         "private key \"%.100s\" does not match the certificate in %.100s",
		         key_file, cert_file);
		ERR_clear_error();
		r = TLS_CHECK_KEY;
	}
	SSL_CTX_free(ctx);
	return r;
}

static bool tls_name_match(const char *pattern, const char *name)
{
	const char *dot;

	if (strcasecmp(pattern, name) == 0)
		return true;
	/* "*.example.com" covers exactly one more label */
	if (pattern[0] != '*' || pattern[1] != '.' || !(dot = strchr(name, '.')) || dot == name)
		return false;
	return strcasecmp(pattern + 1, dot) == 0;
}

static int tls_on_servername(SSL *ssl, int *alert, void *arg)
{
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	struct tls_srv *ts = arg;

	(void)alert;
	if (!name)
		return SSL_TLSEXT_ERR_OK; /* no SNI: the default certificate */
	for (int i = 0; i < ts->n_certs; i++)
		for (int n = 0; n < ts->certs[i].n_names; n++)
			if (tls_name_match(ts->certs[i].names[n], name)) {
				if (i > 0)
					SSL_set_SSL_CTX(ssl, ts->certs[i].ctx);
				return SSL_TLSEXT_ERR_OK;
			}
	/* an unknown name gets the default certificate, as nginx does */
	return SSL_TLSEXT_ERR_OK;
}

static const unsigned char tls_alpn_h2[] = "\x02h2\x08http/1.1";
static const unsigned char tls_alpn_h1[] = "\x08http/1.1";

static int tls_on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
	bool h2 = arg != NULL;
	const unsigned char *ours = h2 ? tls_alpn_h2 : tls_alpn_h1;
	unsigned ours_len = h2 ? sizeof(tls_alpn_h2) - 1 : sizeof(tls_alpn_h1) - 1;

	(void)ssl;
	/* our preference order wins; no overlap proceeds without ALPN
	 * (HTTP/1.1) rather than failing the handshake */
	if (SSL_select_next_proto((unsigned char **)out, outlen, ours, ours_len, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	return SSL_TLSEXT_ERR_OK;
}

bool tls_is_h2(const SSL *ssl)
{
	const unsigned char *p;
	unsigned len;

	SSL_get0_alpn_selected(ssl, &p, &len);
	return len == 2 && memcmp(p, "h2", 2) == 0;
}

static int tls_add_name(struct tls_cert *tc, const char *name, size_t len)
{
	char *s;

	if (tc->n_names == TLS_MAX_NAMES || len == 0)
		return 0;
	if (!(s = strndup(name, len)))
		return -ENOMEM;
	for (char *p = s; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	tc->names[tc->n_names++] = s;
	return 0;
}

/* The names of <tc>: the configured list, else the certificate's DNS
 * subjectAltNames, else its common name. */
static int tls_cert_names(struct tls_cert *tc, const struct cfg_cert *cc)
{
	X509 *x = SSL_CTX_get0_certificate(tc->ctx);
	GENERAL_NAMES *sans;
	int err = 0;

	if (cc->server_names) {
		const char *p = cc->server_names;

		while (*p && !err) {
			size_t n = strcspn(p, " ,\t");

			err = tls_add_name(tc, p, n);
			p += n;
			p += strspn(p, " ,\t");
		}
		return err;
	}
	if (!x)
		return 0;
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && !err; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);

		if (g->type == GEN_DNS)
			err = tls_add_name(tc, (const char *)ASN1_STRING_get0_data(g->d.dNSName),
			                   (size_t)ASN1_STRING_length(g->d.dNSName));
	}
	GENERAL_NAMES_free(sans);
	if (!err && tc->n_names == 0) {
		char cn[256];
		int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
		                                  sizeof(cn));

		if (n > 0)
			err = tls_add_name(tc, cn, (size_t)n);
	}
	return err;
}

static SSL_CTX *tls_ctx_new(const struct cfg_gateway *g, const struct cfg_cert *cc, char *msg,
                            size_t msglen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char why[200];

	if (!ctx) {
		snprintf(msg, msglen, "cannot create a TLS context: %s",
		         tls_last_error(why, sizeof(why)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, g->tls_min_version == CFG_TLS_1_3 ? TLS1_3_VERSION
	                                                                     : TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	                                 SSL_OP_NO_COMPRESSION |
	                                 (g->tls_session_tickets ? 0 : SSL_OP_NO_TICKET));
	/* an idle keep-alive connection gives its read and write buffers back */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* every context resumes the others' sessions: SNI may move a resumed
	 * handshake to another one */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"tracegate", 9);
	if (g->tls_session_cache) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
		SSL_CTX_sess_set_cache_size(ctx, g->tls_session_cache);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	}
	SSL_CTX_set_alpn_select_cb(ctx, tls_on_alpn, g->http2 ? (void *)1 : NULL);
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, cc->cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cc->key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		/* the config check loaded them a moment ago: a file changed since */
		snprintf(msg, msglen, "cannot load %.100s / %.100s: %s", cc->cert_file,
		         cc->key_file, tls_last_error(why, sizeof(why)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct tls_srv *tls_srv_new(const struct cfg *c, int *err, char *msg, size_t msglen)
{
	struct tls_srv *ts;
	const struct cfg_ext *e;
	int n = 0;

	*err = 0;
	if (c->gw.n_listen_tls == 0)
		return NULL;
	pthread_once(&tls_ex_once, tls_ex_init);
	for (e = c->ext; e; e = e->next)
		n += e->sec == &cfg_sections_certificate;
	ts = calloc(1, sizeof(*ts));
	if (!ts || !(ts->certs = calloc((size_t)n, sizeof(*ts->certs)))) {
		free(ts);
		snprintf(msg, msglen, "out of memory");
		*err = -ENOMEM;
		return NULL;
	}
	for (e = c->ext; e; e = e->next) {
		struct tls_cert *tc = &ts->certs[ts->n_certs];

		if (e->sec != &cfg_sections_certificate)
			continue;
		if (!(tc->ctx = tls_ctx_new(&c->gw, e->obj, msg, msglen))) {
			*err = -EINVAL;
			break;
		}
		ts->n_certs++;
		if (tls_cert_names(tc, e->obj)) {
			snprintf(msg, msglen, "out of memory");
			*err = -ENOMEM;
			break;
		}
	}
	if (!*err && tls_ex_idx < 0) {
		snprintf(msg, msglen, "cannot register TLS context data");
		*err = -ENOMEM;
	}
	if (*err) {
		for (int i = 0; i < ts->n_certs; i++) {
			SSL_CTX_free(ts->certs[i].ctx);
			for (int k = 0; k < ts->certs[i].n_names; k++)
				free(ts->certs[i].names[k]);
		}
		free(ts->certs);
		free(ts);
		return NULL;
	}
	/* only the context a handshake starts on runs the SNI callback */
	SSL_CTX_set_tlsext_servername_callback(ts->certs[0].ctx, tls_on_servername);
	SSL_CTX_set_tlsext_servername_arg(ts->certs[0].ctx, ts);
	SSL_CTX_set_ex_data(ts->certs[0].ctx, tls_ex_idx, ts);
	return ts;
}

void tls_srv_free(struct tls_srv *ts)
{
	/* the rest goes with the default context's last reference */
	if (ts)
		SSL_CTX_free(ts->certs[0].ctx);
}

SSL *tls_srv_ssl(struct tls_srv *ts)
{
	return SSL_new(ts->certs[0].ctx);
}
