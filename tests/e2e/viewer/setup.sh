#!/bin/bash
# Makes tests/e2e/viewer runnable, doing only what is missing: Debian's
# chromium (the "e2e chromium" line of docker/packages.txt) when there is no
# /usr/bin/chromium, then the exact npm packages of package-lock.json
# (playwright-core, which drives that browser and downloads none of its own)
# when node_modules is missing or older than the lock. Node.js and npm come
# from tests/e2e/otel-node/setup.sh or the machine. Safe to run every time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)

if [ ! -x /usr/bin/chromium ]; then
	pkgs=$(awk '$1 == "e2e" && $2 == "chromium" { print $2 }' "$top/docker/packages.txt")
	if [ -z "$pkgs" ]; then
		echo "setup.sh: no 'e2e chromium' line in docker/packages.txt" >&2
		exit 1
	fi
	echo "setup.sh: installing $pkgs"
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	# another apt-get (an unattended upgrade, a parallel setup) may hold the lock for a while
	$SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=120 --no-install-recommends $pkgs >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "setup.sh: npm is missing; run tests/e2e/otel-node/setup.sh first" >&2
	exit 1
fi
# playwright-core (package.json "engines") needs Node.js 20 or newer
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
	echo "setup.sh: node $(node --version) is too old for playwright-core; need 20 or newer" >&2
	exit 1
fi

# npm writes node_modules/.package-lock.json last, so it stamps a complete install.
stamp="$here/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$here/package-lock.json" -nt "$stamp" ]; then
	cd "$here"
	timeout 600 npm ci --no-audit --no-fund --loglevel=error
fi
