/* memory.c: the memory exporter: the gateway's own spans into the embedded
 * trace store (store.h) that the admin listener's viewer reads.
 *
 * Runs on its exporter thread like the others: each span's attributes and
 * events are rendered to JSON once, here, and the store keeps that text.
 */
#include <errno.h>
#include <string.h>

#include "cfg.h"
#include "trace/export.h"
#include "trace/jsonw.h"
#include "trace/store.h"
#include "trace/trace.h"

struct memory_exp {
	const char *service;
	struct tbuf attrs, events;
};

static struct memory_exp mem;

static int memory_open(const struct cfg *c, const struct trace_exp_cfg *ec, void **st)
{
	int err = store_init(ec->max_traces, ec->max_bytes);

	if (err)
		return err;
	mem.service = c->gw.service_name;
	*st = &mem;
	return 0;
}

/* The route and status the trace list shows, from our SERVER span. */
static void memory_summary(const struct span *s, struct store_span_in *in)
{
	for (int i = 0; i < s->n_attrs && s->kind == SPAN_KIND_SERVER; i++) {
		const struct span_attr *a = &s->attrs[i];

		if (a->key == SPAN_A_TG_ROUTE && a->type == SPAN_T_STR) {
			in->route = span_str(s, a->off);
			in->route_len = a->len;
		} else if (a->key == SPAN_A_HTTP_RESPONSE_STATUS_CODE && a->type == SPAN_T_INT) {
			in->http_status = (int)a->i;
		}
	}
}

static void memory_events(struct tbuf *b, const struct span *s)
{
	tbuf_byte(b, '[');
	for (int i = 0; i < SPAN_EV_N; i++) {
		if (!s->ev_ns[i])
			continue;
		jsonw_sep(b);
		tbuf_lit(b, "{\"name\":");
		jsonw_cstr(b, span_ev_name[i]);
		tbuf_lit(b, ",\"timeUnixNano\":");
		jsonw_qu64(b, s->ev_ns[i]);
		tbuf_byte(b, '}');
	}
	tbuf_byte(b, ']');
}

static enum export_status memory_send(void *st, const struct span *const *spans, int n,
                                      const struct export_ctl *ctl)
{
	struct memory_exp *m = st;
	bool ok = true;

	(void)ctl;
	for (int i = 0; i < n; i++) {
		const struct span *s = spans[i];
		struct store_span_in in = {
		        .has_parent = span_has_parent(s),
		        .name = span_str(s, s->name_off),
		        .name_len = s->name_len,
		        .kind = s->kind,
		        .status = s->status,
		        .start_ns = s->start_ns,
		        .end_ns = s->end_ns,
		        .service = m->service,
		        .service_len = strlen(m->service),
		};

		memcpy(in.trace_id, s->trace_id, 16);
		memcpy(in.span_id, s->span_id, 8);
		memcpy(in.parent_id, s->parent_id, 8);
		tbuf_reset(&m->attrs);
		tbuf_reset(&m->events);
		jsonw_span_attrs(&m->attrs, s);
		memory_events(&m->events, s);
		in.attrs_json = m->attrs.p;
		in.attrs_len = m->attrs.len;
		in.events_json = m->events.p;
		in.events_len = m->events.len;
		memory_summary(s, &in);
		ok &= !m->attrs.failed && !m->events.failed && store_add(&in) == 0;
	}
	return ok ? EXPORT_SENT : EXPORT_FAILED;
}

static void memory_close(void *st)
{
	struct memory_exp *m = st;

	store_free();
	tbuf_free(&m->attrs);
	tbuf_free(&m->events);
}

const struct exporter_ops memory_exporter = {
        .open = memory_open,
        .send = memory_send,
        .close = memory_close,
};
