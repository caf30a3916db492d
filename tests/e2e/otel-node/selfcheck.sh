#!/bin/bash
# Proves the collector stand-in (tests/support/sink.py) and the instrumented
# Node.js app work together, without the gateway: the app gets a request with
# a known traceparent, is stopped with SIGTERM (it flushes), and its export,
# as the sink stored it, is decoded by code we did not write.
#   round 1: OTLP/JSON, checked with python3's json module (and otlpjson.py's
#            line is compared with it)
#   round 2: OTLP/protobuf + gzip: `protoc --decode_raw` must accept the body;
#            with the OTLP schema under tests/support/otlp (or $OTLP_PROTO_DIR)
#            `protoc --decode=...ExportTraceServiceRequest` checks the ids,
#            without it the ids are looked for as protobuf fields in the bytes
# Loopback only; every process it starts has a lifetime limit and is stopped
# by its PID. Exit 0 and "selfcheck: 2 passed, 0 failed" when all is well.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
proto_dir=${OTLP_PROTO_DIR:-$top/tests/support/otlp}
proto_file=opentelemetry/proto/collector/trace/v1/trace_service.proto

"$here/setup.sh"
if grep -q '"resolved"' "$here/package-lock.json"; then
	echo "selfcheck: package-lock.json names registry URLs (see README.md)" >&2
	exit 1
fi

tmp=$(mktemp -d /tmp/tg-e2e-XXXXXX)
passed=0
# The children started here and not yet stopped. Bash reaps exited children
# by itself, so a PID is signalled only while it is still our child.
declare -A live=()
ours() { [ "$(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ')" = "$$" ]; }
cleanup() {
	local p
	for p in "${!live[@]}"; do
		if ours "$p"; then
			kill -KILL "$p" 2>/dev/null || true
		fi
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "selfcheck: FAIL: $*" >&2
	for f in "$tmp"/*.out "$tmp"/*.err; do
		[ -s "$f" ] && sed "s|^|  ${f##*/}: |" "$f" >&2
	done
	echo "selfcheck: $passed passed, 1 failed"
	exit 1
}

# wait_ready FILE PID: prints the port once FILE says "READY <port>" (10 s at most).
wait_ready() {
	local _
	for _ in $(seq 200); do
		if read -r word port _ <"$1" 2>/dev/null && [ "$word" = READY ]; then
			echo "$port"
			return 0
		fi
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# stop PID: SIGTERM, then true when it exits 0 within 10 s (the app flushes first).
stop() {
	local st=0 _
	ours "$1" && kill -TERM "$1"
	for _ in $(seq 200); do
		# a zombie still answers kill -0, so ask ps whether it has exited
		if ! ours "$1" || [ "$(ps -o stat= -p "$1" | cut -c1)" = Z ]; then
			wait "$1" || st=$?
			unset "live[$1]"
			return "$st"
		fi
		sleep 0.05
	done
	return 1
}

hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

python3 "$top/tests/support/sink.py" --dir "$tmp/sink" --max-seconds 90 \
	>"$tmp/sink.out" 2>"$tmp/sink.err" &
sink_pid=$!
live[$sink_pid]=1
sink_port=$(wait_ready "$tmp/sink.out" "$sink_pid") || fail "the sink did not start"
sink="http://127.0.0.1:$sink_port"

# run_round NAME SEQ APP_ARGS...: one app process, one traced request; sets
# trace_id and parent_id, and leaves the export as sink request <SEQ>.
run_round() {
	local name=$1 seq=$2 app_pid app_port resp
	shift 2
	trace_id=$(hex 16)
	parent_id=$(hex 8)
	node "$here/app.js" --otlp "$sink/v1/traces" --max-seconds 60 "$@" \
		>"$tmp/app-$name.out" 2>"$tmp/app-$name.err" &
	app_pid=$!
	live[$app_pid]=1
	app_port=$(wait_ready "$tmp/app-$name.out" "$app_pid") || fail "$name: the app did not start"
	resp=$(curl -sS -m 5 -H "traceparent: 00-$trace_id-$parent_id-01" \
		"http://127.0.0.1:$app_port/anything") || fail "$name: no answer from the app"
	case $resp in
	*"\"trace_id\":\"$trace_id\""*) ;;
	*) fail "$name: the app's span is not in the caller's trace: $resp" ;;
	esac
	stop "$app_pid" || fail "$name: the app did not exit 0 on SIGTERM"
	curl -sS -m 7 -o /dev/null "$sink/_sink/wait?requests=$seq&timeout_ms=5000" ||
		fail "$name: the sink did not answer"
	[ -f "$tmp/sink/$seq.json" ] || fail "$name: nothing was exported"
	[ ! -f "$tmp/sink/$((seq + 1)).json" ] || fail "$name: more than one export"
}

# Round 1: OTLP/JSON.
run_round json 1
python3 - "$tmp/sink" 1 "$trace_id" "$parent_id" <<'EOF' || fail "json: the export is not as expected"
import json, sys
d, seq, trace_id, parent_id = sys.argv[1:]
meta = json.load(open("%s/%s.json" % (d, seq)))
assert meta["path"] == "/v1/traces", meta
assert meta["content_type"] == "application/json", meta
doc = json.load(open("%s/%s.body" % (d, seq), "rb"))
servers = []
for rs in doc["resourceSpans"]:
    res = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}
    assert res["service.name"] == {"stringValue": "node-app"}, res
    for ss in rs["scopeSpans"]:
        servers += [s for s in ss["spans"] if s["kind"] == 2]
assert len(servers) == 1, servers
s = servers[0]
assert s["traceId"] == trace_id, (s["traceId"], trace_id)
assert s["parentSpanId"] == parent_id, (s["parentSpanId"], parent_id)
print("json: SERVER span %s in trace %s, parent %s" % (s["spanId"], s["traceId"], s["parentSpanId"]))
EOF
line=$(python3 "$top/tests/support/otlpjson.py" "$tmp/sink/1.body") ||
	fail "json: otlpjson.py failed"
case $line in
"$trace_id "????????????????" $parent_id SERVER GET node-app") ;;
*) fail "json: otlpjson.py printed: $line" ;;
esac
passed=$((passed + 1))

# Round 2: OTLP/protobuf, gzip.
run_round protobuf 2 --protocol protobuf --gzip
grep -q '"encoding": "gzip"' "$tmp/sink/2.json" || fail "protobuf: not gzip: $(cat "$tmp/sink/2.json")"
grep -q '"content_type": "application/x-protobuf"' "$tmp/sink/2.json" ||
	fail "protobuf: wrong type: $(cat "$tmp/sink/2.json")"
protoc --decode_raw <"$tmp/sink/2.body" >"$tmp/raw.txt" 2>"$tmp/protoc.err" ||
	fail "protobuf: protoc --decode_raw rejects the body"
if [ -f "$proto_dir/$proto_file" ]; then
	protoc -I "$proto_dir" --decode=opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest \
		"$proto_file" <"$tmp/sink/2.body" >"$tmp/decoded.txt" 2>"$tmp/protoc.err" ||
		fail "protobuf: protoc --decode failed"
	python3 - "$tmp/decoded.txt" "$trace_id" "$parent_id" <<'EOF' || fail "protobuf: the export is not as expected"
import codecs, re, sys
text, trace_id, parent_id = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
def ids(field):
    return [codecs.escape_decode(v)[0].hex() for v in re.findall(r'\b%s: "((?:[^"\\]|\\.)*)"' % field, text)]
assert ids("trace_id") == [trace_id], (ids("trace_id"), trace_id)
assert ids("parent_span_id") == [parent_id], (ids("parent_span_id"), parent_id)
assert "kind: SPAN_KIND_SERVER" in text, text
assert re.search(r'key: "service.name"\s*value \{\s*string_value: "node-app"', text), text
print("protobuf: decoded with the OTLP schema")
EOF
else
	python3 - "$tmp/sink/2.body" "$trace_id" "$parent_id" <<'EOF' || fail "protobuf: the ids are not in the body"
import sys
body, trace_id, parent_id = open(sys.argv[1], "rb").read(), sys.argv[2], sys.argv[3]
# Span.trace_id is field 1 and parent_span_id field 4, both length-delimited.
assert b"\x0a\x10" + bytes.fromhex(trace_id) in body, "trace_id"
assert b"\x22\x08" + bytes.fromhex(parent_id) in body, "parent_span_id"
assert b"node-app" in body
print("protobuf: wire format valid (protoc --decode_raw); no schema in %s, ids found as fields"
      % "tests/support/otlp")
EOF
fi
passed=$((passed + 1))

stop "$sink_pid" || fail "the sink did not exit 0 on SIGTERM"
echo "selfcheck: $passed passed, 0 failed"
