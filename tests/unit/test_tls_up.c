/* test_tls_up.c: the client side of TLS to upstreams without a network:
 * CA file checks, contexts that cannot be built, and what each SSL is told
 * (SNI, the name or address verified, the session offered), table-driven
 * over the ways a server can be named. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "certs_testlib.h"
#include "cfg.h"
#include "tls_up.h"
#include "upool.h"
#include "upstream.h"

static char dir[64];

static void make_certs(void)
{
	certs_make(dir, sizeof(dir));
}

static void rm_certs(void)
{
	certs_remove(dir);
}

TestSuite(tls_up, .init = make_certs, .fini = rm_certs);

Test(tls_up, ca_file_checks)
{
	char path[128], msg[256];

	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	cr_expect_eq(tls_up_ca_check(path, msg, sizeof(msg)), 0);
	snprintf(path, sizeof(path), "%s/nope.pem", dir);
	cr_expect_eq(tls_up_ca_check(path, msg, sizeof(msg)), -1);
	cr_expect(strstr(msg, "No such file or directory") != NULL, "%s", msg);
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	cr_expect_eq(tls_up_ca_check(path, msg, sizeof(msg)), -1);
	cr_expect(strstr(msg, "no PEM certificate") != NULL, "%s", msg);
}

Test(tls_up, a_context_that_cannot_be_built_says_why)
{
	struct cfg_upstream u = {.name = "u", .tls = true, .tls_verify = true};
	char path[128], msg[256];

	snprintf(path, sizeof(path), "%s/gone.pem", dir);
	u.tls_ca_file = path;
	cr_expect_null(tls_up_new(&u, msg, sizeof(msg)));
	cr_expect(strstr(msg, "cannot load the trust anchors") != NULL, "%s", msg);
}

static const struct {
	const char *server_name; /* tls_server_name, NULL = absent */
	const char *host;        /* the server's name as written in servers, "" for an IP */
	const char *text;        /* its numeric address */
	const char *sni;         /* NULL: none sent */
	const char *host_check;  /* the DNS name verified, NULL: none */
	const char *ip_check;    /* the address verified, NULL: none */
} names[] = {
        {NULL, "", "127.0.0.1:8443", NULL, NULL, "127.0.0.1"},
        {NULL, "", "[::1]:8443", NULL, NULL, "0:0:0:0:0:0:0:1"}, /* OpenSSL spells it so */
        {NULL, "api.internal", "10.0.0.1:443", "api.internal", "api.internal", NULL},
        {"pay.internal", "api.internal", "10.0.0.1:443", "pay.internal", "pay.internal", NULL},
        {"pay.internal", "", "10.0.0.1:443", "pay.internal", "pay.internal", NULL},
        {"10.9.9.9", "api.internal", "10.0.0.1:443", NULL, NULL, "10.9.9.9"},
};

Test(tls_up, sni_and_the_name_verified)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct cfg_upstream u = {.name = "u", .tls = true, .tls_verify = true};
		struct ups ups = {.cfg = &u, .n_srv = 1};
		struct ups_server s = {.ups = &ups};
		struct uconn uc = {.srv = &s};
		char ca[128], msg[256];
		struct tls_up *tu;
		SSL *ssl;
		X509_VERIFY_PARAM *vp;
		char *ip;
		const char *host;

		snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
		u.tls_ca_file = ca;
		u.tls_server_name = (char *)names[i].server_name;
		snprintf(u.servers[0].name, sizeof(u.servers[0].name), "%s", names[i].host);
		snprintf(u.servers[0].text, sizeof(u.servers[0].text), "%s", names[i].text);
		s.addr = &u.servers[0];
		cr_assert_not_null(tu = tls_up_new(&u, msg, sizeof(msg)), "%s", msg);
		cr_assert_not_null(ssl = tls_up_ssl(tu, &uc));
		if (names[i].sni)
			cr_expect_str_eq(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name),
			                 names[i].sni, "case %zu", i);
		else
			cr_expect_null(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name),
			               "case %zu", i);
		vp = SSL_get0_param(ssl);
		host = X509_VERIFY_PARAM_get0_host(vp, 0);
		ip = X509_VERIFY_PARAM_get1_ip_asc(vp);
		if (names[i].host_check)
			cr_expect(host && strcmp(host, names[i].host_check) == 0, "case %zu: %s", i,
			          host ? host : "(none)");
		else
			cr_expect_null(host, "case %zu", i);
		if (names[i].ip_check)
			cr_expect(ip && strcmp(ip, names[i].ip_check) == 0, "case %zu: %s", i,
			          ip ? ip : "(none)");
		else
			cr_expect_null(ip, "case %zu", i);
		cr_expect_eq(SSL_get_app_data(ssl), &uc);
		OPENSSL_free(ip);
		SSL_free(ssl);
		tls_up_free(tu);
	}
}

/* A session is offered only to connections made from the context it came
 * from: after a reload with another CA it would skip the new check. */
Test(tls_up, a_session_is_offered_by_its_own_context_only)
{
	struct cfg_upstream u = {.name = "u", .tls = true, .tls_verify = true};
	struct ups ups = {.cfg = &u, .n_srv = 1};
	struct ups_server s = {.ups = &ups};
	struct uconn uc = {.srv = &s};
	struct tls_up *a, *b;
	char ca[128], msg[256];
	SSL *ssl;

	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	u.tls_ca_file = ca;
	snprintf(u.servers[0].text, sizeof(u.servers[0].text), "127.0.0.1:1");
	s.addr = &u.servers[0];
	cr_assert_not_null(a = tls_up_new(&u, msg, sizeof(msg)));
	cr_assert_not_null(b = tls_up_new(&u, msg, sizeof(msg)));
	/* a session of <a>, as its callback would have tagged it */
	cr_assert_not_null(ssl = tls_up_ssl(a, &uc));
	s.tls_sess = SSL_SESSION_new();
	s.tls_sess_ctx = (uint64_t)(uintptr_t)SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	SSL_free(ssl);
	cr_assert_not_null(ssl = tls_up_ssl(a, &uc));
	cr_expect_eq(SSL_get_session(ssl), s.tls_sess);
	SSL_free(ssl);
	cr_assert_not_null(ssl = tls_up_ssl(b, &uc));
	cr_expect_null(SSL_get_session(ssl));
	SSL_free(ssl);
	tls_up_forget(&s);
	cr_expect_null(s.tls_sess);
	tls_up_free(a);
	tls_up_free(b);
}
