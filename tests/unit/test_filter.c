/* test_filter.c: the chain runner: table order for requests, reverse order
 * for responses, a refusing filter stops the chain, on_end for everyone
 * exactly once, contexts kept per filter. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "filter.h"
#include "txn.h"

static char trail[64];

static void mark(char ch)
{
	size_t n = strlen(trail);

	trail[n] = ch;
	trail[n + 1] = '\0';
}

static int a_req(struct txn *t, void *gen, void **ctx)
{
	cr_expect_str_eq(gen, "gen a"); /* its own generation's state */
	*ctx = (void *)"A";
	mark('a');
	return 0;
}
static int b_req(struct txn *t, void *gen, void **ctx)
{
	cr_expect_str_eq(gen, "gen b");
	*ctx = (void *)"B";
	mark('b');
	return 0;
}
static int refuse_req(struct txn *t, void *gen, void **ctx)
{
	mark('r');
	return 429;
}
static void a_resp(struct txn *t, void *ctx)
{
	cr_expect_str_eq(ctx, "A");
	mark('A');
}
static void b_resp(struct txn *t, void *ctx)
{
	cr_expect_str_eq(ctx, "B");
	mark('B');
}
static void any_end(struct txn *t, void *ctx)
{
	mark('e');
}

static const struct flt_ops fa = {
        .name = "a", .on_request = a_req, .on_response = a_resp, .on_end = any_end};
static const struct flt_ops fb = {
        .name = "b", .on_request = b_req, .on_response = b_resp, .on_end = any_end};
static const struct flt_ops fr = {.name = "refuse", .on_request = refuse_req, .on_end = any_end};
static const struct flt_ops fnone = {.name = "none"};

Test(filter, order_and_contexts)
{
	const struct flt_ops *const chain[] = {&fa, &fnone, &fb, NULL};
	void *const gens[] = {"gen a", NULL, "gen b"};
	struct txn t;

	memset(&t, 0, sizeof(t));
	t.filters = chain;
	t.flt_gen = gens;
	trail[0] = '\0';
	cr_expect_eq(flt_request(&t), 0);
	flt_response(&t);
	flt_end(&t);
	cr_expect_str_eq(trail, "abBAee");
	cr_expect(t.flags & TXN_F_ENDED);
}

Test(filter, refusal_stops_chain_but_not_on_end)
{
	const struct flt_ops *const chain[] = {&fa, &fr, &fb, NULL};
	void *const gens[] = {"gen a", NULL, "gen b"};
	struct txn t;

	memset(&t, 0, sizeof(t));
	t.filters = chain;
	t.flt_gen = gens;
	trail[0] = '\0';
	cr_expect_eq(flt_request(&t), 429);
	flt_end(&t);
	cr_expect_str_eq(trail, "areee");
}

static int inits, deinits;
static int ok_init(const struct cfg *c)
{
	inits++;
	return 0;
}
static int bad_init(const struct cfg *c)
{
	return -EINVAL;
}
static void count_deinit(void)
{
	deinits++;
}

Test(filter, init_failure_unwinds)
{
	const struct flt_ops f1 = {.name = "1", .init = ok_init, .deinit = count_deinit};
	const struct flt_ops f2 = {.name = "2", .init = bad_init, .deinit = count_deinit};
	const struct flt_ops *const chain[] = {&f1, &f2, NULL};

	inits = deinits = 0;
	cr_expect_eq(flt_init_all(chain, NULL), -EINVAL);
	cr_expect_eq(inits, 1);
	cr_expect_eq(deinits, 1);
}

Test(filter, builtin_table_is_terminated)
{
	int n = 0;

	while (flt_builtin[n])
		n++;
	cr_expect_leq(n, FLT_MAX);
}
