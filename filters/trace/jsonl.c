/* jsonl.c: the JSON-lines exporter: one JSON object per span, appended to a
 * file, stdout or stderr.
 *
 * Runs on the exporter thread. A batch is formatted into one buffer and
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
#include "trace/trace.h"
#include "trace/tracectx.h"

#define JSONL_BUF_MAX (4u << 20) /* a batch larger than this is written in pieces */

struct jsonl {
	int fd;
	bool own_fd;
	char *service; /* resource service.name */
	char *buf;
	size_t len, cap;
};

static bool jsonl_reserve(struct jsonl *j, size_t n)
{
	size_t cap = j->cap ? j->cap : 65536;
	char *p;

	if (j->len + n <= j->cap)
		return true;
	while (cap < j->len + n)
		cap *= 2;
	if (!(p = realloc(j->buf, cap)))
		return false;
	j->buf = p;
	j->cap = cap;
	return true;
}

static void jsonl_add(struct jsonl *j, const char *s, size_t n)
{
	if (jsonl_reserve(j, n)) {
		memcpy(j->buf + j->len, s, n);
		j->len += n;
	}
}

static void jsonl_lit(struct jsonl *j, const char *s)
{
	jsonl_add(j, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at <s> (at most <n> bytes), 0 if none. */
static size_t jsonl_utf8(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = s[0] & (0x7fu >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	/* overlong forms, surrogates and beyond U+10FFFF are not text */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Appends <s,n> as a JSON string; bytes that are not UTF-8 (a header may
 * carry obs-text, a cut value may end mid-character) become U+FFFD. */
static void jsonl_str(struct jsonl *j, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, u;

	if (!jsonl_reserve(j, 6 * n + 2))
		return;
	j->buf[j->len++] = '"';
	while (i < n) {
		unsigned char ch = p[i];
		char *o = j->buf + j->len;

		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
			size_t run = 1;

			/* most values are plain ASCII: copy runs, not bytes */
			while (i + run < n && p[i + run] >= 0x20 && p[i + run] < 0x7f &&
			       p[i + run] != '"' && p[i + run] != '\\')
				run++;
			memcpy(o, p + i, run);
			j->len += run;
			i += run;
		} else if (ch == '"' || ch == '\\') {
			o[0] = '\\';
			o[1] = (char)ch;
			j->len += 2;
			i++;
		} else if (ch < 0x20 || ch == 0x7f) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[ch >> 4];
			o[5] = hex[ch & 15];
			j->len += 6;
			i++;
		} else if ((u = jsonl_utf8(p + i, n - i))) {
			memcpy(o, p + i, u);
			j->len += u;
			i += u;
		} else {
			memcpy(o, "\\ufffd", 6);
			j->len += 6;
			i++;
		}
	}
	j->buf[j->len++] = '"';
}

static void jsonl_hex(struct jsonl *j, const uint8_t *b, size_t n)
{
	char h[34];

	h[0] = '"';
	tracectx_hex(b, n, h + 1);
	h[2 * n + 1] = '"';
	jsonl_add(j, h, 2 * n + 2);
}

/* Decimal digits by hand, without snprintf's format parsing: a span has
 * about twenty numbers. */
static void jsonl_u64(struct jsonl *j, uint64_t v)
{
	char num[24], *p = num + sizeof(num);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	jsonl_add(j, p, (size_t)(num + sizeof(num) - p));
}

static void jsonl_i64(struct jsonl *j, int64_t v)
{
	if (v < 0) {
		jsonl_lit(j, "-");
		jsonl_u64(j, (uint64_t)0 - (uint64_t)v);
		return;
	}
	jsonl_u64(j, (uint64_t)v);
}

static bool jsonl_is_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

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
	int last;

	jsonl_lit(j, "{\"service\":");
	jsonl_str(j, j->service, strlen(j->service));
	jsonl_lit(j, ",\"traceId\":");
	jsonl_hex(j, s->trace_id, 16);
	jsonl_lit(j, ",\"spanId\":");
	jsonl_hex(j, s->span_id, 8);
	if (!jsonl_is_zero(s->parent_id, 8)) {
		jsonl_lit(j, ",\"parentSpanId\":");
		jsonl_hex(j, s->parent_id, 8);
	}
	if (s->ts_len) {
		jsonl_lit(j, ",\"traceState\":");
		jsonl_str(j, span_str(s, s->ts_off), s->ts_len);
	}
	jsonl_lit(j, ",\"flags\":");
	jsonl_u64(j, s->flags);
	jsonl_lit(j, ",\"name\":");
	jsonl_str(j, span_str(s, s->name_off), s->name_len);
	jsonl_lit(j, s->kind == SPAN_KIND_SERVER ? ",\"kind\":\"SERVER\"" : ",\"kind\":\"CLIENT\"");
	jsonl_lit(j, ",\"startTimeUnixNano\":");
	jsonl_u64(j, s->start_ns);
	jsonl_lit(j, ",\"endTimeUnixNano\":");
	jsonl_u64(j, s->end_ns);
	jsonl_lit(j, ",\"status\":\"");
	jsonl_lit(j, status[s->status <= SPAN_ST_ERROR ? s->status : 0]);
	jsonl_lit(j, "\",\"attributes\":{");
	for (int i = 0; i < s->n_attrs; i++) {
		const struct span_attr *a = &s->attrs[i];

		if (i)
			jsonl_lit(j, ",");
		jsonl_str(j, span_attr_name[a->key], strlen(span_attr_name[a->key]));
		jsonl_lit(j, ":");
		if (a->type == SPAN_T_INT)
			jsonl_i64(j, a->i);
		else
			jsonl_str(j, span_str(s, a->off), a->len);
	}
	jsonl_lit(j, "}");
	if (s->dropped_attrs) {
		jsonl_lit(j, ",\"droppedAttributesCount\":");
		jsonl_u64(j, s->dropped_attrs);
	}
	last = jsonl_last_event(s);
	for (int i = 0, n = 0; i < SPAN_EV_N; i++) {
		if (!s->ev_ns[i])
			continue;
		jsonl_lit(j, n++ ? ",{\"name\":\"" : ",\"events\":[{\"name\":\"");
		jsonl_lit(j, span_ev_name[i]);
		jsonl_lit(j, "\",\"timeUnixNano\":");
		jsonl_u64(j, s->ev_ns[i]);
		jsonl_lit(j, "}");
		if (i == last)
			jsonl_lit(j, "]");
	}
	if (s->has_link) {
		jsonl_lit(j, ",\"links\":[{\"traceId\":");
		jsonl_hex(j, s->link_trace_id, 16);
		jsonl_lit(j, ",\"spanId\":");
		jsonl_hex(j, s->link_span_id, 8);
		jsonl_lit(j, ",\"flags\":");
		jsonl_u64(j, s->link_flags);
		jsonl_lit(j, "}]");
	}
	jsonl_lit(j, "}\n");
}

/* Writes out what is buffered; returns false when the file refused it. */
static bool jsonl_flush(struct jsonl *j)
{
	size_t off = 0;

	while (off < j->len) {
		ssize_t n = write(j->fd, j->buf + off, j->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			j->len = 0;
			return false;
		}
		off += (size_t)n;
	}
	j->len = 0;
	return true;
}

static int jsonl_write(void *st, const struct span *const *spans, int n)
{
	struct jsonl *j = st;
	int done = 0, pending = 0;

	for (int i = 0; i < n; i++) {
		jsonl_span(j, spans[i]);
		pending++;
		if (j->len >= JSONL_BUF_MAX || i == n - 1) {
			if (jsonl_flush(j))
				done += pending;
			pending = 0;
		}
	}
	return done;
}

static int jsonl_open(const struct cfg *c, void **st)
{
	const struct trace_jsonl_cfg *jc = trace_cfg_jsonl(c);
	const char *path = jc ? jc->path : "stdout";
	struct jsonl *j = calloc(1, sizeof(*j));

	if (!j || !(j->service = strdup(c->gw.service_name))) {
		free(j);
		return -ENOMEM;
	}
	if (strcmp(path, "stdout") == 0) {
		j->fd = STDOUT_FILENO;
	} else if (strcmp(path, "stderr") == 0) {
		j->fd = STDERR_FILENO;
	} else {
		j->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (j->fd < 0) {
			int err = -errno;

			log_main(LOG_ERROR, "cannot open [exporter.jsonl] path %s: %s", path,
			         strerror(errno));
			free(j->service);
			free(j);
			return err;
		}
		j->own_fd = true;
	}
	*st = j;
	return 0;
}

static void jsonl_close(void *st)
{
	struct jsonl *j = st;

	if (j->own_fd)
		close(j->fd);
	free(j->buf);
	free(j->service);
	free(j);
}

const struct exporter_ops jsonl_exporter = {
        .name = "jsonl",
        .open = jsonl_open,
        .write = jsonl_write,
        .close = jsonl_close,
};
