#!/usr/bin/env bash
# Builds upstream's e2e test binary (k8s.io/kubernetes/test/e2e, compiled with `go test -c`) for the
# pinned Kubernetes version from the Go module proxy, for `npm run conformance`. Output:
# $LAB_OUT/e2e-$K8S_VERSION/e2e.test; prints its path. Cached like the other stages: a stage of its
# own (its key is versions.env and this script), so it never invalidates the cluster's binaries.
source "$(dirname "$0")/common.sh"
need go "Install Go (Debian: apt-get install golang, or https://go.dev/dl) and run again."
SELF="$REPO_ROOT/scripts/build/e2e.sh"

build_e2e() {
  local mod="$LAB_WORK/e2e-$K8S_VERSION" out="$LAB_OUT/e2e-$K8S_VERSION" gomod staging m
  mkdir -p "$mod" "$out"
  # Kubernetes' go.mod points every k8s.io/* staging module at its own tree (./staging/src/...),
  # which a module outside that tree cannot follow: the wrapper module names the published
  # release of each instead. The list is read from that go.mod, so it follows the pinned version.
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
  [[ -f $gomod ]] || { echo "error: no go.mod for k8s.io/kubernetes@$K8S_VERSION from the module proxy" >&2; return 1; }
  staging=$(sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\1#p' "$gomod")
  echo "staging modules replaced: $(wc -w <<<"$staging")"
  {
    echo "module statefulset-lab/e2e-build"
    echo "go 1.24"
    echo "require k8s.io/kubernetes $K8S_VERSION"
    for m in $staging; do echo "replace $m => $m $K8S_STAGING_VERSION"; done
  } >"$mod/go.mod"
  cd "$mod"
  # The e2e suite's test-only imports (ginkgo, gomega, …) become requirements of the wrapper. No
  # `go mod tidy` here: with no Go files of its own it would drop the kubernetes requirement.
  go get -t "k8s.io/kubernetes/test/e2e@$K8S_VERSION"
  local v=k8s.io/component-base/version minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  CGO_ENABLED=0 go test -c -mod=mod -trimpath \
    -ldflags "-s -w -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor" \
    -o "$out/e2e.test" k8s.io/kubernetes/test/e2e
  "$out/e2e.test" --list-images | grep -c . # it starts and knows its images
  ls -l "$out/e2e.test"
}

run_stage "go-e2e" "$(stage_key "$SELF" "$REPO_ROOT/scripts/build/common.sh")" build_e2e >&2
bin="$LAB_OUT/e2e-$K8S_VERSION/e2e.test"
[[ -x $bin ]] || { echo "error: $bin is missing after its stage; remove $LAB_STAMPS/go-e2e and run again" >&2; exit 1; }
echo "$bin"
