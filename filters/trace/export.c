/* export.c: the span pipeline between the workers and the exporters.
 *
 * One single-producer single-consumer ring per worker: the worker fills the
 * slot at <head> in place and publishes it with a release store; the
 * exporter thread reads up to <head> and frees the slots with a release
 * store of <tail> once every exporter is done with them. The thread sleeps
 * in poll() on an eventfd for delay_ms; a worker writes the eventfd only
 * when its ring crosses half full, so the request path makes no syscall.
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

#define EXPORT_BATCH   256 /* spans handed to an exporter at once */
#define EXPORT_MAX_EXP 4

struct export_ring {
	alignas(64) _Atomic uint64_t head; /* written by the worker */
	alignas(64) _Atomic uint64_t tail; /* written by the exporter thread */
	_Atomic uint64_t dropped;
	uint64_t mask;
	struct span *slots;
};

static struct {
	struct export_ring *rings;
	int n_rings;
	int efd;
	uint32_t delay_ms;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	const struct exporter_ops *ops[EXPORT_MAX_EXP];
	void *st[EXPORT_MAX_EXP];
	int n_ops;
	_Atomic uint64_t exported;
	_Atomic uint64_t failed;
} ex = {.efd = -1};

static uint64_t export_pow2(uint32_t n)
{
	uint64_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

struct span *export_reserve(int worker)
{
	struct export_ring *r;
	uint64_t head;

	if (!ex.running || worker < 0 || worker >= ex.n_rings)
		return NULL;
	r = &ex.rings[worker];
	head = atomic_load_explicit(&r->head, memory_order_relaxed);
	if (head - atomic_load_explicit(&r->tail, memory_order_acquire) > r->mask) {
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
	uint64_t one = 1;

	atomic_store_explicit(&r->head, head, memory_order_release);
	/* the timer drains at delay_ms; only a burst needs the thread sooner */
	if (used == (r->mask + 1) / 2 && write(ex.efd, &one, sizeof(one)) < 0)
		return; /* the timer will do */
}

/* Hands the published spans of <r> to every exporter, in batches. */
static void export_drain(struct export_ring *r)
{
	const struct span *batch[EXPORT_BATCH];
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	while (tail != head) {
		int n = 0;

		while (tail + (uint64_t)n != head && n < EXPORT_BATCH) {
			batch[n] = &r->slots[(tail + (uint64_t)n) & r->mask];
			n++;
		}
		for (int i = 0; i < ex.n_ops; i++) {
			int done = ex.ops[i]->write(ex.st[i], batch, n);

			atomic_fetch_add_explicit(&ex.exported, (uint64_t)done,
			                          memory_order_relaxed);
			atomic_fetch_add_explicit(&ex.failed, (uint64_t)(n - done),
			                          memory_order_relaxed);
		}
		tail += (uint64_t)n;
		atomic_store_explicit(&r->tail, tail, memory_order_release);
	}
}

static void *export_main(void *arg)
{
	struct pollfd pfd = {.fd = ex.efd, .events = POLLIN};
	uint64_t v;
	bool last;

	(void)arg;
	do {
		last = atomic_load(&ex.stop);
		if (!last && poll(&pfd, 1, (int)ex.delay_ms) > 0 &&
		    read(ex.efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			log_main(LOG_WARN, "span exporter wake-up: %s", strerror(errno));
		for (int i = 0; i < ex.n_rings; i++)
			export_drain(&ex.rings[i]);
	} while (!last);
	return NULL;
}

static void export_free(void)
{
	for (int i = 0; i < ex.n_ops; i++)
		ex.ops[i]->close(ex.st[i]);
	ex.n_ops = 0;
	for (int i = 0; ex.rings && i < ex.n_rings; i++)
		free(ex.rings[i].slots);
	free(ex.rings);
	ex.rings = NULL;
	ex.n_rings = 0;
	if (ex.efd >= 0)
		close(ex.efd);
	ex.efd = -1;
}

int export_init(const struct cfg *c, const struct trace_cfg *tc)
{
	uint64_t cap = export_pow2(tc->ring_spans);
	const struct trace_jsonl_cfg *jc = trace_cfg_jsonl(c);
	int err;

	atomic_store(&ex.exported, 0);
	atomic_store(&ex.failed, 0);
	atomic_store(&ex.stop, false);
	if (!tc->exporters)
		return 0;
	ex.delay_ms = jc ? jc->delay_ms : 200;
	ex.n_rings = c->gw.workers;
	ex.rings = calloc((size_t)ex.n_rings, sizeof(*ex.rings));
	ex.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!ex.rings || ex.efd < 0) {
		err = ex.efd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < ex.n_rings; i++) {
		ex.rings[i].mask = cap - 1;
		ex.rings[i].slots = calloc(cap, sizeof(struct span));
		if (!ex.rings[i].slots) {
			err = -ENOMEM;
			goto fail;
		}
	}
	if (tc->exporters & TRACE_EXP_JSONL) {
		ex.ops[ex.n_ops] = &jsonl_exporter;
		if ((err = jsonl_exporter.open(c, &ex.st[ex.n_ops])))
			goto fail;
		ex.n_ops++;
	}
	if ((err = -pthread_create(&ex.thread, NULL, export_main, NULL)))
		goto fail;
	ex.running = true;
	return 0;
fail:
	log_main(LOG_ERROR, "cannot start the span exporter: %s", strerror(-err));
	export_free();
	return err;
}

void export_deinit(void)
{
	uint64_t one = 1, dropped = 0;

	if (!ex.running)
		return;
	atomic_store(&ex.stop, true);
	if (write(ex.efd, &one, sizeof(one)) < 0)
		log_main(LOG_WARN, "span exporter stop: %s", strerror(errno));
	pthread_join(ex.thread, NULL);
	ex.running = false;
	for (int i = 0; i < ex.n_rings; i++)
		dropped += atomic_load(&ex.rings[i].dropped);
	log_main(LOG_INFO, "spans: %llu exported, %llu dropped (queue full), %llu failed",
	         (unsigned long long)atomic_load(&ex.exported), (unsigned long long)dropped,
	         (unsigned long long)atomic_load(&ex.failed));
	export_free();
}

uint64_t export_exported(void)
{
	return atomic_load(&ex.exported);
}

uint64_t export_dropped(enum export_drop why)
{
	uint64_t n = 0;

	if (why == EXPORT_DROP_EXPORT_FAILED)
		return atomic_load(&ex.failed);
	for (int i = 0; i < ex.n_rings; i++)
		n += atomic_load(&ex.rings[i].dropped);
	return n;
}
