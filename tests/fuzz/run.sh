#!/bin/sh
# Builds the libFuzzer drivers with clang-14 (address + undefined sanitizers)
# in build-fuzz/ and runs each for a bounded time on a copy of its committed
# seed corpus, so the tree is left as it was. Fails when any driver finds a
# crash, a leak, a timeout or a broken property; the input is kept in
# build-fuzz/artifacts/<driver>/ (tests/fuzz/README.md: what to do with it).
#   tests/fuzz/run.sh                     every driver, 60 s each (what CI runs)
#   tests/fuzz/run.sh 3600 fuzz_h1_head   one driver, an hour
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
secs=${1:-60}
[ $# -gt 0 ] && shift
docker/install-deps.sh test

dir=build-fuzz
cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang-14 -DTG_FUZZ=ON -DTG_TESTS=OFF \
	-DTG_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$dir" -j"$(nproc)" --target fuzzers

drivers=${*:-$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')}
work=$(mktemp -d /tmp/tg-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=""
summary=""
for d in $drivers; do
	name=${d#fuzz_}
	art="$dir/artifacts/$d"
	mkdir -p "$work/$d" "$art"
	cp tests/fuzz/corpus/"$name"/* "$work/$d/" 2>/dev/null || true
	# one dictionary per driver, or the HTTP one for both h1 drivers
	dict=tests/fuzz/$name.dict
	[ -f "$dict" ] || dict=tests/fuzz/${name%%_*}.dict
	set -- -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art/"
	[ -f "$dict" ] && set -- "$@" -dict="$dict"
	echo "== $d: $secs s"
	if "$dir/tests/fuzz/$d" "$@" "$work/$d" >"$work/$d.log" 2>&1; then
		status=ok
	else
		status=FAILED
		failed="$failed $d"
		tail -n 40 "$work/$d.log"
		cp "$work/$d.log" "$art/"
		echo "   input and log kept in $art/"
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$d.log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$d.log")
	units=$(ls "$work/$d" | wc -l)
	summary="$summary$(printf '%-16s %-7s %12s execs %8s exec/s %6s corpus' "$d" "$status" \
		"${execs:-?}" "${rate:-?}" "$units")
"
done
echo "== summary ($secs s each)"
printf '%s' "$summary"
if [ -n "$failed" ]; then
	echo "fuzzing found problems in:$failed"
	exit 1
fi
