/* filter.h: THE filter API: how features such as tracing plug into a request.
 *
 * A filter is one `const struct flt_ops` in the explicit table of built-in
 * filters (filter.c); chain order is table order, never build order. Hooks run
 * on the request's worker thread and must not block. Per request, a filter
 * keeps its state in the <ctx> slot it is handed (allocate it from the txn's
 * arena: it is freed with the txn). Hooks a filter does not need are NULL.
 *
 * What a filter derives from the config (per-route tables) belongs to the
 * config's generation (gen.h): gen_new() builds it for the boot config and
 * for each reload, on_request() is handed the one of the request's
 * generation, and gen_free() frees it once no request uses it any more.
 *
 * Order of calls for one request:
 *   on_request            head parsed and routed (not for requests rejected
 *                         before routing: 400/404/408/413/431...)
 *   on_attempt            before each upstream attempt's head is written
 *   on_attempt_end        that attempt is over (timings in t->tm)
 *   on_response           response head, before it reaches the client: the
 *                         upstream's, or the gateway's own error answer
 *                         (502, 504...) once on_request ran
 *   on_log                while the access-log line is built
 *   on_end                exactly once per txn, whatever happened (ok, local
 *                         error response, upstream failure, client abort)
 */
#ifndef TG_FILTER_H
#define TG_FILTER_H

struct cfg;
struct evbuffer;
struct txn;

struct flt_ops {
	const char *name;
	/* Boot thread, once, before the config is read: registers the
	 * filter's config sections (cfg_register()). 0 or negative errno. */
	int (*declare)(void);
	/* Boot thread, once, after the config is loaded: what lives as long as
	 * the process (threads, files). 0 or negative errno. */
	int (*init)(const struct cfg *c);
	void (*deinit)(void);
	/* Main thread, after init() for the boot config and then once per
	 * reload: derives the filter's state for config <c> into *<state>.
	 * 0, or a negative errno that refuses the reload (or the boot). */
	int (*gen_new)(const struct cfg *c, void **state);
	/* Frees what gen_new() made, once no request uses it. Any thread. */
	void (*gen_free)(void *state);
	/* Main thread, on SIGUSR1 (log rotation): reopens the files the filter
	 * appends to, under their configured paths. Optional. */
	void (*reopen)(void);
	/* <gen>: what gen_new() made of the request's config. Returns 0 to go
	 * on, or a 4xx/5xx status the gateway answers with instead of
	 * forwarding. May edit t->req. */
	int (*on_request)(struct txn *t, void *gen, void **ctx);
	void (*on_attempt)(struct txn *t, void *ctx);
	void (*on_attempt_end)(struct txn *t, void *ctx);
	/* May edit t->resp. */
	void (*on_response)(struct txn *t, void *ctx);
	/* Appends " key=value" fields to the access-log line <line>. */
	void (*on_log)(struct txn *t, void *ctx, struct evbuffer *line);
	void (*on_end)(struct txn *t, void *ctx);
};

#define FLT_MAX 8

/* The built-in filters, in chain order, NULL-terminated. */
extern const struct flt_ops *const flt_builtin[];

/* Calls declare() of every filter in <chain>. Returns 0 or the first error.
 * Boot thread, before cfg_load(). */
int flt_declare_all(const struct flt_ops *const *chain);

/* Calls init() of every filter in <chain>; on a failure, deinit()s the ones
 * already initialised and returns its error. Boot thread. */
int flt_init_all(const struct flt_ops *const *chain, const struct cfg *c);
void flt_deinit_all(const struct flt_ops *const *chain);

/* Calls reopen() of every filter in <chain> that has one. Main thread. */
void flt_reopen_all(const struct flt_ops *const *chain);

/* Chain runners, called by the core on the txn's worker. flt_request()
 * returns 0 or the status the first refusing filter asked for; the filters
 * after it are not called (on_end still is, for all of them). flt_response()
 * runs in reverse order, as HAProxy does for responses. flt_end() may be
 * called once only: it sets TXN_F_ENDED. */
int flt_request(struct txn *t);
void flt_attempt(struct txn *t);
void flt_attempt_end(struct txn *t);
void flt_response(struct txn *t);
void flt_log(struct txn *t, struct evbuffer *line);
void flt_end(struct txn *t);

#endif
