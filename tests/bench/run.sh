#!/usr/bin/env bash
# shellcheck disable=SC2317 # start_* and cleanup are called indirectly
# Side-by-side HTTP/1.1 benchmark on 127.0.0.1: wrk against the origin itself
# (direct), nginx, HAProxy and tracegate, each proxy single-threaded with
# keep-alive to one origin nginx. Interleaved rounds in one invocation; prints
# medians (req/s, p50, p99, proxy CPU per 1000 requests, RSS, errors) with
# ratios to nginx, and writes raw + summary TSVs to tests/bench/out/.
# A benchmark, not a test: it exits 0 whatever the numbers; non-zero only when
# the setup itself is broken (no wrk, origin does not start).
#
#   tests/bench/run.sh
#   ROUNDS=5 DURATION=10 CONNS=64 CONNS_1M=10 tests/bench/run.sh
#   TARGETS="nginx tracegate" TG_BIN=/path/to/tracegate tests/bench/run.sh
#   TASKSET=1 tests/bench/run.sh     pin servers to CPU 1 and wrk to CPU 0
#
# A target is a function start_<name> DIR: it writes its config into DIR,
# starts the server in the background with spawn (which records the PID for
# the EXIT trap), waits with wait_ready, and echoes "PID PORT [URL_BASE]"
# (URL_BASE defaults to http://127.0.0.1:PORT). Add its name to TARGETS.
# A scenario is one line in SCENARIOS.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-50}
CONNS_1M=${CONNS_1M:-10}
TG_BIN=${TG_BIN:-$top/build-bench/tracegate}
TARGETS=${TARGETS:-"direct nginx haproxy tracegate tg_s0 tg_s100 tg_otlp tg_otlp_down"}
# name path connections
SCENARIOS=("small /small $CONNS" "1m /1m $CONNS_1M")

die() { echo "run.sh: $*" >&2; exit 1; }
for tool in wrk nginx python3 curl ps; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

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

# wait_ready PID PORT: up to 10 s for an HTTP answer on PORT while PID lives.
wait_ready() {
	for _ in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || return 1
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$2/small" && return 0
		sleep 0.1
	done
	return 1
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

start_nginx() {
	local dir=$1 port
	port=$(free_port) || return 1
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
		    upstream o { server 127.0.0.1:$ORIGIN; keepalive 32; }
		    server {
		        listen 127.0.0.1:$port;
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
	wait_ready "$SPAWNED" "$port" || return 1
	echo "$SPAWNED $port"
}

start_haproxy() {
	local dir=$1 port
	command -v haproxy >/dev/null || return 1
	port=$(free_port) || return 1
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
		    bind 127.0.0.1:$port
		    default_backend b
		backend b
		    server o 127.0.0.1:$ORIGIN
	EOF
	spawn "$dir" "${PIN_SERVER[@]}" haproxy -db -f "$dir/haproxy.cfg"
	wait_ready "$SPAWNED" "$port" || return 1
	echo "$SPAWNED $port"
}

# tracegate_with DIR EXTRA_INI: tracegate with the base config plus EXTRA_INI
# appended (e.g. a [tracing] section for a sampled variant).
tracegate_with() {
	local dir=$1 extra=${2:-} port
	[ -x "$TG_BIN" ] || { echo "no executable $TG_BIN" >&2; return 1; }
	port=$(free_port) || return 1
	cat >"$dir/tracegate.ini" <<-EOF
		[gateway]
		listen = 127.0.0.1:$port
		workers = 1
		access_log = off
		log_level = ${TG_LOG_LEVEL:-warn}
		[upstream o]
		servers = 127.0.0.1:$ORIGIN
		keepalive = 64
		[route r]
		path_prefix = /
		upstream = o
		[admin]
		enabled = off
	EOF
	[ -n "$extra" ] && printf '%b\n' "$extra" >>"$dir/tracegate.ini"
	spawn "$dir" "${PIN_SERVER[@]}" "$TG_BIN" -c "$dir/tracegate.ini"
	wait_ready "$SPAWNED" "$port" || return 1
	echo "$SPAWNED $port"
}
# tracegate as a plain proxy (tracing off), then with the trace filter at 0%
# and 100% head sampling; at 100% every request's two spans are written as
# JSON lines to a file (the local sink).
start_tracegate() { tracegate_with "$1" "[tracing]\nenabled = off"; }
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

declare -A PID PORT URL
for t in $TARGETS; do
	dir="$work/$t"
	mkdir -p "$dir"
	SPAWNED=
	if start_"$t" "$dir" >"$dir/pidport" 2>"$dir/start.err" && read -r p q u <"$dir/pidport" && [ -n "${q:-}" ]; then
		PID[$t]=$p
		PORT[$t]=$q
		URL[$t]=${u:-http://127.0.0.1:$q}
		echo "started $t: pid $p port $q" >&2
	else
		echo "$t: failed to start; its rows are n/a" >&2
		cat "$dir/start.err" "$dir/out.log" "$dir/err.log" 2>/dev/null | tail -5 | sed "s/^/  $t: /" >&2
	fi
done
echo "origin: pid $ORIGIN_PID port $ORIGIN; $ROUNDS rounds x ${DURATION}s; conns small=$CONNS 1m=$CONNS_1M" >&2

printf 'round\tscenario\ttarget\tconns\trequests\treq_s\tp50_ms\tp99_ms\tcpu_ms_per_1k\torigin_cpu_ms_per_1k\trss_kb\tnon2xx\tsock_err\n' >"$raw_tsv"
for round in $(seq 1 "$ROUNDS"); do
	for sc in "${SCENARIOS[@]}"; do
		read -r name path conns <<<"$sc"
		for t in $TARGETS; do
			[ -n "${PORT[$t]:-}" ] || continue
			pid=${PID[$t]}
			if ! kill -0 "$pid" 2>/dev/null; then
				echo "round $round $name $t: server gone, skipped" >&2
				continue
			fi
			c0=$(cpu_ticks "$pid")
			o0=$(cpu_ticks "$ORIGIN_PID")
			res=$(timeout $((DURATION + 30)) "${PIN_CLIENT[@]}" wrk -t1 -c"$conns" -d"${DURATION}s" \
				--latency "${URL[$t]}$path" 2>&1)
			c1=$(cpu_ticks "$pid")
			o1=$(cpu_ticks "$ORIGIN_PID")
			rss=$(rss_kb "$pid")
			reqs=$(awk '/requests in/ {print $1; exit}' <<<"$res")
			rps=$(awk '/^Requests\/sec/ {print $2; exit}' <<<"$res")
			if [ -z "$reqs" ] || [ -z "$rps" ]; then
				echo "round $round $name $t: wrk gave no result: $(tail -1 <<<"$res")" >&2
				continue
			fi
			p50=$(to_ms "$(awk '$1 == "50%" {print $2; exit}' <<<"$res")")
			p99=$(to_ms "$(awk '$1 == "99%" {print $2; exit}' <<<"$res")")
			non2xx=$(awk '/Non-2xx/ {print $NF; exit}' <<<"$res")
			sockerr=$(awk '/Socket errors/ { gsub(/,/, ""); print $4 + $6 + $8 + $10; exit }' <<<"$res")
			per1k() { awk -v d="$1" -v hz="$hz" -v n="$reqs" 'BEGIN { printf "%.3f", (n > 0 ? d / hz * 1000 / (n / 1000) : 0) }'; }
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$t" \
				"$conns" "$reqs" "$rps" "$p50" "$p99" "$(per1k $((c1 - c0)))" "$(per1k $((o1 - o0)))" \
				"$rss" "${non2xx:-0}" "${sockerr:-0}" >>"$raw_tsv"
			echo "round $round $name $t: $rps req/s p99 ${p99}ms" >&2
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
python3 - "$raw_tsv" "$sum_tsv" "$TARGETS" "${SCENARIOS[@]}" <<'EOF'
import csv, statistics, sys
raw, summ, targets, scens = sys.argv[1], sys.argv[2], sys.argv[3].split(), [s.split()[0] for s in sys.argv[4:]]
rows = list(csv.DictReader(open(raw), delimiter="\t"))
F = ("req_s", "p50_ms", "p99_ms", "cpu_ms_per_1k", "origin_cpu_ms_per_1k", "rss_kb")
med = {}
for sc in scens:
    for t in targets:
        sel = [r for r in rows if r["scenario"] == sc and r["target"] == t]
        if sel:
            m = {f: statistics.median(float(r[f]) for r in sel) for f in F}
            m["non2xx"] = sum(int(r["non2xx"]) for r in sel)
            m["sock_err"] = sum(int(r["sock_err"]) for r in sel)
            m["n"] = len(sel)
            med[(sc, t)] = m
def ratio(m, b, f):
    return "%.2f" % (m[f] / b[f]) if m and b and b[f] else "n/a"
hdr = ("scenario", "target", "req/s", "p50 ms", "p99 ms", "cpu ms/1k", "RSS MiB",
       "errors n2xx/sock", "rps/ngx", "cpu/ngx", "p99/ngx", "origin cpu ms/1k")
fmt = "%-8s %-10s %9s %8s %8s %9s %7s %16s %7s %7s %7s %16s"
print(fmt % hdr)
out = open(summ, "w")
out.write("\t".join(["scenario", "target", "rounds", "req_s", "p50_ms", "p99_ms", "cpu_ms_per_1k",
                     "rss_mib", "non2xx", "sock_err", "rps_vs_nginx", "cpu_vs_nginx",
                     "p99_vs_nginx", "origin_cpu_ms_per_1k"]) + "\n")
for sc in scens:
    b = med.get((sc, "nginx"))
    for t in targets:
        m = med.get((sc, t))
        if not m:
            print(fmt % ((sc, t) + ("n/a",) * 10))
            out.write("\t".join([sc, t, "0"] + ["n/a"] * 11) + "\n")
            continue
        cells = ("%.0f" % m["req_s"], "%.3f" % m["p50_ms"], "%.3f" % m["p99_ms"],
                 "%.3f" % m["cpu_ms_per_1k"] if t != "direct" else "-",
                 "%.1f" % (m["rss_kb"] / 1024) if t != "direct" else "-",
                 "%d/%d" % (m["non2xx"], m["sock_err"]),
                 ratio(m, b, "req_s"),
                 ratio(m, b, "cpu_ms_per_1k") if t != "direct" else "-",
                 ratio(m, b, "p99_ms"), "%.3f" % m["origin_cpu_ms_per_1k"])
        print(fmt % ((sc, t) + cells))
        out.write("\t".join([sc, t, str(m["n"])] + list(cells[:5]) +
                            [str(m["non2xx"]), str(m["sock_err"])] + list(cells[6:])) + "\n")
print("\nmedians of %d round(s); errors summed over rounds; x/ngx = target / nginx;"
      " cpu = utime+stime of all the server's processes per 1000 requests;"
      " direct's origin CPU is in the last column." % len({r["round"] for r in rows} or {0}))
print("raw: %s\nsummary: %s" % (raw, summ))
EOF
exit 0
