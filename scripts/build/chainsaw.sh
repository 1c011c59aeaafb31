#!/usr/bin/env bash
# Builds Kyverno chainsaw, the peer harness the benchmark compares with, from the Go module proxy
# into the lab's cache; prints the binary's path. Pinned here, not in versions.env: that file keys
# the cluster build cache, and a benchmark contender is no part of the cluster.
source "$(dirname "$0")/common.sh"
CHAINSAW_VERSION=v0.2.15
bin="$LAB_OUT/chainsaw-$CHAINSAW_VERSION/chainsaw"
if [[ ! -x $bin ]]; then
  need go "Install Go to build chainsaw (npm run bench compares with it)."
  echo "[build] chainsaw $CHAINSAW_VERSION… (log: $LAB_LOGS/chainsaw.log)" >&2
  CGO_ENABLED=0 GOBIN=$(dirname "$bin") go install -trimpath -ldflags "-s -w" \
    "github.com/kyverno/chainsaw@$CHAINSAW_VERSION" >"$LAB_LOGS/chainsaw.log" 2>&1 \
    || { echo "error: building chainsaw failed; see $LAB_LOGS/chainsaw.log" >&2; exit 1; }
fi
echo "$bin"
