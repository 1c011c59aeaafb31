#!/usr/bin/env bash
# Builds Debian root filesystems with debootstrap, one per image family, as tarballs in the cache.
# Usage: rootfs.sh [node|slim|mysql|tools]...  (default: all)
source "$(dirname "$0")/common.sh"
SELF="$REPO_ROOT/scripts/build/rootfs.sh"
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# What each root filesystem needs beyond debootstrap's minbase.
# node:  what systemd, containerd, kubelet/kubeadm and kind's entrypoint call.
# slim:  kube-proxy and flannel program iptables; local-path's helper pod needs a shell.
# mysql: a MySQL-compatible server (MariaDB) and its client for probes.
# tools: the client pod of the scenarios: DNS lookups and a mysql client.
PACKAGES_node="systemd systemd-sysv dbus conntrack iptables nftables iproute2 ethtool util-linux mount
kmod libseccomp2 pigz bash ca-certificates jq procps runc containernetworking-plugins socat ebtables
ipset"
PACKAGES_slim="iptables nftables conntrack ipset kmod iproute2"
PACKAGES_mysql="mariadb-server mariadb-client procps"
PACKAGES_tools="mariadb-client bind9-dnsutils iproute2 procps"

build_rootfs() { # build_rootfs NAME
  local name=$1 dir="$LAB_WORK/rootfs-$1" pkgs
  pkgs=$(eval echo "\$PACKAGES_$name" | tr -s ' \n' ',' | sed 's/,$//')
  need debootstrap "apt-get install debootstrap"
  rm -rf "$dir"; mkdir -p "$dir" "$LAB_CACHE/debs"
  debootstrap --variant=minbase --include="$pkgs" --cache-dir="$LAB_CACHE/debs" \
    "$DEBIAN_SUITE" "$dir" "$MIRROR"
  # Slim the result: package lists, docs and caches are dead weight in an image.
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/* "$dir"/usr/share/doc/* \
    "$dir"/usr/share/man/* "$dir"/usr/share/locale/* "$dir"/var/log/*.log
  tar -C "$dir" --numeric-owner -cf "$LAB_OUT/rootfs-$name.tar" .
  rm -rf "$dir"
  du -sh "$LAB_OUT/rootfs-$name.tar"
}

for n in ${@:-node slim mysql tools}; do
  eval "stage_$n() { build_rootfs $n; }"
  run_stage "rootfs-$n" "$(stage_key "$SELF" "$REPO_ROOT/scripts/build/common.sh")" "stage_$n"
done
