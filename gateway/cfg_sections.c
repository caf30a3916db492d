/* cfg_sections.c: the sections a configuration file may hold.
 *
 * The built-in [gateway], [upstream NAME] and [route NAME], each a key table:
 * every key the proxy engine reads, its type, bounds, default and unit (the
 * annotated conf/tracegate.ini documents the same keys and test_cfg checks it
 * names all of them). Checks over several keys live in a section's check
 * hook; checks across sections (route -> upstream) in cfg.c. Then the
 * registry, where filters add their own sections at boot.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "tls.h"
#include "tls_up.h"

#define CFG_HOUR_MS 3600000 /* upper bound of every timeout */

static const char *const cfg_log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const cfg_balances[] = {"round_robin", "least_request", NULL};
static const char *const cfg_tls_versions[] = {"1.2", "1.3", NULL};
static const char *const cfg_protocols[] = {"http1", "h2c", "h2", NULL};

#define GW(member) CFG_FIELD(struct cfg_gateway, member)

static const struct cfg_key cfg_gateway_keys[] = {
        {"listen", CFG_T_ADDRS, GW(listen), .off_n = offsetof(struct cfg_gateway, n_listen),
         .min = 0, .def = "0.0.0.0:8080", .unit = "host:port list",
         .doc = "addresses to accept clients on; port 0 picks a free port"},
        {"workers", CFG_T_AUTO, GW(workers), .min = 1, .max = 256, .def = "auto", .unit = "threads",
         .flags = CFG_K_RESTART, .doc = "worker threads; auto = one per online CPU"},
        {"service_name", CFG_T_STR, GW(service_name), .def = "tracegate", .flags = CFG_K_RESTART,
         .doc = "OpenTelemetry service.name of the gateway's own spans"},
        {"access_log", CFG_T_STR, GW(access_log), .def = "stdout", .flags = CFG_K_RESTART,
         .doc = "stdout, stderr, off or a file path"},
        {"pid_file", CFG_T_STR, GW(pid_file), .flags = CFG_K_RESTART,
         .doc = "file the process writes its PID to, for tracegate -s; absent = none"},
        {"log_level", CFG_T_STR, GW(log_level), .words = cfg_log_levels, .def = "info",
         .doc = "error, warn, info or debug"},
        {"max_head_bytes", CFG_T_SIZE, GW(max_head_bytes), .min = 1024, .max = 1048576,
         .def = "16384", .unit = "bytes", .doc = "request head larger than this -> 431"},
        {"max_headers", CFG_T_UINT, GW(max_headers), .min = 8, .max = 1000, .def = "100",
         .unit = "fields", .flags = CFG_K_RESTART, .doc = "more header fields than this -> 431"},
        {"max_target_bytes", CFG_T_SIZE, GW(max_target_bytes), .min = 64, .max = 65536,
         .def = "8192", .unit = "bytes", .doc = "longer request-target -> 414"},
        {"max_body_bytes", CFG_T_SIZE, GW(max_body_bytes), .min = 0, .max = 1ull << 40, .def = "0",
         .unit = "bytes", .doc = "larger request body -> 413; 0 = unlimited"},
        {"header_timeout_ms", CFG_T_MS, GW(header_timeout_ms), .min = 1, .max = CFG_HOUR_MS,
         .def = "10000", .unit = "ms", .doc = "whole request head must arrive in this time -> 408"},
        {"idle_timeout_ms", CFG_T_MS, GW(idle_timeout_ms), .min = 1, .max = CFG_HOUR_MS,
         .def = "60000", .unit = "ms", .doc = "idle keep-alive client connection is closed"},
        {"client_timeout_ms", CFG_T_MS, GW(client_timeout_ms), .min = 1, .max = CFG_HOUR_MS,
         .def = "60000", .unit = "ms", .doc = "no progress reading or writing a client body"},
        {"drain_timeout_ms", CFG_T_MS, GW(drain_timeout_ms), .min = 0, .max = CFG_HOUR_MS,
         .def = "10000", .unit = "ms", .doc = "on SIGTERM, time given to requests in flight"},
        {"max_connections", CFG_T_UINT, GW(max_connections), .min = 1, .max = 1000000,
         .def = "10000", .unit = "connections", .doc = "per worker; further accepts wait"},
        {"listen_tls", CFG_T_ADDRS, GW(listen_tls),
         .off_n = offsetof(struct cfg_gateway, n_listen_tls), .min = 0, .unit = "host:port list",
         .doc = "addresses to accept TLS clients on (HTTP/1.1, and h2 by ALPN); needs a "
                "[certificate]"},
        {"tls_min_version", CFG_T_ENUM, GW(tls_min_version), .words = cfg_tls_versions,
         .def = "1.2", .doc = "oldest TLS version a client may use: 1.2 or 1.3"},
        {"tls_session_tickets", CFG_T_BOOL, GW(tls_session_tickets), .def = "on",
         .doc = "resume TLS sessions from tickets the client keeps"},
        {"tls_session_cache", CFG_T_UINT, GW(tls_session_cache), .min = 0, .max = 10000000,
         .def = "20480", .unit = "sessions",
         .doc = "TLS sessions kept for resumption by session id; 0 = off"},
        {"http2", CFG_T_BOOL, GW(http2), .def = "on",
         .doc = "HTTP/2: ALPN h2 on TLS listeners, h2c with prior knowledge on the others"},
        {"h2_max_concurrent_streams", CFG_T_UINT, GW(h2_max_concurrent_streams), .min = 1,
         .max = 10000, .def = "100", .unit = "streams",
         .doc = "open streams per HTTP/2 connection; more are refused"},
        {"h2_max_resets_per_second", CFG_T_UINT, GW(h2_max_resets_per_second), .min = 1,
         .max = 1000000, .def = "100", .unit = "streams/s",
         .doc = "streams a client may reset per second (burst twice that) before GOAWAY"},
        {"h2_max_control_frames_per_second", CFG_T_UINT, GW(h2_max_control_frames_per_second),
         .min = 1, .max = 1000000, .def = "200", .unit = "frames/s",
         .doc = "SETTINGS, PING and PRIORITY frames per second (burst twice that) before "
                "GOAWAY"},
        {.name = NULL},
};

/* Resolves workers = auto and checks the limits against each other. */
static void cfg_gateway_check(struct cfg_inst *in, void *obj)
{
	struct cfg_gateway *gw = obj;

	if (gw->workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		gw->workers = n < 1 ? 1 : n > 256 ? 256 : (int)n;
	}
	/* the request line holds the target, so a target cap at or above the
	 * head cap could never be reached: the operator meant something else */
	if (gw->max_target_bytes >= gw->max_head_bytes)
		cfg_report(in,
		           cfg_key_line(in, "max_target_bytes") ? "max_target_bytes"
		                                                : "max_head_bytes",
		           "max_target_bytes (%u) must be less than max_head_bytes (%u)",
		           gw->max_target_bytes, gw->max_head_bytes);
}

const struct cfg_section cfg_sections_gateway = {
        .name = "gateway",
        .keys = cfg_gateway_keys,
        .size = sizeof(struct cfg_gateway),
        .check = cfg_gateway_check,
        .doc = "the listener and the limits every client connection gets",
};

#define UP(member) CFG_FIELD(struct cfg_upstream, member)

/* A Host header value: a reg-name or IP literal with an optional port. */
static int cfg_check_host_header(char *val, char *msg, size_t msglen)
{
	size_t n = strlen(val);

	if (n > 255 ||
	    strspn(val, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:[]") !=
	            n) {
		snprintf(msg, msglen,
		         "expected a Host header value like api.internal:8080, got \"%.60s\"", val);
		return -1;
	}
	return 0;
}

/* The name a TLS upstream is verified against: a DNS name or an IP
 * literal, stored lowercase. */
static int cfg_check_tls_name(char *val, char *msg, size_t msglen)
{
	unsigned char ip[16];
	size_t n = strlen(val), label = 0;
	bool ok = n > 0 && n <= 253;

	if (inet_pton(AF_INET, val, ip) == 1 || inet_pton(AF_INET6, val, ip) == 1)
		return 0;
	for (size_t i = 0; ok && i <= n; i++) {
		if (val[i] == '.' || val[i] == '\0') {
			ok = label > 0 && label <= 63;
			label = 0;
		} else if (isalnum((unsigned char)val[i]) || val[i] == '-' || val[i] == '_') {
			val[i] = (char)tolower((unsigned char)val[i]);
			label++;
		} else {
			ok = false;
		}
	}
	if (!ok) {
		snprintf(msg, msglen, "expected a host name or an IP address, got \"%.60s\"", val);
		return -1;
	}
	return 0;
}

static const struct cfg_key cfg_upstream_keys[] = {
        {"servers", CFG_T_ADDRS, UP(servers), .off_n = offsetof(struct cfg_upstream, n_servers),
         .min = 1, .flags = CFG_K_REQUIRED, .unit = "host:port list",
         .doc = "the origin servers, 1 to 64"},
        {"protocol", CFG_T_ENUM, UP(protocol), .words = cfg_protocols, .def = "http1",
         .doc = "http1; h2c (HTTP/2 in cleartext, prior knowledge); h2 (HTTP/2 over TLS, needs "
                "tls = on). gRPC services need h2c or h2"},
        {"balance", CFG_T_ENUM, UP(balance), .words = cfg_balances, .def = "round_robin",
         .doc = "round_robin or least_request (fewest requests in flight on this worker)"},
        {"keepalive", CFG_T_UINT, UP(keepalive), .min = 0, .max = 10000, .def = "32",
         .unit = "connections", .doc = "idle connections kept per worker and server"},
        {"idle_timeout_ms", CFG_T_MS, UP(idle_timeout_ms), .min = 1, .max = CFG_HOUR_MS,
         .def = "60000", .unit = "ms", .doc = "an idle pooled connection is closed after this"},
        {"connect_timeout_ms", CFG_T_MS, UP(connect_timeout_ms), .min = 1, .max = CFG_HOUR_MS,
         .def = "1000", .unit = "ms", .doc = "connecting to a server -> 502"},
        {"response_timeout_ms", CFG_T_MS, UP(response_timeout_ms), .min = 1, .max = CFG_HOUR_MS,
         .def = "30000", .unit = "ms",
         .doc = "request sent -> response head, and between body reads -> 504"},
        {"max_fails", CFG_T_UINT, UP(max_fails), .min = 0, .max = 1000, .def = "3",
         .unit = "failures", .doc = "consecutive failures that eject a server; 0 = never"},
        {"fail_timeout_ms", CFG_T_MS, UP(fail_timeout_ms), .min = 1, .max = CFG_HOUR_MS,
         .def = "10000", .unit = "ms", .doc = "how long an ejected server stays out"},
        {"retry_connect", CFG_T_BOOL, UP(retry_connect), .def = "on",
         .doc = "retry an idempotent request once on another server if connecting fails"},
        {"host_header", CFG_T_STR, UP(host_header), .check = cfg_check_host_header,
         .doc = "Host sent upstream; absent = the client's"},
        {"tls", CFG_T_BOOL, UP(tls), .def = "off",
         .doc = "connect to the servers with TLS (protocol http1 or h2)"},
        {"tls_verify", CFG_T_BOOL, UP(tls_verify), .def = "on",
         .doc = "verify the server's certificate chain and name; off accepts any certificate"},
        {"tls_ca_file", CFG_T_STR, UP(tls_ca_file),
         .doc = "PEM file of the CA certificates to trust; absent = the system store"},
        {"tls_server_name", CFG_T_STR, UP(tls_server_name), .check = cfg_check_tls_name,
         .doc = "name sent as SNI and verified in the certificate; absent = the host name in "
                "servers (an IP address is verified, not sent)"},
        {"tls_cert_file", CFG_T_STR, UP(tls_cert_file),
         .doc = "PEM client certificate (and chain) for servers that ask for one; needs "
                "tls_key_file"},
        {"tls_key_file", CFG_T_STR, UP(tls_key_file), .flags = CFG_K_SECRET,
         .doc = "PEM private key of tls_cert_file"},
        {"tls_min_version", CFG_T_ENUM, UP(tls_min_version), .words = cfg_tls_versions,
         .def = "1.2", .doc = "oldest TLS version to accept from the servers: 1.2 or 1.3"},
        {.name = NULL},
};

/* TLS keys hang together: they need tls = on, h2 needs TLS and h2c must not
 * have it, a client certificate comes with its key, and the files are read
 * now so that -t and a reload see a bad one at its line. A tls_* key that
 * holds its default is no mistake without TLS: /config writes every key. */
static void cfg_upstream_check(struct cfg_inst *in, void *obj)
{
	struct cfg_upstream *u = obj;
	const struct {
		const char *key;
		bool is_default;
	} tls_keys[] = {
	        {"tls_verify", u->tls_verify},
	        {"tls_ca_file", !u->tls_ca_file},
	        {"tls_server_name", !u->tls_server_name},
	        {"tls_cert_file", !u->tls_cert_file},
	        {"tls_key_file", !u->tls_key_file},
	        {"tls_min_version", u->tls_min_version == CFG_TLS_1_2},
	};
	char msg[256];
	int r;

	if (!u->tls) {
		for (size_t i = 0; i < sizeof(tls_keys) / sizeof(tls_keys[0]); i++)
			if (!tls_keys[i].is_default && cfg_key_line(in, tls_keys[i].key))
				cfg_report(in, tls_keys[i].key, "needs tls = on in this section");
		if (u->protocol == CFG_PROTO_H2)
			cfg_report(in, "protocol",
			           "h2 is HTTP/2 over TLS and needs tls = on (HTTP/2 in cleartext "
			           "is h2c)");
		return;
	}
	if (u->protocol == CFG_PROTO_H2C)
		cfg_report(in, "protocol",
		           "h2c is HTTP/2 in cleartext; with tls = on, use protocol = h2");
	if (u->tls_ca_file && tls_up_ca_check(u->tls_ca_file, msg, sizeof(msg)))
		cfg_report(in, "tls_ca_file", "%s", msg);
	if (!u->tls_cert_file != !u->tls_key_file) {
		cfg_report(in, u->tls_cert_file ? "tls_cert_file" : "tls_key_file",
		           "tls_cert_file and tls_key_file go together: set both or neither");
	} else if (u->tls_cert_file &&
	           (r = tls_cert_check(u->tls_cert_file, u->tls_key_file, msg, sizeof(msg)))) {
		cfg_report(in, r == TLS_CHECK_KEY ? "tls_key_file" : "tls_cert_file", "%s", msg);
	}
}

const struct cfg_section cfg_sections_upstream = {
        .name = "upstream",
        .named = true,
        .keys = cfg_upstream_keys,
        .size = sizeof(struct cfg_upstream),
        .check = cfg_upstream_check,
        .doc = "a group of origin servers that routes send requests to",
};

#define RT(member) CFG_FIELD(struct cfg_route, member)

/* Exact hostname or "*.suffix", stored lowercase since Host compares so. */
static int cfg_check_route_host(char *val, char *msg, size_t msglen)
{
	char *name = strncmp(val, "*.", 2) == 0 ? val + 2 : val;
	size_t n = strlen(name), label = 0, i;
	bool ok = n > 0 && n <= 253;

	for (i = 0; ok && i <= n; i++) {
		char ch = name[i];

		if (ch == '.' || ch == '\0') {
			ok = label > 0 && label <= 63;
			label = 0;
		} else if (isalnum((unsigned char)ch) || ch == '-' || ch == '_') {
			label++;
		} else {
			ok = false;
		}
	}
	if (!ok) {
		snprintf(msg, msglen,
		         "expected a hostname or *.suffix (letters, digits, '-', '_', '.'), got "
		         "\"%.60s\"",
		         val);
		return -1;
	}
	for (; *name; name++)
		*name = (char)tolower((unsigned char)*name);
	return 0;
}

/* An absolute path prefix: no query, fragment, space or control character. */
static int cfg_check_path_prefix(char *val, char *msg, size_t msglen)
{
	size_t n = strlen(val);

	if (val[0] != '/' || n > 2048 || strcspn(val, " ?#") != n) {
		snprintf(msg, msglen,
		         "expected a path starting with '/' without spaces, '?' or '#', got "
		         "\"%.60s\"",
		         val);
		return -1;
	}
	return 0;
}

static const struct cfg_key cfg_route_keys[] = {
        {"host", CFG_T_STR, RT(host), .check = cfg_check_route_host,
         .doc = "exact hostname, or *.suffix for its subdomains; absent = any host"},
        {"path_prefix", CFG_T_STR, RT(path_prefix), .check = cfg_check_path_prefix, .def = "/",
         .doc = "request paths starting with this; the longest prefix wins"},
        {"methods", CFG_T_METHODS, RT(methods), .unit = "method list",
         .doc = "only these methods (GET HEAD ...); absent = any method"},
        {"upstream", CFG_T_STR, RT(upstream_name), .flags = CFG_K_REQUIRED,
         .doc = "name of the [upstream] that serves these requests"},
        {.name = NULL},
};

static void cfg_route_check(struct cfg_inst *in, void *obj)
{
	struct cfg_route *r = obj;

	(void)in;
	if (r->methods == 0)
		r->methods = CFG_M_ANY;
}

const struct cfg_section cfg_sections_route = {
        .name = "route",
        .named = true,
        .keys = cfg_route_keys,
        .size = sizeof(struct cfg_route),
        .check = cfg_route_check,
        .doc = "requests matching host, path prefix and methods go to an upstream",
};

#define CERT(member) CFG_FIELD(struct cfg_cert, member)

static const struct cfg_key cfg_cert_keys[] = {
        {"cert_file", CFG_T_STR, CERT(cert_file), .flags = CFG_K_REQUIRED,
         .doc = "PEM file: the certificate, then the chain up to (not including) the root"},
        {"key_file", CFG_T_STR, CERT(key_file), .flags = CFG_K_REQUIRED | CFG_K_SECRET,
         .doc = "PEM file: the certificate's private key"},
        {"server_names", CFG_T_STR, CERT(server_names),
         .doc = "SNI names it serves (*.example.com allowed); default: the certificate's DNS "
                "names"},
        {.name = NULL},
};

/* Loads the pair now, so that -t and a reload see a bad file at its line. */
static void cfg_cert_check(struct cfg_inst *in, void *obj)
{
	const struct cfg_cert *c = obj;
	char msg[256];
	int r = tls_cert_check(c->cert_file, c->key_file, msg, sizeof(msg));

	if (r)
		cfg_report(in, r == TLS_CHECK_KEY ? "key_file" : "cert_file", "%s", msg);
}

const struct cfg_section cfg_sections_certificate = {
        .name = "certificate",
        .named = true,
        .keys = cfg_cert_keys,
        .size = sizeof(struct cfg_cert),
        .check = cfg_cert_check,
        .doc = "a certificate and key for the TLS listeners; the first is the default, the "
               "others are chosen by SNI",
};

/* ---- The registry: built-ins first, then what cfg_register() appends -------
 * Written only at boot before any load, read-only afterwards. An explicit
 * table: a filter's section exists because its init code registered it. */

#define CFG_SECTIONS_MAX 32

static const struct cfg_section *cfg_registry[CFG_SECTIONS_MAX] = {
        &cfg_sections_gateway,
        &cfg_sections_upstream,
        &cfg_sections_route,
        &cfg_sections_certificate,
};
static int cfg_n_registry = 4;

const struct cfg_section *cfg_section_find(const char *name)
{
	int i;

	for (i = 0; i < cfg_n_registry; i++)
		if (strcmp(cfg_registry[i]->name, name) == 0)
			return cfg_registry[i];
	return NULL;
}

const struct cfg_section *cfg_section_at(int i)
{
	return i >= 0 && i < cfg_n_registry ? cfg_registry[i] : NULL;
}

const void *cfg_ext_get(const struct cfg *c, const char *section, const char *name)
{
	const struct cfg_ext *e;

	for (e = c->ext; e; e = e->next)
		if (strcmp(e->sec->name, section) == 0 &&
		    (name ? e->name && strcmp(e->name, name) == 0 : !e->name))
			return e->obj;
	return NULL;
}

/* Whether key <k> fits the struct of <sec>: field width for its type, bounds
 * that the width can hold, the callbacks its type needs. */
static bool cfg_key_ok(const struct cfg_section *sec, const struct cfg_key *k)
{
	const struct cfg_key *o;

	if (!k->doc || k->off + k->size > sec->size)
		return false;
	for (o = sec->keys; o != k; o++)
		if (strcmp(o->name, k->name) == 0)
			return false;
	switch (k->type) {
	case CFG_T_STR:
		return k->size == sizeof(char *);
	case CFG_T_BOOL:
		return k->size == sizeof(bool);
	case CFG_T_UINT:
	case CFG_T_SIZE:
	case CFG_T_MS:
	case CFG_T_AUTO:
		if (k->size != 1 && k->size != 2 && k->size != 4 && k->size != 8)
			return false;
		return k->min <= k->max && (k->size == 8 || k->max >> (8 * k->size) == 0);
	case CFG_T_ENUM:
		return k->size == sizeof(int) && k->words;
	case CFG_T_ADDRS:
		return k->size >= sizeof(struct cfg_addr) &&
		       k->size % sizeof(struct cfg_addr) == 0 &&
		       k->off_n + sizeof(int) <= sec->size && k->min <= 65535;
	case CFG_T_METHODS:
		return k->size == sizeof(unsigned);
	case CFG_T_CUSTOM:
		return k->set != NULL;
	}
	return false;
}

int cfg_register(const struct cfg_section *sec)
{
	const struct cfg_key *k;
	size_t n;
	char msg[512];
	void *scratch;
	int rc = 0;

	if (!sec || !sec->name || !sec->keys || sec->size == 0)
		return -EINVAL;
	n = strlen(sec->name);
	if (n == 0 || n > 64 || strspn(sec->name, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != n)
		return -EINVAL;
	for (k = sec->keys; k->name; k++)
		if (!cfg_key_ok(sec, k))
			return -EINVAL;
	/* a default that does not parse would fail every load: refuse it now */
	scratch = calloc(1, sec->size);
	if (!scratch)
		return -ENOMEM;
	for (k = sec->keys; k->name && rc == 0; k++)
		if (k->def && cfg_key_set(k, scratch, k->def, msg, sizeof(msg)) < 0)
			rc = -EINVAL;
	cfg_key_free(sec->keys, scratch);
	free(scratch);
	if (rc)
		return rc;
	if (cfg_section_find(sec->name))
		return -EEXIST;
	if (cfg_n_registry == CFG_SECTIONS_MAX)
		return -ENOSPC;
	cfg_registry[cfg_n_registry++] = sec;
	return 0;
}
