# Shared by the build scripts: where the cache lives, how a stage is logged and skipped.
# Sourced, never run. Every stage writes its full output to a log under $LAB_CACHE/logs and prints
# one line with its elapsed time, so a failed stage names itself and keeps its log.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../versions.env
source "$REPO_ROOT/scripts/versions.env"

LAB_CACHE=${LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/statefulset-lab}
LAB_BIN=$LAB_CACHE/bin
LAB_LOGS=$LAB_CACHE/logs
LAB_OUT=$LAB_CACHE/out          # built binaries, one folder per component and version
LAB_WORK=$LAB_CACHE/work        # scratch space for builds (wrapper modules, root filesystems)
LAB_STAMPS=$LAB_CACHE/stamps
mkdir -p "$LAB_BIN" "$LAB_LOGS" "$LAB_OUT" "$LAB_WORK" "$LAB_STAMPS"
export PATH="$LAB_BIN:$PATH"

# Go builds share the machine's module and build caches; they survive a fresh checkout.
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export GOTOOLCHAIN=local

# The cache key of a stage: the pinned versions plus the text of the scripts that build it, so an
# edit to either rebuilds only what it touches.
stage_key() { # stage_key FILE...
  cat "$REPO_ROOT/scripts/versions.env" "$@" | sha256sum | cut -c1-12
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# run_stage NAME KEY FUNCTION: runs FUNCTION unless the stamp for NAME already holds KEY.
run_stage() {
  local name=$1 key=$2 fn=$3 stamp="$LAB_STAMPS/$1" log="$LAB_LOGS/$1.log" t0
  if [[ -f $stamp && $(cat "$stamp") == "$key" ]]; then
    printf '[build] %-22s cached (%s)\n' "$name" "$key"
    return 0
  fi
  t0=$(now)
  printf '[build] %-22s building… (log: %s)\n' "$name" "$log"
  if ( "$fn" ) >"$log" 2>&1; then
    echo "$key" >"$stamp"
    printf '[build] %-22s done in %ss\n' "$name" "$(elapsed "$t0")"
    echo "$name $(elapsed "$t0")" >>"$LAB_LOGS/timings.txt"
  else
    printf '[build] %-22s FAILED after %ss; last lines of %s:\n' "$name" "$(elapsed "$t0")" "$log" >&2
    tail -n 25 "$log" >&2
    return 1
  fi
}

need() { # need CMD HINT
  command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is not installed. $2" >&2; exit 1; }
}
