#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint, built from the Go module proxy at the pinned
# version into the lab's cache.
source "$(dirname "$0")/build/common.sh"
# Pinned here, not in versions.env: that file keys the cluster build cache, and a linter is no part of it.
ACTIONLINT_VERSION=v1.7.10
bin="$LAB_OUT/actionlint-$ACTIONLINT_VERSION/actionlint"
if [[ ! -x $bin ]]; then
  need go "Install Go to build actionlint."
  GOBIN=$(dirname "$bin") go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" >"$LAB_LOGS/actionlint.log" 2>&1 \
    || { echo "error: building actionlint failed; see $LAB_LOGS/actionlint.log" >&2; exit 1; }
fi
cd "$REPO_ROOT" && "$bin" -shellcheck= -pyflakes= .github/workflows/*.yml && echo "actionlint: workflows clean"
