/* test_httpc_tls.c: the exporters' HTTP client over TLS, against the
 * scripted server (httpc_testsrv.h) with a certificate made here: a trusted
 * CA file, SNI, reconnects after close_notify, a body larger than the
 * socket buffers, and verification failures (unknown issuer, wrong name). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "httpc_testsrv.h"

static struct {
	SSL_CTX *server;
	char ca_file[64];
} T;

/* Makes a self-signed certificate for the subjectAltName <san>: the server
 * context in T.server, the certificate alone in the PEM file T.ca_file. */
static void tls_make_cert(const char *san)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	FILE *f;
	int fd;

	cr_assert(key && x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"tg test", -1,
	                           -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	cr_assert_not_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	cr_assert(X509_sign(x, key, EVP_sha256()));

	T.server = SSL_CTX_new(TLS_server_method());
	cr_assert(SSL_CTX_use_certificate(T.server, x) && SSL_CTX_use_PrivateKey(T.server, key));
	snprintf(T.ca_file, sizeof(T.ca_file), "/tmp/tg-httpc-ca-XXXXXX");
	fd = mkstemp(T.ca_file);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	cr_assert(PEM_write_X509(f, x));
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
}

/* OpenSSL writes to its socket with write(): like the gateway's main(),
 * the process must ignore SIGPIPE when a server goes away. */
static void tls_init(void)
{
	signal(SIGPIPE, SIG_IGN);
}

static void tls_fini(void)
{
	srv_stop();
	if (T.ca_file[0])
		unlink(T.ca_file);
	SSL_CTX_free(T.server);
}

TestSuite(httpc_tls, .init = tls_init, .fini = tls_fini, .timeout = 10);

static const struct srv_step tls_steps[] = {
        SRV_REPLY_("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"),
        SRV_REPLY_CLOSE_(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n"),
        SRV_REPLY_("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthree"),
};

Test(httpc_tls, verified_by_ca_file)
{
	struct httpc *c;

	tls_make_cert("IP:127.0.0.1,DNS:localhost");
	srv_start_at(tls_steps, 3, T.server, false);
	c = client_at("https://127.0.0.1:%d/v1/traces", T.ca_file);
	post_ok(c, 200, "one");
	post_ok(c, 200, "two");
	srv_wait_closed(1); /* close_notify and FIN are on their way */
	post_ok(c, 200, "three");
	cr_expect_eq(atomic_load(&S.conns), 2);
	cr_expect_str_eq(S.sni, "", "no SNI for an IP literal");
	httpc_free(c);
}

Test(httpc_tls, host_name_and_sni)
{
	struct httpc *c;

	tls_make_cert("IP:127.0.0.1,DNS:localhost");
	srv_start_at(tls_steps, 1, T.server, false);
	/* "localhost" may resolve to ::1 first: refused there, then 127.0.0.1 */
	c = client_at("https://localhost:%d/v1/traces", T.ca_file);
	post_ok(c, 200, "one");
	srv_stop();
	cr_expect_str_eq(S.sni, "localhost");
	httpc_free(c);
}

Test(httpc_tls, big_request_body)
{
	struct httpc *c;

	tls_make_cert("IP:127.0.0.1");
	srv_start_at(tls_steps, 1, T.server, false);
	c = client_at("https://127.0.0.1:%d/v1/traces", T.ca_file);
	post_big_body(c);
	httpc_free(c);
}

Test(httpc_tls, system_store_rejects_self_signed)
{
	struct httpc_resp r;
	struct httpc *c;

	tls_make_cert("IP:127.0.0.1,DNS:localhost");
	srv_start_at(tls_steps, 1, T.server, false);
	c = client_at("https://127.0.0.1:%d/v1/traces", NULL);
	cr_expect_eq(post(c, "{}", 2000, -1, &r), -EKEYREJECTED);
	cr_expect(strstr(httpc_last_error(c), "certificate verification failed"), "%s",
	          httpc_last_error(c));
	cr_expect_eq(atomic_load(&S.n_reqs), 0);
	httpc_free(c);
}

Test(httpc_tls, name_mismatch_rejected)
{
	struct httpc_resp r;
	struct httpc *c;

	tls_make_cert("DNS:other.example");
	srv_start_at(tls_steps, 1, T.server, false);
	c = client_at("https://127.0.0.1:%d/v1/traces", T.ca_file);
	cr_expect_eq(post(c, "{}", 2000, -1, &r), -EKEYREJECTED);
	cr_expect(strstr(httpc_last_error(c), "IP address mismatch"), "%s", httpc_last_error(c));
	httpc_free(c);
	c = client_at("https://localhost:%d/v1/traces", T.ca_file);
	cr_expect_eq(post(c, "{}", 2000, -1, &r), -EKEYREJECTED);
	cr_expect(strstr(httpc_last_error(c), "hostname mismatch"), "%s", httpc_last_error(c));
	httpc_free(c);
	cr_expect_eq(atomic_load(&S.n_reqs), 0);
}

Test(httpc_tls, missing_ca_file)
{
	char err[256] = "";

	cr_expect_null(httpc_new("https://127.0.0.1:1/", "/nonexistent/ca.pem", err, sizeof(err)));
	cr_expect(strstr(err, "/nonexistent/ca.pem"), "%s", err);
}
