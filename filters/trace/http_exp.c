/* http_exp.c: the exporters that POST span batches to a collector: OTLP/HTTP
 * (protobuf or JSON) and Zipkin v2.
 *
 * One batch is encoded (encode.h) and, with compression = gzip, deflated
 * once, then posted over the exporter's kept-alive connection (httpc.h).
 * Retried only when the collector may take it later: on 429, 502, 503 and
 * 504, honouring Retry-After, and on refused, reset or timed-out
 * connections, with exponential backoff and jitter, for at most retry_ms.
 * Any other answer is final: 2xx acknowledges the batch, the rest rejects
 * it. Runs on the exporter's own thread.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cfg.h"
#include "log.h"
#include "trace/encode.h"
#include "trace/export.h"
#include "trace/httpc.h"
#include "trace/trace.h"
#include "util.h"

#define HTTP_EXP_BACKOFF_MS     500                  /* first wait before a retry */
#define HTTP_EXP_BACKOFF_MAX_MS 5000                 /* the waits double up to this */
#define HTTP_EXP_LOG_NS         (10 * 1000000000ull) /* one failure line per this */
#define HTTP_EXP_HDR_MAX        16

typedef int (*http_exp_encode_fn)(struct tbuf *b, const struct export_resource *res,
                                  const struct span *const *spans, int n);

struct http_exp {
	const char *name; /* "otlp", "zipkin": for logs */
	const struct trace_exp_cfg *cfg;
	struct httpc *hc;
	http_exp_encode_fn encode;
	const char *ctype;
	struct export_resource res;
	char host[256];
	char *hdrs[HTTP_EXP_HDR_MAX]; /* "Name: value" */
	int n_hdrs;
	struct tbuf body, gz;
	z_stream z;
	bool z_ready;
	uint64_t rng;        /* xorshift state for the jitter */
	uint64_t log_ns;     /* when the last failure was logged */
	uint64_t log_missed; /* failures not logged since */
};

/* Logs a failed export at most once per HTTP_EXP_LOG_NS, counting the rest:
 * a dead collector must not flood the log. */
static void http_exp_log(struct http_exp *x, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void http_exp_log(struct http_exp *x, const char *fmt, ...)
{
	uint64_t now = util_mono_ns();
	char msg[512];
	va_list ap;

	if (x->log_ns && now - x->log_ns < HTTP_EXP_LOG_NS) {
		x->log_missed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (x->log_missed)
		log_main(LOG_WARN, "%s exporter: %s (%llu more failures since the last report)",
		         x->name, msg, (unsigned long long)x->log_missed);
	else
		log_main(LOG_WARN, "%s exporter: %s", x->name, msg);
	x->log_ns = now;
	x->log_missed = 0;
}

/* Deflates <x->body> into <x->gz> as a gzip stream. Returns 0 or -1. */
static int http_exp_gzip(struct http_exp *x)
{
	z_stream *z = &x->z;
	int r;

	if (deflateReset(z) != Z_OK || !tbuf_reserve(&x->gz, deflateBound(z, x->body.len)))
		return -1;
	tbuf_reset(&x->gz);
	z->next_in = (Bytef *)x->body.p;
	z->avail_in = (uInt)x->body.len;
	z->next_out = (Bytef *)x->gz.p;
	z->avail_out = (uInt)x->gz.cap;
	r = deflate(z, Z_FINISH);
	if (r != Z_STREAM_END)
		return -1;
	x->gz.len = x->gz.cap - z->avail_out;
	return 0;
}

/* Is the failure <err> (a negative errno from httpc_post) worth a retry? */
static bool http_exp_retry_err(int err)
{
	return err == -ECONNREFUSED || err == -ECONNRESET || err == -ETIMEDOUT ||
	       err == -EHOSTUNREACH;
}

static bool http_exp_retry_status(int status)
{
	return status == 429 || status == 502 || status == 503 || status == 504;
}

/* The wait before retry <attempt> (1, 2...): the backoff doubled per
 * attempt, then a uniform draw between half and all of it. */
static uint64_t http_exp_backoff_ms(struct http_exp *x, int attempt)
{
	uint64_t ms = HTTP_EXP_BACKOFF_MS;

	for (int i = 1; i < attempt && ms < HTTP_EXP_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > HTTP_EXP_BACKOFF_MAX_MS)
		ms = HTTP_EXP_BACKOFF_MAX_MS;
	x->rng ^= x->rng << 13;
	x->rng ^= x->rng >> 7;
	x->rng ^= x->rng << 17;
	return ms / 2 + x->rng % (ms / 2 + 1);
}

/* Sleeps <ms> unless <stop_fd> becomes readable first; false if it did. */
static bool http_exp_sleep(int stop_fd, uint64_t ms)
{
	struct pollfd p = {.fd = stop_fd, .events = POLLIN};

	return poll(&p, stop_fd >= 0 ? 1 : 0, (int)ms) <= 0;
}

static enum export_status http_exp_send(void *st, const struct span *const *spans, int n,
                                        const struct export_ctl *ctl)
{
	struct http_exp *x = st;
	struct httpc_req q = {
	        .ctype = x->ctype, .hdrs = (const char *const *)x->hdrs, .n_hdrs = x->n_hdrs};
	uint64_t start = util_mono_ns(), budget = (uint64_t)x->cfg->retry_ms * 1000000u;
	struct httpc_resp r;

	tbuf_reset(&x->body);
	if (x->encode(&x->body, &x->res, spans, n) < 0 || (x->z_ready && http_exp_gzip(x) < 0)) {
		http_exp_log(x, "cannot encode %d spans: out of memory", n);
		return EXPORT_FAILED;
	}
	q.body = x->z_ready ? x->gz.p : x->body.p;
	q.len = x->z_ready ? x->gz.len : x->body.len;
	q.cenc = x->z_ready ? "gzip" : NULL;
	for (int attempt = 1;; attempt++) {
		uint64_t now = util_mono_ns(), deadline = now + x->cfg->timeout_ms * 1000000ull;
		uint64_t wait_ms;
		int err;

		if (ctl->deadline_ns && deadline > ctl->deadline_ns)
			deadline = ctl->deadline_ns;
		err = httpc_post(x->hc, &q, deadline, ctl->stop_fd, &r);
		if (err == -ECANCELED)
			return EXPORT_STOPPED;
		if (!err && r.status >= 200 && r.status < 300)
			return EXPORT_SENT;
		if (err ? !http_exp_retry_err(err) : !http_exp_retry_status(r.status)) {
			if (err) {
				http_exp_log(x, "%d spans lost: %s", n, httpc_last_error(x->hc));
				return EXPORT_FAILED;
			}
			http_exp_log(x, "%d spans refused: HTTP %d %.200s", n, r.status, r.body);
			return EXPORT_REJECTED;
		}
		wait_ms = !err && r.retry_after_ms >= 0 ? (uint64_t)r.retry_after_ms
		                                        : http_exp_backoff_ms(x, attempt);
		now = util_mono_ns();
		if (now + wait_ms * 1000000u - start > budget) {
			http_exp_log(x, "%d spans lost after %d attempts: %s", n, attempt,
			             err ? httpc_last_error(x->hc) : "the collector stays busy");
			return EXPORT_FAILED;
		}
		if (ctl->deadline_ns && now + wait_ms * 1000000u >= ctl->deadline_ns)
			return EXPORT_STOPPED;
		if (!http_exp_sleep(ctl->stop_fd, wait_ms))
			return EXPORT_STOPPED;
		if (ctl->retries)
			atomic_store_explicit(
			        ctl->retries,
			        atomic_load_explicit(ctl->retries, memory_order_relaxed) + 1,
			        memory_order_relaxed);
	}
}

/* Turns "a=1, b=2" into "a: 1", "b: 2". Returns 0 or -1. */
static int http_exp_headers(struct http_exp *x, const char *list)
{
	const char *p = list;

	while (p && *p) {
		size_t len, name;
		const char *v;

		p += strspn(p, " \t");
		len = strcspn(p, ",");
		name = strcspn(p, "=");
		if (name < len && x->n_hdrs < HTTP_EXP_HDR_MAX) {
			v = p + name + 1;
			while (name && (p[name - 1] == ' ' || p[name - 1] == '\t'))
				name--;
			v += strspn(v, " \t");
			if (asprintf(&x->hdrs[x->n_hdrs], "%.*s: %.*s", (int)name, p,
			             (int)(p + len - v), v) < 0)
				return -1;
			x->n_hdrs++;
		} else if (name < len) {
			return -1;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

static void http_exp_close(void *st)
{
	struct http_exp *x = st;

	httpc_free(x->hc);
	for (int i = 0; i < x->n_hdrs; i++)
		free(x->hdrs[i]);
	tbuf_free(&x->body);
	tbuf_free(&x->gz);
	if (x->z_ready)
		deflateEnd(&x->z);
	free(x);
}

static int http_exp_open(const struct cfg *c, const struct trace_exp_cfg *ec, void **st,
                         const char *name, http_exp_encode_fn encode, const char *ctype)
{
	struct http_exp *x = calloc(1, sizeof(*x));
	char err[256];

	if (!x)
		return -ENOMEM;
	x->name = name;
	x->cfg = ec;
	x->encode = encode;
	x->ctype = ctype;
	x->res.service_name = c->gw.service_name;
	x->res.service_version = TG_VERSION; /* the service is this gateway */
	if (gethostname(x->host, sizeof(x->host) - 1) == 0 && x->host[0])
		x->res.host_name = x->host;
	x->rng = util_mono_ns() | 1;
	if (!(x->hc = httpc_new(ec->endpoint, ec->ca_file, err, sizeof(err)))) {
		log_main(LOG_ERROR, "[exporter.%s] endpoint %s: %s", name, ec->endpoint, err);
		http_exp_close(x);
		return -EINVAL;
	}
	if (http_exp_headers(x, ec->headers) < 0) {
		log_main(LOG_ERROR, "[exporter.%s] headers: at most %d, name=value", name,
		         HTTP_EXP_HDR_MAX);
		http_exp_close(x);
		return -EINVAL;
	}
	/* level 1: most of gzip's gain on span batches, at a fraction of the
	 * CPU of the default level; 31 = a 32 KiB window with a gzip header */
	if (ec->compression == TRACE_COMPRESS_GZIP) {
		if (deflateInit2(&x->z, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
			http_exp_close(x);
			return -ENOMEM;
		}
		x->z_ready = true;
	}
	*st = x;
	return 0;
}

static int otlp_open(const struct cfg *c, const struct trace_exp_cfg *ec, void **st)
{
	bool json = ec->protocol == TRACE_OTLP_JSON;

	return http_exp_open(c, ec, st, "otlp", json ? otlp_json_encode : otlp_pb_encode,
	                     json ? "application/json" : "application/x-protobuf");
}

static int zipkin_open(const struct cfg *c, const struct trace_exp_cfg *ec, void **st)
{
	return http_exp_open(c, ec, st, "zipkin", zipkin_encode, "application/json");
}

const struct exporter_ops otlp_exporter = {
        .open = otlp_open,
        .send = http_exp_send,
        .close = http_exp_close,
};

const struct exporter_ops zipkin_exporter = {
        .open = zipkin_open,
        .send = http_exp_send,
        .close = http_exp_close,
};
