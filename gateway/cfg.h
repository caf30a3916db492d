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
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define CFG_MAX_LISTEN  16
#define CFG_MAX_SERVERS 64

/* A resolved address with the text the operator wrote, for logs. */
struct cfg_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64]; /* "127.0.0.1:8080", "[::1]:8080" */
};

struct cfg_gateway {
	struct cfg_addr listen[CFG_MAX_LISTEN];
	int n_listen;
	int workers;              /* resolved: "auto" -> number of online CPUs */
	char *service_name;
	char *access_log;         /* "stdout", "stderr", "off" or a path */
	char *log_level;          /* "error", "warn", "info", "debug" */
	uint32_t max_head_bytes;  /* > -> 431 */
	uint32_t max_headers;     /* field lines per head; > -> 431 */
	uint32_t max_target_bytes; /* > -> 414 */
	uint64_t max_body_bytes;  /* request body; 0 = unlimited; > -> 413 */
	uint32_t header_timeout_ms; /* whole head must arrive in this time -> 408 */
	uint32_t idle_timeout_ms;   /* keep-alive client connection idle */
	uint32_t client_timeout_ms; /* no progress reading or writing a body */
	uint32_t drain_timeout_ms;  /* graceful stop bound */
	uint32_t max_connections;   /* per worker; further accepts wait */
};

enum cfg_balance {
	CFG_BALANCE_ROUND_ROBIN,
	CFG_BALANCE_LEAST_REQUEST,
};

struct cfg_upstream {
	char *name;
	int line;                  /* where its section starts, for cross-checks */
	struct cfg_addr servers[CFG_MAX_SERVERS];
	int n_servers;
	enum cfg_balance balance;
	uint32_t keepalive;          /* idle connections kept per worker and server */
	uint32_t idle_timeout_ms;    /* idle pooled connection lifetime */
	uint32_t connect_timeout_ms; /* -> 502 */
	uint32_t response_timeout_ms; /* request sent -> response head; also between body reads; -> 504 */
	uint32_t max_fails;          /* consecutive failures that eject a server; 0 = never */
	uint32_t fail_timeout_ms;    /* how long an ejected server stays out */
	bool retry_connect;          /* retry an idempotent request once on another server */
	char *host_header;           /* Host sent upstream; NULL = the client's */
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
	char *host;            /* NULL = any host; "*.suffix" matches subdomains of suffix */
	char *path_prefix;     /* default "/" */
	unsigned methods;      /* CFG_M_* */
	char *upstream_name;
	struct cfg_upstream *upstream; /* resolved after the whole file is read */
};

struct cfg {
	char *path;
	struct cfg_gateway gw;
	struct cfg_upstream *upstreams;
	int n_upstreams;
	struct cfg_route *routes;
	int n_routes;
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

#endif
