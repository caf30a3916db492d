#!/bin/sh
# The README's second command and what .ci/run runs: installs what is
# missing, builds with -Werror, and runs the whole suite (unit + integration).
#   tests/run.sh              release build in build-test/
#   tests/run.sh --sanitize   address+undefined sanitizer build in build-asan/
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
docker/install-deps.sh test
# the instrumented Node.js service of the end-to-end test (npm packages)
tests/e2e/otel-node/setup.sh
# Debian's chromium and playwright-core for the trace viewer's browser test
tests/e2e/viewer/setup.sh
dir=build-test
opts="-DCMAKE_BUILD_TYPE=RelWithDebInfo"
if [ "${1:-}" = "--sanitize" ]; then
	dir=build-asan
	opts="-DCMAKE_BUILD_TYPE=Debug -DTG_SANITIZE=ON"
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
# shellcheck disable=SC2086
cmake -S . -B "$dir" -DTG_WERROR=ON $opts >/dev/null
cmake --build "$dir" -j"$(nproc)"
ctest --test-dir "$dir" --output-on-failure
