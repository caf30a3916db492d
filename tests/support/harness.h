/* harness.h: what the integration suites share: starting the real tracegate
 * binary and the test origin (tests/support/origin.py) on 127.0.0.1 with
 * ephemeral ports, a raw HTTP/1.1 client that shows exactly what came back,
 * and /proc readings. Every wait is bounded, so a hung gateway fails a test
 * instead of hanging it.
 */
#ifndef TG_HARNESS_H
#define TG_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct hproc {
	pid_t pid;
	int port;          /* a gateway's first cleartext listener */
	int tls_port;      /* a gateway's first TLS listener, 0 without one */
	char out_path[64]; /* stdout file */
	char err_path[64]; /* stderr file */
	char cfg_path[64]; /* gateway config file, if any */
};

/* Starts <argv>, a test process that prints "READY <port>" on stdout once
 * it listens; fills p->port (asserts on failure). */
void harness_proc_start(struct hproc *p, char *const argv[]);

/* Starts the origin; returns its port (asserts on failure). */
void harness_origin_start(struct hproc *o, const char *extra_arg);

/* Starts the collector stand-in (tests/support/sink.py) with fault script
 * <fault> (NULL = "ok"), storing requests in a new directory whose path it
 * writes to <dir,dirlen>; fills s->port. */
void harness_sink_start(struct hproc *s, char *dir, size_t dirlen, const char *fault);

/* Makes the test certificates of tests/support/mkcerts.sh (its standard
 * set: ca, localhost, a, b, wild, client, other-ca; NAME.pem and NAME.key)
 * in a new directory whose path it writes to <dir,dirlen>. */
void harness_certs(char *dir, size_t dirlen);

/* Removes <dir> and what it holds (only under /tmp/tg-). */
void harness_rmtree(const char *dir);

/* Waits up to <timeout_ms> until the sink stored <n> requests; returns how
 * many it stored. */
int harness_sink_wait(const char *dir, int n, int timeout_ms);

/* Starts tracegate on a config made from printf-style <fmt> (use
 * "listen = 127.0.0.1:0", "listen_tls = 127.0.0.1:0"); waits for "ready" and
 * fills g->port and g->tls_port.
 * With the environment variable TG_WRAP set (e.g. "valgrind --error-exitcode=99
 * --leak-check=full"), its blank-separated words come before the binary:
 * g->pid is then the wrapper's process, which runs the gateway (valgrind
 * does, in itself), and the waits for "ready" and for the exit grow from
 * 10 s to 120 s. */
void harness_gw_start(struct hproc *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether gateways start under TG_WRAP (their RSS is then the wrapper's). */
bool harness_gw_wrapped(void);

/* Replaces <g>'s config file with printf-style <fmt>, atomically, with the
 * admin listener off as harness_gw_start() writes it; a SIGHUP loads it. */
void harness_gw_rewrite(struct hproc *g, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Sends SIGTERM to <g>, asserts a clean exit 0 within 10 s and, unless
 * <allow_errors>, no "error" line in its log. */
void harness_gw_stop(struct hproc *g, bool allow_errors);

/* Same, and returns what the gateway wrote to stdout (malloc'd). */
char *harness_gw_stop_out(struct hproc *g, bool allow_errors);

/* Same, and returns its log (stderr, malloc'd). */
char *harness_gw_stop_log(struct hproc *g, bool allow_errors);

/* Kills <p> (SIGKILL) and reaps it; nothing when it is not running (a
 * stopped gateway's pid is 0). For suites' fini: a failed assertion ends a
 * test before it stops what it started. */
void harness_kill(struct hproc *p);

/* Runs <argv> to completion; captures stdout/stderr (NUL-terminated, malloc'd)
 * and returns the exit status. */
int harness_run(char *const argv[], char **out, char **err);

/* Same, killing it (SIGKILL; status -1) after <timeout_ms> instead of 10 s. */
int harness_run_ms(char *const argv[], char **out, char **err, int timeout_ms);

/* Runs printf-style shell command <fmt> with sh -c for at most
 * <timeout_ms>; returns its stdout (malloc'd) and, when <st> is not NULL,
 * its exit status in *<st>. A failure's stderr goes to the test log. */
char *harness_sh(int *st, int timeout_ms, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Reads the whole file at <path> (malloc'd, NUL-terminated). */
char *harness_slurp(const char *path);

/* Raw client. Threads may each use their own connections: the buffers are
 * per descriptor. */
int harness_connect(int port);
/* Closes <fd> and forgets what was buffered for it. */
void harness_close(int fd);
void harness_send(int fd, const void *buf, size_t len);
void harness_send_str(int fd, const char *s);

struct hresp {
	int status;
	char head[65536]; /* status line and fields, NUL-terminated */
	char *body;       /* malloc'd */
	size_t body_len;
	bool closed;   /* the gateway closed the connection after it */
	bool complete; /* the body was complete per its framing */
};

/* Reads one response from <fd> (no body for HEAD when <head_req>); waits at
 * most <timeout_ms>. Returns 0, or -1 when nothing (or no head) arrived. */
int harness_read_resp(int fd, struct hresp *r, bool head_req, int timeout_ms);
void harness_resp_free(struct hresp *r);

/* One request on a new connection; returns the response. */
void harness_request(int port, const char *req, struct hresp *r);

/* Returns the value of field <name> in r->head (a buffer of the calling
 * thread, reused by its next call) or NULL. */
const char *harness_field(const struct hresp *r, const char *name);

/* Returns true when the peer closes <fd> within <timeout_ms> (bytes that
 * arrive first are discarded). */
bool harness_wait_closed(int fd, int timeout_ms);

/* Reads until the peer closes or <timeout_ms>; returns bytes read (malloc'd). */
size_t harness_read_all(int fd, char **out, int timeout_ms);

/* Origin counters from /_origin/stats (queried directly). */
void harness_origin_stats(int port, long *connections, long *requests);

/* Connections the origin has open now (the query's own included). */
void harness_origin_open(int port, long *open_conns);

/* The port of the admin listener gateway <g> logged it listens on
 * ("admin listening on HOST:PORT"; asserts that it did). */
int harness_admin_port(const struct hproc *g);

/* The value of sample <name>, labels included as /metrics writes them
 * (tracegate_h2_abuse_total{kind="protocol"}), in the /metrics of gateway
 * <g>'s admin listener; -1 when there is no such line. */
long harness_metric(const struct hproc *g, const char *name);

/* /proc readings for <pid>. */
long harness_rss_kb(pid_t pid);
int harness_fd_count(pid_t pid);

/* Waits up to <timeout_ms> for <pid>'s descriptor count to be <fds>;
 * returns the last count read. */
int harness_wait_fds(pid_t pid, int fds, int timeout_ms);

/* Monotonic milliseconds. */
long harness_now_ms(void);

/* The SHA-256 of <b,n> as 64 lowercase hex digits and a NUL. */
void harness_sha256_hex(const void *b, size_t n, char out[65]);

/* The origin's pattern bytes: byte i = (i*31+7) & 0xff. */
bool harness_is_pattern(const char *b, size_t n, size_t offset);

#endif
