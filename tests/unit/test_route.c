/* test_route.c: route precedence: host specificity, then longest prefix on
 * segment boundaries, then methods and file order. */
#include <criterion/criterion.h>
#include <string.h>

#include "cfg.h"
#include "route.h"

static struct cfg_route routes[] = {
        {.name = "any-root", .path_prefix = "/", .methods = CFG_M_ANY},
        {.name = "any-api", .path_prefix = "/api", .methods = CFG_M_ANY},
        {.name = "any-api-get", .path_prefix = "/api/v2", .methods = CFG_M_GET | CFG_M_HEAD},
        {.name = "wild", .host = "*.example.com", .path_prefix = "/", .methods = CFG_M_ANY},
        {.name = "wild-deep", .host = "*.eu.example.com", .path_prefix = "/", .methods = CFG_M_ANY},
        {.name = "exact",
         .host = "shop.example.com",
         .path_prefix = "/checkout",
         .methods = CFG_M_ANY},
        {.name = "slash", .path_prefix = "/static/", .methods = CFG_M_ANY},
};

static struct cfg conf = {.routes = routes, .n_routes = 7};

struct route_case {
	const char *host, *path, *method, *want;
};

static const struct route_case cases[] = {
        {NULL, "/", "GET", "any-root"},
        {"other.org", "/x", "GET", "any-root"},
        {"other.org", "/api", "GET", "any-api"},
        {"other.org", "/api/", "GET", "any-api"},
        {"other.org", "/api?q=1", "GET", "any-api"},
        {"other.org", "/apiary", "GET", "any-root"},
        {"other.org", "/api/v2/x", "GET", "any-api-get"},
        {"other.org", "/api/v2/x", "POST", "any-api"},
        {"a.example.com", "/api", "GET", "wild"},
        {"A.Example.COM:8080", "/", "GET", "wild"},
        {"example.com", "/", "GET", "any-root"},
        {"x.eu.example.com", "/", "GET", "wild-deep"},
        {"shop.example.com", "/checkout/pay", "POST", "exact"},
        {"shop.example.com.", "/checkout", "POST", "exact"},
        {"shop.example.com", "/cart", "GET", "wild"},
        {"other.org", "/static/app.js", "GET", "slash"},
        {"other.org", "/static", "GET", "any-root"},
        {"[::1]:8080", "/api", "GET", "any-api"},
};

Test(route, table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct route_case *c = &cases[i];
		const struct cfg_route *r =
		        route_match(&conf, c->host, c->host ? strlen(c->host) : 0, c->path,
		                    strlen(c->path), cfg_method_bit(c->method, strlen(c->method)));

		cr_assert_not_null(r, "case %zu: %s %s", i, c->host, c->path);
		cr_expect_str_eq(r->name, c->want, "case %zu: %s %s", i, c->host ? c->host : "-",
		                 c->path);
	}
}

Test(route, no_match_is_null)
{
	struct cfg_route only[] = {
	        {.name = "a", .host = "a.org", .path_prefix = "/x", .methods = CFG_M_GET},
	};
	struct cfg c = {.routes = only, .n_routes = 1};

	cr_expect_null(route_match(&c, "b.org", 5, "/x", 2, CFG_M_GET));
	cr_expect_null(route_match(&c, "a.org", 5, "/y", 2, CFG_M_GET));
	cr_expect_null(route_match(&c, "a.org", 5, "/x", 2, CFG_M_POST));
	cr_expect_null(route_match(&c, NULL, 0, "/x", 2, CFG_M_GET));
	cr_expect_not_null(route_match(&c, "a.org", 5, "/x", 2, CFG_M_GET));
}
