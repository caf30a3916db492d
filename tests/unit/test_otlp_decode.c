/* test_otlp_decode.c: what both OTLP decoders share (otlp_decode.c): the
 * same record from protobuf and JSON for the same spans, the callback's
 * contract, error messages, the body cap. Each format's own cases are in
 * test_otlp_decode_pb.c and test_otlp_decode_json.c. */
#include "otlp_decode_testlib.h"

/* Many spans, each a little different (ids with every byte value, root or
 * child, times up to UINT64_MAX, the extreme ints, strings at the cap):
 * protobuf and JSON decode each to the same record, and that record is
 * the span we encoded. */
Test(otlp_decode, both_formats_agree)
{
	enum { N = 40 };
	static struct span sp[N];
	static const struct span *list[N];
	static struct got gp, gj;
	static char big[SPAN_STR_MAX];
	struct tbuf bp = {0}, bj = {0};
	char err[256];

	memset(big, 'x', sizeof(big));
	for (int i = 0; i < N; i++) {
		struct span *s = &sp[i];

		span_reset(s);
		for (int k = 0; k < 16; k++)
			s->trace_id[k] = (uint8_t)(i * 37 + k * 11 + 1);
		for (int k = 0; k < 8; k++)
			s->span_id[k] = (uint8_t)(i * 53 + k * 7 + 1);
		if (i % 3)
			for (int k = 0; k < 8; k++)
				s->parent_id[k] = (uint8_t)(i + k + 1);
		s->kind = (uint8_t)(i % 2 ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER);
		s->status = (uint8_t)(i % 3);
		s->start_ns = i == 7 ? UINT64_MAX - 1 : T0 + (uint64_t)i;
		s->end_ns = i == 7 ? UINT64_MAX : T0 + 1000 * (uint64_t)i;
		if (i == 5)
			span_set_name(s, big, sizeof(big));
		else
			span_set_name(s, "op \xe2\x82\xac \"q\" \\ \t", 13);
		span_attr_int(s, SPAN_A_SERVER_PORT, i % 2 ? INT64_MIN : INT64_MAX);
		STR(s, SPAN_A_URL_PATH, i % 2 ? "/" : "");
		s->ev_ns[i % SPAN_EV_N] = T0 + (uint64_t)i;
		list[i] = s;
	}
	cr_assert_eq(otlp_pb_encode(&bp, &full_res, list, N), 0);
	cr_assert_eq(otlp_json_encode(&bj, &full_res, list, N), 0);
	cr_assert_eq(decode(otlp_decode_pb, bp.p, bp.len, &gp, NULL, err), N, "%s", err);
	cr_assert_eq(decode(otlp_decode_json, bj.p, bj.len, &gj, NULL, err), N, "%s", err);
	for (int i = 0; i < N; i++) {
		const struct got_span *g = &gp.sp[i];
		const struct span *s = &sp[i];
		char want[128];

		expect_same(g, &gj.sp[i], i);
		cr_expect_eq(memcmp(g->s.trace_id, s->trace_id, 16), 0);
		cr_expect_eq(memcmp(g->s.span_id, s->span_id, 8), 0);
		cr_expect_eq(memcmp(g->s.parent_id, s->parent_id, 8), 0);
		cr_expect_eq(g->s.has_parent, span_has_parent(s));
		cr_expect_eq(g->s.kind, s->kind);
		cr_expect_eq(g->s.status, s->status);
		cr_expect_eq(g->s.start_ns, s->start_ns);
		cr_expect_eq(g->s.end_ns, s->end_ns);
		cr_expect_eq(g->s.name_len, s->name_len);
		cr_expect_eq(memcmp(g->name, span_str(s, s->name_off), s->name_len), 0);
		/* span 5's name fills the string area: its path is cut to "" */
		snprintf(want, sizeof(want), "{\"server.port\":%s,\"url.path\":\"%.*s\"}",
		         i % 2 ? "-9223372036854775808" : "9223372036854775807",
		         (int)s->attrs[1].len, span_str(s, s->attrs[1].off));
		cr_expect_str_eq(g->attrs, want, "span %d", i);
		snprintf(want, sizeof(want), "[{\"name\":\"%s\",\"timeUnixNano\":\"%llu\"}]",
		         span_ev_name[i % SPAN_EV_N], T0 + (unsigned long long)i);
		cr_expect_str_eq(g->events, want, "span %d", i);
	}
	got_free(&gp);
	got_free(&gj);
	tbuf_free(&bp);
	tbuf_free(&bj);
}

/* ---- the callback ---------------------------------------------------------------- */

Test(otlp_decode, callback_stops)
{
	static struct span sp[5];
	const struct span *list[5];
	static struct got g;
	struct tbuf b = {0};
	char err[256];

	for (int i = 0; i < 5; i++) {
		server_span(&sp[i]);
		sp[i].span_id[0] = (uint8_t)('a' + i);
		list[i] = &sp[i];
	}
	cr_assert_eq(otlp_pb_encode(&b, &full_res, list, 5), 0);
	got_free(&g);
	g.stop_at = 3;
	cr_expect_eq(otlp_decode_pb(b.p, b.len, on_span, &g, NULL, err, sizeof(err)), 2);
	cr_expect_eq(g.calls, 3);
	cr_expect_eq(g.n, 2);
	g.stop_at = 0;
	got_free(&g);
	/* no callback: a check, counting the valid spans */
	cr_expect_eq(otlp_decode_pb(b.p, b.len, NULL, NULL, NULL, NULL, 0), 5);
	tbuf_reset(&b);
	cr_assert_eq(otlp_json_encode(&b, &full_res, list, 5), 0);
	cr_expect_eq(otlp_decode_json(b.p, b.len, NULL, NULL, NULL, NULL, 0), 5);
	/* no room for a message is fine too */
	cr_expect_eq(otlp_decode_json("{", 1, NULL, NULL, NULL, NULL, 0), -1);
	cr_expect_eq(otlp_decode_pb("\x0a", 1, NULL, NULL, NULL, err, 1), -1);
	cr_expect_str_eq(err, "");
	tbuf_free(&b);
}

/* Error messages are cut to the buffer and stay one NUL-terminated line. */
Test(otlp_decode, short_error_buffer)
{
	char err[8];

	memset(err, 'z', sizeof(err));
	cr_expect_eq(otlp_decode_pb("\x0a\x05", 2, NULL, NULL, NULL, err, sizeof(err)), -1);
	cr_expect_eq(strlen(err), sizeof(err) - 1);
	memset(err, 'z', sizeof(err));
	cr_expect_eq(otlp_decode_json("[", 1, NULL, NULL, NULL, err, sizeof(err)), -1);
	cr_expect_eq(strlen(err), sizeof(err) - 1);
}

Test(otlp_decode, body_too_large)
{
	char err[256];

	/* refused on its length alone: nothing is read */
	cr_expect_eq(
	        otlp_decode_pb("", OTLP_DECODE_BODY_MAX + 1u, NULL, NULL, NULL, err, sizeof(err)),
	        -1);
	cr_expect_not_null(strstr(err, "more than"), "%s", err);
	cr_expect_eq(
	        otlp_decode_json("", OTLP_DECODE_BODY_MAX + 1u, NULL, NULL, NULL, err, sizeof(err)),
	        -1);
	cr_expect_not_null(strstr(err, "more than"), "%s", err);
}
