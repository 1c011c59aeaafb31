#!/usr/bin/env bash
# Turns the built binaries and root filesystems into Docker images, tagged as kubeadm, kind and our
# manifests name them, then assembles the kind node image with all of them preloaded into its
# containerd, so that the cluster pulls nothing, ever.
# Usage: images.sh   (after go-binaries.sh and rootfs.sh). Prints the node image tag last.
source "$(dirname "$0")/common.sh"
need docker "Run scripts/docker-engine.sh first."
need jq "apt-get install jq"
SELF="$REPO_ROOT/scripts/build/images.sh"
K8S_BIN="$LAB_OUT/kubernetes-$K8S_VERSION"
KIND_FILES="$(go env GOMODCACHE)/sigs.k8s.io/kind@$KIND_VERSION/images/base/files"

# Images that hold one static binary and nothing else a shell could use.
binary_image() { # binary_image TAG BINARY [ENTRYPOINT-JSON]
  local tag=$1 bin=$2 entry=${3:-} dir; dir=$(mktemp -d)
  mkdir -p "$dir/usr/local/bin" "$dir/etc" "$dir/tmp" "$dir/var/run"
  chmod 1777 "$dir/tmp"
  install -m 0755 "$bin" "$dir/usr/local/bin/"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
  local changes=(-c 'ENV PATH=/usr/local/bin:/usr/bin:/bin')
  [[ -n $entry ]] && changes+=(-c "ENTRYPOINT $entry")
  tar -C "$dir" --numeric-owner --owner=0 --group=0 -c . | docker import "${changes[@]}" - "$tag" >/dev/null
  rm -rf "$dir"
  echo "built $tag"
}

# Images on a Debian root filesystem, plus our binaries (layered on the slim base, so they share it).
rootfs_image() { # rootfs_image TAG ROOTFS-NAME [docker import -c ...]
  local tag=$1 name=$2; shift 2
  docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$@" \
    "$LAB_OUT/rootfs-$name.tar" "$tag" >/dev/null
  echo "built $tag"
}
layered_image() { # layered_image TAG FROM DOCKERFILE-BODY CONTEXT-DIR
  local tag=$1 from=$2 body=$3 ctx=$4
  printf 'FROM %s\n%s\n' "$from" "$body" | DOCKER_BUILDKIT=0 docker build -q -t "$tag" -f - "$ctx" >/dev/null
  echo "built $tag"
}

SLIM=statefulset-lab/slim:$DEBIAN_SUITE
MYSQL_IMAGE=statefulset-lab/mysql:mariadb-$DEBIAN_SUITE
TOOLS_IMAGE=statefulset-lab/tools:$DEBIAN_SUITE

# Every image the node must hold, as "tag" lines (read by the preload step and by cluster:up).
component_images() {
  cat <<LIST
registry.k8s.io/kube-apiserver:$K8S_VERSION
registry.k8s.io/kube-controller-manager:$K8S_VERSION
registry.k8s.io/kube-scheduler:$K8S_VERSION
registry.k8s.io/kube-proxy:$K8S_VERSION
registry.k8s.io/etcd:$ETCD_IMAGE_TAG
registry.k8s.io/coredns/coredns:$COREDNS_VERSION
registry.k8s.io/pause:$PAUSE_IMAGE_TAG
statefulset-lab/flannel:$FLANNEL_VERSION
statefulset-lab/local-path-provisioner:$LOCAL_PATH_VERSION
$SLIM
$MYSQL_IMAGE
$TOOLS_IMAGE
LIST
}

# Images our own manifests and the scenarios use: also needed with a stock node image.
LAB_IMAGES_LIST="$SLIM statefulset-lab/local-path-provisioner:$LOCAL_PATH_VERSION $MYSQL_IMAGE $TOOLS_IMAGE"
# The API provider's watchdog runs on the node itself and reads its deadline with kubectl: the agent
# (the tools image) hands a static kubectl to nodes that have none (managed nodes rarely do).
kubectl_binary() {
  if [[ -x $K8S_BIN/kubectl ]]; then echo "$K8S_BIN/kubectl"; return; fi
  # Stock mode builds no Kubernetes: the stock node image carries kubectl of the same version.
  local out="$LAB_OUT/kubectl-$K8S_VERSION/kubectl" c
  if [[ ! -x $out ]]; then
    mkdir -p "$(dirname "$out")"
    c=$(docker create "${KIND_NODE_IMAGE:-$STOCK_NODE_IMAGE}")
    docker cp "$c:/usr/bin/kubectl" "$out"
    docker rm "$c" >/dev/null
  fi
  echo "$out"
}

build_lab_images() {
  rootfs_image "$SLIM" slim
  binary_image "statefulset-lab/local-path-provisioner:$LOCAL_PATH_VERSION" \
    "$LAB_OUT/local-path-$LOCAL_PATH_VERSION/local-path-provisioner" '["/usr/local/bin/local-path-provisioner"]'
  local ctx; ctx=$(mktemp -d)
  cp "$(kubectl_binary)" "$ctx/kubectl"
  rootfs_image "$TOOLS_IMAGE-base" tools
  layered_image "$TOOLS_IMAGE" "$TOOLS_IMAGE-base" \
    "$(printf '%s\n' 'COPY kubectl /usr/local/bin/kubectl' 'CMD ["sleep", "infinity"]')" "$ctx"
  rm -rf "$ctx"
  rootfs_image "$MYSQL_IMAGE-base" mysql
  layered_image "$MYSQL_IMAGE" "$MYSQL_IMAGE-base" \
    "$(printf '%s\n' 'COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh' \
      'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' 'CMD ["mysqld"]' 'EXPOSE 3306')" \
    "$REPO_ROOT/images/mysql"
}

# Kubernetes' own images, tagged as kubeadm names them, and the CNI daemon.
build_kube_images() {
  local c
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    binary_image "registry.k8s.io/$c:$K8S_VERSION" "$K8S_BIN/$c"
  done
  binary_image "registry.k8s.io/etcd:$ETCD_IMAGE_TAG" "$LAB_OUT/etcd-$ETCD_VERSION/etcd"
  # kubeadm's CoreDNS Deployment passes only arguments, so the image must name the program.
  binary_image "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" "$LAB_OUT/coredns-$COREDNS_VERSION/coredns" '["/usr/local/bin/coredns"]'
  binary_image "registry.k8s.io/pause:$PAUSE_IMAGE_TAG" "$LAB_OUT/pause-$PAUSE_IMAGE_TAG/pause" '["/usr/local/bin/pause"]'
  # kube-proxy and flanneld program iptables and conntrack: they need those tools beside them.
  local ctx; ctx=$(mktemp -d)
  cp "$K8S_BIN/kube-proxy" "$LAB_OUT/flannel-$FLANNEL_VERSION/flannel" "$ctx/"
  layered_image "registry.k8s.io/kube-proxy:$K8S_VERSION" "$SLIM" 'COPY kube-proxy /usr/local/bin/' "$ctx"
  layered_image "statefulset-lab/flannel:$FLANNEL_VERSION" "$SLIM" 'COPY flannel /usr/local/bin/flanneld' "$ctx"
  rm -rf "$ctx"
}

# The node's root filesystem: Debian + kind's node files (from the kind module, matching the kind
# CLI version) + Kubernetes, containerd, crictl and CNI plugins.
assemble_node_rootfs() { # assemble_node_rootfs DIR
  local dir=$1
  mkdir -p "$dir"; tar -C "$dir" -xf "$LAB_OUT/rootfs-node.tar"
  # kind's files: scripts executable, the rest readable (module cache files are 0444).
  cp -r "$KIND_FILES/etc/." "$dir/etc/"; cp -r "$KIND_FILES/kind" "$dir/kind"
  cp "$KIND_FILES/usr/local/bin/"* "$dir/usr/local/bin/"
  find "$dir/kind" "$dir/etc/systemd/system" "$dir/etc/containerd" "$dir/etc/sysctl.d" "$dir/etc/default" \
    "$dir/etc/crictl.yaml" -type f -exec chmod 0644 {} +
  find "$dir/kind" "$dir/etc/systemd/system" -type d -exec chmod 0755 {} +
  chmod 0755 "$dir/usr/local/bin/"* "$dir/kind/bin/"*
  # Like kind's base image: systemd starts only what a node needs.
  rm -f "$dir"/lib/systemd/system/multi-user.target.wants/* "$dir"/etc/systemd/system/*.wants/* \
    "$dir"/lib/systemd/system/local-fs.target.wants/* "$dir"/lib/systemd/system/sockets.target.wants/*udev* \
    "$dir"/lib/systemd/system/sockets.target.wants/*initctl* "$dir"/lib/systemd/system/basic.target.wants/* \
    "$dir"/lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service
  echo "ReadKMsg=no" >>"$dir/etc/systemd/journald.conf"
  systemctl --root="$dir" enable kubelet.service containerd.service undo-mount-hacks.service
  systemctl --root="$dir" mask systemd-binfmt.service
  mkdir -p "$dir/etc/kubernetes/manifests" "$dir/opt/cni/bin" "$dir/kind/manifests"
  # Binaries.
  install -m 0755 "$K8S_BIN/kubeadm" "$K8S_BIN/kubelet" "$K8S_BIN/kubectl" "$dir/usr/bin/"
  install -m 0755 "$LAB_OUT/containerd-$CONTAINERD_VERSION/"{containerd,containerd-shim-runc-v2,ctr} "$dir/usr/local/bin/"
  install -m 0755 "$LAB_OUT/crictl-$CRICTL_VERSION/crictl" "$dir/usr/local/bin/"
  # CNI plugins: Debian's (bridge, host-local, portmap, loopback…) plus flannel's; kind looks in /opt/cni/bin.
  cp -a "$dir/usr/lib/cni/." "$dir/opt/cni/bin/"
  install -m 0755 "$LAB_OUT/cni-plugins-$CNI_PLUGINS_VERSION/flannel" "$dir/opt/cni/bin/"
  # containerd's base OCI spec, as kind's base image makes it: no rlimits, and a hook that mounts
  # the product files kind fakes per node.
  "$LAB_OUT/containerd-$CONTAINERD_VERSION/ctr" oci spec \
    | jq '.hooks.createContainer += [{"path": "/kind/bin/mount-product-files.sh"}] | del(.process.rlimits)' \
    >"$dir/etc/containerd/cri-base.json"
  # The sandbox may not lower oom_score_adj; containerd must not try.
  sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' "$dir/etc/containerd/config.toml"
  echo "$K8S_VERSION" >"$dir/kind/version"
  cp "$REPO_ROOT/manifests/flannel.yaml" "$dir/kind/manifests/default-cni.yaml"
  cp "$REPO_ROOT/manifests/storage.yaml" "$dir/kind/manifests/default-storage.yaml"
}

# Preloads images into the node's containerd: run the node filesystem with a bare containerd,
# import every image unpacked-later, stop it, and commit.
preload_and_commit() { # preload_and_commit ROOTFS-TAG FINAL-TAG
  local base=$1 final=$2 ctr_name=lab-node-preload-$$
  docker rm -f "$ctr_name" >/dev/null 2>&1 || true
  docker run -d --privileged --name "$ctr_name" --entrypoint sleep "$base" infinity >/dev/null
  docker exec -d "$ctr_name" /usr/local/bin/containerd
  local i; for i in $(seq 1 30); do docker exec "$ctr_name" ctr version >/dev/null 2>&1 && break; sleep 1; done
  # shellcheck disable=SC2046
  docker save $(component_images) \
    | docker exec -i "$ctr_name" ctr -n k8s.io images import --no-unpack --all-platforms -
  docker exec "$ctr_name" ctr -n k8s.io images ls -q | sort
  docker exec "$ctr_name" sh -c 'kill $(pidof containerd); while pidof containerd >/dev/null; do sleep 0.2; done'
  docker commit "$ctr_name" "$final-preloaded" >/dev/null
  docker rm -f "$ctr_name" >/dev/null
  # docker commit cannot set STOPSIGNAL on this engine: a two-line build restores what kind needs.
  printf '%s\n' "FROM $final-preloaded" 'ENV container=docker' 'STOPSIGNAL SIGRTMIN+3' \
    'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
    | DOCKER_BUILDKIT=0 docker build -q -t "$final" -f - "$(mktemp -d)" >/dev/null
  docker rmi "$final-preloaded" >/dev/null
}

NODE_KEY=$(stage_key "$SELF" "$REPO_ROOT/scripts/build/common.sh" "$REPO_ROOT/manifests/flannel.yaml" \
  "$REPO_ROOT/manifests/storage.yaml" "$REPO_ROOT/images/mysql/entrypoint.sh" "$REPO_ROOT/images/pause/main.go" \
  "$REPO_ROOT/scripts/build/go-binaries.sh" "$REPO_ROOT/scripts/build/rootfs.sh")
NODE_IMAGE=statefulset-lab/node:$K8S_VERSION-$NODE_KEY

build_node_image() {
  local dir="$LAB_WORK/node-rootfs" tag="statefulset-lab/node-rootfs:$NODE_KEY"
  rm -rf "$dir"
  assemble_node_rootfs "$dir"
  tar -C "$dir" --numeric-owner -c . | docker import -c 'ENV container=docker' - "$tag" >/dev/null
  rm -rf "$dir"
  preload_and_commit "$tag" "$NODE_IMAGE"
  docker rmi "$tag" >/dev/null
  # Older node images are dead weight (~2 GB each); one still used by a node container stays.
  local old
  for old in $(docker images statefulset-lab/node --format '{{.Repository}}:{{.Tag}}' | grep -vx "$NODE_IMAGE"); do
    docker rmi "$old" >/dev/null 2>&1 || true
  done
  docker image prune -f >/dev/null
  docker image ls "$NODE_IMAGE"
}

# A stamp alone is no proof: a Docker store wiped since the last build needs the images again.
forget_if_missing() { # forget_if_missing STAGE IMAGE...
  local stage=$1 img; shift
  for img in "$@"; do docker image inspect "$img" >/dev/null 2>&1 || { rm -f "$LAB_STAMPS/$stage"; return; }; done
}

case ${1:-all} in
  --list) component_images; exit 0 ;;
  --lab-only) # with a stock node image: only what our manifests and scenarios add
    # shellcheck disable=SC2086
    forget_if_missing images-lab $LAB_IMAGES_LIST
    run_stage images-lab "$(stage_key "$SELF" "$REPO_ROOT/scripts/build/common.sh" "$REPO_ROOT/images/mysql/entrypoint.sh")" build_lab_images
    echo "$LAB_IMAGES_LIST" | tr ' ' '\n' >"$LAB_CACHE/lab-images"
    exit 0 ;;
esac
# shellcheck disable=SC2086
forget_if_missing images-lab $LAB_IMAGES_LIST
run_stage images-lab "$(stage_key "$SELF" "$REPO_ROOT/scripts/build/common.sh" "$REPO_ROOT/images/mysql/entrypoint.sh")" build_lab_images
forget_if_missing images-kube "registry.k8s.io/kube-apiserver:$K8S_VERSION" "statefulset-lab/flannel:$FLANNEL_VERSION"
run_stage images-kube "$(stage_key "$SELF" "$REPO_ROOT/scripts/build/common.sh")" build_kube_images
forget_if_missing image-node "$NODE_IMAGE"
run_stage image-node "$NODE_KEY" build_node_image
echo "$NODE_IMAGE" >"$LAB_CACHE/node-image"
echo "$NODE_IMAGE"
