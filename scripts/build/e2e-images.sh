#!/usr/bin/env bash
# The images upstream's StatefulSet conformance specs run, built here from Debian's packages and
# tagged exactly as test/utils/image/manifest.go names them for the pinned Kubernetes version, for
# `npm run conformance` on an air-gapped cluster (with stock images the kubelet pulls the real ones).
# Usage: e2e-images.sh          build what is missing (cached), print the tags
#        e2e-images.sh --list   only print the tags
# The tags are pinned here, not in versions.env: that file keys every cluster stage, and these images
# are no part of the cluster. npm run conformance checks them against the e2e binary's --list-images.
source "$(dirname "$0")/common.sh"
SELF="$REPO_ROOT/scripts/build/e2e-images.sh"
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
HTTPD_FILES="$REPO_ROOT/images/httpd"

# The StatefulSet template's image, the one its rolling updates move to (the specs check that the
# image changed, so the two are different builds), and the image one spec patches the template to.
HTTPD_IMAGE=registry.k8s.io/e2e-test-images/httpd:2.4.38-4
HTTPD_NEW_IMAGE=registry.k8s.io/e2e-test-images/httpd:2.4.39-4
PAUSE_IMAGE=registry.k8s.io/pause:$PAUSE_IMAGE_TAG # already on every node: the sandbox image
HTTPD_BASE=statefulset-lab/httpd-base:$DEBIAN_SUITE

if [[ ${1:-} == --list ]]; then
  printf '%s\n' "$HTTPD_IMAGE" "$HTTPD_NEW_IMAGE" "$PAUSE_IMAGE"
  exit 0
fi
need docker "Run scripts/docker-engine.sh first (npm run cluster:up does)."

# Debian's apache2 on a minimal bookworm, arranged as the upstream image is: the site in
# /usr/local/apache2/htdocs on port 80, in the foreground; sh and mv come with the base system.
build_rootfs_httpd() {
  local dir="$LAB_WORK/rootfs-httpd"
  need debootstrap "apt-get install debootstrap"
  rm -rf "$dir"; mkdir -p "$dir" "$LAB_CACHE/debs"
  debootstrap --variant=minbase --include=apache2 --cache-dir="$LAB_CACHE/debs" "$DEBIAN_SUITE" "$dir" "$MIRROR"
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/* "$dir"/usr/share/doc/* \
    "$dir"/usr/share/man/* "$dir"/usr/share/locale/* "$dir"/var/log/*.log "$dir"/var/www/html
  install -m 0644 "$HTTPD_FILES/site.conf" "$dir/etc/apache2/sites-available/000-default.conf"
  install -m 0755 "$HTTPD_FILES/httpd-foreground" "$dir/usr/local/bin/httpd-foreground"
  mkdir -p "$dir/usr/local/apache2/htdocs"
  tar -C "$dir" --numeric-owner -cf "$LAB_OUT/rootfs-httpd.tar" .
  rm -rf "$dir"
  du -sh "$LAB_OUT/rootfs-httpd.tar"
}

# Two images on one base layer; each serves a page naming its own tag, so they are different builds.
build_httpd_images() {
  docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$LAB_OUT/rootfs-httpd.tar" "$HTTPD_BASE" >/dev/null
  local tag ctx
  for tag in "$HTTPD_IMAGE" "$HTTPD_NEW_IMAGE"; do
    ctx=$(mktemp -d)
    printf '<html><body><h1>It works!</h1><p>%s, built from Debian %s apache2</p></body></html>\n' \
      "$tag" "$DEBIAN_SUITE" >"$ctx/index.html"
    printf '%s\n' "FROM $HTTPD_BASE" 'COPY index.html /usr/local/apache2/htdocs/index.html' \
      "LABEL io.statefulset-lab.e2e-image=\"$tag\"" 'EXPOSE 80' 'CMD ["httpd-foreground"]' \
      | DOCKER_BUILDKIT=0 docker build -q -t "$tag" -f - "$ctx" >/dev/null
    rm -rf "$ctx"
    echo "built $tag"
  done
  docker image ls --filter reference='registry.k8s.io/e2e-test-images/httpd'
}

KEY=$(stage_key "$SELF" "$REPO_ROOT/scripts/build/common.sh" "$HTTPD_FILES/site.conf" "$HTTPD_FILES/httpd-foreground")
[[ -f $LAB_OUT/rootfs-httpd.tar ]] || rm -f "$LAB_STAMPS/rootfs-httpd"
run_stage rootfs-httpd "$KEY" build_rootfs_httpd >&2
# A stamp alone is no proof: a Docker store wiped since the last build needs the images again.
for img in "$HTTPD_IMAGE" "$HTTPD_NEW_IMAGE"; do
  docker image inspect "$img" >/dev/null 2>&1 || rm -f "$LAB_STAMPS/images-e2e"
done
run_stage images-e2e "$KEY" build_httpd_images >&2
docker image inspect "$PAUSE_IMAGE" >/dev/null 2>&1 \
  || { echo "error: $PAUSE_IMAGE is not in Docker's image store: run npm run cluster:up (it builds it)" >&2; exit 1; }
printf '%s\n' "$HTTPD_IMAGE" "$HTTPD_NEW_IMAGE" "$PAUSE_IMAGE"
