#!/usr/bin/env bash
# shellcheck disable=SC2317 # start_* and cleanup are called indirectly
# Side-by-side benchmark on 127.0.0.1: wrk against the origin itself (direct),
# nginx, HAProxy and tracegate, each proxy single-threaded with keep-alive to
# one origin nginx; HTTP/1.1 in the clear and over TLS (wrk, openssl s_time),
# HTTP/2 over TLS and h2c (h2load). Interleaved rounds in one invocation; prints
# medians (req/s, p50, p99, proxy CPU per 1000 requests, RSS, errors) with
# ratios to nginx, and writes raw + summary TSVs to tests/bench/out/.
# A benchmark, not a test: it exits 0 whatever the numbers; non-zero only when
# the setup itself is broken (no wrk, origin does not start).
#
#   tests/bench/run.sh
#   ROUNDS=5 DURATION=10 CONNS=64 CONNS_1M=10 tests/bench/run.sh
#   TARGETS="nginx tracegate" TG_BIN=/path/to/tracegate tests/bench/run.sh
#   TASKSET=1 tests/bench/run.sh     pin servers to CPU 1 and wrk to CPU 0
#   SCENARIOS="tls h2 h2c" tests/bench/run.sh     only these rows
#   PERF=tracegate SCENARIOS="tls h2c" tests/bench/run.sh   perf record round 1
#
# A target is a function start_<name> DIR: it writes its config into DIR,
# starts the server in the background with spawn (which records the PID for
# the EXIT trap), waits with wait_ready, and echoes
# "PID PORT [URL_BASE [TLS_PORT [H2C_PORT]]]" (URL_BASE defaults to
# http://127.0.0.1:PORT; "-" for a field it does not have). TLS_PORT speaks
# HTTP/1.1 and h2 by ALPN, H2C_PORT HTTP/2 with prior knowledge. Add its name
# to TARGETS. A scenario is one line in SCENARIO_DEFS.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-50}
CONNS_1M=${CONNS_1M:-10}
TG_BIN=${TG_BIN:-$top/build-bench/tracegate}
TARGETS=${TARGETS:-"direct nginx haproxy tracegate tg_s0 tg_s100 tg_otlp tg_otlp_down"}
# Idle keep-alive connections each proxy may keep to the origin (nginx
# upstream keepalive, HAProxy pool-max-conn, tracegate keepalive).
POOL=${POOL:-256}
CONNS_TLS_FULL=${CONNS_TLS_FULL:-20} # wrk connections for tls_full
H2_CONNS=${H2_CONNS:-10}             # h2load -c for h2 and h2c
H2_STREAMS=${H2_STREAMS:-10}         # h2load -m (streams per connection)
# name kind path connections. kind: h1 (wrk, cleartext), tls (wrk https,
# kept-alive), tls_full (wrk https, Connection: close: a full handshake per
# request), tls_resume (openssl s_time -reuse: one connection at a time, each
# a resumed handshake), h2 (h2load over TLS, ALPN h2), h2c (h2load, prior
# knowledge).
SCENARIO_DEFS=("small h1 /small $CONNS" "1m h1 /1m $CONNS_1M"
	"tls tls /small $CONNS" "tls_full tls_full /small $CONNS_TLS_FULL"
	"tls_resume tls_resume /small 1"
	"h2 h2 /small ${H2_CONNS}x$H2_STREAMS" "h2c h2c /small ${H2_CONNS}x$H2_STREAMS")
SCENARIOS=${SCENARIOS:-"small 1m tls tls_full tls_resume h2 h2c"}
# The targets that get a TLS and an h2c listener; the others (direct, the
# tracing variants) only have rows in the h1 scenarios.
PROTO_TARGETS="nginx haproxy tracegate"

die() { echo "run.sh: $*" >&2; exit 1; }
for tool in wrk nginx python3 curl ps; do
	command -v "$tool" >/dev/null || die "$tool not found"
done
SCENS=() # the selected lines of SCENARIO_DEFS, in the order of SCENARIOS
for want in $SCENARIOS; do
	found=
	for sc in "${SCENARIO_DEFS[@]}"; do
		[ "${sc%% *}" = "$want" ] && SCENS+=("$sc") && found=1
	done
	[ -n "$found" ] || die "unknown scenario $want (known: $(printf '%s ' "${SCENARIO_DEFS[@]%% *}"))"
done
need_tls='' need_h2c='' need_h2load=''
for sc in "${SCENS[@]}"; do
	read -r _ kind _ <<<"$sc"
	case $kind in tls*) need_tls=1 ;; h2) need_tls=1 need_h2load=1 ;; h2c) need_h2c=1 need_h2load=1 ;; esac
done
HAVE_H2LOAD=
if [ -n "$need_h2load" ]; then
	if command -v h2load >/dev/null; then HAVE_H2LOAD=1; else echo "run.sh: h2load not found: h2 and h2c rows are n/a" >&2; fi
fi

work=$(mktemp -d /tmp/tg-bench-XXXXXX) || die "mktemp failed"
chmod 755 "$work" # nginx workers run as nobody: they must reach the files
out_dir="$top/tests/bench/out"
mkdir -p "$out_dir" || die "cannot create $out_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw_tsv="$out_dir/bench-$stamp.tsv"
sum_tsv="$out_dir/bench-$stamp-summary.tsv"

# ---------------------------------------------------------------------------
# Process bookkeeping: every server we start goes through spawn, and the EXIT
# trap stops exactly those PIDs (and, if one ignores SIGTERM, its children).
pids=()
descendants() { # PID -> PID and all its descendants, one per line
	ps -e -o pid=,ppid= | awk -v root="$1" '
		{ parent[$1] = $2; all[NR] = $1 }
		END {
			want[root] = 1; print root
			do { more = 0
				for (i in all) { p = all[i]
					if (!(p in want) && (parent[p] in want)) { want[p] = 1; print p; more = 1 } }
			} while (more)
		}'
}
cleanup() {
	local p q left
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 1 40); do
		left=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
		[ "$left" = 0 ] && break
		sleep 0.05
	done
	for p in "${pids[@]}"; do
		if kill -0 "$p" 2>/dev/null; then
			for q in $(descendants "$p"); do kill -KILL "$q" 2>/dev/null; done
		fi
	done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PIN_SERVER=() PIN_CLIENT=()
if [ "${TASKSET:-}" = 1 ]; then PIN_SERVER=(taskset -c 1) PIN_CLIENT=(taskset -c 0); fi

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# spawn DIR CMD...: start CMD in the background, output to DIR/out.log.
# Sets SPAWNED to its PID and records it for the EXIT trap.
spawn() {
	local dir=$1
	shift
	"$@" >"$dir/out.log" 2>&1 </dev/null &
	SPAWNED=$!
	pids+=("$SPAWNED")
}

# wait_ready PID PORT [tls|h2|h2c]: up to 10 s for an HTTP answer on PORT
# while PID lives (tls: HTTP/1.1 over TLS; h2: HTTP/2 over TLS by ALPN; h2c:
# HTTP/2 with prior knowledge). Fails if the protocol is not the one asked.
wait_ready() {
	local args=() url="http://127.0.0.1:$2/small" want=1.1 got
	case ${3:-} in
	tls) args=(-k --http1.1) url="https://127.0.0.1:$2/small" ;;
	h2) args=(-k --http2) url="https://127.0.0.1:$2/small" want=2 ;;
	h2c) args=(--http2-prior-knowledge) want=2 ;;
	esac
	for _ in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || return 1
		if got=$(curl -s -o /dev/null -w '%{http_version}' --max-time 1 "${args[@]}" "$url"); then
			[ "$got" = "$want" ] && return 0
			[ "$want" = 2 ] && { echo "port $2: HTTP/$got, not HTTP/2" >&2; return 1; }
			return 0
		fi
		sleep 0.1
	done
	return 1
}
# The TLS certificate all three proxies serve: P-256, signed by a throwaway
# CA, made now in the run's directory (tests/support/mkcerts.sh).
CERT='' KEY='' CERT_KEY=''
make_cert() {
	command -v openssl >/dev/null || { echo "run.sh: openssl not found: TLS rows are n/a" >&2; return 1; }
	sh "$top/tests/support/mkcerts.sh" "$work/certs" bench localhost 127.0.0.1 >&2 || return 1
	CERT=$work/certs/bench.pem KEY=$work/certs/bench.key CERT_KEY=$work/certs/bench.crtkey.pem
	cat "$CERT" "$KEY" >"$CERT_KEY" # HAProxy's crt: certificate and key in one file
	chmod 644 "$work/certs/"*
}

# ---------------------------------------------------------------------------
# The origin: a separate nginx serving static files.
start_origin() {
	local dir=$1 port
	port=$(free_port) || return 1
	mkdir -p "$dir/www" "$dir/tmp" && chmod 755 "$dir" "$dir/www" || return 1
	head -c 100 /dev/zero | tr '\0' 'a' >"$dir/www/small"
	head -c 1048576 /dev/urandom >"$dir/www/1m"
	chmod 644 "$dir/www/small" "$dir/www/1m"
	cat >"$dir/nginx.conf" <<-EOF
		worker_processes 1;
		pid $dir/nginx.pid;
		error_log $dir/err.log;
		events { worker_connections 4096; }
		http {
		    access_log off;
		    keepalive_requests 100000;
		    client_body_temp_path $dir/tmp;
		    server { listen 127.0.0.1:$port; root $dir/www; }
		}
	EOF
	spawn "$dir" "${PIN_SERVER[@]}" nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
	wait_ready "$SPAWNED" "$port" || return 1
	echo "$SPAWNED $port"
}

# ---------------------------------------------------------------------------
# Targets. Each: start_<name> DIR -> echoes "PID PORT [URL_BASE]".
# ORIGIN is the origin's port.

start_direct() { echo "$ORIGIN_PID $ORIGIN"; }

# The extra listeners of a PROTO_TARGETS target: TLS_PORT when the run has a
# certificate, H2C_PORT when a selected scenario needs h2c ("-" otherwise).
proto_ports() {
	TLS_PORT=- H2C_PORT=-
	if [ -n "$CERT" ]; then TLS_PORT=$(free_port) || return 1; fi
	if [ -n "$need_h2c" ]; then H2C_PORT=$(free_port) || return 1; fi
}
# wait_protos PID PORT: wait_ready on each extra listener of proto_ports.
wait_protos() {
	if [ "$TLS_PORT" != - ]; then
		wait_ready "$1" "$TLS_PORT" tls && wait_ready "$1" "$TLS_PORT" h2 || return 1
	fi
	if [ "$H2C_PORT" != - ]; then wait_ready "$1" "$H2C_PORT" h2c || return 1; fi
}

start_nginx() {
	local dir=$1 port listen
	port=$(free_port) || return 1
	proto_ports || return 1
	# TLS: HTTP/1.1 and h2 by ALPN on one port; h2c (prior knowledge) needs a
	# cleartext port of its own ("listen ... http2" without ssl).
	listen="listen 127.0.0.1:$port;"
	[ "$TLS_PORT" != - ] && listen="$listen
		        listen 127.0.0.1:$TLS_PORT ssl http2;
		        ssl_certificate $CERT;
		        ssl_certificate_key $KEY;
		        ssl_protocols TLSv1.3;"
	[ "$H2C_PORT" != - ] && listen="$listen
		        listen 127.0.0.1:$H2C_PORT http2;"
	mkdir -p "$dir/tmp"
	chmod 755 "$dir"
	# proxy_max_temp_file_size 0: stream large bodies through memory buffers
	# instead of spooling them to temp files on disk.
	cat >"$dir/nginx.conf" <<-EOF
		worker_processes 1;
		pid $dir/nginx.pid;
		error_log $dir/err.log;
		events { worker_connections 4096; }
		http {
		    access_log off;
		    keepalive_requests 100000;
		    client_body_temp_path $dir/tmp/body;
		    proxy_temp_path $dir/tmp/proxy;
		    upstream o { server 127.0.0.1:$ORIGIN; keepalive $POOL; }
		    server {
		        $listen
		        location / {
		            proxy_pass http://o;
		            proxy_http_version 1.1;
		            proxy_set_header Connection "";
		            proxy_max_temp_file_size 0;
		        }
		    }
		}
	EOF
	spawn "$dir" "${PIN_SERVER[@]}" nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
	wait_ready "$SPAWNED" "$port" && wait_protos "$SPAWNED" || return 1
	echo "$SPAWNED $port - $TLS_PORT $H2C_PORT"
}

start_haproxy() {
	local dir=$1 port binds
	command -v haproxy >/dev/null || return 1
	port=$(free_port) || return 1
	proto_ports || return 1
	binds="bind 127.0.0.1:$port"
	[ "$TLS_PORT" != - ] && binds="$binds
		    bind 127.0.0.1:$TLS_PORT ssl crt $CERT_KEY alpn h2,http/1.1 ssl-min-ver TLSv1.3"
	[ "$H2C_PORT" != - ] && binds="$binds
		    bind 127.0.0.1:$H2C_PORT proto h2"
	cat >"$dir/haproxy.cfg" <<-EOF
		global
		    nbthread 1
		    maxconn 4096
		defaults
		    mode http
		    option http-keep-alive
		    http-reuse always
		    timeout connect 5s
		    timeout client 30s
		    timeout server 30s
		    timeout http-keep-alive 30s
		frontend f
		    $binds
		    default_backend b
		backend b
		    server o 127.0.0.1:$ORIGIN pool-max-conn $POOL
	EOF
	spawn "$dir" "${PIN_SERVER[@]}" haproxy -db -f "$dir/haproxy.cfg"
	wait_ready "$SPAWNED" "$port" && wait_protos "$SPAWNED" || return 1
	echo "$SPAWNED $port - $TLS_PORT $H2C_PORT"
}

# tracegate_with DIR EXTRA_INI: tracegate with the base config plus EXTRA_INI
# appended (e.g. a [tracing] section for a sampled variant). With TG_PROTOS=1
# it also gets a TLS listener (listen_tls, TLS 1.3 only) and its cleartext
# listener doubles as the h2c one (http2 = on: prior knowledge).
tracegate_with() {
	local dir=$1 extra=${2:-} port tls=
	[ -x "$TG_BIN" ] || { echo "no executable $TG_BIN" >&2; return 1; }
	port=$(free_port) || return 1
	TLS_PORT=- H2C_PORT=-
	if [ "${TG_PROTOS:-}" = 1 ]; then
		proto_ports || return 1
		[ "$H2C_PORT" != - ] && H2C_PORT=$port
		[ "$TLS_PORT" != - ] && tls=$(printf 'listen_tls = 127.0.0.1:%s\ntls_min_version = 1.3' "$TLS_PORT")
	fi
	cat >"$dir/tracegate.ini" <<-EOF
		[gateway]
		listen = 127.0.0.1:$port
		$tls
		workers = 1
		http2 = on
		access_log = off
		log_level = ${TG_LOG_LEVEL:-warn}
		[upstream o]
		servers = 127.0.0.1:$ORIGIN
		keepalive = $POOL
		[route r]
		path_prefix = /
		upstream = o
		[admin]
		enabled = off
	EOF
	[ -n "$tls" ] && printf '[certificate bench]\ncert_file = %s\nkey_file = %s\n' "$CERT" "$KEY" >>"$dir/tracegate.ini"
	[ -n "$extra" ] && printf '%b\n' "$extra" >>"$dir/tracegate.ini"
	spawn "$dir" "${PIN_SERVER[@]}" "$TG_BIN" -c "$dir/tracegate.ini"
	wait_ready "$SPAWNED" "$port" && wait_protos "$SPAWNED" || return 1
	echo "$SPAWNED $port - $TLS_PORT $H2C_PORT"
}
# tracegate as a plain proxy (tracing off), then with the trace filter at 0%
# and 100% head sampling; at 100% every request's two spans are written as
# JSON lines to a file (the local sink).
start_tracegate() { TG_PROTOS=1 tracegate_with "$1" "[tracing]\nenabled = off"; }
start_tg_s0() { tracegate_with "$1" "[tracing]\nsample_ratio = 0\nexporters = none"; }
start_tg_s100() {
	TG_LOG_LEVEL=info tracegate_with "$1" "[tracing]\nsample_ratio = 1\nexporters = jsonl\n[exporter.jsonl]\npath = $1/spans.jsonl"
}
# 100% sampling exporting OTLP/protobuf (gzip) to a collector stand-in that
# counts and discards (tests/support/sink.py), and to a port where nothing
# listens: a dead collector must cost spans, not requests/s or p99.
start_sink() { # DIR -> sets SINK_PORT (no subshell: spawn must record the PID)
	local dir=$1
	SINK_PORT=
	spawn "$dir" python3 "$top/tests/support/sink.py" --dir "$dir/sink" --store none \
		--max-seconds 3600
	for _ in $(seq 1 100); do
		SINK_PORT=$(awk '/^READY/ {print $2; exit}' "$dir/out.log" 2>/dev/null)
		[ -n "$SINK_PORT" ] && return 0
		sleep 0.1
	done
	return 1
}
tg_otlp_to() {
	TG_LOG_LEVEL=info tracegate_with "$1" "[tracing]\nsample_ratio = 1\nexporters = otlp\n[exporter.otlp]\nendpoint = http://127.0.0.1:$2/v1/traces\nretry_ms = 1000"
}
start_tg_otlp() {
	mkdir -p "$1/sink"
	start_sink "$1/sink" || return 1
	tg_otlp_to "$1" "$SINK_PORT"
}
start_tg_otlp_down() { tg_otlp_to "$1" "$(free_port)"; }

# ---------------------------------------------------------------------------
# Measurements over all processes of a server (nginx master + workers, ...).

hz=$(getconf CLK_TCK)
cpu_ticks() { # utime + stime summed over PID's process tree
	local t=0 p v
	for p in $(descendants "$1"); do
		# fields after the ")" that ends comm: utime/stime are 12th/13th
		v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
rss_kb() {
	local k=0 p v
	for p in $(descendants "$1"); do
		v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
		k=$((k + ${v:-0}))
	done
	echo "$k"
}
to_ms() { # wrk latency ("850.00us", "1.23ms", "1.20s", "2.00m") -> ms
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 }
		else if (v ~ /m$/) { sub(/m$/, "", v); print v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000 }
		else print "nan" }'
}

# ---------------------------------------------------------------------------
mkdir -p "$work/origin"
ORIGIN_PID='' ORIGIN=''
if start_origin "$work/origin" >"$work/origin/pidport" 2>"$work/origin/start.err"; then
	read -r ORIGIN_PID ORIGIN <"$work/origin/pidport"
fi
if [ -z "${ORIGIN:-}" ]; then
	cat "$work/origin/start.err" "$work/origin/err.log" "$work/origin/out.log" 2>/dev/null | tail -5 >&2
	die "origin failed to start"
fi

[ -n "$need_tls" ] && { make_cert || echo "run.sh: no certificate: TLS rows are n/a" >&2; }

declare -A PID PORT URL TLSP H2CP
for t in $TARGETS; do
	dir="$work/$t"
	mkdir -p "$dir"
	SPAWNED=
	if start_"$t" "$dir" >"$dir/pidport" 2>"$dir/start.err" && read -r p q u tp hp <"$dir/pidport" && [ -n "${q:-}" ]; then
		PID[$t]=$p
		PORT[$t]=$q
		[ "${u:--}" = - ] && u=http://127.0.0.1:$q
		URL[$t]=$u
		[ "${tp:--}" != - ] && TLSP[$t]=$tp
		[ "${hp:--}" != - ] && H2CP[$t]=$hp
		echo "started $t: pid $p port $q${TLSP[$t]:+ tls ${TLSP[$t]}}${H2CP[$t]:+ h2c ${H2CP[$t]}}" >&2
		if [ -n "${TLSP[$t]:-}" ]; then # what the TLS rows negotiate, to check they match
			neg=$(openssl s_client -connect "127.0.0.1:${TLSP[$t]}" -alpn h2,http/1.1 </dev/null 2>/dev/null |
				awk '/^New, / {v = $2; c = $NF} /^Server Temp Key/ {k = $4} /^ALPN protocol/ {a = $3}
					/^Peer signature type/ {s = $4} END {print v, c, k, s, "alpn=" a}' | tr -d ',')
			echo "  $t tls: $neg" >&2
		fi
	else
		echo "$t: failed to start; its rows are n/a" >&2
		cat "$dir/start.err" "$dir/out.log" "$dir/err.log" 2>/dev/null | tail -5 | sed "s/^/  $t: /" >&2
	fi
done
echo "origin: pid $ORIGIN_PID port $ORIGIN; $ROUNDS rounds x ${DURATION}s; scenarios: $SCENARIOS; conns small=$CONNS 1m=$CONNS_1M tls_full=$CONNS_TLS_FULL h2=${H2_CONNS}x$H2_STREAMS; pool $POOL" >&2

# applies KIND TARGET: whether TARGET has a row in a scenario of KIND.
applies() {
	case $1 in h1) return 0 ;; esac
	case " $PROTO_TARGETS " in *" $2 "*) return 0 ;; esac
	return 1
}
# The URL a client of KIND uses for TARGET; empty when TARGET lacks it (or the
# tool is missing): its row is then n/a.
target_url() {
	case $1 in
	h1) echo "${URL[$2]}" ;;
	tls | tls_full | tls_resume) [ -n "${TLSP[$2]:-}" ] && echo "https://127.0.0.1:${TLSP[$2]}" ;;
	h2) [ -n "$HAVE_H2LOAD" ] && [ -n "${TLSP[$2]:-}" ] && echo "https://127.0.0.1:${TLSP[$2]}" ;;
	h2c) [ -n "$HAVE_H2LOAD" ] && [ -n "${H2CP[$2]:-}" ] && echo "http://127.0.0.1:${H2CP[$2]}" ;;
	esac
}
# percentiles FILE: p50 and p99 in ms of h2load's --log-file (3rd column: us).
percentiles() {
	awk -F'\t' '{print $3}' "$1" | sort -n | awk '{v[NR] = $1}
		END { if (NR == 0) { print "nan nan"; exit }
			i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
			i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
			printf "%.3f %.3f\n", v[i50] / 1000, v[i99] / 1000 }'
}
# run_client KIND URL PATH CONNS: one measured run. Sets reqs, rps, p50, p99
# (ms, nan when the client has none), non2xx, sockerr, and note (shown on
# stderr); returns 1 when the client gave no result (res holds its output).
run_client() {
	local kind=$1 url=$2 path=$3 conns=$4 t0 t1 n r
	reqs='' rps='' p50=nan p99=nan non2xx=0 sockerr=0 note=''
	case $kind in
	h1 | tls | tls_full)
		local hdr=()
		[ "$kind" = tls_full ] && hdr=(-H 'Connection: close')
		res=$(timeout $((DURATION + 30)) "${PIN_CLIENT[@]}" wrk -t1 -c"$conns" -d"${DURATION}s" \
			--latency "${hdr[@]}" "$url$path" 2>&1)
		reqs=$(awk '/requests in/ {print $1; exit}' <<<"$res")
		rps=$(awk '/^Requests\/sec/ {print $2; exit}' <<<"$res")
		[ -n "$reqs" ] && [ -n "$rps" ] || return 1
		p50=$(to_ms "$(awk '$1 == "50%" {print $2; exit}' <<<"$res")")
		p99=$(to_ms "$(awk '$1 == "99%" {print $2; exit}' <<<"$res")")
		non2xx=$(awk '/Non-2xx/ {print $NF; exit}' <<<"$res")
		sockerr=$(awk '/Socket errors/ { gsub(/,/, ""); print $4 + $6 + $8 + $10; exit }' <<<"$res")
		;;
	h2 | h2c)
		rm -f "$work/h2load.log"
		res=$(timeout $((DURATION + 30)) "${PIN_CLIENT[@]}" h2load -t1 -c"$H2_CONNS" -m"$H2_STREAMS" \
			-D"$DURATION" --log-file="$work/h2load.log" "$url$path" 2>&1)
		rps=$(awk '/^finished in/ {print $4; exit}' <<<"$res")
		# requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
		reqs=$(awk '/^requests:/ {print $6; exit}' <<<"$res") # done
		[ -n "$reqs" ] && [ -n "$rps" ] && [ "$reqs" -gt 0 ] || return 1
		n=$(awk '/^requests:/ {print $8; exit}' <<<"$res") # succeeded
		non2xx=$(awk '/^status codes:/ {print $5 + $7 + $9; exit}' <<<"$res")
		sockerr=$(awk '/^requests:/ {print $12 + $14; exit}' <<<"$res") # errored + timeout
		read -r p50 p99 < <(percentiles "$work/h2load.log")
		r=$(awk '/^Application protocol:/ {print $3; exit}' <<<"$res")
		[ "$r" = "$kind" ] || note="negotiated ${r:-nothing}, not $kind"
		[ "${n:-0}" = "$reqs" ] || note="${note:+$note; }$((reqs - ${n:-0})) not succeeded"
		;;
	tls_resume)
		t0=$(date +%s.%N)
		res=$(timeout $((DURATION + 30)) "${PIN_CLIENT[@]}" openssl s_time -connect "${url#https://}" \
			-reuse -time "$DURATION" -www "$path" 2>&1)
		t1=$(date +%s.%N)
		reqs=$(awk '/connections in .* real seconds/ {print $1; exit}' <<<"$res")
		[ -n "$reqs" ] && [ "$reqs" -gt 0 ] || return 1
		rps=$(awk -v n="$reqs" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", n / (b - a) }')
		# s_time prints one character per connection: r resumed, * full
		r=$(grep -E '^[rt3*]+$' <<<"$res" | tr -cd 'r' | wc -c)
		n=$(grep -E '^[rt3*]+$' <<<"$res" | tr -cd '*' | wc -c)
		note="resumed $r, full $n"
		;;
	esac
	return 0
}

# PERF="tracegate ...": record the server's process tree with perf during
# the first round's runs of those targets (perf-<stamp>-<scenario>-<target>.data
# in the output directory). perf costs CPU: those runs' numbers are perturbed.
# PERF_MODE=trace counts system calls instead (perf trace -s, a summary per
# syscall in perf-<stamp>-<scenario>-<target>.txt). PERF_CALLGRAPH=dwarf
# unwinds through libraries built without frame pointers (libc, libevent).
PERF=${PERF:-} PERF_FREQ=${PERF_FREQ:-999} PERF_MODE=${PERF_MODE:-record} perf_pid=''
PERF_CALLGRAPH=${PERF_CALLGRAPH:-fp}
if [ -n "$PERF" ] && ! command -v perf >/dev/null; then
	echo "run.sh: perf not found: PERF ignored" >&2
	PERF=''
fi
perf_start() { # ROUND SCENARIO TARGET PID
	perf_pid=''
	[ -n "$PERF" ] && [ "$1" = 1 ] || return 0
	case " $PERF " in *" $3 "*) ;; *) return 0 ;; esac
	if [ "$PERF_MODE" = trace ]; then
		perf trace -s -p "$(descendants "$4" | paste -sd, -)" \
			-o "$out_dir/perf-$stamp-$2-$3.txt" >"$work/perf-$2-$3.log" 2>&1 &
	else
		perf record -F "$PERF_FREQ" --call-graph "$PERF_CALLGRAPH" -p "$(descendants "$4" | paste -sd, -)" \
			-o "$out_dir/perf-$stamp-$2-$3.data" >"$work/perf-$2-$3.log" 2>&1 &
	fi
	perf_pid=$!
	pids+=("$perf_pid")
	sleep 0.5 # perf attaches
}
perf_stop() {
	[ -n "$perf_pid" ] || return 0
	kill -INT "$perf_pid" 2>/dev/null
	wait "$perf_pid" 2>/dev/null
	echo "  perf: $(ls "$out_dir/perf-$stamp-$name-$t".*)" >&2
	perf_pid=''
}

printf 'round\tscenario\ttarget\tconns\trequests\treq_s\tp50_ms\tp99_ms\tcpu_ms_per_1k\torigin_cpu_ms_per_1k\trss_kb\tnon2xx\tsock_err\n' >"$raw_tsv"
ROWS=() # scenario=target,target,...: the rows of the table
for sc in "${SCENS[@]}"; do
	read -r name kind _ <<<"$sc"
	tl=
	for t in $TARGETS; do applies "$kind" "$t" && tl="$tl,$t"; done
	ROWS+=("$name=${tl#,}")
done
for round in $(seq 1 "$ROUNDS"); do
	for sc in "${SCENS[@]}"; do
		read -r name kind path conns <<<"$sc"
		for t in $TARGETS; do
			[ -n "${PORT[$t]:-}" ] || continue
			applies "$kind" "$t" || continue
			url=$(target_url "$kind" "$t")
			[ -n "$url" ] || continue
			pid=${PID[$t]}
			if ! kill -0 "$pid" 2>/dev/null; then
				echo "round $round $name $t: server gone, skipped" >&2
				continue
			fi
			perf_start "$round" "$name" "$t" "$pid"
			c0=$(cpu_ticks "$pid")
			o0=$(cpu_ticks "$ORIGIN_PID")
			run_client "$kind" "$url" "$path" "$conns"
			ok=$?
			perf_stop
			c1=$(cpu_ticks "$pid")
			o1=$(cpu_ticks "$ORIGIN_PID")
			rss=$(rss_kb "$pid")
			if [ "$ok" != 0 ]; then
				echo "round $round $name $t: no result: $(tail -1 <<<"$res")" >&2
				continue
			fi
			per1k() { awk -v d="$1" -v hz="$hz" -v n="$reqs" 'BEGIN { printf "%.3f", (n > 0 ? d / hz * 1000 / (n / 1000) : 0) }'; }
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$t" \
				"$conns" "$reqs" "$rps" "$p50" "$p99" "$(per1k $((c1 - c0)))" "$(per1k $((o1 - o0)))" \
				"$rss" "${non2xx:-0}" "${sockerr:-0}" >>"$raw_tsv"
			echo "round $round $name $t: $rps req/s p99 ${p99}ms${note:+ ($note)}" >&2
		done
	done
done

# The exporting targets: stop them (SIGTERM flushes the exporters) and show
# their span counters next to the requests they served (2 spans a request:
# SERVER + CLIENT), so that a loss cannot hide.
for t in $TARGETS; do
	case $t in tg_s100 | tg_otlp | tg_otlp_down) ;; *) continue ;; esac
	[ -n "${PID[$t]:-}" ] || continue
	kill -TERM "${PID[$t]}" 2>/dev/null
	for _ in $(seq 1 200); do kill -0 "${PID[$t]}" 2>/dev/null || break; sleep 0.05; done
	served=$(awk -F'\t' -v t="$t" '$3 == t {n += $5} END {print n + 1}' "$raw_tsv")
	line=$(grep -o 'spans [a-z]*: .*' "$work/$t/out.log" | tail -1)
	exported=$(awk '{print $3}' <<<"$line")
	echo "$t: $served requests (+1 readiness probe), ${line:-no span counters}" >&2
	[ -n "$exported" ] && awk -v e="$exported" -v n="$served" \
		'BEGIN { printf "  spans exported per span made: %.3f\n", e / (2 * n) }' >&2
done

# Medians across rounds, ratios to nginx; n/a for targets without rows.
python3 - "$raw_tsv" "$sum_tsv" "${ROWS[@]}" <<'EOF'
import csv, math, statistics, sys
raw, summ = sys.argv[1], sys.argv[2]
plan = [(a.split("=", 1)[0], [t for t in a.split("=", 1)[1].split(",") if t]) for a in sys.argv[3:]]
rows = list(csv.DictReader(open(raw), delimiter="\t"))
F = ("req_s", "p50_ms", "p99_ms", "cpu_ms_per_1k", "origin_cpu_ms_per_1k", "rss_kb")
def median(vals):
    vals = [v for v in vals if not math.isnan(v)]
    return statistics.median(vals) if vals else float("nan")
med = {}
for sc, targets in plan:
    for t in targets:
        sel = [r for r in rows if r["scenario"] == sc and r["target"] == t]
        if sel:
            m = {f: median(float(r[f]) for r in sel) for f in F}
            m["non2xx"] = sum(int(r["non2xx"]) for r in sel)
            m["sock_err"] = sum(int(r["sock_err"]) for r in sel)
            m["n"] = len(sel)
            med[(sc, t)] = m
def ratio(m, b, f):
    if not (m and b) or math.isnan(m[f]) or math.isnan(b[f]) or not b[f]:
        return "n/a"
    return "%.2f" % (m[f] / b[f])
def num(v, f):
    return "-" if math.isnan(v) else f % v
hdr = ("scenario", "target", "req/s", "p50 ms", "p99 ms", "cpu ms/1k", "RSS MiB",
       "errors n2xx/sock", "rps/ngx", "cpu/ngx", "p99/ngx", "rps/hap", "cpu/hap", "origin cpu ms/1k")
fmt = "%-10s %-12s %9s %8s %8s %9s %7s %16s %7s %7s %7s %7s %7s %16s"
print(fmt % hdr)
out = open(summ, "w")
out.write("\t".join(["scenario", "target", "rounds", "req_s", "p50_ms", "p99_ms", "cpu_ms_per_1k",
                     "rss_mib", "non2xx", "sock_err", "rps_vs_nginx", "cpu_vs_nginx",
                     "p99_vs_nginx", "rps_vs_haproxy", "cpu_vs_haproxy",
                     "origin_cpu_ms_per_1k"]) + "\n")
for sc, targets in plan:
    b = med.get((sc, "nginx"))
    h = med.get((sc, "haproxy"))
    for t in targets:
        m = med.get((sc, t))
        if not m:
            print(fmt % ((sc, t) + ("n/a",) * 12))
            out.write("\t".join([sc, t, "0"] + ["n/a"] * 13) + "\n")
            continue
        cells = ("%.0f" % m["req_s"], num(m["p50_ms"], "%.3f"), num(m["p99_ms"], "%.3f"),
                 "%.3f" % m["cpu_ms_per_1k"] if t != "direct" else "-",
                 "%.1f" % (m["rss_kb"] / 1024) if t != "direct" else "-",
                 "%d/%d" % (m["non2xx"], m["sock_err"]),
                 ratio(m, b, "req_s"),
                 ratio(m, b, "cpu_ms_per_1k") if t != "direct" else "-",
                 ratio(m, b, "p99_ms"),
                 ratio(m, h, "req_s"),
                 ratio(m, h, "cpu_ms_per_1k") if t != "direct" else "-",
                 "%.3f" % m["origin_cpu_ms_per_1k"])
        print(fmt % ((sc, t) + cells))
        out.write("\t".join([sc, t, str(m["n"])] + list(cells[:5]) +
                            [str(m["non2xx"]), str(m["sock_err"])] + list(cells[6:])) + "\n")
print("\nmedians of %d round(s); errors summed over rounds; x/ngx = target / nginx, x/hap = target / haproxy;"
      " cpu = utime+stime of all the server's processes per 1000 requests;"
      " direct's origin CPU is in the last column; p50/p99 '-' where the client gives none (s_time)." % len({r["round"] for r in rows} or {0}))
# The comparison in one place: tracegate against nginx and HAProxy per scenario.
print("\n%-10s %12s %12s %12s %12s" % ("scenario", "rps tg/ngx", "cpu tg/ngx", "rps tg/hap", "cpu tg/hap"))
for sc, targets in plan:
    m, b, h = med.get((sc, "tracegate")), med.get((sc, "nginx")), med.get((sc, "haproxy"))
    print("%-10s %12s %12s %12s %12s" % (sc, ratio(m, b, "req_s"), ratio(m, b, "cpu_ms_per_1k"),
                                         ratio(m, h, "req_s"), ratio(m, h, "cpu_ms_per_1k")))
print("raw: %s\nsummary: %s" % (raw, summ))
EOF
exit 0
