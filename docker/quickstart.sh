#!/bin/sh
# The README's first command: installs what is missing, builds, and runs the
# gateway (conf/tracegate.ini, port 8080) in front of a small demo origin
# (port 8081). Try:  curl -i http://127.0.0.1:8080/hello   then open the trace
# viewer at http://127.0.0.1:9901/.   Stop with Ctrl-C.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
docker/install-deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTG_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
ready=$(mktemp)
python3 tests/support/origin.py --port 8081 >"$ready" &
origin=$!
trap 'kill $origin 2>/dev/null || true; rm -f "$ready"' EXIT INT TERM
# the gateway must not answer 502 before the origin listens
for _ in $(seq 1 100); do
	grep -q READY "$ready" && break
	kill -0 $origin 2>/dev/null || break
	sleep 0.1
done
grep -q READY "$ready" || { echo "the demo origin did not start on 127.0.0.1:8081" >&2; exit 1; }
echo "demo origin on 127.0.0.1:8081 (pid $origin); gateway on 127.0.0.1:8080"
echo "try: curl -i http://127.0.0.1:8080/hello"
echo "then open the trace viewer: http://127.0.0.1:9901/"
build/tracegate -c conf/tracegate.ini
