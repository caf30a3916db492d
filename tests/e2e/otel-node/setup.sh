#!/bin/bash
# Makes tests/e2e/otel-node runnable, doing only what is missing: Node.js and
# npm from Debian (the "e2e" lines of docker/packages.txt) when there is no
# node, then the exact npm packages of package-lock.json when node_modules is
# missing or older than the lock. Safe to run before every end-to-end test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)

if ! command -v node >/dev/null 2>&1; then
	pkgs=$(awk '$1 == "e2e" && $2 != "chromium" { printf "%s ", $2 }' "$top/docker/packages.txt")
	echo "setup.sh: installing $pkgs"
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "setup.sh: node is installed but npm is not; install npm" >&2
	exit 1
fi

# npm writes node_modules/.package-lock.json last, so it stamps a complete install.
stamp="$here/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$here/package-lock.json" -nt "$stamp" ]; then
	cd "$here"
	timeout 600 npm ci --no-audit --no-fund --loglevel=error
fi
