/* test_cfg.c: the configuration loader, table-driven.
 *
 * Every key's default and bounds (walked from the key tables themselves, so a
 * new key cannot go untested), every error kind with its exact text, line
 * numbers through comments, CRLF and a BOM. Registered sections, the golden
 * pairs and the shipped files are in test_cfg_files.c.
 */
#include "certs_testlib.h"
#include "cfg_testlib.h"

static const struct {
	const char *sect, *key, *want;
} defaults[] = {
        {"gateway", "listen", "0.0.0.0:8080"},
        {"gateway", "workers", NULL}, /* online CPUs, checked below */
        {"gateway", "service_name", "tracegate"},
        {"gateway", "access_log", "stdout"},
        {"gateway", "pid_file", "(null)"},
        {"gateway", "log_level", "info"},
        {"gateway", "max_head_bytes", "16384"},
        {"gateway", "max_headers", "100"},
        {"gateway", "max_target_bytes", "8192"},
        {"gateway", "max_body_bytes", "0"},
        {"gateway", "listen_tls", ""},
        {"gateway", "tls_min_version", "1.2"},
        {"gateway", "tls_session_tickets", "on"},
        {"gateway", "tls_session_cache", "20480"},
        {"gateway", "http2", "on"},
        {"gateway", "h2_max_concurrent_streams", "100"},
        {"gateway", "h2_max_resets_per_second", "100"},
        {"gateway", "h2_max_control_frames_per_second", "200"},
        {"gateway", "header_timeout_ms", "10000"},
        {"gateway", "idle_timeout_ms", "60000"},
        {"gateway", "client_timeout_ms", "60000"},
        {"gateway", "drain_timeout_ms", "10000"},
        {"gateway", "max_connections", "10000"},
        {"upstream", "servers", "127.0.0.1:1"},
        {"upstream", "protocol", "http1"},
        {"upstream", "balance", "round_robin"},
        {"upstream", "keepalive", "32"},
        {"upstream", "idle_timeout_ms", "60000"},
        {"upstream", "connect_timeout_ms", "1000"},
        {"upstream", "response_timeout_ms", "30000"},
        {"upstream", "max_fails", "3"},
        {"upstream", "fail_timeout_ms", "10000"},
        {"upstream", "retry_connect", "on"},
        {"upstream", "host_header", "(null)"},
        {"upstream", "tls", "off"},
        {"upstream", "tls_verify", "on"},
        {"upstream", "tls_ca_file", "(null)"},
        {"upstream", "tls_server_name", "(null)"},
        {"upstream", "tls_cert_file", "(null)"},
        {"upstream", "tls_key_file", "(null)"},
        {"upstream", "tls_min_version", "1.2"},
        {"route", "host", "(null)"},
        {"route", "path_prefix", "/"},
        {"route", "methods", "0x1ff"},
        {"route", "upstream", "u"},
};

Test(cfg, every_key_has_its_default)
{
	struct cfg *c = load_ok(MINIMAL);
	const struct cfg_section *s;
	const struct cfg_key *k;
	char got[256];
	size_t i;
	int n;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		k = find_key(defaults[i].sect, defaults[i].key);
		render(k, section_base(c, defaults[i].sect), got, sizeof(got));
		if (defaults[i].want)
			cr_expect_str_eq(got, defaults[i].want, "[%s] %s", defaults[i].sect,
			                 defaults[i].key);
	}
	cr_expect_eq(c->gw.workers, cpus < 1 ? 1 : cpus > 256 ? 256 : cpus);
	/* a key added to a table must be added above; [certificate] has no
	 * defaults (test_tls_srv covers it) */
	for (n = 0; (s = cfg_section_at(n)); n++) {
		for (k = s->keys; k->name && s != &cfg_sections_certificate; k++) {
			bool listed = false;

			for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
				listed |= strcmp(defaults[i].sect, s->name) == 0 &&
				          strcmp(defaults[i].key, k->name) == 0;
			cr_expect(listed, "[%s] %s has no default test", s->name, k->name);
		}
	}
	cr_expect_eq(n, 4);
	cr_expect_eq(c->routes[0].upstream, &c->upstreams[0]);
	cr_expect_str_eq(c->path, "t.ini");
	cfg_free(c);
}

/* Builds a file where <key> = <val> sits on line 2 (gateway, upstream) or
 * line 4 (route), with what else the section needs; returns the line. */
static int with_key(char *buf, size_t len, const char *sect, const char *key, const char *val)
{
	const char *extra = "";

	if (strcmp(sect, "gateway") == 0) {
		/* keep the head/target cross-check out of the bounds being tested */
		if (strcmp(key, "max_head_bytes") == 0)
			extra = "max_target_bytes = 64\n";
		else if (strcmp(key, "max_target_bytes") == 0)
			extra = "max_head_bytes = 1048576\n";
		snprintf(buf, len, "[gateway]\n%s = %s\n%s" MINIMAL, key, val, extra);
		return 2;
	}
	if (strcmp(sect, "upstream") == 0) {
		/* the other tls_* keys are an error without it */
		snprintf(buf, len, "[upstream u]\n%s = %s\n%s%s[route r]\nupstream = u\n", key, val,
		         strcmp(key, "servers") ? "servers = 127.0.0.1:1\n" : "",
		         strncmp(key, "tls_", 4) == 0 ? "tls = on\n" : "");
		return 2;
	}
	snprintf(buf, len, "[upstream u]\nservers = 127.0.0.1:1\n[route r]\n%s = %s\n%s", key, val,
	         strcmp(key, "upstream") ? "upstream = u\n" : "");
	return 4;
}

/* The message a numeric key gives for <val>, spelled out independently. */
static void bound_msg(char *out, size_t len, const struct cfg_key *k, const char *val)
{
	const char *what = k->type == CFG_T_SIZE   ? "a size in bytes in"
	                   : k->type == CFG_T_MS   ? "a duration in milliseconds in"
	                   : k->type == CFG_T_AUTO ? "\"auto\" or an integer in"
	                                           : "an integer in";

	snprintf(out, len, "expected %s %llu..%llu%s, got \"%s\"", what, (unsigned long long)k->min,
	         (unsigned long long)k->max,
	         k->type == CFG_T_SIZE ? " (suffix k, m or g allowed)" : "", val);
}

static void expect_value(const char *sect, const char *key, const char *val, const char *want,
                         const char *msg)
{
	const struct cfg_key *k = find_key(sect, key);
	char text[1024], exp[1024], got[512];
	int line = with_key(text, sizeof(text), sect, key, val);
	struct cfg *c;
	int rc;
	char *err = load(text, &c, &rc);

	if (msg) {
		snprintf(exp, sizeof(exp), "t.ini:%d: [%s%s] %s: %s\n", line, sect,
		         strcmp(sect, "gateway") ? (sect[0] == 'u' ? " u" : " r") : "", key, msg);
		cr_expect_str_eq(err, exp, "[%s] %s = %s", sect, key, val);
		cr_expect_eq(rc, -EINVAL);
	} else {
		cr_expect_str_empty(err, "[%s] %s = %s: %s", sect, key, val, err);
		if (c && want) {
			render(k, section_base(c, sect), got, sizeof(got));
			cr_expect_str_eq(got, want, "[%s] %s = %s", sect, key, val);
		}
	}
	cfg_free(c);
	free(err);
}

/* The bounds the operator documentation promises, pinned independently. */
static const struct {
	const char *sect, *key;
	unsigned long long min, max;
} bounds[] = {
        {"gateway", "workers", 1, 256},
        {"gateway", "max_head_bytes", 1024, 1048576},
        {"gateway", "max_headers", 8, 1000},
        {"gateway", "max_target_bytes", 64, 65536},
        {"gateway", "max_body_bytes", 0, 1ull << 40},
        {"gateway", "tls_session_cache", 0, 10000000},
        {"gateway", "h2_max_concurrent_streams", 1, 10000},
        {"gateway", "h2_max_resets_per_second", 1, 1000000},
        {"gateway", "h2_max_control_frames_per_second", 1, 1000000},
        {"gateway", "header_timeout_ms", 1, 3600000},
        {"gateway", "idle_timeout_ms", 1, 3600000},
        {"gateway", "client_timeout_ms", 1, 3600000},
        {"gateway", "drain_timeout_ms", 0, 3600000},
        {"gateway", "max_connections", 1, 1000000},
        {"upstream", "keepalive", 0, 10000},
        {"upstream", "idle_timeout_ms", 1, 3600000},
        {"upstream", "connect_timeout_ms", 1, 3600000},
        {"upstream", "response_timeout_ms", 1, 3600000},
        {"upstream", "max_fails", 0, 1000},
        {"upstream", "fail_timeout_ms", 1, 3600000},
};

Test(cfg, every_numeric_key_enforces_its_bounds)
{
	const struct cfg_section *s;
	const struct cfg_key *k;
	char val[32], msg[256];
	int n, tested = 0;

	for (n = 0; (s = cfg_section_at(n)); n++) {
		for (k = s->keys; k->name; k++) {
			if (k->type != CFG_T_UINT && k->type != CFG_T_SIZE && k->type != CFG_T_MS &&
			    k->type != CFG_T_AUTO)
				continue;
			snprintf(val, sizeof(val), "%llu", (unsigned long long)k->min);
			expect_value(s->name, k->name, val, val, NULL);
			snprintf(val, sizeof(val), "%llu", (unsigned long long)k->max);
			expect_value(s->name, k->name, val, val, NULL);
			snprintf(val, sizeof(val), "%llu", (unsigned long long)k->max + 1);
			bound_msg(msg, sizeof(msg), k, val);
			expect_value(s->name, k->name, val, NULL, msg);
			if (k->min > 0) {
				snprintf(val, sizeof(val), "%llu", (unsigned long long)k->min - 1);
				bound_msg(msg, sizeof(msg), k, val);
				expect_value(s->name, k->name, val, NULL, msg);
			}
			bound_msg(msg, sizeof(msg), k, "-1");
			expect_value(s->name, k->name, "-1", NULL, msg);
			bound_msg(msg, sizeof(msg), k, "");
			expect_value(s->name, k->name, "", NULL, msg);
			tested++;
		}
	}
	cr_expect_eq(tested, 20);
	for (n = 0; n < (int)(sizeof(bounds) / sizeof(bounds[0])); n++) {
		k = find_key(bounds[n].sect, bounds[n].key);
		cr_expect_eq(k->min, bounds[n].min, "[%s] %s", bounds[n].sect, bounds[n].key);
		cr_expect_eq(k->max, bounds[n].max, "[%s] %s", bounds[n].sect, bounds[n].key);
	}
}

/* Values of every type: accepted with what is stored, or the exact message. */
static const struct {
	const char *sect, *key, *val, *want, *msg;
} values[] = {
        {"gateway", "workers", "auto", NULL, NULL},
        {"gateway", "workers", "Auto", NULL,
         "expected \"auto\" or an integer in 1..256, got \"Auto\""},
        {"gateway", "workers", "4", "4", NULL},
        {"gateway", "max_head_bytes", "16k", "16384", NULL},
        {"gateway", "max_head_bytes", "1M", "1048576", NULL},
        {"gateway", "max_body_bytes", "2g", "2147483648", NULL},
        {"gateway", "max_body_bytes", "1024g", "1099511627776", NULL},
        {"gateway", "max_body_bytes", "10mb", NULL,
         "expected a size in bytes in 0..1099511627776 (suffix k, m or g allowed), got \"10mb\""},
        {"gateway", "max_body_bytes", "99999999999999999999999", NULL,
         "expected a size in bytes in 0..1099511627776 (suffix k, m or g allowed), got "
         "\"99999999999999999999999\""},
        {"gateway", "max_headers", "0x10", NULL, "expected an integer in 8..1000, got \"0x10\""},
        {"gateway", "max_headers", " 9", "9", NULL}, /* inih trims */
        {"gateway", "header_timeout_ms", "10s", NULL,
         "expected a duration in milliseconds in 1..3600000, got \"10s\""},
        {"gateway", "service_name", "shop-edge", "shop-edge", NULL},
        {"gateway", "service_name", "a;b", "a;b", NULL},     /* no blank before ; */
        {"gateway", "service_name", "a ; b", "a", NULL},     /* inline comment */
        {"gateway", "service_name", "a # b", "a # b", NULL}, /* # only starts lines */
        {"gateway", "service_name", "", NULL, "expected a value, got nothing"},
        {"gateway", "service_name", "a\tb", NULL,
         "expected text without control characters, got \"a\\x09b\""},
        {"gateway", "access_log", "off", "off", NULL},
        {"gateway", "access_log", "/var/log/tg.log", "/var/log/tg.log", NULL},
        {"gateway", "log_level", "debug", "debug", NULL},
        {"gateway", "log_level", "DEBUG", NULL,
         "expected error, warn, info or debug, got \"DEBUG\""},
        {"gateway", "listen", "127.0.0.1:0 127.0.0.1:0", "127.0.0.1:0 127.0.0.1:0", NULL},
        {"gateway", "listen", "[::1]:8080,10.0.0.1:80", "[::1]:8080 10.0.0.1:80", NULL},
        {"gateway", "listen", "[0:0::1]:1", "[::1]:1", NULL},
        {"gateway", "listen", "127.0.0.1:8080 127.0.0.1:8080", NULL,
         "address 127.0.0.1:8080 is listed twice"},
        {"gateway", "listen",
         "1.1.1.1:1 1.1.1.1:2 1.1.1.1:3 1.1.1.1:4 1.1.1.1:5 1.1.1.1:6 1.1.1.1:7 1.1.1.1:8 "
         "1.1.1.1:9 1.1.1.1:10 1.1.1.1:11 1.1.1.1:12 1.1.1.1:13 1.1.1.1:14 1.1.1.1:15 1.1.1.1:16 "
         "1.1.1.1:17",
         NULL, "expected at most 16 addresses"},
        {"gateway", "listen", "8080", NULL, "expected host:port, got \"8080\""},
        {"gateway", "listen", "1.2.3.4:", NULL, "expected a port in 0..65535, got \"1.2.3.4:\""},
        {"gateway", "listen", "[::1]8080", NULL, "expected [IPv6]:port, got \"[::1]8080\""},
        {"gateway", "listen", "[nope]:80", NULL,
         "expected an IPv6 address in brackets, got \"[nope]:80\""},
        {"gateway", "listen", "256.1.1.1:80", NULL,
         "expected an IPv4 address a.b.c.d, got \"256.1.1.1:80\""},
        {"gateway", "listen", "bad_host!:80", NULL, "expected host:port, got \"bad_host!:80\""},
        {"upstream", "servers", "127.0.0.1:65535", "127.0.0.1:65535", NULL},
        {"upstream", "servers", "127.0.0.1:0", NULL,
         "expected a port in 1..65535, got \"127.0.0.1:0\""},
        {"upstream", "servers", "", NULL, "expected one or more host:port, got \"\""},
        {"upstream", "balance", "least_request", "least_request", NULL},
        {"upstream", "balance", "random", NULL,
         "expected round_robin or least_request, got \"random\""},
        {"upstream", "retry_connect", "OFF", "off", NULL},
        {"upstream", "retry_connect", "no", "off", NULL},
        {"upstream", "retry_connect", "false", "off", NULL},
        {"upstream", "retry_connect", "yes", "on", NULL},
        {"upstream", "retry_connect", "True", "on", NULL},
        {"upstream", "retry_connect", "1", NULL,
         "expected on/off, yes/no or true/false, got \"1\""},
        {"upstream", "host_header", "api.internal:8080", "api.internal:8080", NULL},
        {"upstream", "host_header", "a b", NULL,
         "expected a Host header value like api.internal:8080, got \"a b\""},
        {"upstream", "tls", "on", "on", NULL},
        {"upstream", "tls_verify", "off", "off", NULL},
        {"upstream", "tls_server_name", "API.Internal", "api.internal", NULL},
        {"upstream", "tls_server_name", "10.0.0.7", "10.0.0.7", NULL},
        {"upstream", "tls_server_name", "fe80::1", "fe80::1", NULL},
        {"upstream", "tls_server_name", "a..b", NULL,
         "expected a host name or an IP address, got \"a..b\""},
        {"upstream", "tls_server_name", "*.example.com", NULL,
         "expected a host name or an IP address, got \"*.example.com\""},
        {"upstream", "tls_min_version", "1.3", "1.3", NULL},
        {"upstream", "tls_min_version", "1.1", NULL, "expected 1.2 or 1.3, got \"1.1\""},
        {"route", "host", "Shop.Example.COM", "shop.example.com", NULL},
        {"route", "host", "*.Example.com", "*.example.com", NULL},
        {"route", "host", "*", NULL,
         "expected a hostname or *.suffix (letters, digits, '-', '_', '.'), got \"*\""},
        {"route", "host", "a..b", NULL,
         "expected a hostname or *.suffix (letters, digits, '-', '_', '.'), got \"a..b\""},
        {"route", "host", "a.*.com", NULL,
         "expected a hostname or *.suffix (letters, digits, '-', '_', '.'), got \"a.*.com\""},
        {"route", "path_prefix", "/api/v1/", "/api/v1/", NULL},
        {"route", "path_prefix", "api", NULL,
         "expected a path starting with '/' without spaces, '?' or '#', got \"api\""},
        {"route", "path_prefix", "/a?b=1", NULL,
         "expected a path starting with '/' without spaces, '?' or '#', got \"/a?b=1\""},
        {"route", "methods", "GET HEAD", "0x3", NULL},
        {"route", "methods", "POST,PUT, DELETE", "0x1c", NULL},
        {"route", "methods", "PATCH OPTIONS TRACE", "0xe0", NULL},
        {"route", "methods", "PURGE", "0x100", NULL},
        {"route", "methods", "get", NULL,
         "expected GET (method names are case-sensitive), got \"get\""},
        {"route", "methods", "GE(T", NULL, "expected method names like GET HEAD, got \"GE(T\""},
        {"route", "methods", ",", NULL, "expected method names like GET HEAD, got \",\""},
        {"route", "upstream", "u", "u", NULL},
};

Test(cfg, values_of_every_type)
{
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		expect_value(values[i].sect, values[i].key, values[i].val, values[i].want,
		             values[i].msg);
}

/* Every error kind, with its exact text. */
static const struct {
	const char *name, *text, *err;
} errors[] = {
        {"unknown key", "[gateway]\nlisten = 127.0.0.1:1\nfoo = 1\n" MINIMAL,
         "t.ini:3: [gateway]: unknown key \"foo\"\n"},
        {"unknown key, near one",
         "[upstream u]\nservers = 127.0.0.1:1\nkepalive = 3\n[route r]\nupstream = u\n",
         "t.ini:3: [upstream u]: unknown key \"kepalive\" (did you mean \"keepalive\"?)\n"},
        {"key names are case-sensitive", "[gateway]\nListen = 127.0.0.1:1\n" MINIMAL,
         "t.ini:2: [gateway]: unknown key \"Listen\" (did you mean \"listen\"?)\n"},
        {"unknown section", MINIMAL "[tracingx]\nsample_ratio = 1\n",
         "t.ini:5: unknown section [tracingx]\n"},
        {"unknown section, near one", MINIMAL "[rout x]\nupstream = u\n",
         "t.ini:5: unknown section [rout x] (did you mean [route x]?)\n"},
        {"key before any section", "workers = 2\n" MINIMAL,
         "t.ini:1: key \"workers\" before any [section]\n"},
        {"duplicate key", "[gateway]\n; c\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n" MINIMAL,
         "t.ini:4: [gateway]: duplicate key \"listen\" (first set at line 3)\n"},
        {"duplicate key after a bad value", "[gateway]\nworkers = x\nworkers = 2\n" MINIMAL,
         "t.ini:2: [gateway] workers: expected \"auto\" or an integer in 1..256, got \"x\"\n"
         "t.ini:3: [gateway]: duplicate key \"workers\" (first set at line 2)\n"},
        {"duplicate gateway", "[gateway]\n[gateway]\nworkers = 1\n" MINIMAL,
         "t.ini:2: duplicate section [gateway] (first at line 1)\n"},
        {"duplicate upstream", MINIMAL "[upstream u]\nservers = 127.0.0.1:2\n",
         "t.ini:5: duplicate section [upstream u] (first at line 1)\n"},
        {"empty route", MINIMAL "[route x]\n",
         "t.ini:5: [route x]: missing required key upstream\n"},
        {"empty upstream", MINIMAL "\n[upstream v]\n\n",
         "t.ini:6: [upstream v]: missing required key servers\n"},
        {"route to nowhere", MINIMAL "[route x]\npath_prefix = /x\nupstream = v\n",
         "t.ini:7: [route x] upstream: no [upstream v] in this file\n"},
        {"route to a near name",
         "[upstream orders]\nservers = 127.0.0.1:1\n[route x]\npath_prefix = /x\nupstream = "
         "order\n",
         "t.ini:5: [route x] upstream: no [upstream order] in this file (did you mean "
         "[upstream orders]?)\n"},
        {"ambiguous routes", MINIMAL "[route x]\nupstream = u\npath_prefix = /\n",
         "t.ini:5: [route x]: ambiguous: same host, path_prefix and methods as [route r] (line "
         "3)\n"},
        {"no route", "[gateway]\n[upstream u]\nservers = 127.0.0.1:1\n",
         "t.ini: no [route] section: nothing to proxy\n"},
        {"empty file", "", "t.ini: no [route] section: nothing to proxy\n"},
        {"no equals", "[gateway]\nworkers 2\n" MINIMAL,
         "t.ini:2: expected \"key = value\", a [section] or a ; comment, got \"workers 2\"\n"},
        {"colon instead of equals", "[gateway]\nworkers: 2\n" MINIMAL,
         "t.ini:2: expected \"key = value\", a [section] or a ; comment, got \"workers: 2\"\n"},
        {"no key name", "[gateway]\n  = 2\n" MINIMAL,
         "t.ini:2: expected a key name before '=', got \"= 2\"\n"},
        {"unclosed header", "[gateway\n" MINIMAL,
         "t.ini:1: expected a section header like [gateway] or [route NAME], got \"[gateway\"\n"},
        {"junk after header", "[gateway] x\n" MINIMAL,
         "t.ini:1: expected a section header like [gateway] or [route NAME], got \"[gateway] "
         "x\"\n"},
        {"empty header", "[]\n" MINIMAL,
         "t.ini:1: expected a section header like [gateway] or [route NAME], got \"[]\"\n"},
        {"gateway with a name", "[gateway main]\n" MINIMAL,
         "t.ini:1: [gateway] takes no name, got \"[gateway main]\"\n"},
        {"route without a name", MINIMAL "[route]\nupstream = u\n",
         "t.ini:5: [route] needs a name, as in [route NAME]\n"},
        {"bad section name", MINIMAL "[route a b]\nupstream = u\n",
         "t.ini:5: [route NAME]: expected a NAME of 1 to 64 letters, digits, '_', '-' or '.', got "
         "\"[route a b]\"\n"},
        {"target above head", "[gateway]\nmax_head_bytes = 4096\n" MINIMAL,
         "t.ini:2: [gateway] max_head_bytes: max_target_bytes (8192) must be less than "
         "max_head_bytes (4096)\n"},
        {"target above head, both set",
         "[gateway]\nmax_target_bytes = 2048\nmax_head_bytes = 2k\n" MINIMAL,
         "t.ini:2: [gateway] max_target_bytes: max_target_bytes (2048) must be less than "
         "max_head_bytes (2048)\n"},
};

Test(cfg, every_error_kind)
{
	size_t i;

	for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		expect_errors(errors[i].name, errors[i].text, errors[i].err);
}

Test(cfg, nul_byte_and_long_lines)
{
	static const char nul[] = "[gateway]\nwork\0ers = 1\n" MINIMAL;
	char path[] = "/tmp/test_cfg_XXXXXX", *text = malloc(8192), *err, *buf = NULL;
	struct cfg *c;
	size_t len = 0;
	FILE *e;
	int fd, rc;

	/* cfg_load_string() stops at a NUL, so this goes through a file */
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, nul, sizeof(nul) - 1), (ssize_t)sizeof(nul) - 1);
	close(fd);
	e = open_memstream(&buf, &len);
	rc = cfg_load(path, e, &c);
	fclose(e);
	unlink(path);
	cr_expect_eq(rc, -EINVAL);
	cr_expect(strstr(buf, ":2: expected text, got a NUL byte\n") != NULL, "%s", buf);
	cr_expect_eq(strchr(buf, '\n') + 1, buf + strlen(buf), "one line only: %s", buf);
	free(buf);

	/* ini_max_line is 4096: a line may hold 4093 bytes */
	len = (size_t)snprintf(text, 8192, "[gateway]\nservice_name = ");
	memset(text + len, 'x', 4093 - strlen("service_name = "));
	strcpy(text + len + 4093 - strlen("service_name = "), "\n" MINIMAL);
	c = load_ok(text);
	cr_expect_eq(strlen(c->gw.service_name), 4093 - strlen("service_name = "));
	cfg_free(c);
	len = (size_t)snprintf(text, 8192, "[gateway]\nservice_name = ");
	memset(text + len, 'x', 4094 - strlen("service_name = "));
	strcpy(text + len + 4094 - strlen("service_name = "), "\n" MINIMAL);
	err = load(text, &c, &rc);
	cr_expect_str_eq(err, "t.ini:2: line longer than 4093 bytes\n");
	free(err);
	free(text);
}

Test(cfg, errors_are_listed_in_line_order)
{
	/* missing keys and route checks are found after reading, yet sorted in */
	expect_errors(
	        "order",
	        "[route a]\n"
	        "[gateway]\n"
	        "workers = 0\n"
	        "[upstream u]\n"
	        "[route b]\n"
	        "upstream = nope\n"
	        "bogus\n",
	        "t.ini:1: [route a]: missing required key upstream\n"
	        "t.ini:3: [gateway] workers: expected \"auto\" or an integer in 1..256, got \"0\"\n"
	        "t.ini:4: [upstream u]: missing required key servers\n"
	        "t.ini:6: [route b] upstream: no [upstream nope] in this file\n"
	        "t.ini:7: expected \"key = value\", a [section] or a ; comment, got \"bogus\"\n");
}

Test(cfg, line_numbers_with_comments_crlf_and_bom)
{
	static const char *const texts[] = {
	        "; head\n\n# more\n[gateway]\n  ; indented comment\n\t\nworkers = x ; c\n" MINIMAL,
	        "; head\r\n\r\n# more\r\n[gateway]\r\n  ; indented comment\r\n\t\r\nworkers = x ; "
	        "c\r\n[upstream u]\r\nservers = 127.0.0.1:1\r\n[route r]\r\nupstream = u\r\n",
	        "\xef\xbb\xbf; head\n\n# more\n[gateway]   ; main\n  ; indented comment\n\t\n  "
	        "workers=x\n" MINIMAL,
	};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		expect_errors(
		        "lines", texts[i],
		        "t.ini:7: [gateway] workers: expected \"auto\" or an integer in 1..256, "
		        "got \"x\"\n");
}

Test(cfg, last_line_without_newline_and_long_names)
{
	struct cfg *c =
	        load_ok("[upstream a_very_long_upstream_name_that_inih_would_cut.at-fifty]\n"
	                "servers = 127.0.0.1:1\n"
	                "[route r]\n"
	                "upstream = a_very_long_upstream_name_that_inih_would_cut.at-fifty");

	cr_expect_str_eq(c->upstreams[0].name,
	                 "a_very_long_upstream_name_that_inih_would_cut.at-fifty");
	cr_expect_eq(c->routes[0].upstream, &c->upstreams[0]);
	cfg_free(c);
}

Test(cfg, routes_resolve_upstreams_defined_anywhere)
{
	struct cfg *c = load_ok("[route first]\nupstream = b\npath_prefix = /b\n"
	                        "[upstream a]\nservers = 127.0.0.1:1\n"
	                        "[route second]\nupstream = a\nhost = A.example\n"
	                        "[upstream b]\nservers = 127.0.0.1:2 127.0.0.1:3\n"
	                        "[route third]\nupstream = a\nhost = a.example\nmethods = GET\n");

	cr_assert_eq(c->n_upstreams, 2);
	cr_assert_eq(c->n_routes, 3);
	cr_expect_str_eq(c->upstreams[0].name, "a");
	cr_expect_eq(c->upstreams[0].line, 4);
	cr_expect_eq(c->upstreams[1].n_servers, 2);
	cr_expect_str_eq(c->routes[0].name, "first");
	cr_expect_eq(c->routes[0].line, 1);
	cr_expect_eq(c->routes[0].upstream, &c->upstreams[1]);
	cr_expect_eq(c->routes[1].upstream, &c->upstreams[0]);
	cr_expect_str_eq(c->routes[1].host, "a.example");
	cr_expect_eq(c->routes[2].methods, CFG_M_GET);
	cr_expect_str_eq(c->routes[2].upstream_name, "a");
	cfg_free(c);
}

Test(cfg, empty_sections_take_defaults)
{
	struct cfg *c = load_ok(
	        "[gateway]\n[upstream u]\nservers = 127.0.0.1:1\n[route r]\nupstream = u\n");

	cr_expect_str_eq(c->gw.listen[0].text, "0.0.0.0:8080");
	cr_expect_eq(c->gw.n_listen, 1);
	cr_expect_eq(c->gw.max_head_bytes, 16384);
	cfg_free(c);
}

Test(cfg, too_many_errors_are_cut)
{
	char *text = malloc(200 * 16 + 100), *err, *p;
	struct cfg *c;
	int rc, i, lines = 0;

	strcpy(text, MINIMAL);
	for (i = 0; i < 150; i++)
		strcat(text, "junk\n");
	err = load(text, &c, &rc);
	for (p = err; *p; p++)
		lines += *p == '\n';
	cr_expect_eq(lines, 101);
	cr_expect(strstr(err, "t.ini:104: expected") != NULL);
	cr_expect(strstr(err, "\nt.ini: 50 more errors not shown\n") != NULL);
	free(err);
	free(text);
}

Test(cfg, files_that_cannot_be_read)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *e = open_memstream(&buf, &len);
	struct cfg *c = (struct cfg *)1;

	cr_expect_eq(cfg_load("/nonexistent/tg.ini", e, &c), -ENOENT);
	cr_expect_null(c);
	cr_expect_eq(cfg_load("/", e, &c), -EISDIR);
	fclose(e);
	cr_expect_str_eq(buf, "/nonexistent/tg.ini: cannot open: No such file or directory\n"
	                      "/: cannot read: Is a directory\n");
	free(buf);
}

Test(cfg, method_bits)
{
	static const struct {
		const char *m;
		unsigned bit;
	} t[] = {
	        {"GET", CFG_M_GET},         {"HEAD", CFG_M_HEAD},     {"POST", CFG_M_POST},
	        {"PUT", CFG_M_PUT},         {"DELETE", CFG_M_DELETE}, {"PATCH", CFG_M_PATCH},
	        {"OPTIONS", CFG_M_OPTIONS}, {"TRACE", CFG_M_TRACE},   {"PURGE", CFG_M_OTHER},
	        {"get", CFG_M_OTHER},       {"GETS", CFG_M_OTHER},    {"", CFG_M_OTHER},
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_expect_eq(cfg_method_bit(t[i].m, strlen(t[i].m)), t[i].bit, "%s", t[i].m);
	cr_expect_eq(cfg_method_bit("GETX", 3), CFG_M_GET); /* length, not NUL */
}

Test(cfg, parse_addr)
{
	static const struct {
		const char *in, *text;
		int family;
		unsigned port;
	} t[] = {
	        {"127.0.0.1:8080", "127.0.0.1:8080", AF_INET, 8080},
	        {"0.0.0.0:0", "0.0.0.0:0", AF_INET, 0},
	        {"[::1]:65535", "[::1]:65535", AF_INET6, 65535},
	        {"[2001:DB8::0:1]:80", "[2001:db8::1]:80", AF_INET6, 80},
	        {"[::ffff:10.0.0.1]:1", "[::ffff:10.0.0.1]:1", AF_INET6, 1},
	        {"1.2.3.4:65536", NULL, 0, 0},
	        {"1.2.3.4", NULL, 0, 0},
	        {"1.2.3:4", NULL, 0, 0},
	        {"::1:80", NULL, 0, 0},
	        {"[::1]", NULL, 0, 0},
	        {":80", NULL, 0, 0},
	        {"a b:80", NULL, 0, 0},
	        {"host.invalid.:x", NULL, 0, 0},
	        {"", NULL, 0, 0},
	};
	struct cfg_addr a;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = cfg_parse_addr(t[i].in, &a);

		if (!t[i].text) {
			cr_expect_eq(rc, -EINVAL, "%s", t[i].in);
			continue;
		}
		cr_expect_eq(rc, 0, "%s", t[i].in);
		cr_expect_str_eq(a.text, t[i].text);
		cr_expect_eq(a.ss.ss_family, t[i].family);
		if (t[i].family == AF_INET) {
			cr_expect_eq(a.len, sizeof(struct sockaddr_in));
			cr_expect_eq(ntohs(((struct sockaddr_in *)&a.ss)->sin_port), t[i].port);
		} else {
			cr_expect_eq(a.len, sizeof(struct sockaddr_in6));
			cr_expect_eq(ntohs(((struct sockaddr_in6 *)&a.ss)->sin6_port), t[i].port);
		}
	}
	cr_expect_str_empty(a.name, "an IP literal has no name");
	/* names resolve through the system resolver (localhost: /etc/hosts);
	 * the name as written stays, lowercase, for TLS to upstreams */
	cr_expect_eq(cfg_parse_addr("LocalHost:81", &a), 0);
	cr_expect(strcmp(a.text, "127.0.0.1:81") == 0 || strcmp(a.text, "[::1]:81") == 0, "%s",
	          a.text);
	cr_expect_str_eq(a.name, "localhost");
}

/* Asserts that <text> fails with one error line that starts with <head>,
 * the certificate directory, then <tail> (OpenSSL's reason follows). */
static void expect_error_prefix(const char *text, const char *head, const char *tail)
{
	struct cfg *c;
	int rc;
	char *err = load(text, &c, &rc);
	size_t n = strlen(head);
	bool ok = strncmp(err, head, n) == 0 &&
	          strncmp(err + n, CERTS_DIR_PREFIX, sizeof(CERTS_DIR_PREFIX) - 1) == 0 &&
	          strlen(err) > n + CERTS_DIR_LEN &&
	          strncmp(err + n + CERTS_DIR_LEN, tail, strlen(tail)) == 0;

	cr_expect_eq(rc, -EINVAL);
	cr_expect_null(c);
	cr_expect(ok, "got %s", err);
	cr_expect_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
	free(err);
}

#define UPS_HEAD "[upstream u]\nservers = 127.0.0.1:1\n" /* lines 1 and 2 */
#define ROUTE    "[route r]\nupstream = u\n"

/* [upstream] tls = on and its keys: what hangs together, and the files
 * read at load, each error at its key's line. */
Test(cfg, upstream_tls)
{
	char d[64], text[2048], want[2048];
	struct cfg *c;

	certs_make(d, sizeof(d));
	expect_errors("tls keys need tls = on",
	              UPS_HEAD "tls_ca_file = /x.pem\ntls_verify = off\n" ROUTE,
	              "t.ini:3: [upstream u] tls_ca_file: needs tls = on in this section\n"
	              "t.ini:4: [upstream u] tls_verify: needs tls = on in this section\n");
	expect_errors("tls = off, said so", UPS_HEAD "tls = off\ntls_server_name = a.test\n" ROUTE,
	              "t.ini:4: [upstream u] tls_server_name: needs tls = on in this section\n");
	expect_errors("a version without tls", UPS_HEAD "tls_min_version = 1.3\n" ROUTE,
	              "t.ini:3: [upstream u] tls_min_version: needs tls = on in this section\n");
	/* the defaults spelled out, as /config writes them: no mistake */
	c = load_ok(UPS_HEAD "tls = off\ntls_verify = on\ntls_min_version = 1.2\n" ROUTE);
	cr_expect(!c->upstreams[0].tls);
	cfg_free(c);
	expect_errors("h2 needs tls", UPS_HEAD "protocol = h2\n" ROUTE,
	              "t.ini:3: [upstream u] protocol: h2 is HTTP/2 over TLS and needs tls = on "
	              "(HTTP/2 in cleartext is h2c)\n");
	expect_errors("h2c is cleartext", UPS_HEAD "tls = on\nprotocol = h2c\n" ROUTE,
	              "t.ini:4: [upstream u] protocol: h2c is HTTP/2 in cleartext; with tls = on, "
	              "use protocol = h2\n");
	snprintf(text, sizeof(text), UPS_HEAD "tls = on\ntls_ca_file = %s/nope.pem\n" ROUTE, d);
	snprintf(want, sizeof(want),
	         "t.ini:4: [upstream u] tls_ca_file: cannot read CA file \"%s/nope.pem\": No such "
	         "file or directory\n",
	         d);
	expect_errors("CA file missing", text, want);
	snprintf(text, sizeof(text), UPS_HEAD "tls = on\ntls_ca_file = %s/ca.key\n" ROUTE, d);
	snprintf(want, sizeof(want),
	         "t.ini:4: [upstream u] tls_ca_file: no PEM certificate in CA file \"%s/ca.key\"\n",
	         d);
	expect_errors("CA file without a certificate", text, want);
	snprintf(text, sizeof(text), UPS_HEAD "tls = on\ntls_cert_file = %s/client.pem\n" ROUTE, d);
	expect_errors("certificate without key", text,
	              "t.ini:4: [upstream u] tls_cert_file: tls_cert_file and tls_key_file go "
	              "together: set both or neither\n");
	snprintf(text, sizeof(text), UPS_HEAD "tls = on\ntls_key_file = %s/client.key\n" ROUTE, d);
	expect_errors("key without certificate", text,
	              "t.ini:4: [upstream u] tls_key_file: tls_cert_file and tls_key_file go "
	              "together: set both or neither\n");
	snprintf(text, sizeof(text),
	         UPS_HEAD
	         "tls = on\ntls_cert_file = %s/client.pem\ntls_key_file = %s/a.key\n" ROUTE,
	         d, d);
	expect_error_prefix(text, "t.ini:5: [upstream u] tls_key_file: private key \"",
	                    "/a.key\" does not match the certificate in ");
	snprintf(text, sizeof(text),
	         UPS_HEAD "tls = on\ntls_cert_file = %s/none.pem\ntls_key_file = %s/a.key\n" ROUTE,
	         d, d);
	expect_error_prefix(text,
	                    "t.ini:4: [upstream u] tls_cert_file: cannot load certificate chain \"",
	                    "/none.pem\": ");

	/* all of it, consistent */
	snprintf(text, sizeof(text),
	         UPS_HEAD "protocol = h2\ntls = on\ntls_verify = off\ntls_ca_file = %s/ca.pem\n"
	                  "tls_server_name = A.Test\ntls_cert_file = %s/client.pem\n"
	                  "tls_key_file = %s/client.key\ntls_min_version = 1.3\n" ROUTE,
	         d, d, d);
	c = load_ok(text);
	cr_expect(c->upstreams[0].tls);
	cr_expect(!c->upstreams[0].tls_verify);
	cr_expect_eq(c->upstreams[0].protocol, CFG_PROTO_H2);
	cr_expect_str_eq(c->upstreams[0].tls_server_name, "a.test");
	cr_expect_eq(c->upstreams[0].tls_min_version, CFG_TLS_1_3);
	cfg_free(c);
	c = load_ok(UPS_HEAD "tls = on\n" ROUTE);
	cr_expect(c->upstreams[0].tls_verify, "verified by default");
	cr_expect_null(c->upstreams[0].tls_ca_file);
	cfg_free(c);
	certs_remove(d);
}
