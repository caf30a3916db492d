/* test_otlp_pb_wire.c: how the OTLP/protobuf encoder puts each value on
 * the wire, checked by protoc rather than by our own reading of the bytes:
 * wire types decoded raw, without a schema; ids as arbitrary bytes; varints
 * of every width and lengths either side of one byte; the attribute and
 * string caps; tracestate; strings made valid UTF-8. The other bodies are
 * decoded with the schema in tests/support/otlp and most are also encoded
 * back by protoc, which must give the same bytes. Whole requests are
 * test_otlp_pb.c's. */
#include "otlp_pb_testlib.h"

/* ---- tests ---------------------------------------------------------------- */

/* Without a schema: the wire types are the specification's, not merely
 * what our own .proto files say. */
Test(otlp_pb, raw_wire_types)
{
	static struct span srv, cli;
	const struct span *list[] = {&srv, &cli};
	struct tbuf b = {0};
	char *raw;

	server_span(&srv);
	client_span(&cli);
	encode_ok(&b, &full_res, list, 2);
	raw = protoc("--decode_raw", b.p, b.len, NULL);
	cr_expect_not_null(strstr(raw, "      16: 0x00000301\n"), "span flags fixed32:\n%s", raw);
	cr_expect_not_null(strstr(raw, "      16: 0x00000103\n"), "span flags fixed32:\n%s", raw);
	cr_expect_not_null(strstr(raw, "      7: 0x17979cfe3d85cd15\n"), "start fixed64:\n%s", raw);
	cr_expect_not_null(strstr(raw, "      6: 2\n"), "kind varint:\n%s", raw);
	cr_expect_not_null(strstr(raw, "        6: 0x00000301\n"), "link flags fixed32:\n%s", raw);
	cr_expect_not_null(strstr(raw, "        1: 0x17979cfe3d85cd79\n"), "event time:\n%s", raw);
	cr_expect_not_null(strstr(raw, "      15 {\n        3: 2\n      }\n"), "status:\n%s", raw);
	cr_expect_not_null(strstr(raw, "          3: 18446744073709551615\n"), "int_value -1:\n%s",
	                   raw);
	free(raw);
	tbuf_free(&b);
}

/* Ids are bytes, not text: every byte value goes through, and the
 * expected escapes here are written by hand, not by esc(). */
Test(otlp_pb, arbitrary_id_bytes)
{
	static const uint8_t tid[16] = {0x00, 0x01, 0x0a, 0x22, 0x27, 0x5c, 0x7f, 0x80,
	                                0xff, 'a',  'Z',  0x09, 0x0d, 0x3f, 0x20, 0xc3};
	static const uint8_t sid[8] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x01};
	static const uint8_t pid[8] = {0, 0, 0, 0, 0, 0, 0, 0x80};
	static struct span s;
	const struct span *list[] = {&s};
	struct tbuf b = {0};
	char *got, buf[200];

	span_reset(&s);
	memcpy(s.trace_id, tid, 16);
	memcpy(s.span_id, sid, 8);
	memcpy(s.parent_id, pid, 8);
	s.kind = SPAN_KIND_SERVER;
	s.start_ns = UINT64_MAX;
	s.end_ns = UINT64_MAX;
	encode_ok(&b, &full_res, list, 1);
	got = decode(&b);
	cr_expect_not_null(strstr(got,
	                          "      trace_id: \"\\000\\001\\n\\\"\\'\\\\\\177\\200\\377aZ\\t"
	                          "\\r? \\303\"\n"
	                          "      span_id: \"\\336\\255\\276\\357\\000\\000\\000\\001\"\n"
	                          "      parent_span_id: \"\\000\\000\\000\\000\\000\\000\\000"
	                          "\\200\"\n"),
	                   "%s", got);
	cr_expect_not_null(strstr(got, "      end_time_unix_nano: 18446744073709551615\n"));
	/* one non-zero byte is enough for a parent, and it is remote */
	cr_expect_not_null(strstr(got, "      flags: 768\n    }\n"), "%s", got);
	/* and esc(), which the other tests use, agrees with protoc */
	cr_expect_not_null(strstr(got, esc(tid, 16, buf)));
	free(got);
	tbuf_free(&b);
}

/* SPAN_ATTR_MAX attributes are written, the rest counted as dropped. */
Test(otlp_pb, max_attributes_dropped_count)
{
	static struct span s;
	const struct span *list[] = {&s};
	struct tbuf b = {0};
	char *got, *want = NULL, v[16];
	size_t wn;
	FILE *f;

	span_reset(&s);
	ids(&s, "TTTTTTTTTTTTTTT4", "SSSSSSS4", NULL);
	s.kind = SPAN_KIND_SERVER;
	s.start_ns = T0;
	s.end_ns = T0 + 1;
	for (int i = 0; i < SPAN_ATTR_MAX + 6; i++) {
		int n = snprintf(v, sizeof(v), "v%d", i);

		if (i % 2)
			span_attr_int(&s, (enum span_attr_key)(i % SPAN_A_N), i * 1000);
		else
			span_attr_str(&s, (enum span_attr_key)(i % SPAN_A_N), v, (size_t)n);
	}
	cr_assert_eq(s.n_attrs, SPAN_ATTR_MAX);
	cr_assert_eq(s.dropped_attrs, 6);
	encode_ok(&b, &full_res, list, 1);
	got = decode(&b);
	f = want_begin(&want, &wn, &full_res);
	fprintf(f, "    spans {\n"
	           "      trace_id: \"TTTTTTTTTTTTTTT4\"\n"
	           "      span_id: \"SSSSSSS4\"\n"
	           "      kind: SPAN_KIND_SERVER\n"
	           "      start_time_unix_nano: 1700000000123456789\n"
	           "      end_time_unix_nano: 1700000000123456790\n");
	for (int i = 0; i < SPAN_ATTR_MAX; i++) {
		snprintf(v, sizeof(v), "v%d", i);
		if (i % 2)
			want_int(f, span_attr_name[i % SPAN_A_N], i * 1000);
		else
			want_str(f, span_attr_name[i % SPAN_A_N], v);
	}
	fprintf(f, "      dropped_attributes_count: 6\n"
	           "      flags: 256\n"
	           "    }\n");
	want_end(f);
	cr_expect_str_eq(got, want);
	expect_canonical(&b, got);
	free(got);
	free(want);
	tbuf_free(&b);
}

/* Integers of every varint width, negative ones as ten bytes, and string
 * values either side of a one-byte length. */
Test(otlp_pb, int_and_length_widths)
{
	static const int64_t ints[] = {
	        0,         1,         127,       128,       16383,     16384,
	        2097151,   2097152,   1LL << 28, 1LL << 35, 1LL << 42, 1LL << 49,
	        1LL << 56, INT64_MAX, INT64_MIN, -1,
	};
	static struct span s;
	const struct span *list[] = {&s};
	static char v127[128], v128[129];
	struct tbuf b = {0};
	char *got, *want = NULL;
	size_t wn;
	FILE *f;
	int n = sizeof(ints) / sizeof(ints[0]);

	memset(v127, 'x', 127);
	memset(v128, 'y', 128);
	span_reset(&s);
	ids(&s, "TTTTTTTTTTTTTTT8", "SSSSSSS8", NULL);
	s.kind = SPAN_KIND_CLIENT;
	s.start_ns = T0;
	s.end_ns = T0;
	for (int i = 0; i < n; i++)
		span_attr_int(&s, (enum span_attr_key)i, ints[i]);
	STR(&s, SPAN_A_ERROR_TYPE, v127);
	STR(&s, SPAN_A_PEER_SERVICE, v128);
	encode_ok(&b, &full_res, list, 1);
	got = decode(&b);
	f = want_begin(&want, &wn, &full_res);
	fprintf(f, "    spans {\n"
	           "      trace_id: \"TTTTTTTTTTTTTTT8\"\n"
	           "      span_id: \"SSSSSSS8\"\n"
	           "      kind: SPAN_KIND_CLIENT\n"
	           "      start_time_unix_nano: 1700000000123456789\n"
	           "      end_time_unix_nano: 1700000000123456789\n");
	for (int i = 0; i < n; i++)
		want_int(f, span_attr_name[i], ints[i]);
	want_str(f, "error.type", v127);
	want_str(f, "peer.service", v128);
	fprintf(f, "      flags: 256\n"
	           "    }\n");
	want_end(f);
	cr_expect_str_eq(got, want);
	expect_canonical(&b, got);
	free(got);
	free(want);
	tbuf_free(&b);
}

/* A name that fills the string area: later values are cut to "", which is
 * still a value (AnyValue is a oneof), and a tracestate that does not fit
 * is left out whole. */
Test(otlp_pb, long_strings_cut)
{
	static struct span s;
	const struct span *list[] = {&s};
	static char name[2000], want_name[SPAN_STR_MAX + 1];
	struct tbuf b = {0};
	char *got, *want = NULL;
	size_t wn;
	FILE *f;

	for (size_t i = 0; i < sizeof(name); i++)
		name[i] = (char)('a' + i % 26);
	memcpy(want_name, name, SPAN_STR_MAX);
	span_reset(&s);
	ids(&s, "TTTTTTTTTTTTTTT5", "SSSSSSS5", "PPPPPPP5");
	s.kind = SPAN_KIND_SERVER;
	s.flags = 1;
	s.start_ns = T0;
	s.end_ns = T0 + 5;
	span_set_name(&s, name, sizeof(name));
	span_set_tracestate(&s, "a=b", 3);
	STR(&s, SPAN_A_URL_PATH, "/lost");
	span_attr_int(&s, SPAN_A_SERVER_PORT, 0);
	cr_assert_eq(s.name_len, SPAN_STR_MAX);
	cr_assert_eq(s.ts_len, 0);
	encode_ok(&b, &full_res, list, 1);
	got = decode(&b);
	f = want_begin(&want, &wn, &full_res);
	fprintf(f,
	        "    spans {\n"
	        "      trace_id: \"TTTTTTTTTTTTTTT5\"\n"
	        "      span_id: \"SSSSSSS5\"\n"
	        "      parent_span_id: \"PPPPPPP5\"\n"
	        "      name: \"%s\"\n"
	        "      kind: SPAN_KIND_SERVER\n"
	        "      start_time_unix_nano: 1700000000123456789\n"
	        "      end_time_unix_nano: 1700000000123456794\n",
	        want_name);
	want_str(f, "url.path", "");
	want_int(f, "server.port", 0);
	fprintf(f, "      flags: 769\n"
	           "    }\n");
	want_end(f);
	cr_expect_str_eq(got, want);
	expect_canonical(&b, got);
	free(got);
	free(want);
	tbuf_free(&b);
}

/* An empty tracestate is no tracestate. */
Test(otlp_pb, empty_tracestate)
{
	static struct span s;
	const struct span *list[] = {&s};
	struct tbuf b = {0};
	char *got;

	server_span(&s);
	s.ts_len = 0;
	span_set_tracestate(&s, "", 0);
	encode_ok(&b, &full_res, list, 1);
	got = decode(&b);
	cr_expect_null(strstr(got, "trace_state"), "%s", got);
	cr_expect_not_null(strstr(got, "      span_id: \"SSSSSSS1\"\n"
	                               "      parent_span_id: \"PPPPPPP1\"\n"));
	expect_canonical(&b, got);
	free(got);
	tbuf_free(&b);
}

/* Protobuf strings must be UTF-8 (protoc, like collectors, rejects the
 * whole body otherwise): valid text passes, each stray byte becomes
 * U+FFFD, including a character cut by the string cap. */
Test(otlp_pb, utf8_made_valid)
{
	static const struct {
		const char *in, *want; /* <want> as protoc prints it */
	} cases[] = {
	        {"caf\xc3\xa9", "caf\\303\\251"},
	        {"\xe2\x82\xac", "\\342\\202\\254"},
	        {"\xf0\x9f\x98\x80", "\\360\\237\\230\\200"},
	        {"a\xff", "a\\357\\277\\275"},
	        {"\xc3", "\\357\\277\\275"},
	        {"\xc0\xaf", "\\357\\277\\275\\357\\277\\275"},                    /* overlong */
	        {"\xe0\x80\xaf", "\\357\\277\\275\\357\\277\\275\\357\\277\\275"}, /* overlong */
	        {"\xed\xa0\x80", "\\357\\277\\275\\357\\277\\275\\357\\277\\275"}, /* surrogate */
	        {"\xf4\x90\x80\x80",
	         "\\357\\277\\275\\357\\277\\275\\357\\277\\275" /* > U+10FFFF */
	         "\\357\\277\\275"},
	        {"\xe2\x82x", "\\357\\277\\275\\357\\277\\275x"},
	        {"tab\t\x7f", "tab\\t\\177"},
	};
	static struct span s;
	const struct span *list[] = {&s};
	char want[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tbuf b = {0};
		char *got;

		span_reset(&s);
		ids(&s, "TTTTTTTTTTTTTTT6", "SSSSSSS6", NULL);
		s.kind = SPAN_KIND_SERVER;
		span_set_name(&s, cases[i].in, strlen(cases[i].in));
		span_set_tracestate(&s, cases[i].in, strlen(cases[i].in));
		STR(&s, SPAN_A_USER_AGENT, cases[i].in);
		encode_ok(&b, &full_res, list, 1);
		got = decode(&b);
		snprintf(want, sizeof(want), "      trace_state: \"%s\"\n", cases[i].want);
		cr_expect_not_null(strstr(got, want), "case %zu: %s", i, got);
		snprintf(want, sizeof(want), "      name: \"%s\"\n", cases[i].want);
		cr_expect_not_null(strstr(got, want), "case %zu: %s", i, got);
		snprintf(want, sizeof(want), "string_value: \"%s\"\n", cases[i].want);
		cr_expect_not_null(strstr(got, want), "case %zu: %s", i, got);
		expect_canonical(&b, got);
		free(got);
		tbuf_free(&b);
	}
}

/* The string cap cuts a two-byte character in half: the half is U+FFFD. */
Test(otlp_pb, utf8_cut_by_cap)
{
	static struct span s;
	const struct span *list[] = {&s};
	static char name[SPAN_STR_MAX - 1];
	struct tbuf b = {0};
	char *got;

	memset(name, 'n', sizeof(name));
	span_reset(&s);
	ids(&s, "TTTTTTTTTTTTTTT7", "SSSSSSS7", NULL);
	span_set_name(&s, name, sizeof(name));
	STR(&s, SPAN_A_USER_AGENT, "\xc3\xa9t\xc3\xa9");
	cr_assert_eq(s.attrs[0].len, 1);
	encode_ok(&b, &full_res, list, 1);
	got = decode(&b);
	cr_expect_not_null(strstr(got, "string_value: \"\\357\\277\\275\"\n"), "%s", got);
	free(got);
	tbuf_free(&b);
}
