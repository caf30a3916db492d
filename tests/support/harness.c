/* harness.c: processes and a raw HTTP/1.1 client for the integration suites
 * (see harness.h). Readiness is a line a process prints, polled with a
 * deadline; nothing waits a fixed time.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "harness.h"

extern char **environ;

long harness_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *harness_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t len = 0, cap = 4096, n;
	char *buf;

	if (!f)
		return strdup("");
	/* read to the end: files in /proc have no size to seek to */
	buf = malloc(cap + 1);
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
	}
	buf[len] = '\0';
	fclose(f);
	return buf;
}

static pid_t harness_spawn(char *const argv[], const char *out, const char *err)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_eq(posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ), 0, "spawn %s", argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

/* Waits until <path> contains <needle> (<ms> at most); returns the content. */
static char *harness_wait_for(const char *path, const char *needle, pid_t pid, int ms)
{
	long deadline = harness_now_ms() + ms;

	for (;;) {
		char *s = harness_slurp(path);
		int st;

		if (strstr(s, needle))
			return s;
		cr_assert(waitpid(pid, &st, WNOHANG) == 0, "process exited early: %s", s);
		cr_assert(harness_now_ms() < deadline, "no \"%s\" in %s: %s", needle, path, s);
		free(s);
		poll(NULL, 0, 5);
	}
}

static void harness_tmp(char *buf, size_t len, const char *what)
{
	int fd;

	snprintf(buf, len, "/tmp/tg-%s-XXXXXX", what);
	fd = mkstemp(buf);
	cr_assert(fd >= 0);
	close(fd);
}

void harness_origin_start(struct hproc *o, const char *extra_arg)
{
	char *argv[] = {"python3", TG_SOURCE_DIR "/tests/support/origin.py", (char *)extra_arg,
	                NULL};

	harness_proc_start(o, argv);
}

void harness_proc_start(struct hproc *p, char *const argv[])
{
	char *line;

	memset(p, 0, sizeof(*p));
	harness_tmp(p->out_path, sizeof(p->out_path), "proc-out");
	harness_tmp(p->err_path, sizeof(p->err_path), "proc-err");
	p->pid = harness_spawn(argv, p->out_path, p->err_path);
	line = harness_wait_for(p->out_path, "\n", p->pid, 10000);
	cr_assert_eq(sscanf(line, "READY %d", &p->port), 1, "%s said: %s", argv[0], line);
	free(line);
}

void harness_sink_start(struct hproc *s, char *dir, size_t dirlen, const char *fault)
{
	char *argv[] = {"python3", TG_SOURCE_DIR "/tests/support/sink.py", "--dir",         dir,
	                "--fault", (char *)(fault ? fault : "ok"),         "--max-seconds", "300",
	                NULL};

	snprintf(dir, dirlen, "/tmp/tg-sink-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	harness_proc_start(s, argv);
}

void harness_certs(char *dir, size_t dirlen)
{
	char *argv[] = {"sh", TG_SOURCE_DIR "/tests/support/mkcerts.sh", dir, NULL};
	char *out, *err;
	int st;

	snprintf(dir, dirlen, "/tmp/tg-certs-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	st = harness_run(argv, &out, &err);
	cr_assert_eq(st, 0, "mkcerts.sh: %s%s", out, err);
	free(out);
	free(err);
}

void harness_rmtree(const char *dir)
{
	char *argv[] = {"rm", "-rf", "--", (char *)dir, NULL};
	char *out, *err;

	if (strncmp(dir, "/tmp/tg-", 8))
		return;
	harness_run(argv, &out, &err);
	free(out);
	free(err);
}

int harness_sink_wait(const char *dir, int n, int timeout_ms)
{
	long end = harness_now_ms() + timeout_ms;
	char path[256];
	int got = 0;

	for (;;) {
		while (got < n) {
			snprintf(path, sizeof(path), "%s/%d.json", dir, got + 1);
			if (access(path, F_OK) != 0)
				break;
			got++;
		}
		if (got >= n || harness_now_ms() >= end)
			return got;
		usleep(20 * 1000);
	}
}

/* The words of TG_WRAP (malloc'd, split at blanks into <argv>, at most
 * <max> - 1); returns how many there are, 0 without TG_WRAP. */
static int harness_wrap_argv(char **words, char *argv[], int max)
{
	const char *wrap = getenv("TG_WRAP");
	int n = 0;

	*words = NULL;
	if (!wrap || !*wrap)
		return 0;
	*words = strdup(wrap);
	for (char *save, *w = strtok_r(*words, " \t", &save); w && n < max - 1;
	     w = strtok_r(NULL, " \t", &save))
		argv[n++] = w;
	return n;
}

bool harness_gw_wrapped(void)
{
	const char *wrap = getenv("TG_WRAP");

	return wrap && *wrap;
}

/* Writes the config of printf-style <fmt,ap> to <path> through a temporary
 * file renamed over it, so that a reload never reads half a file. */
static void harness_cfg_write(const char *path, const char *fmt, va_list ap)
{
	char tmp[96], *text;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	cr_assert_not_null(f);
	cr_assert_geq(vasprintf(&text, fmt, ap), 0);
	fputs(text, f);
	/* the admin listener's fixed default port would clash between the
	 * gateways of a suite: a test that wants it says so */
	if (!strstr(text, "[admin]"))
		fputs("\n[admin]\nenabled = off\n", f);
	free(text);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(rename(tmp, path), 0);
}

void harness_gw_rewrite(struct hproc *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	harness_cfg_write(g->cfg_path, fmt, ap);
	va_end(ap);
}

void harness_gw_start(struct hproc *g, const char *fmt, ...)
{
	char *argv[40], *words;
	int n = harness_wrap_argv(&words, argv, 36);
	va_list ap;
	char *s, *p;

	memset(g, 0, sizeof(*g));
	harness_tmp(g->cfg_path, sizeof(g->cfg_path), "cfg");
	harness_tmp(g->out_path, sizeof(g->out_path), "gw-out");
	harness_tmp(g->err_path, sizeof(g->err_path), "gw-err");
	va_start(ap, fmt);
	harness_cfg_write(g->cfg_path, fmt, ap);
	va_end(ap);
	argv[n] = TG_BIN;
	argv[n + 1] = "-c";
	argv[n + 2] = g->cfg_path;
	argv[n + 3] = NULL;
	g->pid = harness_spawn(argv, g->out_path, g->err_path);
	free(words);
	/* under valgrind, starting takes seconds */
	s = harness_wait_for(g->err_path, "] ready", g->pid, n ? 120000 : 10000);
	/* one line per listener: "listening on 127.0.0.1:PORT[ (TLS)]" */
	for (p = strstr(s, "listening on "); p; p = strstr(p, "listening on ")) {
		char *eol = strchr(p, '\n'), *colon;
		int port;

		if (eol)
			*eol = '\0';
		colon = strrchr(p, ':');
		cr_assert_not_null(colon);
		port = atoi(colon + 1);
		if (strstr(p, " (TLS)") && !g->tls_port)
			g->tls_port = port;
		else if (!strstr(p, " (TLS)") && !g->port)
			g->port = port;
		p = eol ? eol + 1 : p + strlen(p);
	}
	cr_assert(g->port > 0 || g->tls_port > 0, "no listener in: %s", s);
	free(s);
}

static int harness_wait_exit(pid_t pid, int ms)
{
	long deadline = harness_now_ms() + ms;
	int st;

	while (harness_now_ms() < deadline) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		poll(NULL, 0, 5);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* Stops <g>; its stdout and log go to *<out> and *<log> (malloc'd). */
static void harness_gw_stop_all(struct hproc *g, bool allow_errors, char **out, char **log)
{
	int st;

	/* stopped already (pid 0): kill(0) would signal the whole group */
	if (g->pid <= 0) {
		*out = calloc(1, 1);
		*log = calloc(1, 1);
		return;
	}
	kill(g->pid, SIGTERM);
	/* valgrind's leak check runs after the gateway's own exit */
	st = harness_wait_exit(g->pid, harness_gw_wrapped() ? 120000 : 10000);
	*log = harness_slurp(g->err_path);
	cr_expect(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	          "tracegate did not exit 0 on SIGTERM (status %d): %s", st, *log);
	if (!allow_errors)
		cr_expect_null(strstr(*log, " error ["), "unexpected error lines: %s", *log);
	*out = harness_slurp(g->out_path);
	unlink(g->cfg_path);
	unlink(g->out_path);
	unlink(g->err_path);
	g->pid = 0; /* reaped: never signal that number again */
}

void harness_gw_stop(struct hproc *g, bool allow_errors)
{
	char *out, *log;

	harness_gw_stop_all(g, allow_errors, &out, &log);
	free(out);
	free(log);
}

char *harness_gw_stop_out(struct hproc *g, bool allow_errors)
{
	char *out, *log;

	harness_gw_stop_all(g, allow_errors, &out, &log);
	free(log);
	return out;
}

char *harness_gw_stop_log(struct hproc *g, bool allow_errors)
{
	char *out, *log;

	harness_gw_stop_all(g, allow_errors, &out, &log);
	free(out);
	return log;
}

void harness_kill(struct hproc *p)
{
	int st;

	if (p->pid <= 0)
		return;
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &st, 0);
	unlink(p->out_path);
	unlink(p->err_path);
	p->pid = 0;
}

int harness_run(char *const argv[], char **out, char **err)
{
	return harness_run_ms(argv, out, err, 10000);
}

int harness_run_ms(char *const argv[], char **out, char **err, int timeout_ms)
{
	char o[64], e[64];
	pid_t pid;
	int st;

	harness_tmp(o, sizeof(o), "run-out");
	harness_tmp(e, sizeof(e), "run-err");
	pid = harness_spawn(argv, o, e);
	st = harness_wait_exit(pid, timeout_ms);
	*out = harness_slurp(o);
	*err = harness_slurp(e);
	unlink(o);
	unlink(e);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *harness_sh(int *st, int timeout_ms, const char *fmt, ...)
{
	char *cmd, *out, *err;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	cr_assert_geq(vasprintf(&cmd, fmt, ap), 0);
	va_end(ap);
	{
		char *argv[] = {"sh", "-c", cmd, NULL};

		rc = harness_run_ms(argv, &out, &err, timeout_ms);
	}
	if (rc != 0)
		cr_log_info("%s: exit %d: %s", cmd, rc, err);
	free(cmd);
	free(err);
	if (st)
		*st = rc;
	return out;
}

int harness_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(fd >= 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
	             strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

void harness_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the gateway may close early; the response tells */
		p += n;
		len -= (size_t)n;
	}
}

void harness_send_str(int fd, const char *s)
{
	harness_send(fd, s, strlen(s));
}

/* A growable receive buffer over a socket, with one deadline. */
struct hbuf {
	int fd;
	char *b;
	size_t len, cap, off;
	long deadline;
	bool eof;
};

static bool hbuf_fill(struct hbuf *h)
{
	struct pollfd p = {.fd = h->fd, .events = POLLIN};
	long left = h->deadline - harness_now_ms();
	ssize_t n;

	if (h->eof || left <= 0 || poll(&p, 1, (int)left) <= 0)
		return false;
	if (h->cap - h->len < 65536) {
		h->cap = h->cap * 2 + 65536;
		h->b = realloc(h->b, h->cap + 1);
	}
	n = recv(h->fd, h->b + h->len, h->cap - h->len, 0);
	if (n <= 0) {
		h->eof = true;
		return false;
	}
	h->len += (size_t)n;
	h->b[h->len] = '\0';
	return true;
}

/* Leftover bytes of a connection between harness_read_resp() calls. */
static struct hbuf harness_left[1024];

static char *hbuf_line(struct hbuf *h)
{
	for (;;) {
		char *nl =
		        h->len > h->off ? memmem(h->b + h->off, h->len - h->off, "\r\n", 2) : NULL;

		if (nl) {
			char *line = h->b + h->off;

			*nl = '\0';
			h->off = (size_t)(nl - h->b) + 2;
			return line;
		}
		if (!hbuf_fill(h))
			return NULL;
	}
}

static bool hbuf_take(struct hbuf *h, size_t n, struct hresp *r)
{
	while (h->len - h->off < n)
		if (!hbuf_fill(h))
			return false;
	r->body = realloc(r->body, r->body_len + n + 1);
	memcpy(r->body + r->body_len, h->b + h->off, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	h->off += n;
	return true;
}

int harness_read_resp(int fd, struct hresp *r, bool head_req, int timeout_ms)
{
	struct hbuf *h = &harness_left[fd % 1024];
	const char *te, *cl;
	char *line;

	memset(r, 0, sizeof(*r));
	if (h->fd != fd || !h->b) {
		free(h->b);
		memset(h, 0, sizeof(*h));
		h->fd = fd;
	}
	h->deadline = harness_now_ms() + timeout_ms;
	r->body = calloc(1, 1);
	do {
		line = hbuf_line(h);
		if (!line)
			return -1;
		r->head[0] = '\0';
		if (sscanf(line, "HTTP/1.%*d %d", &r->status) != 1)
			return -1;
		strncat(r->head, line, sizeof(r->head) - strlen(r->head) - 3);
		strcat(r->head, "\r\n");
		while ((line = hbuf_line(h)) && *line) {
			strncat(r->head, line, sizeof(r->head) - strlen(r->head) - 3);
			strcat(r->head, "\r\n");
		}
		if (!line)
			return -1;
	} while (r->status >= 100 && r->status < 200 && r->status != 101);

	te = harness_field(r, "Transfer-Encoding");
	cl = harness_field(r, "Content-Length");
	if (head_req || r->status == 204 || r->status == 304 || r->status == 101) {
		r->complete = true;
	} else if (te && strcasecmp(te, "chunked") == 0) {
		for (;;) {
			size_t n;

			line = hbuf_line(h);
			if (!line)
				break;
			n = strtoul(line, NULL, 16);
			if (n == 0) {
				while ((line = hbuf_line(h)) && *line)
					;
				r->complete = line != NULL;
				break;
			}
			if (!hbuf_take(h, n, r) || !(line = hbuf_line(h)))
				break;
		}
	} else if (cl) {
		r->complete = hbuf_take(h, strtoull(cl, NULL, 10), r);
	} else {
		while (hbuf_fill(h))
			;
		hbuf_take(h, h->len - h->off, r);
		r->complete = h->eof;
	}
	/* closed now, or announced */
	if (!h->eof && h->len == h->off) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char c;

		if (poll(&p, 1, 0) == 1 && recv(fd, &c, 1, MSG_PEEK) == 0)
			h->eof = true;
	}
	r->closed = h->eof;
	return 0;
}

void harness_resp_free(struct hresp *r)
{
	free(r->body);
	r->body = NULL;
}

void harness_close(int fd)
{
	/* forget first: once closed, another thread may get the same number */
	free(harness_left[fd % 1024].b);
	memset(&harness_left[fd % 1024], 0, sizeof(harness_left[0]));
	close(fd);
}

void harness_request(int port, const char *req, struct hresp *r)
{
	int fd = harness_connect(port);

	harness_send_str(fd, req);
	cr_assert_eq(harness_read_resp(fd, r, strncmp(req, "HEAD ", 5) == 0, 10000), 0,
	             "no response to %s", req);
	harness_close(fd);
}

const char *harness_field(const struct hresp *r, const char *name)
{
	static _Thread_local char val[8192]; /* per thread: load tests read from several */
	size_t nl = strlen(name);
	const char *p = strstr(r->head, "\r\n");

	while (p && p[2]) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *e = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(val, sizeof(val), "%.*s", (int)(e - v), v);
			return val;
		}
		p = strstr(p, "\r\n");
	}
	return NULL;
}

bool harness_wait_closed(int fd, int timeout_ms)
{
	struct hbuf *h = &harness_left[fd % 1024];
	long deadline = harness_now_ms() + timeout_ms;

	if (h->fd == fd && h->eof)
		return true;
	while (harness_now_ms() < deadline) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char b[4096];

		if (poll(&p, 1, (int)(deadline - harness_now_ms())) <= 0)
			return false;
		if (recv(fd, b, sizeof(b), 0) <= 0)
			return true;
	}
	return false;
}

size_t harness_read_all(int fd, char **out, int timeout_ms)
{
	struct hbuf h = {.fd = fd, .deadline = harness_now_ms() + timeout_ms};

	while (hbuf_fill(&h))
		;
	if (!h.b)
		h.b = calloc(1, 1);
	*out = h.b;
	return h.len;
}

void harness_origin_stats(int port, long *connections, long *requests)
{
	struct hresp r;
	char *p;

	harness_request(port, "GET /_origin/stats HTTP/1.1\r\nHost: o\r\n\r\n", &r);
	p = strstr(r.body, "\"connections\":");
	*connections = p ? strtol(p + 14, NULL, 10) : -1;
	p = strstr(r.body, "\"requests\":");
	*requests = p ? strtol(p + 11, NULL, 10) : -1;
	harness_resp_free(&r);
}

void harness_origin_open(int port, long *open_conns)
{
	struct hresp r;
	char *p;

	harness_request(port, "GET /_origin/stats HTTP/1.1\r\nHost: o\r\n\r\n", &r);
	p = strstr(r.body, "\"open\":");
	*open_conns = p ? strtol(p + 7, NULL, 10) : -1;
	harness_resp_free(&r);
}

int harness_admin_port(const struct hproc *g)
{
	char *log = harness_slurp(g->err_path);
	const char *p = strstr(log, "admin listening on ");
	int port;

	cr_assert_not_null(p, "no admin listener in: %s", log);
	p = strchr(p + 19, ':');
	port = p ? atoi(p + 1) : 0;
	free(log);
	cr_assert_gt(port, 0, "no admin port in the log");
	return port;
}

long harness_metric(const struct hproc *g, const char *name)
{
	struct hresp r;
	size_t n = strlen(name);
	long v = -1;

	harness_request(harness_admin_port(g),
	                "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &r);
	cr_assert_eq(r.status, 200, "GET /metrics: %s", r.head);
	for (const char *p = r.body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			v = atol(p + n + 1);
	harness_resp_free(&r);
	return v;
}

long harness_rss_kb(pid_t pid)
{
	char path[64], *s, *p;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	s = harness_slurp(path);
	p = strstr(s, "VmRSS:");
	if (p)
		kb = strtol(p + 6, NULL, 10);
	free(s);
	return kb;
}

int harness_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

bool harness_is_pattern(const char *b, size_t n, size_t offset)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)b[i] != (((i + offset) * 31 + 7) & 0xff))
			return false;
	return true;
}

int harness_wait_fds(pid_t pid, int fds, int timeout_ms)
{
	long end = harness_now_ms() + timeout_ms;
	int n;

	while ((n = harness_fd_count(pid)) != fds && harness_now_ms() < end)
		usleep(20 * 1000);
	return n;
}

void harness_sha256_hex(const void *b, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int len;

	EVP_Digest(b, n, md, &len, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		sprintf(out + i * 2, "%02x", md[i]);
}
