/* store.c: the embedded trace store (store.h).
 *
 * Traces live in a hash table keyed by trace-id (its low bytes are random,
 * so they are the hash) and on an age list, oldest first, for eviction.
 * Each span is rendered to the JSON the API serves when it arrives, so a
 * read is a copy under the lock; the trace keeps what the list shows (root
 * span, services, route, status, error) up to date as spans come in.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "trace/jsonw.h"
#include "trace/store.h"

#define STORE_SERVICES_MAX 8     /* services named per trace in the list */
#define STORE_SPANS_MAX    10000 /* spans kept per trace; more are dropped */
#define STORE_NAME_MAX     128

struct st_span {
	uint8_t span_id[8];
	uint8_t parent_id[8];
	bool has_parent;
	uint64_t start_ns;
	char *json; /* the span object, as /api/traces/{id} serves it */
	size_t json_len;
};

struct st_trace {
	uint8_t id[16];
	struct st_trace *hnext;
	TAILQ_ENTRY(st_trace) age;
	struct st_span *spans;
	int n, cap;
	size_t bytes;
	uint64_t start_ns, end_ns;
	bool error;
	int http_status;
	int root; /* index of the root span, -1 before the first span */
	char root_name[STORE_NAME_MAX];
	char root_service[STORE_NAME_MAX];
	char route[STORE_NAME_MAX];
	char services[STORE_SERVICES_MAX][STORE_NAME_MAX];
	int n_services;
};

static struct {
	pthread_mutex_t lock;
	struct st_trace **buckets;
	uint64_t mask;
	TAILQ_HEAD(st_trace_list, st_trace) age;
	uint32_t max_traces;
	uint64_t max_bytes;
	uint64_t n_traces, n_spans, bytes, evicted;
	bool on;
} st = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const char *const store_kinds[] = {"UNSPECIFIED", "INTERNAL", "SERVER",
                                          "CLIENT",      "PRODUCER", "CONSUMER"};
static const char *const store_statuses[] = {"UNSET", "OK", "ERROR"};

int store_init(uint32_t max_traces, uint64_t max_bytes)
{
	uint64_t n = 16;

	while (n < (uint64_t)max_traces * 2)
		n <<= 1;
	st.buckets = calloc(n, sizeof(*st.buckets));
	if (!st.buckets)
		return -ENOMEM;
	st.mask = n - 1;
	TAILQ_INIT(&st.age);
	st.max_traces = max_traces;
	st.max_bytes = max_bytes;
	st.n_traces = st.n_spans = st.bytes = st.evicted = 0;
	st.on = true;
	return 0;
}

bool store_enabled(void)
{
	return st.on;
}

static struct st_trace **store_slot(const uint8_t id[16])
{
	uint64_t h;

	memcpy(&h, id + 8, sizeof(h));
	return &st.buckets[h & st.mask];
}

static struct st_trace *store_find(const uint8_t id[16])
{
	struct st_trace *t = *store_slot(id);

	while (t && memcmp(t->id, id, 16) != 0)
		t = t->hnext;
	return t;
}

static void store_drop(struct st_trace *t)
{
	struct st_trace **p = store_slot(t->id);

	while (*p != t)
		p = &(*p)->hnext;
	*p = t->hnext;
	TAILQ_REMOVE(&st.age, t, age);
	for (int i = 0; i < t->n; i++)
		free(t->spans[i].json);
	st.n_spans -= (uint64_t)t->n;
	st.bytes -= t->bytes;
	st.n_traces--;
	free(t->spans);
	free(t);
}

void store_free(void)
{
	struct st_trace *t;

	pthread_mutex_lock(&st.lock);
	while (st.on && (t = TAILQ_FIRST(&st.age)))
		store_drop(t);
	free(st.buckets);
	st.buckets = NULL;
	st.on = false;
	pthread_mutex_unlock(&st.lock);
}

/* Copies <s,n> into <dst> (STORE_NAME_MAX), cut to fit. */
static void store_copy(char *dst, const char *s, size_t n)
{
	if (n >= STORE_NAME_MAX)
		n = STORE_NAME_MAX - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Renders <s> as the API serves a span. */
static void store_render(struct tbuf *b, const struct store_span_in *s)
{
	tbuf_lit(b, "{\"spanId\":");
	jsonw_hex(b, s->span_id, 8);
	if (s->has_parent) {
		tbuf_lit(b, ",\"parentSpanId\":");
		jsonw_hex(b, s->parent_id, 8);
	}
	tbuf_lit(b, ",\"name\":");
	jsonw_str(b, s->name, s->name_len);
	tbuf_lit(b, ",\"kind\":\"");
	tbuf_lit(b, store_kinds[s->kind >= 0 && s->kind <= 5 ? s->kind : 0]);
	tbuf_lit(b, "\",\"service\":");
	jsonw_str(b, s->service, s->service_len);
	tbuf_lit(b, ",\"startTimeUnixNano\":");
	jsonw_qu64(b, s->start_ns);
	tbuf_lit(b, ",\"endTimeUnixNano\":");
	jsonw_qu64(b, s->end_ns);
	tbuf_lit(b, ",\"status\":\"");
	tbuf_lit(b, store_statuses[s->status >= 0 && s->status <= 2 ? s->status : 0]);
	tbuf_lit(b, "\",\"attributes\":");
	if (s->attrs_len)
		tbuf_add(b, s->attrs_json, s->attrs_len);
	else
		tbuf_lit(b, "{}");
	tbuf_lit(b, ",\"events\":");
	if (s->events_len)
		tbuf_add(b, s->events_json, s->events_len);
	else
		tbuf_lit(b, "[]");
	tbuf_byte(b, '}');
}

/* Keeps what the trace list shows of <t> current with span <s> (index i). */
static void store_summarise(struct st_trace *t, const struct store_span_in *s, int i)
{
	const struct st_span *root = t->root >= 0 ? &t->spans[t->root] : NULL;
	bool known = false;

	if (t->n == 1 || s->start_ns < t->start_ns)
		t->start_ns = s->start_ns;
	if (s->end_ns > t->end_ns)
		t->end_ns = s->end_ns;
	t->error |= s->status == 2;
	/* the root: a span without a parent, else the earliest one */
	if (!root || (root->has_parent && !s->has_parent) ||
	    (root->has_parent == s->has_parent && s->start_ns < root->start_ns)) {
		t->root = i;
		store_copy(t->root_name, s->name, s->name_len);
		store_copy(t->root_service, s->service, s->service_len);
	}
	if (s->route) {
		store_copy(t->route, s->route, s->route_len);
		t->http_status = s->http_status;
	}
	for (int k = 0; k < t->n_services && !known; k++)
		known = strlen(t->services[k]) == s->service_len &&
		        memcmp(t->services[k], s->service, s->service_len) == 0;
	if (!known && t->n_services < STORE_SERVICES_MAX)
		store_copy(t->services[t->n_services++], s->service, s->service_len);
}

/* Evicts the oldest traces but <keep> until the store is within bounds. */
static void store_evict(const struct st_trace *keep)
{
	struct st_trace *t = TAILQ_FIRST(&st.age);

	while (t && (st.n_traces > st.max_traces || st.bytes > st.max_bytes)) {
		struct st_trace *next = TAILQ_NEXT(t, age);

		if (t != keep) {
			store_drop(t);
			st.evicted++;
		}
		t = next;
	}
}

int store_add(const struct store_span_in *s)
{
	struct tbuf b = {0};
	struct st_trace *t;
	struct st_span *sp;
	int err = 0;

	store_render(&b, s);
	if (b.failed) {
		tbuf_free(&b);
		return -ENOMEM;
	}
	pthread_mutex_lock(&st.lock);
	if (!st.on) {
		err = -ENOENT;
		goto out;
	}
	if (!(t = store_find(s->trace_id))) {
		struct st_trace **slot = store_slot(s->trace_id);

		if (!(t = calloc(1, sizeof(*t)))) {
			err = -ENOMEM;
			goto out;
		}
		memcpy(t->id, s->trace_id, 16);
		t->root = -1;
		t->bytes = sizeof(*t);
		t->hnext = *slot;
		*slot = t;
		TAILQ_INSERT_TAIL(&st.age, t, age);
		st.n_traces++;
		st.bytes += t->bytes;
	}
	if (t->n == STORE_SPANS_MAX) {
		err = -ENOSPC;
		goto out;
	}
	if (t->n == t->cap) {
		int cap = t->cap ? t->cap * 2 : 4;
		struct st_span *p = realloc(t->spans, (size_t)cap * sizeof(*p));

		if (!p) {
			err = -ENOMEM;
			goto out;
		}
		t->spans = p;
		t->bytes += (size_t)(cap - t->cap) * sizeof(*p);
		st.bytes += (size_t)(cap - t->cap) * sizeof(*p);
		t->cap = cap;
	}
	sp = &t->spans[t->n++];
	memcpy(sp->span_id, s->span_id, 8);
	memcpy(sp->parent_id, s->parent_id, 8);
	sp->has_parent = s->has_parent;
	sp->start_ns = s->start_ns;
	sp->json = b.p; /* the tbuf's memory moves into the store */
	sp->json_len = b.len;
	b = (struct tbuf){0};
	t->bytes += sp->json_len;
	st.bytes += sp->json_len;
	st.n_spans++;
	store_summarise(t, s, t->n - 1);
	store_evict(t);
out:
	pthread_mutex_unlock(&st.lock);
	tbuf_free(&b);
	return err;
}

static bool store_match(const struct st_trace *t, const struct store_query *q)
{
	bool svc = !q->service;

	if (q->route && strcmp(q->route, t->route) != 0)
		return false;
	if (q->errors_only && !t->error)
		return false;
	if (t->end_ns - t->start_ns < q->min_duration_ns)
		return false;
	for (int k = 0; k < t->n_services && !svc; k++)
		svc = strcmp(t->services[k], q->service) == 0;
	return svc;
}

static void store_summary_json(struct tbuf *b, const struct st_trace *t)
{
	tbuf_lit(b, "{\"traceId\":");
	jsonw_hex(b, t->id, 16);
	tbuf_lit(b, ",\"rootName\":");
	jsonw_cstr(b, t->root_name);
	tbuf_lit(b, ",\"rootService\":");
	jsonw_cstr(b, t->root_service);
	if (t->route[0]) {
		tbuf_lit(b, ",\"route\":");
		jsonw_cstr(b, t->route);
		tbuf_lit(b, ",\"statusCode\":");
		jsonw_i64(b, t->http_status);
	}
	tbuf_lit(b, ",\"startTimeUnixNano\":");
	jsonw_qu64(b, t->start_ns);
	tbuf_lit(b, ",\"durationNs\":");
	jsonw_qu64(b, t->end_ns - t->start_ns);
	tbuf_lit(b, ",\"spanCount\":");
	jsonw_i64(b, t->n);
	tbuf_lit(b, ",\"services\":[");
	for (int k = 0; k < t->n_services; k++) {
		jsonw_sep(b);
		jsonw_cstr(b, t->services[k]);
	}
	tbuf_lit(b, t->error ? "],\"error\":true}" : "],\"error\":false}");
}

void store_list_json(struct tbuf *out, const struct store_query *q)
{
	struct st_trace *t;
	int n = 0;

	tbuf_lit(out, "{\"traces\":[");
	pthread_mutex_lock(&st.lock);
	if (st.on) {
		TAILQ_FOREACH_REVERSE(t, &st.age, st_trace_list, age)
		{
			if (q->limit && n >= q->limit)
				break;
			if (!store_match(t, q))
				continue;
			jsonw_sep(out);
			store_summary_json(out, t);
			n++;
		}
	}
	tbuf_lit(out, "],\"total\":");
	jsonw_u64(out, st.n_traces);
	pthread_mutex_unlock(&st.lock);
	tbuf_byte(out, '}');
}

bool store_trace_json(struct tbuf *out, const uint8_t trace_id[16])
{
	struct st_trace *t;

	pthread_mutex_lock(&st.lock);
	t = st.on ? store_find(trace_id) : NULL;
	if (t) {
		tbuf_lit(out, "{\"traceId\":");
		jsonw_hex(out, t->id, 16);
		tbuf_lit(out, ",\"spans\":[");
		for (int i = 0; i < t->n; i++) {
			if (i)
				tbuf_byte(out, ',');
			tbuf_add(out, t->spans[i].json, t->spans[i].json_len);
		}
		tbuf_lit(out, "]}");
	}
	pthread_mutex_unlock(&st.lock);
	return t != NULL;
}

void store_stats(struct store_stats *out)
{
	pthread_mutex_lock(&st.lock);
	out->traces = st.n_traces;
	out->spans = st.n_spans;
	out->bytes = st.bytes;
	out->evicted = st.evicted;
	pthread_mutex_unlock(&st.lock);
}
