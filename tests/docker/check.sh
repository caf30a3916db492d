#!/bin/bash
# The container files of docker/, checked where no container engine runs
# (the ctest "docker.check", in tests/run.sh's release suite):
#   1. docker-compose (Debian's 1.29) accepts docker/compose.yaml
#   2. manifests.py: compose.yaml, otel-collector.yaml and k8s/*.yaml parse
#      (Debian's python3-yaml) and fit together: services, ports, mounted
#      files, the tail-sampling policies, replicas, probes, preStop and grace
#      period against the drain timeouts, the ConfigMap's tracegate.ini
#   3. emulate.py: the Dockerfile's steps as a plain script; the build stage
#      builds a copy of the tree and runs the unit tests (1-2 minutes)
#   4. demo.py, in a network and mount namespace of its own: tracegate -t on
#      the image's and the ConfigMap's configuration, the HEALTHCHECK, the
#      compose demo's services and one trace through them, the drain
# Needs root (unshare), docker-compose, python3-yaml, iproute2 and the
# e2e npm packages: tests/run.sh installs them all. Nothing is skipped: a
# missing tool is a failure.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/tests/docker
py=/usr/bin/python3 # Debian's, where python3-yaml is installed
passed=0

fail() {
	echo "check.sh: FAIL: $*" >&2
	echo "docker: $passed passed, 1 failed"
	exit 1
}

[ "$(id -u)" -eq 0 ] || fail "needs root: unshare gives the demo a network and /etc/hosts"
installs="docker/install-deps.sh test installs it"
command -v docker-compose >/dev/null || fail "no docker-compose: $installs"
$py -c 'import yaml' 2>/dev/null || fail "no python3-yaml for $py: $installs"
command -v ip >/dev/null || fail "no ip (iproute2): $installs"

work=$(mktemp -d /tmp/tg-docker-XXXXXX)
trap 'rm -rf "$work"' EXIT
start=$SECONDS

docker-compose -f "$top/docker/compose.yaml" config -q ||
	fail "docker-compose rejects docker/compose.yaml"
docker-compose -f "$top/docker/compose.yaml" config >"$work/compose.yaml"
echo "check.sh: ok docker-compose accepts docker/compose.yaml"
passed=$((passed + 1))

$py "$here/manifests.py" "$top/docker" "$work/compose.yaml" "$work/k8s.ini" "$work/demo.json" ||
	fail "manifests.py"
chmod 644 "$work/k8s.ini"
passed=$((passed + 1))

$py "$here/emulate.py" "$top/docker/Dockerfile" "$top" "$work" || fail "emulate.py"
echo "check.sh: ok the Dockerfile's steps ran ($((SECONDS - start)) s so far)"
passed=$((passed + 1))

unshare --net --mount $py "$here/demo.py" "$top" "$work" "$work/k8s.ini" || fail "demo.py"
passed=$((passed + 1))
echo "check.sh: done in $((SECONDS - start)) s"
echo "docker: $passed passed, 0 failed"
