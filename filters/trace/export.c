/* export.c: the span pipeline between the workers and the exporters.
 *
 * Two hops, each through single-producer single-consumer rings of span
 * records (struct export_ring): the worker fills the slot at <head> and
 * publishes it with a release store; the consumer reads up to <head> and
 * frees slots with a release store of <tail>.
 *
 *   worker rings --drain thread--> one queue per exporter --its thread--> backend
 *
 * The drain thread copies each span into every exporter's queue, so that a
 * backend that hangs fills its own queue and drops its own spans while the
 * others go on. It sleeps in poll() on an eventfd that a worker writes only
 * when its ring crosses half full: the request path makes no syscall. An
 * exporter thread sends when batch_size spans wait or delay_ms passed.
 *
 * Shutdown: the drain thread empties the rings one last time and stops;
 * stop_fd becomes readable, which cuts short any retry in progress; each
 * exporter then sends what it holds until flush_timeout_ms, and counts the
 * rest as dropped for shutdown.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"
#include "trace/export.h"
#include "trace/trace.h"
#include "util.h"

#define EXPORT_DRAIN_MS 100 /* longest sleep of the drain thread */

const char *const export_drop_name[EXPORT_DROP_N] = {
        [EXPORT_DROP_QUEUE_FULL] = "queue_full",
        [EXPORT_DROP_EXPORT_FAILED] = "export_failed",
        [EXPORT_DROP_NON_RETRYABLE] = "non_retryable",
        [EXPORT_DROP_SHUTDOWN] = "shutdown",
};

struct export_ring {
	alignas(64) _Atomic uint64_t head; /* written by the producer */
	alignas(64) _Atomic uint64_t tail; /* written by the consumer */
	_Atomic uint64_t dropped;          /* full when a span came */
	uint64_t mask;
	uint64_t cap; /* spans it holds at most: up to mask + 1 */
	struct span *slots;
};

struct exporter {
	const struct exporter_ops *ops;
	const char *name;
	const struct trace_exp_cfg *cfg;
	void *st;
	struct export_ring q;
	const struct span **batch; /* batch_size pointers into <q> */
	int wake_fd;               /* eventfd: a batch is ready */
	pthread_t thread;
	bool started;
	_Atomic uint64_t exported;
	_Atomic uint64_t dropped[EXPORT_DROP_N];
	_Atomic uint64_t sends, send_ns, retries; /* written by the exporter thread only */
};

static struct {
	struct export_ring *rings; /* one per worker */
	int n_rings;
	int drain_fd; /* eventfd: a worker ring is half full, or stop */
	int stop_fd;  /* eventfd, written once at shutdown and never read */
	uint32_t drain_ms;
	pthread_t drain;
	bool running;
	atomic_bool stop_drain;
	atomic_bool stop_exp;
	uint64_t flush_ns;          /* flush_timeout_ms */
	uint64_t flush_deadline_ns; /* written before stop_exp is set */
	struct exporter exp[TRACE_EXP_N];
	int n_exp;
} ex = {.drain_fd = -1, .stop_fd = -1};

static const struct exporter_ops *const export_ops[TRACE_EXP_N] = {
        [TRACE_EXP_OTLP] = &otlp_exporter,
        [TRACE_EXP_ZIPKIN] = &zipkin_exporter,
        [TRACE_EXP_JSONL] = &jsonl_exporter,
        [TRACE_EXP_MEMORY] = &memory_exporter,
};

static uint64_t export_pow2(uint64_t n)
{
	uint64_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static int export_ring_init(struct export_ring *r, uint64_t cap)
{
	r->cap = cap;
	r->mask = export_pow2(cap) - 1;
	r->slots = calloc(r->mask + 1, sizeof(struct span));
	return r->slots ? 0 : -ENOMEM;
}

static uint64_t export_ring_used(struct export_ring *r)
{
	return atomic_load_explicit(&r->head, memory_order_acquire) -
	       atomic_load_explicit(&r->tail, memory_order_acquire);
}

static void export_wake(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0)
		return; /* the counter is full: a wake-up is pending anyway */
}

/* Sleeps on <fd> (and stop_fd) for up to <ms>, draining <fd> when woken. */
static void export_sleep(int fd, int ms)
{
	struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = ex.stop_fd, .events = POLLIN}};
	uint64_t v;

	if (poll(pfd, 2, ms) > 0 && (pfd[0].revents & POLLIN) && read(fd, &v, sizeof(v)) < 0)
		return; /* already drained by a racing wake-up */
}

/* Adds <n> to a counter only one thread writes: no read-modify-write. */
static void export_bump(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

/* ---- workers -> drain thread ------------------------------------------ */

struct span *export_reserve(int worker)
{
	struct export_ring *r;
	uint64_t head;

	if (!ex.running || worker < 0 || worker >= ex.n_rings)
		return NULL;
	r = &ex.rings[worker];
	head = atomic_load_explicit(&r->head, memory_order_relaxed);
	if (head - atomic_load_explicit(&r->tail, memory_order_acquire) >= r->cap) {
		atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
		return NULL;
	}
	span_reset(&r->slots[head & r->mask]);
	return &r->slots[head & r->mask];
}

void export_commit(int worker)
{
	struct export_ring *r = &ex.rings[worker];
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed) + 1;
	uint64_t used = head - atomic_load_explicit(&r->tail, memory_order_relaxed);

	atomic_store_explicit(&r->head, head, memory_order_release);
	/* the drain thread wakes every drain_ms; only a burst needs it sooner */
	if (used == r->cap / 2)
		export_wake(ex.drain_fd);
}

/* ---- drain thread -> exporter queues ---------------------------------- */

/* Copies <s> into the queue of <e>, or counts it dropped when it is full. */
static void export_push(struct exporter *e, const struct span *s)
{
	struct export_ring *q = &e->q;
	uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint64_t used = head - atomic_load_explicit(&q->tail, memory_order_acquire);

	if (used >= q->cap) {
		atomic_fetch_add_explicit(&e->dropped[EXPORT_DROP_QUEUE_FULL], 1,
		                          memory_order_relaxed);
		return;
	}
	/* the string area is copied only as far as it is used */
	memcpy(&q->slots[head & q->mask], s, offsetof(struct span, str) + s->str_len);
	atomic_store_explicit(&q->head, head + 1, memory_order_release);
	if (used + 1 == e->cfg->batch_size)
		export_wake(e->wake_fd);
}

static void export_drain_ring(struct export_ring *r)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	for (; tail != head; tail++) {
		for (int i = 0; i < ex.n_exp; i++)
			export_push(&ex.exp[i], &r->slots[tail & r->mask]);
		/* one slot at a time: a worker may refill it at once */
		atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
	}
}

static void *export_drain_main(void *arg)
{
	bool last;

	(void)arg;
	do {
		last = atomic_load(&ex.stop_drain);
		if (!last)
			export_sleep(ex.drain_fd, (int)ex.drain_ms);
		for (int i = 0; i < ex.n_rings; i++)
			export_drain_ring(&ex.rings[i]);
	} while (!last);
	return NULL;
}

/* ---- exporter threads -------------------------------------------------- */

/* Sends the oldest <n> spans of <e>'s queue; returns false when shutdown
 * cut the attempt short and the spans stay queued for the flush. */
static bool export_send(struct exporter *e, int n, bool flushing)
{
	struct export_ring *q = &e->q;
	uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	struct export_ctl ctl = {.stop_fd = ex.stop_fd, .retries = &e->retries};
	enum export_drop why;
	enum export_status st;
	uint64_t t0 = util_mono_ns();

	for (int i = 0; i < n; i++)
		e->batch[i] = &q->slots[(tail + (uint64_t)i) & q->mask];
	if (flushing) {
		ctl.stop_fd = -1;
		ctl.deadline_ns = ex.flush_deadline_ns;
	}
	st = flushing && t0 >= ctl.deadline_ns ? EXPORT_STOPPED
	                                       : e->ops->send(e->st, e->batch, n, &ctl);
	export_bump(&e->sends, 1);
	export_bump(&e->send_ns, util_mono_ns() - t0);
	switch (st) {
	case EXPORT_SENT:
		atomic_fetch_add_explicit(&e->exported, (uint64_t)n, memory_order_relaxed);
		break;
	case EXPORT_STOPPED:
		if (!flushing)
			return false;
		/* fallthrough */
	default:
		why = st == EXPORT_REJECTED  ? EXPORT_DROP_NON_RETRYABLE
		      : st == EXPORT_STOPPED ? EXPORT_DROP_SHUTDOWN
		                             : EXPORT_DROP_EXPORT_FAILED;
		atomic_fetch_add_explicit(&e->dropped[why], (uint64_t)n, memory_order_relaxed);
		break;
	}
	atomic_store_explicit(&q->tail, tail + (uint64_t)n, memory_order_release);
	return true;
}

static void *export_exp_main(void *arg)
{
	struct exporter *e = arg;
	uint64_t delay_ns = (uint64_t)e->cfg->delay_ms * 1000000u;
	uint64_t due = util_mono_ns() + delay_ns;

	for (;;) {
		bool flushing = atomic_load_explicit(&ex.stop_exp, memory_order_acquire);
		uint64_t n = export_ring_used(&e->q), now = util_mono_ns();

		if (n == 0 && flushing)
			return NULL;
		if (!flushing && n < e->cfg->batch_size && now < due) {
			export_sleep(e->wake_fd, (int)((due - now + 999999) / 1000000));
			continue;
		}
		if (n > e->cfg->batch_size)
			n = e->cfg->batch_size;
		/* no empty exports: an idle exporter only sleeps */
		if (n && !export_send(e, (int)n, flushing))
			continue; /* shutdown began: send it again as part of the flush */
		due = util_mono_ns() + delay_ns;
	}
}

/* ---- lifecycle ---------------------------------------------------------- */

static void export_free(void)
{
	for (int i = 0; i < ex.n_exp; i++) {
		struct exporter *e = &ex.exp[i];

		if (e->st)
			e->ops->close(e->st);
		if (e->wake_fd >= 0)
			close(e->wake_fd);
		free(e->q.slots);
		free(e->batch);
		memset(e, 0, sizeof(*e));
	}
	ex.n_exp = 0;
	for (int i = 0; ex.rings && i < ex.n_rings; i++)
		free(ex.rings[i].slots);
	free(ex.rings);
	ex.rings = NULL;
	ex.n_rings = 0;
	if (ex.drain_fd >= 0)
		close(ex.drain_fd);
	if (ex.stop_fd >= 0)
		close(ex.stop_fd);
	ex.drain_fd = ex.stop_fd = -1;
}

/* Opens exporter <which> into the next slot of ex.exp. */
static int export_open(const struct cfg *c, enum trace_exp which)
{
	struct exporter *e = &ex.exp[ex.n_exp];
	int err;

	e->wake_fd = -1;
	e->ops = export_ops[which];
	e->cfg = trace_cfg_exporter(c, which, &e->name);
	ex.n_exp++; /* from here on export_free() cleans it up */
	if ((err = export_ring_init(&e->q, e->cfg->queue_size)))
		return err;
	e->batch = calloc(e->cfg->batch_size, sizeof(*e->batch));
	e->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!e->batch || e->wake_fd < 0)
		return e->wake_fd < 0 ? -errno : -ENOMEM;
	if ((err = e->ops->open(c, e->cfg, &e->st))) {
		e->st = NULL;
		return err;
	}
	if (e->cfg->delay_ms < ex.drain_ms)
		ex.drain_ms = e->cfg->delay_ms;
	return 0;
}

int export_init(const struct cfg *c, const struct trace_cfg *tc)
{
	int err = 0;

	memset(&ex, 0, sizeof(ex));
	ex.drain_fd = ex.stop_fd = -1;
	if (!tc->exporters)
		return 0;
	ex.drain_ms = EXPORT_DRAIN_MS;
	ex.flush_ns = (uint64_t)tc->flush_timeout_ms * 1000000u;
	ex.n_rings = c->gw.workers;
	ex.rings = calloc((size_t)ex.n_rings, sizeof(*ex.rings));
	ex.drain_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ex.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!ex.rings || ex.drain_fd < 0 || ex.stop_fd < 0) {
		err = !ex.rings ? -ENOMEM : -errno;
		goto fail;
	}
	for (int i = 0; i < ex.n_rings; i++)
		if ((err = export_ring_init(&ex.rings[i], tc->ring_spans)))
			goto fail;
	for (int w = 0; w < TRACE_EXP_N; w++)
		if ((tc->exporters & (1u << w)) && (err = export_open(c, (enum trace_exp)w)))
			goto fail;
	for (int i = 0; i < ex.n_exp; i++) {
		if ((err = -pthread_create(&ex.exp[i].thread, NULL, export_exp_main, &ex.exp[i])))
			goto fail_threads;
		ex.exp[i].started = true;
	}
	if ((err = -pthread_create(&ex.drain, NULL, export_drain_main, NULL)))
		goto fail_threads;
	ex.running = true;
	return 0;
fail_threads:
	atomic_store(&ex.stop_exp, true);
	export_wake(ex.stop_fd);
	for (int i = 0; i < ex.n_exp; i++)
		if (ex.exp[i].started)
			pthread_join(ex.exp[i].thread, NULL);
fail:
	log_main(LOG_ERROR, "cannot start the span exporters: %s", strerror(-err));
	export_free();
	return err;
}

void export_deinit(void)
{
	struct export_stats st;

	if (!ex.running)
		return;
	ex.running = false;
	/* the workers are gone: their rings take no more spans */
	atomic_store(&ex.stop_drain, true);
	export_wake(ex.drain_fd);
	pthread_join(ex.drain, NULL);
	ex.flush_deadline_ns = util_mono_ns() + ex.flush_ns;
	atomic_store_explicit(&ex.stop_exp, true, memory_order_release);
	export_wake(ex.stop_fd);
	for (int i = 0; i < ex.n_exp; i++)
		pthread_join(ex.exp[i].thread, NULL);
	for (int i = 0; export_stats(i, &st); i++) {
		uint64_t lost = 0;

		for (int d = 0; d < EXPORT_DROP_N; d++)
			lost += st.dropped[d];
		/* a loss is worth a warning even where info lines are not logged */
		log_main(lost ? LOG_WARN : LOG_INFO,
		         "spans %s: %llu exported, dropped: %llu queue_full, %llu export_failed, "
		         "%llu non_retryable, %llu shutdown",
		         st.name, (unsigned long long)st.exported,
		         (unsigned long long)st.dropped[EXPORT_DROP_QUEUE_FULL],
		         (unsigned long long)st.dropped[EXPORT_DROP_EXPORT_FAILED],
		         (unsigned long long)st.dropped[EXPORT_DROP_NON_RETRYABLE],
		         (unsigned long long)st.dropped[EXPORT_DROP_SHUTDOWN]);
	}
	export_free();
}

void export_reopen(void)
{
	for (int i = 0; ex.running && i < ex.n_exp; i++)
		if (ex.exp[i].ops->reopen)
			ex.exp[i].ops->reopen(ex.exp[i].st);
}

bool export_stats(int i, struct export_stats *st)
{
	struct exporter *e;
	uint64_t ring_full = 0;

	if (i < 0 || i >= ex.n_exp)
		return false;
	e = &ex.exp[i];
	/* a span a worker ring had no room for is lost to every exporter */
	for (int r = 0; r < ex.n_rings; r++)
		ring_full += atomic_load_explicit(&ex.rings[r].dropped, memory_order_relaxed);
	st->name = e->name;
	st->queued = export_ring_used(&e->q);
	st->exported = atomic_load_explicit(&e->exported, memory_order_relaxed);
	for (int d = 0; d < EXPORT_DROP_N; d++)
		st->dropped[d] = atomic_load_explicit(&e->dropped[d], memory_order_relaxed);
	st->dropped[EXPORT_DROP_QUEUE_FULL] += ring_full;
	st->sends = atomic_load_explicit(&e->sends, memory_order_relaxed);
	st->send_ns = atomic_load_explicit(&e->send_ns, memory_order_relaxed);
	st->retries = atomic_load_explicit(&e->retries, memory_order_relaxed);
	return true;
}
