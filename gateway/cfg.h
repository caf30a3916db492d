/* cfg.h: the configuration, read from an INI file with inih.
 *
 * One declarative key table per section (type, bounds, default, unit). The
 * whole file is read, every error is reported as "file:line: [section] key:
 * what was expected", and only a file without errors yields a struct cfg.
 * The result is a boot object: read-only after load, shared by all workers,
 * freed whole with cfg_free().
 */
#ifndef TG_CFG_H
#define TG_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define CFG_MAX_LISTEN    16
#define CFG_MAX_LISTENERS (2 * CFG_MAX_LISTEN) /* listen and listen_tls */
#define CFG_MAX_SERVERS   64

/* A resolved address and its normalized numeric text, for logs. */
struct cfg_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64];  /* "127.0.0.1:8080", "[::1]:8080" */
	char name[254]; /* the host name as written, when not an IP literal; else "" */
};

struct cfg_gateway {
	struct cfg_addr listen[CFG_MAX_LISTEN];
	int n_listen;
	struct cfg_addr listen_tls[CFG_MAX_LISTEN];
	int n_listen_tls;
	int workers; /* resolved: "auto" -> number of online CPUs */
	char *service_name;
	char *access_log;           /* "stdout", "stderr", "off" or a path */
	char *pid_file;             /* NULL = none */
	char *log_level;            /* "error", "warn", "info", "debug" */
	uint32_t max_head_bytes;    /* > -> 431 */
	uint32_t max_headers;       /* field lines per head; > -> 431 */
	uint32_t max_target_bytes;  /* > -> 414 */
	uint64_t max_body_bytes;    /* request body; 0 = unlimited; > -> 413 */
	uint32_t header_timeout_ms; /* whole head must arrive in this time -> 408 */
	uint32_t idle_timeout_ms;   /* keep-alive client connection idle */
	uint32_t client_timeout_ms; /* no progress reading or writing a body */
	uint32_t drain_timeout_ms;  /* graceful stop bound */
	uint32_t max_connections;   /* per worker; further accepts wait */
	int tls_min_version;        /* CFG_TLS_1_2 or CFG_TLS_1_3 */
	bool tls_session_tickets;
	uint32_t tls_session_cache; /* server-side session cache entries; 0 = off */
	bool http2;                 /* ALPN h2 on TLS, prior-knowledge h2c on cleartext */
	uint32_t h2_max_concurrent_streams;
	uint32_t h2_max_resets_per_second;
	uint32_t h2_max_control_frames_per_second;
};

enum { CFG_TLS_1_2, CFG_TLS_1_3 };

/* A [certificate NAME]: one certificate chain and key for TLS listeners.
 * The first in the file is the default; the others are chosen by SNI. */
struct cfg_cert {
	char *cert_file;
	char *key_file;
	char *server_names; /* NULL = the certificate's own DNS names */
};

/* The listeners of <g>: the addresses of listen, then those of listen_tls. */
static inline int cfg_gw_n_listeners(const struct cfg_gateway *g)
{
	return g->n_listen + g->n_listen_tls;
}

/* Returns listener <i> of <g> (0 <= i < cfg_gw_n_listeners()). */
static inline const struct cfg_addr *cfg_gw_listener(const struct cfg_gateway *g, int i)
{
	return i < g->n_listen ? &g->listen[i] : &g->listen_tls[i - g->n_listen];
}

/* Returns true when listener <i> of <g> speaks TLS. */
static inline bool cfg_gw_listener_tls(const struct cfg_gateway *g, int i)
{
	return i >= g->n_listen;
}

enum cfg_balance {
	CFG_BALANCE_ROUND_ROBIN,
	CFG_BALANCE_LEAST_REQUEST,
};

enum cfg_protocol {
	CFG_PROTO_HTTP1,
	CFG_PROTO_H2C, /* HTTP/2 with prior knowledge, cleartext */
	CFG_PROTO_H2,  /* HTTP/2 over TLS (ALPN h2) */
};

struct cfg_upstream {
	char *name;
	int line; /* where its section starts, for cross-checks */
	struct cfg_addr servers[CFG_MAX_SERVERS];
	int n_servers;
	int protocol; /* enum cfg_protocol */
	enum cfg_balance balance;
	uint32_t keepalive;           /* idle connections kept per worker and server */
	uint32_t idle_timeout_ms;     /* idle pooled connection lifetime */
	uint32_t connect_timeout_ms;  /* -> 502 */
	uint32_t response_timeout_ms; /* request sent -> response head; also between body reads; ->
	                                 504 */
	uint32_t max_fails;           /* consecutive failures that eject a server; 0 = never */
	uint32_t fail_timeout_ms;     /* how long an ejected server stays out */
	bool retry_connect;           /* retry an idempotent request once on another server */
	char *host_header;            /* Host sent upstream; NULL = the client's */
	bool tls;                     /* connect with TLS (tls_up.c) */
	bool tls_verify;              /* verify the server's certificate and name */
	char *tls_ca_file;            /* PEM trust anchors; NULL = the system store */
	char *tls_server_name;        /* SNI and the name verified; NULL = each server's host */
	char *tls_cert_file;          /* client certificate chain; NULL = none */
	char *tls_key_file;           /* its key; set exactly when tls_cert_file is */
	int tls_min_version;          /* CFG_TLS_1_2 or CFG_TLS_1_3 */
};

/* Methods bitmask for routes (CFG_M_ANY when the key is absent). */
enum {
	CFG_M_GET = 1u << 0,
	CFG_M_HEAD = 1u << 1,
	CFG_M_POST = 1u << 2,
	CFG_M_PUT = 1u << 3,
	CFG_M_DELETE = 1u << 4,
	CFG_M_PATCH = 1u << 5,
	CFG_M_OPTIONS = 1u << 6,
	CFG_M_TRACE = 1u << 7,
	CFG_M_OTHER = 1u << 8, /* any extension method */
	CFG_M_ANY = 0x1ffu,
};

struct cfg_route {
	char *name;
	int line;
	char *host;        /* NULL = any host; "*.suffix" matches subdomains of suffix */
	char *path_prefix; /* default "/" */
	unsigned methods;  /* CFG_M_* */
	char *upstream_name;
	struct cfg_upstream *upstream; /* resolved after the whole file is read */
	struct cfg_ext *ext; /* registered sections with CFG_K_ROUTE keys, as this route sees
	                      * them: the section's values with the route's overrides */
};

struct cfg_ext;

struct cfg {
	char *path;
	struct cfg_gateway gw;
	struct cfg_upstream *upstreams;
	int n_upstreams;
	struct cfg_route *routes;
	int n_routes;
	struct cfg_ext *ext; /* sections declared with cfg_register(), in file order */
};

/* Reads and validates <path>. On success returns 0 and stores a new config in
 * *<out> (owned by the caller, freed with cfg_free()). On failure writes every
 * error to <err>, one per line as "FILE:LINE: [SECTION] KEY: message", and
 * returns a negative errno (-EINVAL for content errors, -errno when the file
 * cannot be read). Boot thread only: it sets libinih's process globals. */
int cfg_load(const char *path, FILE *err, struct cfg **out);

/* Same as cfg_load() over an in-memory text; <name> is used in messages. */
int cfg_load_string(const char *name, const char *text, FILE *err, struct cfg **out);

/* Frees <c> and everything it owns; NULL is allowed. */
void cfg_free(struct cfg *c);

/* Returns the CFG_M_* bit for method <m,len> (CFG_M_OTHER for extensions). */
unsigned cfg_method_bit(const char *m, size_t len);

/* Parses "host:port", "[v6]:port" (numeric or resolvable host) into <a>.
 * Returns 0 or -EINVAL. */
int cfg_parse_addr(const char *text, struct cfg_addr *a);

/* ---- Key tables ----------------------------------------------------------
 *
 * A section is described by a table of keys; each key says how to parse its
 * value into a field of the section's struct (an offset from a base pointer),
 * its bounds and its default. [gateway], [upstream NAME] and [route NAME] are
 * built in; a filter declares its own section ([tracing], [exporter.otlp])
 * with cfg_register() at boot, before cfg_load(). Its parsed struct is then
 * found with cfg_ext_get().
 */

enum cfg_type {
	CFG_T_STR,     /* char *, strdup'ed, non-empty, no control characters; .words restricts
	                * the values, .check validates further */
	CFG_T_BOOL,    /* bool: on/off, yes/no, true/false (any case) */
	CFG_T_UINT,    /* unsigned field of 1, 2, 4 or 8 bytes, a decimal in .min...max */
	CFG_T_SIZE,    /* like UINT, in bytes; a k, m or g suffix multiplies by 1024^n */
	CFG_T_MS,      /* like UINT, a duration in milliseconds */
	CFG_T_AUTO,    /* like UINT, or "auto" stored as 0 (the section check resolves it) */
	CFG_T_ENUM,    /* int field: index of the value in .words */
	CFG_T_ADDRS,   /* struct cfg_addr[] field, count in the int at .off_n; .min = lowest port */
	CFG_T_METHODS, /* unsigned field: CFG_M_* bits of a space or comma separated list */
	CFG_T_CUSTOM,  /* .set parses the value; the field must not own heap memory */
};

/* Key flags. CFG_K_ROUTE: in an unnamed registered section, the key may be
 * set in a [route] too, overriding the section's value for that route.
 * CFG_K_SECRET: never shown (/config), it may hold credentials.
 * CFG_K_RESTART: what it sets is built once at boot (threads, files,
 * sockets of the admin thread, exporters): a reload that changes it is
 * refused (cfg_restart_diff()). */
#define CFG_K_REQUIRED 0x1u /* the section is an error without it */
#define CFG_K_ROUTE    0x2u
#define CFG_K_SECRET   0x4u
#define CFG_K_RESTART  0x8u

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t off;               /* field in the section's struct */
	size_t size;              /* sizeof that field (checked against the type) */
	size_t off_n;             /* CFG_T_ADDRS: the int counting the addresses */
	uint64_t min, max;        /* bounds, inclusive */
	const char *const *words; /* CFG_T_ENUM, CFG_T_STR: allowed values, NULL-terminated */
	const char *def;          /* default, parsed like a value from the file; NULL = none */
	unsigned flags;           /* CFG_K_* */
	const char *unit;         /* for the reference ("ms", "bytes"); NULL = none */
	const char *doc;          /* one line: what the key does */
	/* CFG_T_STR, optional: validates the strdup'ed <val> and may rewrite it
	 * in place (e.g. lowercase it); returns 0, or -1 with <msg> set to what
	 * was expected. */
	int (*check)(char *val, char *msg, size_t msglen);
	/* CFG_T_CUSTOM: parses <val> into <field>; returns 0, or -1 with <msg>
	 * set to what was expected. */
	int (*set)(const struct cfg_key *k, const char *val, void *field, char *msg, size_t msglen);
	/* CFG_T_CUSTOM, optional: writes <field> back as a value the file could
	 * hold into <out,len>. Without it the value shows as "(set)". */
	void (*show)(const struct cfg_key *k, const void *field, char *out, size_t len);
};

/* Fills .off and .size for <member> of <type> in a key table entry. */
#define CFG_FIELD(type, member) .off = offsetof(type, member), .size = sizeof(((type *)0)->member)

struct cfg_inst;

struct cfg_section {
	const char *name; /* "gateway", "upstream", "exporter.otlp" */
	bool named;       /* [name NAME], zero or more; else at most one, defaults when absent */
	const struct cfg_key *keys; /* terminated by an entry whose name is NULL */
	size_t size;                /* of the struct the keys point into; calloc'ed per instance */
	/* Optional, called once per instance after the file is read and the
	 * defaults applied, for checks across keys: reports with cfg_report().
	 * An absent unnamed section is checked too (its line is 0). */
	void (*check)(struct cfg_inst *in, void *obj);
	const char *doc;
	/* Every key without CFG_K_ROUTE is CFG_K_RESTART. */
	bool restart;
};

/* A registered section as found in a loaded config. */
struct cfg_ext {
	const struct cfg_section *sec;
	char *name; /* NULL for unnamed sections */
	int line;   /* of its header; 0 for an absent unnamed section (defaults) */
	void *obj;  /* struct of sec->size, filled from the keys */
	struct cfg_ext *next;
};

/* The built-in sections (cfg_sections.c). */
extern const struct cfg_section cfg_sections_gateway;  /* -> struct cfg_gateway */
extern const struct cfg_section cfg_sections_upstream; /* -> struct cfg_upstream */
extern const struct cfg_section cfg_sections_route;    /* -> struct cfg_route */
/* [certificate NAME] -> struct cfg_cert, found in cfg->ext in file order */
extern const struct cfg_section cfg_sections_certificate;

/* Adds <sec> (static storage, borrowed forever) to the sections cfg_load()
 * accepts. Returns 0, -EEXIST if the name is taken, -ENOSPC when the table
 * is full, or -EINVAL for an inconsistent key table. Boot thread only, before
 * any cfg_load(). Required keys of an unnamed section apply only when the
 * section is present in the file. */
int cfg_register(const struct cfg_section *sec);

/* Returns the section called <name> (built in or registered), or NULL. */
const struct cfg_section *cfg_section_find(const char *name);

/* Returns the <i>th known section (built-ins first), or NULL past the end. */
const struct cfg_section *cfg_section_at(int i);

/* Returns the parsed struct of registered section <section> (<name> NULL for
 * an unnamed one, which is always present), or NULL. */
const void *cfg_ext_get(const struct cfg *c, const char *section, const char *name);

/* Returns the parsed struct of registered section <section> as route <r> sees
 * it (the section's values, with the CFG_K_ROUTE keys <r> sets), or NULL when
 * the section has no such keys. */
const void *cfg_route_ext(const struct cfg_route *r, const char *section);

/* From a section's check hook: reports an error about <in> at the line of
 * <key> (the section header when <key> is NULL or was not set). */
void cfg_report(struct cfg_inst *in, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* From a section's check hook: returns the line where <key> was set in <in>,
 * or 0 when it holds its default. */
int cfg_key_line(const struct cfg_inst *in, const char *key);

/* Parses <val> per <k> into the struct at <base>. Returns 0, or -1 with <msg>
 * saying what was expected (no file, line or key in it). Used by the loader;
 * public for filters' tests. */
int cfg_key_set(const struct cfg_key *k, void *base, const char *val, char *msg, size_t msglen);

/* Writes the value of key <k> in the struct at <base> into <out,len> as the
 * file would spell it ("" when unset, "<redacted>" for a CFG_K_SECRET key
 * that is set). Returns <out>. */
const char *cfg_key_show(const struct cfg_key *k, const void *base, char *out, size_t len);

/* Writes <c> as an INI file of every key and its effective value, secrets
 * redacted: [gateway], the upstreams, the routes (with the keys they
 * override), then the registered sections. Returns 0 or -errno. */
int cfg_write(const struct cfg *c, FILE *f);

/* Returns true when every key of <sec> has the same value in the structs at
 * <a> and <b> (as cfg_key_show() spells them). */
bool cfg_keys_same(const struct cfg_section *sec, const void *a, const void *b);

/* Writes to <err> one line per restart-only key (CFG_K_RESTART, or any key
 * without CFG_K_ROUTE of a section with .restart) whose value differs from
 * <old> to <new>, or that a section present in only one of them sets, as
 * "FILE:LINE: [SECTION] KEY: changed; takes a restart". Returns how many. */
int cfg_restart_diff(const struct cfg *old, const struct cfg *new, FILE *err);

/* Frees what the fields of <keys> own in the struct at <base>. */
void cfg_key_free(const struct cfg_key *keys, void *base);

/* Writes <s> into <out> double-quoted, with quotes, backslashes and control
 * characters escaped and anything past 60 characters cut to "...", so that
 * an echoed value keeps an error message on one line. */
void cfg_quote(char *out, size_t outlen, const char *s);

#endif
