#!/bin/sh
# Installs the Debian packages of docker/packages.txt that are missing.
# Usage: docker/install-deps.sh [runtime|build|test]
#   runtime: what the binary needs to run; build: to compile; test: build + tests
set -eu
kind=${1:-test}
here=$(cd "$(dirname "$0")" && pwd)
if [ "$kind" = runtime ]; then
	want=$(awk '$1 == "runtime" { print $2 }' "$here/packages.txt")
elif [ "$kind" = build ]; then
	want=$(awk '$1 == "build" { print $2 }' "$here/packages.txt")
else
	want=$(awk '$1 == "build" || $1 == "test" { print $2 }' "$here/packages.txt")
fi
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
