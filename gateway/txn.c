/* txn.c: creating and ending a txn. txn_finish() is the only exit: it runs
 * the filters' on_end once, writes the access-log line and frees everything
 * the request allocated.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "cfg.h"
#include "conn.h"
#include "gen.h"
#include "metrics.h"
#include "txn.h"
#include "upstream.h"
#include "util.h"
#include "worker.h"

struct txn *txn_new(struct conn *c, const struct txn_client *cs, uint64_t start_ns)
{
	struct worker *w = c->w;
	struct txn *t = w->txn_spare;

	/* a txn is a few kB with its inline arena: past the sizes malloc
	 * caches per thread, so the worker keeps ended ones */
	if (t) {
		w->txn_spare = t->next_spare;
		w->n_txn_spare--;
	} else if (!(t = malloc(sizeof(*t)))) {
		return NULL;
	}
	/* everything but the inline arena block, which needs no zeroing */
	memset(t, 0, offsetof(struct txn, arena_buf));
	t->c = c;
	t->cs = cs;
	t->w = c->w;
	t->id = ++c->n_req;
	t->filters = c->w->filters;
	/* new requests take the worker's current generation; this one keeps
	 * it to its end, whatever reloads happen meanwhile */
	t->wg = worker_gen_take(c->w);
	t->cfg = t->wg->g->cfg;
	t->flt_gen = t->wg->g->flt;
	arena_init(&t->arena, t->arena_buf, sizeof(t->arena_buf),
	           (size_t)t->cfg->gw.max_head_bytes * 4 + 65536);
	t->req.a = &t->arena;
	t->resp.a = &t->arena;
	t->trailers.a = &t->arena;
	t->req.h.content_length = -1;
	t->resp.h.content_length = -1;
	t->tm.start_ns = start_ns ? start_ns : util_mono_ns();
	t->tm.start_wall_ns = util_wall_ns() - (util_mono_ns() - t->tm.start_ns);
	return t;
}

const char *txn_http_version(const struct txn *t)
{
	return t->h2s ? "2" : t->req.h.version_minor ? "1.1" : "1.0";
}

unsigned txn_method_bit(const struct txn *t)
{
	return cfg_method_bit(t->req.h.method, t->req.h.method_len);
}

/* Appends <s,len> to the log line as a quoted logfmt value: quotes,
 * backslashes and bytes outside printable ASCII are escaped, so a hostile
 * target cannot forge fields or lines. */
static void txn_log_quoted(struct evbuffer *b, const char *s, size_t len)
{
	evbuffer_add(b, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			evbuffer_add_printf(b, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			evbuffer_add_printf(b, "\\x%02x", ch);
		else
			evbuffer_add(b, &s[i], 1);
	}
	evbuffer_add(b, "\"", 1);
}

static void txn_access_log(struct txn *t)
{
	struct worker *w = t->w;
	struct evbuffer *b;
	char ts[32];
	time_t sec = (time_t)(t->tm.start_wall_ns / 1000000000u);
	struct tm tm;
	const struct h1_msg *m = &t->req.h;

	if (w->alog_fd < 0)
		return;
	b = w->alog;
	gmtime_r(&sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	evbuffer_add_printf(b, "ts=%s.%03uZ client=%s:%d method=", ts,
	                    (unsigned)(t->tm.start_wall_ns / 1000000u % 1000u), t->c->peer_ip,
	                    t->c->peer_port);
	if (m->method_len)
		evbuffer_add(b, m->method, m->method_len);
	else
		evbuffer_add(b, "-", 1);
	evbuffer_add(b, " target=", 8);
	txn_log_quoted(b, m->target ? m->target : "", m->target ? m->target_len : 0);
	evbuffer_add_printf(b,
	                    " proto=HTTP/%s status=%d bytes_in=%llu bytes_out=%llu dur_ms=%.3f"
	                    " route=%s upstream=%s server=%s attempts=%d error=",
	                    txn_http_version(t), t->status, (unsigned long long)t->bytes_in,
	                    (unsigned long long)t->bytes_out,
	                    (double)(t->tm.end_ns - t->tm.start_ns) / 1e6,
	                    t->route ? t->route->name : "-", t->ups ? t->ups->cfg->name : "-",
	                    t->srv ? t->srv->addr->text : "-", t->attempts);
	if (t->error)
		txn_log_quoted(b, t->error, strlen(t->error));
	else
		evbuffer_add(b, "-", 1);
	flt_log(t, b);
	evbuffer_add(b, "\n", 1);
	worker_alog_commit(w);
}

void txn_finish(struct txn *t, enum txn_end end)
{
	t->tm.end_ns = util_mono_ns();
	if (t->status == 0 && end == TXN_END_ABORT)
		t->status = 499; /* nginx's "client closed request", for the log only */
	txn_access_log(t);
	metrics_req(t->w->m,
	            t->route ? t->wg->g->route_slot[t->route - t->cfg->routes] : METRICS_NO_ROUTE,
	            t->status, t->tm.end_ns - t->tm.start_ns);
	flt_end(t);
	if (t->cs->gone)
		t->cs->gone(t);
	if (t->c->txn == t)
		t->c->txn = NULL;
	arena_deinit(&t->arena);
	worker_gen_release(t->w, t->wg);
	if (t->w->n_txn_spare + 1 <= TXN_SPARE) { /* + 1: no -Wtype-limits when UTIL_SPARE() is 0 */
		t->next_spare = t->w->txn_spare;
		t->w->txn_spare = t;
		t->w->n_txn_spare++;
	} else {
		free(t);
	}
}

void txn_spare_free(struct worker *w)
{
	struct txn *t;

	while ((t = w->txn_spare)) {
		w->txn_spare = t->next_spare;
		free(t);
	}
	w->n_txn_spare = 0;
}
