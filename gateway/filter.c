/* filter.c: the table of built-in filters and the chain runner.
 * The core calls the runners at fixed points of a txn (see filter.h); what a
 * filter does there is none of the core's business.
 */
#include <assert.h>
#include <stddef.h>

#include "filter.h"
#include "trace/trace.h"
#include "txn.h"

/* Explicit and ordered: adding a filter is one line here, in the place of
 * the chain where it must run. Tracing comes first so that its SERVER span
 * covers what the filters after it do. */
const struct flt_ops *const flt_builtin[] = {
        &trace_flt_ops,
        NULL,
};

int flt_declare_all(const struct flt_ops *const *chain)
{
	for (int i = 0; chain[i]; i++) {
		int err = chain[i]->declare ? chain[i]->declare() : 0;

		if (err)
			return err;
	}
	return 0;
}

int flt_init_all(const struct flt_ops *const *chain, const struct cfg *c)
{
	for (int i = 0; chain[i]; i++) {
		int err = chain[i]->init ? chain[i]->init(c) : 0;

		if (err) {
			while (--i >= 0)
				if (chain[i]->deinit)
					chain[i]->deinit();
			return err;
		}
	}
	return 0;
}

void flt_deinit_all(const struct flt_ops *const *chain)
{
	for (int i = 0; chain[i]; i++)
		if (chain[i]->deinit)
			chain[i]->deinit();
}

void flt_reopen_all(const struct flt_ops *const *chain)
{
	for (int i = 0; chain[i]; i++)
		if (chain[i]->reopen)
			chain[i]->reopen();
}

int flt_request(struct txn *t)
{
	const struct flt_ops *const *chain = t->filters;

	for (int i = 0; i < FLT_MAX && chain[i]; i++) {
		int status;

		if (!chain[i]->on_request)
			continue;
		status = chain[i]->on_request(t, t->flt_gen[i], &t->flt_ctx[i]);
		if (status)
			return status;
	}
	return 0;
}

void flt_attempt(struct txn *t)
{
	for (int i = 0; i < FLT_MAX && t->filters[i]; i++)
		if (t->filters[i]->on_attempt)
			t->filters[i]->on_attempt(t, t->flt_ctx[i]);
}

void flt_attempt_end(struct txn *t)
{
	for (int i = 0; i < FLT_MAX && t->filters[i]; i++)
		if (t->filters[i]->on_attempt_end)
			t->filters[i]->on_attempt_end(t, t->flt_ctx[i]);
}

void flt_response(struct txn *t)
{
	int n = 0;

	while (n < FLT_MAX && t->filters[n])
		n++;
	while (--n >= 0)
		if (t->filters[n]->on_response)
			t->filters[n]->on_response(t, t->flt_ctx[n]);
}

void flt_log(struct txn *t, struct evbuffer *line)
{
	for (int i = 0; i < FLT_MAX && t->filters[i]; i++)
		if (t->filters[i]->on_log)
			t->filters[i]->on_log(t, t->flt_ctx[i], line);
}

void flt_end(struct txn *t)
{
	assert(!(t->flags & TXN_F_ENDED));
	t->flags |= TXN_F_ENDED;
	for (int i = 0; i < FLT_MAX && t->filters[i]; i++)
		if (t->filters[i]->on_end)
			t->filters[i]->on_end(t, t->flt_ctx[i]);
}
