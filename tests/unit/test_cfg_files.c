/* test_cfg_files.c: sections registered by filters, the golden error pairs
 * under tests/integ/cfg/ and the shipped files under conf/. */
#include "cfg_testlib.h"
#include "admin.h"
#include "filter.h"

/* A section a filter would declare: unnamed with defaults, and a named one. */
struct demo_exp {
	char *endpoint;
	uint32_t batch;
	uint64_t queue_bytes;
	int ratio_pct;
	bool on;
};

static int set_ratio(const struct cfg_key *k, const char *val, void *field, char *msg,
                     size_t msglen)
{
	(void)k;
	if (strcmp(val, "half") == 0) {
		*(int *)field = 50;
		return 0;
	}
	snprintf(msg, msglen, "expected half, got \"%s\"", val);
	return -1;
}

static const struct cfg_key demo_keys[] = {
        {"endpoint", CFG_T_STR, CFG_FIELD(struct demo_exp, endpoint),
         .def = "http://127.0.0.1:4318", .doc = "where to"},
        {"batch", CFG_T_UINT, CFG_FIELD(struct demo_exp, batch), .min = 1, .max = 10, .def = "5",
         .doc = "spans"},
        {"queue_bytes", CFG_T_SIZE, CFG_FIELD(struct demo_exp, queue_bytes), .max = 1ull << 30,
         .def = "1m", .doc = "queue"},
        {"ratio", CFG_T_CUSTOM, CFG_FIELD(struct demo_exp, ratio_pct), .set = set_ratio,
         .doc = "custom"},
        {"on", CFG_T_BOOL, CFG_FIELD(struct demo_exp, on), .flags = CFG_K_REQUIRED, .doc = "req"},
        {.name = NULL},
};

static void demo_check(struct cfg_inst *in, void *obj)
{
	struct demo_exp *d = obj;

	if (d->batch == 7)
		cfg_report(in, "batch", "seven is unlucky (line %d)", cfg_key_line(in, "batch"));
}

static const struct cfg_section demo_unnamed = {.name = "exporter.demo",
                                                .keys = demo_keys,
                                                .size = sizeof(struct demo_exp),
                                                .check = demo_check,
                                                .doc = "test"};
static const struct cfg_section demo_named = {.name = "sink",
                                              .named = true,
                                              .keys = demo_keys,
                                              .size = sizeof(struct demo_exp),
                                              .doc = "test"};

Test(cfg, registered_sections)
{
	static const struct cfg_key bad_keys[] = {
	        {"x", CFG_T_UINT, CFG_FIELD(struct demo_exp, on), .max = 300, .doc = "too wide"},
	        {.name = NULL},
	};
	static const struct cfg_key bad_def[] = {
	        {"x", CFG_T_UINT, CFG_FIELD(struct demo_exp, batch), .max = 3, .def = "4",
	         .doc = "d"},
	        {.name = NULL},
	};
	static const struct cfg_section bad = {.name = "bad", .keys = bad_keys, .size = 64};
	static const struct cfg_section bad2 = {.name = "bad", .keys = bad_def, .size = 64};
	static const struct cfg_section dup = {
	        .name = "gateway", .keys = demo_keys, .size = sizeof(struct demo_exp)};
	const struct demo_exp *d;
	struct cfg *c;

	cr_assert_eq(cfg_register(&demo_unnamed), 0);
	cr_assert_eq(cfg_register(&demo_named), 0);
	cr_expect_eq(cfg_register(&demo_named), -EEXIST);
	cr_expect_eq(cfg_register(&dup), -EEXIST);
	cr_expect_eq(cfg_register(&bad), -EINVAL);
	cr_expect_eq(cfg_register(&bad2), -EINVAL);
	cr_expect_eq(cfg_section_find("sink"), &demo_named);

	/* absent unnamed section: defaults, required keys not asked for */
	c = load_ok(MINIMAL);
	d = cfg_ext_get(c, "exporter.demo", NULL);
	cr_assert_not_null(d);
	cr_expect_str_eq(d->endpoint, "http://127.0.0.1:4318");
	cr_expect_eq(d->batch, 5);
	cr_expect_eq(d->queue_bytes, 1048576);
	cr_expect_null(cfg_ext_get(c, "sink", "a"));
	cfg_free(c);

	c = load_ok(MINIMAL "[exporter.demo]\nbatch = 2\non = yes\nratio = half\n"
	                    "[sink a]\non = no\nendpoint = x\n[sink b]\non = on\n");
	d = cfg_ext_get(c, "exporter.demo", NULL);
	cr_expect_eq(d->batch, 2);
	cr_expect_eq(d->ratio_pct, 50);
	cr_expect(d->on);
	cr_expect_str_eq(((const struct demo_exp *)cfg_ext_get(c, "sink", "a"))->endpoint, "x");
	cr_expect(((const struct demo_exp *)cfg_ext_get(c, "sink", "b"))->on);
	cr_expect_eq(c->ext->line, 5);
	cfg_free(c);

	expect_errors(
	        "registered",
	        MINIMAL "[exporter.demo]\nbatch = 7\non = 1\n[sink]\n[sink s]\n"
	                "ratio = full\n[exporter.demo]\n[exporter.dmo]\n",
	        "t.ini:7: [exporter.demo] on: expected on/off, yes/no or true/false, got \"1\"\n"
	        "t.ini:8: [sink] needs a name, as in [sink NAME]\n"
	        "t.ini:9: [sink s]: missing required key on\n"
	        "t.ini:10: [sink s] ratio: expected half, got \"full\"\n"
	        "t.ini:11: duplicate section [exporter.demo] (first at line 5)\n"
	        "t.ini:12: unknown section [exporter.dmo] (did you mean [exporter.demo]?)\n");
	/* the hook runs only on a section without errors, and reports at a key */
	expect_errors("check hook", MINIMAL "[exporter.demo]\non = on\nbatch = 7\n",
	              "t.ini:7: [exporter.demo] batch: seven is unlucky (line 7)\n");
}

/* Keys a filter lets a [route] override: each route sees the section's
 * values with its own on top, wherever the section sits in the file. */
struct demo_rt {
	uint32_t level;
	char *tag;
	bool on;
};

static const struct cfg_key demo_rt_keys[] = {
        {"level", CFG_T_UINT, CFG_FIELD(struct demo_rt, level), .max = 9, .def = "1",
         .flags = CFG_K_ROUTE, .doc = "per route"},
        {"tag", CFG_T_STR, CFG_FIELD(struct demo_rt, tag), .flags = CFG_K_ROUTE, .doc = "text"},
        {"on", CFG_T_BOOL, CFG_FIELD(struct demo_rt, on), .doc = "section only"},
        {.name = NULL},
};

static void demo_rt_check(struct cfg_inst *in, void *obj)
{
	if (((struct demo_rt *)obj)->level == 7)
		cfg_report(in, "level", "seven is unlucky");
}

static const struct cfg_section demo_rt = {.name = "demo",
                                           .keys = demo_rt_keys,
                                           .size = sizeof(struct demo_rt),
                                           .check = demo_rt_check,
                                           .doc = "test"};

Test(cfg, route_overrides)
{
	const struct demo_rt *d;
	struct cfg *c;

	cr_assert_eq(cfg_register(&demo_rt), 0);
	c = load_ok(MINIMAL "[route r2]\npath_prefix = /2\nupstream = u\nlevel = 3\n"
	                    "[demo]\nlevel = 2\ntag = base\non = yes\n");
	d = cfg_route_ext(&c->routes[0], "demo");
	cr_assert_not_null(d);
	cr_expect_eq(d->level, 2);
	cr_expect_str_eq(d->tag, "base");
	cr_expect(d->on, "the keys a route cannot set keep the section's value");
	d = cfg_route_ext(&c->routes[1], "demo");
	cr_expect_eq(d->level, 3);
	cr_expect_str_eq(d->tag, "base");
	d = cfg_ext_get(c, "demo", NULL);
	cr_expect_eq(d->level, 2);
	cr_expect(d->on);
	cfg_free(c);

	/* no [demo] at all: routes see the defaults */
	c = load_ok(MINIMAL);
	cr_expect_eq(((const struct demo_rt *)cfg_route_ext(&c->routes[0], "demo"))->level, 1);
	cr_expect_null(cfg_route_ext(&c->routes[0], "gateway"));
	cfg_free(c);

	expect_errors("route overrides",
	              MINIMAL "[route a]\npath_prefix = /a\nupstream = u\nlevel = 10\nlevl = 1\n"
	                      "on = yes\n[route b]\npath_prefix = /b\nupstream = u\n"
	                      "level = 2\nlevel = 3\n[route c]\npath_prefix = /c\nupstream = u\n"
	                      "level = 7\n",
	              "t.ini:8: [route a] level: expected an integer in 0..9, got \"10\"\n"
	              "t.ini:9: [route a]: unknown key \"levl\" (did you mean \"level\"?)\n"
	              "t.ini:10: [route a]: unknown key \"on\"\n"
	              "t.ini:15: [route b]: duplicate key \"level\" (first set at line 14)\n"
	              "t.ini:19: [route c] level: seven is unlucky\n");
}

/* The golden pairs: tracegate -t -c tests/integ/cfg/NAME.ini prints NAME.stderr. */
Test(cfg, integ_golden_pairs)
{
	glob_t g;
	size_t i;
	int bad = 0;

	cr_assert_eq(admin_declare(), 0); /* what the binary knows */
	cr_assert_eq(flt_declare_all(flt_builtin), 0);
	cr_assert_eq(chdir(TG_SOURCE_DIR), 0);
	cr_assert_eq(glob("tests/integ/cfg/*.ini", 0, NULL, &g), 0);
	for (i = 0; i < g.gl_pathc; i++) {
		char want_path[512], *want, *got = NULL;
		size_t glen = 0;
		struct cfg *c;
		FILE *e;
		int rc;

		snprintf(want_path, sizeof(want_path), "%.*s.stderr",
		         (int)(strlen(g.gl_pathv[i]) - 4), g.gl_pathv[i]);
		want = slurp(want_path);
		e = open_memstream(&got, &glen);
		rc = cfg_load(g.gl_pathv[i], e, &c);
		fclose(e);
		cr_expect_str_eq(got, want, "%s:\n--- got\n%s--- want\n%s", g.gl_pathv[i], got,
		                 want);
		cr_expect_eq(rc, *want ? -EINVAL : 0, "%s", g.gl_pathv[i]);
		bad += *want != '\0';
		cfg_free(c);
		free(want);
		free(got);
	}
	cr_expect_geq(g.gl_pathc, 7);
	cr_expect_geq(bad, 6);
	globfree(&g);
}

/* conf/: every example loads; the reference names every key with its default. */
Test(cfg, shipped_configs)
{
	struct cfg *c, *defaults_cfg;
	const struct cfg_section *s;
	const struct cfg_key *k;
	char *ref, pat[128], a[256], b[256];
	int n;

	cr_assert_eq(admin_declare(), 0);
	cr_assert_eq(flt_declare_all(flt_builtin), 0);
	defaults_cfg = load_ok(MINIMAL);
	cr_assert_eq(chdir(TG_SOURCE_DIR), 0);
	cr_assert_eq(cfg_load("conf/tracegate.ini", stderr, &c), 0);
	cr_expect_str_eq(c->gw.listen[0].text, "127.0.0.1:8080");
	cr_assert_eq(c->n_routes, 1);
	cr_expect_str_eq(c->routes[0].upstream->servers[0].text, "127.0.0.1:8081");
	/* every value the reference sets is the default, but the demo's listen */
	for (n = 0; (s = cfg_section_at(n)); n++) {
		for (k = s->keys; k->name; k++) {
			if (!strcmp(k->name, "listen") || !strcmp(k->name, "servers") ||
			    !strcmp(k->name, "upstream") || s == &cfg_sections_certificate)
				continue;
			render(k, section_base(c, s->name), a, sizeof(a));
			render(k, section_base(defaults_cfg, s->name), b, sizeof(b));
			cr_expect_str_eq(a, b, "[%s] %s in conf/tracegate.ini", s->name, k->name);
		}
	}
	cfg_free(c);
	cfg_free(defaults_cfg);

	ref = slurp("conf/tracegate.ini");
	for (n = 0; (s = cfg_section_at(n)); n++) {
		char commented_sec[128];

		/* a section that needs files of its own ([certificate]) is shown
		 * commented out, so the reference loads anywhere */
		snprintf(pat, sizeof(pat), "\n[%s", s->name);
		snprintf(commented_sec, sizeof(commented_sec), "\n; [%s", s->name);
		cr_expect(strstr(ref, pat) || strstr(ref, commented_sec), "reference lacks [%s]",
		          s->name);
		for (k = s->keys; k->name; k++) {
			char set[96], commented[96];

			snprintf(set, sizeof(set), "\n%s = ", k->name);
			snprintf(commented, sizeof(commented), "\n; %s = ", k->name);
			cr_expect(strstr(ref, set) || strstr(ref, commented),
			          "reference lacks [%s] %s", s->name, k->name);
		}
	}
	free(ref);

	cr_assert_eq(cfg_load("conf/examples/api-gateway.ini", stderr, &c), 0);
	cr_expect_eq(c->gw.n_listen, 2);
	cr_expect_eq(c->gw.max_body_bytes, 8u << 20);
	cr_assert_eq(c->n_upstreams, 2);
	cr_expect_eq(c->upstreams[0].balance, CFG_BALANCE_LEAST_REQUEST);
	cr_expect_eq(c->upstreams[0].n_servers, 3);
	cr_expect_eq(c->upstreams[1].n_servers, 2);
	cr_expect_str_eq(c->upstreams[1].host_header, "catalog.internal");
	cr_expect(!c->upstreams[1].retry_connect);
	cr_assert_eq(c->n_routes, 4);
	cr_expect_str_eq(c->routes[0].host, "*.shop.example.com");
	cr_expect_eq(c->routes[0].methods, CFG_M_GET | CFG_M_HEAD);
	cr_expect_eq(c->routes[2].methods, CFG_M_POST | CFG_M_PUT);
	cr_expect_eq(c->routes[3].upstream, &c->upstreams[1]);
	cfg_free(c);
}
