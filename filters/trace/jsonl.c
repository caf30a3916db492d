/* jsonl.c: the JSON-lines exporter: one JSON object per span, appended to a
 * file, stdout or stderr.
 *
 * Runs on its exporter thread. A batch is formatted into one buffer and
 * written with write() of whole lines, so lines never interleave with the
 * access log when both go to stdout. Field names follow OTLP's JSON mapping
 * (traceId, startTimeUnixNano...), with attributes as a flat object.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"
#include "trace/export.h"
#include "trace/jsonw.h"
#include "trace/tbuf.h"
#include "trace/trace.h"

#define JSONL_BUF_MAX (4u << 20) /* a batch larger than this is written in pieces */

struct jsonl {
	int fd;
	bool own_fd;
	char *path;    /* when own_fd */
	char *service; /* resource service.name */
	struct tbuf buf;
};

static int jsonl_last_event(const struct span *s)
{
	int last = -1;

	for (int i = 0; i < SPAN_EV_N; i++)
		if (s->ev_ns[i])
			last = i;
	return last;
}

static void jsonl_span(struct jsonl *j, const struct span *s)
{
	static const char *const status[] = {"UNSET", "OK", "ERROR"};
	struct tbuf *b = &j->buf;
	int last;

	tbuf_lit(b, "{\"service\":");
	jsonw_cstr(b, j->service);
	tbuf_lit(b, ",\"traceId\":");
	jsonw_hex(b, s->trace_id, 16);
	tbuf_lit(b, ",\"spanId\":");
	jsonw_hex(b, s->span_id, 8);
	if (span_has_parent(s)) {
		tbuf_lit(b, ",\"parentSpanId\":");
		jsonw_hex(b, s->parent_id, 8);
	}
	if (s->ts_len) {
		tbuf_lit(b, ",\"traceState\":");
		jsonw_str(b, span_str(s, s->ts_off), s->ts_len);
	}
	tbuf_lit(b, ",\"flags\":");
	jsonw_u64(b, s->flags);
	tbuf_lit(b, ",\"name\":");
	jsonw_str(b, span_str(s, s->name_off), s->name_len);
	tbuf_lit(b, s->kind == SPAN_KIND_SERVER ? ",\"kind\":\"SERVER\"" : ",\"kind\":\"CLIENT\"");
	tbuf_lit(b, ",\"startTimeUnixNano\":");
	jsonw_u64(b, s->start_ns);
	tbuf_lit(b, ",\"endTimeUnixNano\":");
	jsonw_u64(b, s->end_ns);
	tbuf_lit(b, ",\"status\":\"");
	tbuf_lit(b, status[s->status <= SPAN_ST_ERROR ? s->status : 0]);
	tbuf_lit(b, "\",\"attributes\":");
	jsonw_span_attrs(b, s);
	if (s->dropped_attrs) {
		tbuf_lit(b, ",\"droppedAttributesCount\":");
		jsonw_u64(b, s->dropped_attrs);
	}
	last = jsonl_last_event(s);
	for (int i = 0, n = 0; i < SPAN_EV_N; i++) {
		if (!s->ev_ns[i])
			continue;
		tbuf_lit(b, n++ ? ",{\"name\":\"" : ",\"events\":[{\"name\":\"");
		tbuf_lit(b, span_ev_name[i]);
		tbuf_lit(b, "\",\"timeUnixNano\":");
		jsonw_u64(b, s->ev_ns[i]);
		tbuf_lit(b, "}");
		if (i == last)
			tbuf_lit(b, "]");
	}
	if (s->has_link) {
		tbuf_lit(b, ",\"links\":[{\"traceId\":");
		jsonw_hex(b, s->link_trace_id, 16);
		tbuf_lit(b, ",\"spanId\":");
		jsonw_hex(b, s->link_span_id, 8);
		tbuf_lit(b, ",\"flags\":");
		jsonw_u64(b, s->link_flags);
		tbuf_lit(b, "}]");
	}
	tbuf_lit(b, "}\n");
}

/* Writes out what is buffered; returns false when the file refused it, or
 * when the buffer ran out of memory and holds only part of the lines. */
static bool jsonl_flush(struct jsonl *j)
{
	struct tbuf *b = &j->buf;
	bool ok = !b->failed;
	size_t off = 0;

	while (ok && off < b->len) {
		ssize_t n = write(j->fd, b->p + off, b->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ok = false;
		else
			off += (size_t)n;
	}
	tbuf_reset(b);
	return ok;
}

static enum export_status jsonl_send(void *st, const struct span *const *spans, int n,
                                     const struct export_ctl *ctl)
{
	struct jsonl *j = st;
	bool ok = true;

	(void)ctl; /* a local write does not wait for anyone */
	for (int i = 0; i < n; i++) {
		jsonl_span(j, spans[i]);
		if (j->buf.len >= JSONL_BUF_MAX || i == n - 1)
			ok &= jsonl_flush(j);
	}
	return ok ? EXPORT_SENT : EXPORT_FAILED;
}

static int jsonl_open_path(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

static void jsonl_close(void *st)
{
	struct jsonl *j = st;

	if (j->own_fd)
		close(j->fd);
	tbuf_free(&j->buf);
	free(j->service);
	free(j->path);
	free(j);
}

static int jsonl_open(const struct cfg *c, const struct trace_exp_cfg *ec, void **st)
{
	const char *path = ec->path;
	struct jsonl *j = calloc(1, sizeof(*j));
	int err;

	if (!j || !(j->service = strdup(c->gw.service_name))) {
		free(j);
		return -ENOMEM;
	}
	if (strcmp(path, "stdout") == 0) {
		j->fd = STDOUT_FILENO;
	} else if (strcmp(path, "stderr") == 0) {
		j->fd = STDERR_FILENO;
	} else {
		if (!(j->path = strdup(path)) || (j->fd = jsonl_open_path(path)) < 0) {
			err = j->path ? -errno : -ENOMEM;
			log_main(LOG_ERROR, "cannot open [exporter.jsonl] path %s: %s", path,
			         strerror(-err));
			jsonl_close(j);
			return err;
		}
		j->own_fd = true;
	}
	*st = j;
	return 0;
}

/* The new file takes the old one's descriptor number with dup2(), which
 * swaps it atomically under the exporter thread: a batch goes whole to one
 * file or the other. */
static void jsonl_reopen(void *st)
{
	struct jsonl *j = st;
	int fd;

	if (!j->own_fd)
		return;
	fd = jsonl_open_path(j->path);
	if (fd < 0 || dup2(fd, j->fd) < 0)
		log_main(LOG_ERROR, "cannot reopen [exporter.jsonl] path %s: %s", j->path,
		         strerror(errno));
	if (fd >= 0)
		close(fd);
}

const struct exporter_ops jsonl_exporter = {
        .open = jsonl_open,
        .send = jsonl_send,
        .reopen = jsonl_reopen,
        .close = jsonl_close,
};
