#!/bin/sh
# The README's first command: installs what is missing, builds, and runs the
# gateway (conf/tracegate.ini, port 8080) in front of a small demo origin
# (port 8081). Try:  curl -i http://127.0.0.1:8080/hello   Stop with Ctrl-C.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
docker/install-deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTG_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
python3 tests/support/origin.py --port 8081 >/dev/null &
origin=$!
trap 'kill $origin 2>/dev/null || true' EXIT INT TERM
echo "demo origin on 127.0.0.1:8081 (pid $origin); gateway on 127.0.0.1:8080"
echo "try: curl -i http://127.0.0.1:8080/hello"
build/tracegate -c conf/tracegate.ini
