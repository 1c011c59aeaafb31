#!/usr/bin/env bash
# Builds every program the cluster runs from the Go module proxy (no container registry needed).
# Usage: go-binaries.sh [component...]   (default: all). Output: $LAB_OUT/<component>-<version>/.
source "$(dirname "$0")/common.sh"
need go "Install Go (Debian: apt-get install golang, or https://go.dev/dl) and run again."
SELF="$REPO_ROOT/scripts/build/go-binaries.sh"

# A wrapper module of our own: Kubernetes' and etcd's go.mod files use replace directives that
# `go install pkg@version` refuses, so we require the module and restate the replaces here.
K8S_STAGING="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms
kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller"
K8S_COMPONENTS="kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy"

build_kubernetes() {
  local mod="$LAB_WORK/k8s-$K8S_VERSION" out="$LAB_OUT/kubernetes-$K8S_VERSION" m
  mkdir -p "$mod" "$out"
  {
    echo "module statefulset-lab/k8s-build"
    echo "go 1.24"
    echo "require k8s.io/kubernetes $K8S_VERSION"
    for m in $K8S_STAGING; do echo "replace k8s.io/$m => k8s.io/$m $K8S_STAGING_VERSION"; done
  } >"$mod/go.mod"
  # kubeadm refuses unstamped binaries: stamp the version the way Kubernetes' release build does.
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local stamp="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    stamp+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=statefulset-lab"
    stamp+=" -X $pkg.buildDate=2025-05-15T00:00:00Z"
  done
  local pkgs=()
  for m in $K8S_COMPONENTS; do pkgs+=("k8s.io/kubernetes/cmd/$m"); done
  cd "$mod"
  go mod download k8s.io/kubernetes
  CGO_ENABLED=0 go build -mod=mod -trimpath -ldflags "-s -w $stamp" -o "$out/" "${pkgs[@]}"
  "$out/kubeadm" version -o short
}

build_etcd() {
  local mod="$LAB_WORK/etcd-$ETCD_VERSION" out="$LAB_OUT/etcd-$ETCD_VERSION"
  mkdir -p "$mod" "$out"
  cat >"$mod/go.mod" <<MOD
module statefulset-lab/etcd-build
go 1.23
require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  # etcd's own main package lives in a module that cannot be built outside its repository;
  # etcdmain.Main is the same entry point.
  cat >"$mod/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  cd "$mod"
  go mod tidy
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/etcd" .
  "$out/etcd" --version
}

build_containerd() {
  local mod="$LAB_WORK/containerd-$CONTAINERD_VERSION" out="$LAB_OUT/containerd-$CONTAINERD_VERSION"
  mkdir -p "$mod" "$out"
  # containerd's go.mod has exclude lines, which `go install pkg@version` refuses: build through a
  # wrapper module whose go.sum is resolved by the build itself.
  cat >"$mod/go.mod" <<MOD
module statefulset-lab/containerd-build
go 1.23
require github.com/containerd/containerd $CONTAINERD_VERSION
MOD
  cat >"$mod/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "github.com/containerd/containerd/cmd/containerd"
	_ "github.com/containerd/containerd/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/cmd/ctr"
)
GO
  cd "$mod"
  go mod tidy -e || true
  local v="-X github.com/containerd/containerd/version.Version=$CONTAINERD_VERSION"
  CGO_ENABLED=0 go build -mod=mod -trimpath -tags "no_btrfs no_devmapper no_zfs no_aufs" \
    -ldflags "-s -w $v" -o "$out/" \
    github.com/containerd/containerd/cmd/containerd \
    github.com/containerd/containerd/cmd/containerd-shim-runc-v2 \
    github.com/containerd/containerd/cmd/ctr
  "$out/containerd" --version
}

go_install() { # go_install OUTDIR PKG@VERSION [extra go flags...]
  local out=$1 pkg=$2; shift 2
  mkdir -p "$out"
  GOBIN="$out" go install -trimpath "$@" "$pkg"
}

build_kind() { go_install "$LAB_OUT/kind-$KIND_VERSION" "sigs.k8s.io/kind@$KIND_VERSION" -ldflags "-s -w"; }
build_coredns() {
  CGO_ENABLED=0 go_install "$LAB_OUT/coredns-$COREDNS_VERSION" "github.com/coredns/coredns@$COREDNS_VERSION" -ldflags "-s -w"
}
build_local_path() {
  CGO_ENABLED=0 go_install "$LAB_OUT/local-path-$LOCAL_PATH_VERSION" \
    "github.com/rancher/local-path-provisioner@$LOCAL_PATH_VERSION" \
    -ldflags "-s -w -X main.VERSION=$LOCAL_PATH_VERSION"
}
build_crictl() {
  CGO_ENABLED=0 go_install "$LAB_OUT/crictl-$CRICTL_VERSION" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION" -ldflags "-s -w"
}
build_flannel() {
  # flanneld needs cgo (its udp backend); link it statically so it runs in a bare image.
  CGO_ENABLED=1 go_install "$LAB_OUT/flannel-$FLANNEL_VERSION" "github.com/flannel-io/flannel@$FLANNEL_VERSION" \
    -ldflags "-s -w -X github.com/flannel-io/flannel/pkg/version.Version=$FLANNEL_VERSION -extldflags -static"
}
build_cni_flannel() {
  CGO_ENABLED=0 go_install "$LAB_OUT/cni-plugins-$CNI_PLUGINS_VERSION" \
    "github.com/containernetworking/plugins/plugins/meta/flannel@$CNI_PLUGINS_VERSION" -ldflags "-s -w"
}
build_pause() {
  local out="$LAB_OUT/pause-$PAUSE_IMAGE_TAG"
  mkdir -p "$out"
  cd "$REPO_ROOT/images/pause"
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/pause" .
}

ALL="kind kubernetes etcd containerd coredns local_path crictl flannel cni_flannel pause"
for c in ${@:-$ALL}; do
  c=${c//-/_}
  extra=()
  [[ $c == pause ]] && extra=("$REPO_ROOT/images/pause/main.go")
  run_stage "go-$c" "$(stage_key "$SELF" "$REPO_ROOT/scripts/build/common.sh" "${extra[@]}")" "build_$c"
done
