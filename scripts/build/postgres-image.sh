#!/usr/bin/env bash
# The PostgreSQL profile's image: Debian's postgresql-15 on a minimal bookworm, with an entrypoint
# that acts as the official postgres image does where the harness relies on it.
# Usage: postgres-image.sh          build what is missing (cached), print the tag last
#        postgres-image.sh --list   only print the tag
# It is no part of the node image (versions.env, rootfs.sh and images.sh key the cluster): the harness
# loads it into the nodes with `kind load docker-image` when a scenario needs it.
source "$(dirname "$0")/common.sh"
SELF="$REPO_ROOT/scripts/build/postgres-image.sh"
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PG_FILES="$REPO_ROOT/images/postgres"
PG_MAJOR=15
PG_IMAGE=statefulset-lab/postgres:$PG_MAJOR-$DEBIAN_SUITE
PG_BASE=$PG_IMAGE-base

if [[ ${1:-} == --list ]]; then
  echo "$PG_IMAGE"
  exit 0
fi
need docker "Run scripts/docker-engine.sh first (npm run cluster:up does)."

# The server and its client (psql, for the probes); tini, the init the entrypoint puts in front of
# the server; procps for ps and pgrep in the pod. setpriv, which the entrypoint uses to drop to the
# postgres user, is in util-linux, part of minbase.
PACKAGES="postgresql-$PG_MAJOR,tini,procps"

build_rootfs_postgres() {
  local dir="$LAB_WORK/rootfs-postgres"
  need debootstrap "apt-get install debootstrap"
  rm -rf "$dir"; mkdir -p "$dir" "$LAB_CACHE/debs"
  debootstrap --variant=minbase --include="$PACKAGES" --cache-dir="$LAB_CACHE/debs" \
    "$DEBIAN_SUITE" "$dir" "$MIRROR"
  # LLVM (and its solver, z3) serves only the JIT, which the server loads on demand from llvmjit.so:
  # some 130 MB. With llvmjit.so gone too the server quietly finds no JIT provider and runs
  # every query interpreted (llvmjit.so without LLVM would fail the first costly query instead).
  chroot "$dir" dpkg --purge --force-depends libllvm14 libz3-4
  rm -rf "$dir/usr/lib/postgresql/$PG_MAJOR/lib/"{llvmjit.so,llvmjit_types.bc,bitcode}
  # The package's postinst made a "main" cluster for pg_ctlcluster; the entrypoint makes its own.
  rm -rf "$dir/etc/postgresql/$PG_MAJOR/main" "$dir/var/lib/postgresql/$PG_MAJOR" "$dir"/var/log/postgresql/*
  # Slim the result: package lists, docs and caches are dead weight in an image.
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/* "$dir"/usr/share/doc/* \
    "$dir"/usr/share/man/* "$dir"/usr/share/locale/* "$dir"/var/log/*.log \
    "$dir"/usr/share/i18n # locale sources, for locale-gen only: the server uses C.UTF-8, built in
  tar -C "$dir" --numeric-owner -cf "$LAB_OUT/rootfs-postgres.tar" .
  rm -rf "$dir"
  du -sh "$LAB_OUT/rootfs-postgres.tar"
}

# The root filesystem as a base layer, then a small build on it: docker import cannot set
# STOPSIGNAL on this engine. The versioned bin directory comes first in PATH, so that `psql` and
# `postgres` are the programs themselves, not Debian's pg_wrapper links in /usr/bin (the harness
# moves the probe's psql aside and wraps it, which needs the real file). SIGINT (which tini passes
# on) is PostgreSQL's fast shutdown: on SIGTERM it would wait for every client session to end (a
# "smart" shutdown), up to the pod's grace period.
build_postgres_image() {
  docker import "$LAB_OUT/rootfs-postgres.tar" "$PG_BASE" >/dev/null
  printf '%s\n' "FROM $PG_BASE" \
    "ENV PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    'ENV LANG=C.UTF-8 PGDATA=/var/lib/postgresql/data' \
    'COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh' \
    'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' 'CMD ["postgres"]' \
    'STOPSIGNAL SIGINT' 'EXPOSE 5432' \
    | DOCKER_BUILDKIT=0 docker build -q -t "$PG_IMAGE" -f - "$PG_FILES" >/dev/null
  echo "built $PG_IMAGE"
  docker image ls "$PG_IMAGE"
}

ROOTFS_KEY=$(stage_key "$SELF" "$REPO_ROOT/scripts/build/common.sh")
IMAGE_KEY=$(stage_key "$SELF" "$REPO_ROOT/scripts/build/common.sh" "$PG_FILES/entrypoint.sh")
[[ -f $LAB_OUT/rootfs-postgres.tar ]] || rm -f "$LAB_STAMPS/rootfs-postgres"
# A new root filesystem means a new image, whatever the image's stamp says.
[[ $(cat "$LAB_STAMPS/rootfs-postgres" 2>/dev/null) == "$ROOTFS_KEY" ]] || rm -f "$LAB_STAMPS/image-postgres"
run_stage rootfs-postgres "$ROOTFS_KEY" build_rootfs_postgres >&2
# A stamp alone is no proof: a Docker store wiped since the last build needs the image again.
docker image inspect "$PG_IMAGE" >/dev/null 2>&1 || rm -f "$LAB_STAMPS/image-postgres"
run_stage image-postgres "$IMAGE_KEY" build_postgres_image >&2
echo "$PG_IMAGE"
