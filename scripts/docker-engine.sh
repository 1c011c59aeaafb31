#!/usr/bin/env bash
# Makes sure the host has what the lab needs and a Docker engine answers: uses a running engine,
# otherwise installs Debian's docker.io (when missing) and starts dockerd in the background (these
# machines have no systemd).
# Logs: $LAB_CACHE/logs/dockerd.log.
source "$(dirname "$0")/build/common.sh"

docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

# Host packages the lab needs: the engine, jq (runtime wrapper, image builds) and debootstrap
# (air-gapped image builds). Installed only when missing, from Debian's packages.
missing=()
if ! command -v dockerd >/dev/null 2>&1 && ! docker_answers; then missing+=(docker.io iptables); fi
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [[ ${#missing[@]} -gt 0 ]]; then
  [[ $(id -u) == 0 ]] || { echo "error: missing ${missing[*]} and installing needs root. Install them (apt-get install ${missing[*]}) and run again." >&2; exit 1; }
  command -v apt-get >/dev/null 2>&1 || { echo "error: missing ${missing[*]} and there is no apt-get here. Install them and run again." >&2; exit 1; }
  echo "[host] installing ${missing[*]} from Debian's packages…"
  apt-get update -qq >"$LAB_LOGS/apt.log" 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$LAB_LOGS/apt.log" 2>&1 \
    || { echo "error: apt-get install ${missing[*]} failed; see $LAB_LOGS/apt.log" >&2; exit 1; }
fi

if docker_answers; then exit 0; fi
command -v dockerd >/dev/null 2>&1 || { echo "error: no Docker engine answers and dockerd is not installed. Start Docker and run again." >&2; exit 1; }

# kind runs its nodes --privileged, which asks for every capability. Where this sandbox's bounding
# set lacks CAP_SYS_RESOURCE, runc refuses ("unable to apply caps"); a small runtime wrapper drops
# that one capability from the container spec before calling the real runc.
cap_sys_resource_missing() {
  local bnd; bnd=$(awk '/^CapBnd/ {print $2}' /proc/self/status)
  (( (0x$bnd >> 24 & 1) == 0 ))
}
mkdir -p /etc/docker
if cap_sys_resource_missing; then
  need jq "apt-get install jq"
  wrapper=/usr/local/lib/statefulset-lab/runc-without-sys-resource
  mkdir -p "$(dirname "$wrapper")"
  install -m 0755 "$REPO_ROOT/scripts/runc-without-sys-resource" "$wrapper"
  desired=$(jq -n --arg p "$wrapper" '{"runtimes": {"lab-runc": {"path": $p}}, "default-runtime": "lab-runc"}')
  current=$(cat /etc/docker/daemon.json 2>/dev/null || echo '{}')
  merged=$(jq -s '.[0] * .[1]' <(echo "$current") <(echo "$desired"))
  [[ "$merged" == "$(jq . <<<"$current")" ]] || echo "$merged" >/etc/docker/daemon.json
  echo "[docker] CAP_SYS_RESOURCE is missing here: runtime wrapper $wrapper is the default runtime"
fi

echo "[docker] starting dockerd (log: $LAB_LOGS/dockerd.log)"
# A dockerd killed without cleanup leaves its pid file and containerd socket behind.
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid 2>/dev/null || true
nohup setsid dockerd >>"$LAB_LOGS/dockerd.log" 2>&1 </dev/null &
for _ in $(seq 1 60); do
  docker_answers && { echo "[docker] ready: $(docker version --format '{{.Server.Version}}')"; exit 0; }
  sleep 1
done
echo "error: dockerd did not answer within 60 s. Last lines of $LAB_LOGS/dockerd.log:" >&2
tail -n 20 "$LAB_LOGS/dockerd.log" >&2
exit 1
