/* test_upstream.c: server choice per worker: round robin, least request,
 * avoiding a failed server, ejection after max_fails and panic routing. */
#include <criterion/criterion.h>
#include <string.h>

#include "upstream.h"
#include "worker.h"

static struct worker w;
static struct cfg_upstream ucfg;
static struct ups_server srv[3];
static struct ups u;

static void setup(enum cfg_balance balance)
{
	memset(&w, 0, sizeof(w));
	memset(&ucfg, 0, sizeof(ucfg));
	memset(srv, 0, sizeof(srv));
	ucfg.name = "t";
	ucfg.n_servers = 3;
	ucfg.balance = balance;
	ucfg.max_fails = 2;
	ucfg.fail_timeout_ms = 60000;
	u = (struct ups){.cfg = &ucfg, .w = &w, .n_srv = 3, .srv = srv};
	for (int i = 0; i < 3; i++) {
		srv[i].addr = &ucfg.servers[i];
		srv[i].ups = &u;
	}
}

Test(upstream, round_robin_cycles)
{
	setup(CFG_BALANCE_ROUND_ROBIN);
	for (int i = 0; i < 9; i++)
		cr_expect_eq(ups_pick(&u, NULL), &srv[i % 3], "pick %d", i);
}

Test(upstream, least_request_prefers_idle_servers)
{
	setup(CFG_BALANCE_LEAST_REQUEST);
	srv[0].active = 5;
	srv[1].active = 1;
	srv[2].active = 3;
	cr_expect_eq(ups_pick(&u, NULL), &srv[1]);
	srv[1].active = 9;
	cr_expect_eq(ups_pick(&u, NULL), &srv[2]);
}

Test(upstream, avoid_and_single_server)
{
	setup(CFG_BALANCE_ROUND_ROBIN);
	for (int i = 0; i < 6; i++)
		cr_expect_neq(ups_pick(&u, &srv[1]), &srv[1]);
	u.n_srv = 1;
	cr_expect_null(ups_pick(&u, &srv[0]), "no other server to retry on");
}

Test(upstream, ejection_and_panic_routing)
{
	setup(CFG_BALANCE_ROUND_ROBIN);
	ups_report(&srv[0], false);
	cr_expect_eq(srv[0].eject_until_ns, 0, "one failure is not enough");
	ups_report(&srv[0], false);
	cr_expect_neq(srv[0].eject_until_ns, 0);
	for (int i = 0; i < 6; i++)
		cr_expect_neq(ups_pick(&u, NULL), &srv[0], "ejected server picked");
	ups_report(&srv[1], false);
	ups_report(&srv[1], false);
	ups_report(&srv[2], false);
	ups_report(&srv[2], false);
	/* all out: the one whose ejection ends first still gets traffic */
	cr_expect_eq(ups_pick(&u, NULL), &srv[0]);
	ups_report(&srv[0], true);
	cr_expect_eq(srv[0].fails, 0);
	cr_expect_eq(srv[0].eject_until_ns, 0);
}
