/* main.c: the tracegate process: arguments, boot order, signals, exit codes.
 *
 * Boot: read the config (exit 2 on any error), open the access log, bind
 * one SO_REUSEPORT socket per worker and listen address (exit 1 when that
 * fails), start the workers, then wait for signals on the main thread:
 * SIGTERM/SIGINT drain and stop, SIGHUP reloads the config (gen.h), SIGUSR1
 * reopens files. Exit codes: 0 ok, 1 runtime error, 2 config error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "admin.h"
#include "cfg.h"
#include "filter.h"
#include "gen.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "worker.h"

#define MAIN_BACKLOG 1024

static void main_usage(FILE *f)
{
	fprintf(f, "Usage: tracegate [-t | -s SIGNAL] -c FILE\n"
	           "  -c, --config FILE  configuration file (INI)\n"
	           "  -t, --test         check the configuration and exit (0: valid, 2: errors)\n"
	           "  -s, --signal SIGNAL  tell the gateway running FILE (its pid_file) to\n"
	           "                     reload (SIGHUP), reopen (SIGUSR1) or stop (SIGTERM)\n"
	           "  -v, --version      print the version and exit\n"
	           "  -h, --help         print this help and exit\n"
	           "Signals: SIGTERM/SIGINT stop gracefully (drain_timeout_ms);\n"
	           "SIGHUP reloads the configuration file (an invalid one is refused);\n"
	           "SIGUSR1 reopens the access log and the jsonl exporter's file.\n");
}

/* Opens one listening socket on <a>; when <a> asks for port 0, the caller
 * passes the port the first socket got so every worker shares it. */
static int main_listen(const struct cfg_addr *a, struct sockaddr_storage *bound, socklen_t *blen)
{
	int one = 1, fd;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)bound, *blen) < 0 || listen(fd, MAIN_BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)bound, blen) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int main_open_access_log(const char *where)
{
	if (strcmp(where, "off") == 0)
		return -1;
	if (strcmp(where, "stdout") == 0)
		return STDOUT_FILENO;
	if (strcmp(where, "stderr") == 0)
		return STDERR_FILENO;
	return open(where, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

struct main_state {
	const char *path;
	struct worker *workers;
	int n;
	struct event_base *base;
	struct metrics *metrics;
	struct gen *cur; /* what the workers run, or are being handed */
	const char *access_log;
	int alog_fd;
	bool draining;
	struct event *reload_retry;
};

/* SIGUSR1: the files we append to were rotated away; start new ones. The
 * new access log takes the old one's descriptor number with dup2(), which
 * swaps it atomically under the workers' feet: no line is lost or torn. */
static void main_on_reopen(evutil_socket_t sig, short what, void *arg)
{
	struct main_state *m = arg;
	int fd;

	if (m->alog_fd > STDERR_FILENO) {
		fd = main_open_access_log(m->access_log);
		if (fd < 0 || dup2(fd, m->alog_fd) < 0)
			log_main(LOG_ERROR, "cannot reopen access_log %s: %s", m->access_log,
			         strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	flt_reopen_all(flt_builtin);
	log_main(LOG_INFO, "%s: files reopened", strsignal((int)sig));
}

static void main_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct main_state *m = arg;

	log_main(LOG_INFO, "%s: draining", strsignal((int)sig));
	m->draining = true;
	admin_set_draining();
	for (int i = 0; i < m->n; i++)
		worker_stop(&m->workers[i]);
	event_base_loopexit(m->base, NULL);
}

/* Binds, for each of <nw> workers, every listener address of <c> (listen,
 * then listen_tls) that <old> (NULL at boot) does not have into <fds>
 * (worker-major, CFG_MAX_LISTENERS apart); the slots of addresses <old> has
 * get -1. Returns 0, or a negative errno having logged why and closed what
 * it bound. */
static int main_bind(const struct cfg *c, const struct cfg *old, int nw, int *fds)
{
	const struct cfg_gateway *g = &c->gw;
	int err = 0, l;

	for (int i = 0; i < nw * CFG_MAX_LISTENERS; i++)
		fds[i] = -1;
	for (l = 0; l < cfg_gw_n_listeners(g) && !err; l++) {
		const struct cfg_addr *a = cfg_gw_listener(g, l);
		struct sockaddr_storage bound = a->ss;
		socklen_t blen = a->len;
		bool had = false;
		char text[80];

		for (int o = 0; old && o < cfg_gw_n_listeners(&old->gw); o++)
			had |= strcmp(cfg_gw_listener(&old->gw, o)->text, a->text) == 0;
		for (int w = 0; w < nw && !had && !err; w++) {
			int fd = main_listen(a, &bound, &blen);

			if (fd < 0) {
				log_main(LOG_ERROR, "cannot listen on %s: %s", a->text,
				         strerror(-fd));
				err = fd;
				break;
			}
			fds[w * CFG_MAX_LISTENERS + l] = fd;
		}
		if (!had && !err)
			log_main(LOG_INFO, "listening on %s%s",
			         util_addr_text((struct sockaddr *)&bound, text, sizeof(text)),
			         cfg_gw_listener_tls(g, l) ? " (TLS)" : "");
	}
	for (int i = 0; err && i < nw * CFG_MAX_LISTENERS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return err;
}

/* Logs each line of <text> at <level>. */
static void main_log_lines(int level, char *text)
{
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		log_main(level, "%s", line);
}

/* Reads the file again and checks it: 0 with the new generation in *<out>
 * and the sockets of its new listeners in <fds>, or a negative errno,
 * every reason written to <why>. */
static int main_reload_prepare(struct main_state *m, FILE *why, struct gen **out, int *fds)
{
	struct cfg *c;
	int err = cfg_load(m->path, why, &c);

	*out = NULL;
	if (err)
		return err;
	if (cfg_restart_diff(m->cur->cfg, c, why)) {
		cfg_free(c);
		return -EINVAL;
	}
	if (!(*out = gen_new(c, m->cur->serial + 1, m->metrics, flt_builtin, &err))) {
		fprintf(why, "%s: %s\n", m->path,
		        err == -ENOSPC ? "more route or upstream names than a reload can add; "
		                         "restart"
		                       : strerror(-err));
		return err;
	}
	if ((err = main_bind((*out)->cfg, m->cur->cfg, m->n, fds))) {
		gen_put(*out);
		*out = NULL;
	}
	return err;
}

/* SIGHUP: reads the configuration file again. A file with errors, or one
 * that changes what only a restart can change, leaves everything as it
 * was. Otherwise every worker is handed the new generation: requests that
 * start from then on run under it, those in flight finish under theirs. */
static void main_reload(struct main_state *m)
{
	struct worker_update **u = calloc((size_t)m->n, sizeof(*u));
	int *fds = malloc(sizeof(int) * (size_t)m->n * CFG_MAX_LISTENERS);
	char *why = NULL;
	size_t why_len = 0;
	FILE *f = open_memstream(&why, &why_len);
	struct gen *g = NULL;
	int err = !u || !fds || !f ? -ENOMEM : 0;

	for (int i = 0; !err && i < m->n; i++)
		if (!(u[i] = malloc(sizeof(*u[i]))))
			err = -ENOMEM;
	if (!err)
		err = main_reload_prepare(m, f, &g, fds);
	if (f)
		fclose(f);
	if (why)
		main_log_lines(LOG_ERROR, why);
	if (err) {
		log_main(LOG_ERROR, "reload of %s refused (%s): configuration %llu stays", m->path,
		         err == -EINVAL ? "see above" : strerror(-err),
		         (unsigned long long)m->cur->serial);
		metrics_config_reload(m->metrics, false);
	} else {
		for (int i = 0; i < m->n; i++) {
			gen_get(g);
			u[i]->g = g;
			memcpy(u[i]->fds, &fds[i * CFG_MAX_LISTENERS], sizeof(u[i]->fds));
			worker_update(&m->workers[i], u[i]);
			u[i] = NULL;
		}
		m->cur = g;
		gen_set_current(g);
		log_level = log_level_parse(g->cfg->gw.log_level);
		metrics_config_reload(m->metrics, true);
		log_main(LOG_INFO, "%s reloaded: configuration %llu, %d routes, %d upstreams",
		         m->path, (unsigned long long)g->serial, g->cfg->n_routes,
		         g->cfg->n_upstreams);
	}
	for (int i = 0; u && i < m->n; i++)
		free(u[i]);
	free(u);
	free(fds);
	free(why);
}

static void main_on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct main_state *m = arg;
	struct timeval soon = {0, 50 * 1000};

	if (m->draining) {
		log_main(LOG_WARN, "reload ignored: the gateway is stopping");
		return;
	}
	/* one reload at a time: the workers take the last one up within a
	 * loop turn, so a second SIGHUP right after it waits that long */
	for (int i = 0; i < m->n; i++) {
		if (worker_serial(&m->workers[i]) != m->cur->serial) {
			evtimer_add(m->reload_retry, &soon);
			return;
		}
	}
	main_reload(m);
}

static void main_on_reload_retry(evutil_socket_t fd, short what, void *arg)
{
	main_on_reload(SIGHUP, what, arg);
}

/* The metrics registry for the routes and upstreams of <c>, or NULL. */
static struct metrics *main_metrics(const struct cfg *c)
{
	const char **routes = calloc((size_t)c->n_routes + 1, sizeof(*routes));
	const char **ups = calloc((size_t)c->n_upstreams + 1, sizeof(*ups));
	struct metrics *m = NULL;

	if (routes && ups) {
		for (int i = 0; i < c->n_routes; i++)
			routes[i] = c->routes[i].name;
		for (int i = 0; i < c->n_upstreams; i++)
			ups[i] = c->upstreams[i].name;
		m = metrics_new(c->gw.workers, c->n_routes, routes, c->n_upstreams, ups);
	}
	free(routes);
	free(ups);
	return m;
}

static int main_write_pid(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
		log_main(LOG_ERROR, "cannot write pid_file %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Runs the gateway on config <c>, which it owns. */
static int main_run(const char *path, struct cfg *c)
{
	const struct cfg_gateway *gw = &c->gw;
	struct main_state m = {.path = path};
	struct event *sigs[4];
	struct gen *boot;
	int *fds, alog_fd, err, started = 0;

	/* Body bytes pass through evbuffer chunks of up to a few hundred kB.
	 * By default glibc serves such blocks with mmap() or hands a worker
	 * arena's free top back with madvise(), so every large response paid
	 * for page faults on fresh memory: 0.80 ms of CPU per proxied 1 MiB
	 * response against 0.56 ms with these two settings, for 2 MB more
	 * RSS. Free memory above 16 MiB still goes back to the kernel. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	mallopt(M_TRIM_THRESHOLD, 16 << 20);
	signal(SIGPIPE, SIG_IGN);
	alog_fd = main_open_access_log(gw->access_log);
	if (alog_fd < 0 && strcmp(gw->access_log, "off") != 0) {
		log_main(LOG_ERROR, "cannot open access_log %s: %s", gw->access_log,
		         strerror(errno));
		cfg_free(c);
		return 1;
	}
	m.n = gw->workers;
	m.workers = calloc((size_t)m.n, sizeof(*m.workers));
	fds = malloc(sizeof(int) * (size_t)m.n * CFG_MAX_LISTENERS);
	m.base = event_base_new();
	if (!m.workers || !fds || !m.base || main_bind(c, NULL, m.n, fds) < 0 ||
	    (gw->pid_file && main_write_pid(gw->pid_file) < 0)) {
		cfg_free(c);
		return 1;
	}
	if (!(m.metrics = main_metrics(c))) {
		log_main(LOG_ERROR, "cannot create the metrics: %s", strerror(errno));
		cfg_free(c);
		return 1;
	}
	metrics_set_process(m.metrics);
	if ((err = flt_init_all(flt_builtin, c))) {
		log_main(LOG_ERROR, "filter initialisation failed: %s", strerror(-err));
		cfg_free(c);
		return 1;
	}
	if (!(boot = gen_new(c, 1, m.metrics, flt_builtin, &err))) {
		log_main(LOG_ERROR, "cannot set up the configuration: %s", strerror(-err));
		flt_deinit_all(flt_builtin);
		return 1;
	}
	/* The exporters and the admin listener keep pointers into the boot
	 * config for the process's life (what they read takes a restart to
	 * change): this reference keeps it. */
	gen_get(boot);
	m.cur = boot;
	gen_set_current(boot);
	/* after the filters: their init() adds their admin routes */
	if (admin_start(c, m.metrics)) {
		flt_deinit_all(flt_builtin);
		return 1;
	}
	for (int i = 0; i < m.n; i++) {
		gen_get(boot);
		err = worker_init(&m.workers[i], i, boot, flt_builtin, &fds[i * CFG_MAX_LISTENERS],
		                  cfg_gw_n_listeners(gw), alog_fd);
		m.workers[i].m = metrics_worker(m.metrics, i);
		if (!err)
			err = worker_start(&m.workers[i]);
		if (err) {
			log_main(LOG_ERROR, "cannot start worker %d: %s", i, strerror(-err));
			break;
		}
		started++;
	}
	sigs[0] = evsignal_new(m.base, SIGTERM, main_on_signal, &m);
	sigs[1] = evsignal_new(m.base, SIGINT, main_on_signal, &m);
	sigs[2] = evsignal_new(m.base, SIGUSR1, main_on_reopen, &m);
	sigs[3] = evsignal_new(m.base, SIGHUP, main_on_reload, &m);
	m.reload_retry = evtimer_new(m.base, main_on_reload_retry, &m);
	m.access_log = gw->access_log;
	m.alog_fd = alog_fd;
	for (int i = 0; i < 4; i++)
		evsignal_add(sigs[i], NULL);
	if (started == m.n) {
		log_main(LOG_INFO, "ready (%d workers)", m.n);
		event_base_dispatch(m.base);
	} else {
		for (int i = 0; i < started; i++)
			worker_stop(&m.workers[i]);
	}
	for (int i = 0; i < started; i++)
		worker_join(&m.workers[i]);
	log_main(LOG_INFO, "stopped");
	admin_stop(); /* its handlers may read what the filters own */
	flt_deinit_all(flt_builtin);
	if (gw->pid_file)
		unlink(gw->pid_file);
	gen_set_current(NULL);
	gen_put(boot); /* gw is gone with it */
	metrics_set_process(NULL);
	metrics_free(m.metrics);
	for (int i = 0; i < 4; i++)
		event_free(sigs[i]);
	event_free(m.reload_retry);
	event_base_free(m.base);
	free(m.workers);
	free(fds);
	if (alog_fd > STDERR_FILENO)
		close(alog_fd);
	return started == m.n ? 0 : 1;
}

/* tracegate -s: signals the running gateway whose PID the pid_file of the
 * config at <path> holds. */
static int main_send(const char *path, const char *what)
{
	static const struct {
		const char *name;
		int sig;
	} cmds[] = {{"reload", SIGHUP}, {"reopen", SIGUSR1}, {"stop", SIGTERM}};
	struct cfg *c;
	char buf[32] = "";
	long pid = 0;
	FILE *f;
	int sig = 0, rc = 1;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(what, cmds[i].name) == 0)
			sig = cmds[i].sig;
	if (!sig) {
		fprintf(stderr, "tracegate: -s %s: expected reload, reopen or stop\n", what);
		return 2;
	}
	if (cfg_load(path, stderr, &c) < 0)
		return 2;
	if (!c->gw.pid_file) {
		fprintf(stderr, "tracegate: %s sets no [gateway] pid_file: -s needs it\n", path);
	} else if (!(f = fopen(c->gw.pid_file, "re"))) {
		fprintf(stderr, "tracegate: %s: %s (is the gateway running?)\n", c->gw.pid_file,
		        strerror(errno));
	} else {
		if (!fgets(buf, sizeof(buf), f) || (pid = strtol(buf, NULL, 10)) <= 1)
			fprintf(stderr, "tracegate: %s holds no PID\n", c->gw.pid_file);
		else if (kill((pid_t)pid, sig) < 0)
			fprintf(stderr, "tracegate: process %ld: %s\n", pid, strerror(errno));
		else
			rc = 0;
		fclose(f);
	}
	cfg_free(c);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'}, {"test", no_argument, NULL, 't'},
	        {"signal", required_argument, NULL, 's'}, {"version", no_argument, NULL, 'v'},
	        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	const char *path = NULL, *signame = NULL;
	bool test = false;
	struct cfg *c;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "c:ts:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = true;
			break;
		case 's':
			signame = optarg;
			break;
		case 'v':
			printf("tracegate %s\n", TG_VERSION);
			return 0;
		case 'h':
			main_usage(stdout);
			return 0;
		default:
			main_usage(stderr);
			return 2;
		}
	}
	if (!path || optind != argc || (test && signame)) {
		main_usage(stderr);
		return 2;
	}
	if ((rc = admin_declare()) || (rc = flt_declare_all(flt_builtin))) {
		log_main(LOG_ERROR, "filter configuration tables: %s", strerror(-rc));
		return 1;
	}
	if (signame)
		return main_send(path, signame);
	if (cfg_load(path, stderr, &c) < 0)
		return 2;
	if (test) {
		printf("%s: OK\n", path);
		cfg_free(c);
		return 0;
	}
	log_level = log_level_parse(c->gw.log_level);
	return main_run(path, c);
}
