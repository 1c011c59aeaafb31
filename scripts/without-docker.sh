#!/usr/bin/env bash
# Runs a command that cannot reach Docker at all: in a private mount namespace, every docker binary
# on PATH and the engine's socket are covered by /dev/null. Used to prove the API-only node faults
# need nothing but the Kubernetes API:  scripts/without-docker.sh npx mocha --config .mocharc.scenarios.json ...
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: scripts/without-docker.sh <command...>" >&2; exit 2; }
exec unshare --mount --propagation private bash -c '
  set -euo pipefail
  for bin in $(which -a docker 2>/dev/null) /run/docker.sock /var/run/docker.sock; do
    [ -e "$bin" ] && mount --bind /dev/null "$bin"
  done
  if docker ps >/dev/null 2>&1; then echo "without-docker: Docker is still reachable" >&2; exit 1; fi
  echo "without-docker: docker and its socket are out of reach in this process tree" >&2
  exec "$@"' bash "$@"
