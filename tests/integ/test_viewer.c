/* test_viewer.c: the built-in trace viewer in a real browser: Debian's
 * chromium, driven by playwright-core (tests/e2e/viewer/viewer-check.js,
 * installed by tests/e2e/viewer/setup.sh), against the real gateway with
 * real traffic. The list must show the trace, the waterfall every span the
 * API holds for it; the screenshots land in the build tree
 * (tests/viewer-out/). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static struct hproc origin, gw;

/* a failed assertion ends the test before it stops what it started */
static void teardown(void)
{
	harness_kill(&gw);
	harness_kill(&origin);
}

TestSuite(viewer, .fini = teardown, .timeout = 180);

Test(viewer, list_and_waterfall_render_the_spans)
{
	char base[64], *out, *err, *log, trace[33];
	char *argv[] = {"node",
	                TG_SOURCE_DIR "/tests/e2e/viewer/viewer-check.js",
	                base,
	                trace,
	                TG_SUPPORT_DIR "/viewer-out",
	                NULL};
	const char *p;
	struct hresp r;
	int port, rc;

	cr_assert_eq(access(TG_SOURCE_DIR "/tests/e2e/viewer/node_modules", F_OK), 0,
	             "run tests/e2e/viewer/setup.sh first (tests/run.sh does)");
	mkdir(TG_SUPPORT_DIR "/viewer-out", 0755);
	harness_origin_start(&origin, NULL);
	harness_gw_start(&gw,
	                 "[gateway]\nlisten = 127.0.0.1:0\nworkers = 1\naccess_log = off\n"
	                 "[upstream shop]\nservers = 127.0.0.1:%d\n[route shop]\n"
	                 "path_prefix = /shop\nupstream = shop\n[tracing]\nexporters = memory\n"
	                 "[exporter.memory]\ndelay_ms = 20\n[admin]\nlisten = 127.0.0.1:0\n",
	                 origin.port);
	log = harness_slurp(gw.err_path);
	p = strstr(log, "admin listening on ");
	cr_assert_not_null(p, "%s", log);
	port = atoi(strchr(p + 19, ':') + 1);
	free(log);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	harness_request(gw.port,
	                "GET /shop/cart HTTP/1.1\r\nHost: a\r\ntraceparent: "
	                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n",
	                &r);
	cr_assert_eq(r.status, 200);
	harness_resp_free(&r);
	harness_request(gw.port, "GET /shop/status/500 HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	harness_resp_free(&r);
	usleep(300 * 1000);
	strcpy(trace, "4bf92f3577b34da6a3ce929d0e0e4736");

	rc = harness_run(argv, &out, &err);
	cr_assert_eq(rc, 0, "viewer-check failed:\n%s\n%s", out, err);
	free(out);
	free(err);
	harness_gw_stop(&gw, false);
	harness_kill(&origin);
}
