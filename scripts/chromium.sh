#!/usr/bin/env bash
# Makes sure a headless browser is here for the report's and the live view's browser tests: uses
# Debian's chromium when installed, otherwise installs it (and fonts, without which every label
# would render as nothing, and Korean as empty boxes) from Debian's packages, as docker-engine.sh
# does for the engine.
# Prints the browser's path as its last line of stdout; everything else goes to stderr.
# Log: $LAB_CACHE/logs/chromium-apt.log.
source "$(dirname "$0")/build/common.sh"

find_chromium() { command -v chromium || command -v chromium-browser; }

missing=()
find_chromium >/dev/null 2>&1 || missing+=(chromium)
# A machine without any font draws the report's text as empty boxes or not at all.
[[ -n $(fc-list 2>/dev/null | head -n 1) ]] || missing+=(fonts-dejavu-core)
# The labs run in Korean too: without a Hangul font the live view's words paint as empty boxes.
[[ -n $(fc-list :lang=ko 2>/dev/null | head -n 1) ]] || missing+=(fonts-nanum)
if [[ ${#missing[@]} -gt 0 ]]; then
  [[ $(id -u) == 0 ]] || { echo "error: missing ${missing[*]} and installing needs root. Install them (apt-get install ${missing[*]}) and run again." >&2; exit 1; }
  command -v apt-get >/dev/null 2>&1 || { echo "error: missing ${missing[*]} and there is no apt-get here. Install them and run again." >&2; exit 1; }
  echo "[host] installing ${missing[*]} from Debian's packages… (log: $LAB_LOGS/chromium-apt.log)" >&2
  apt-get update -qq >"$LAB_LOGS/chromium-apt.log" 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$LAB_LOGS/chromium-apt.log" 2>&1 \
    || { echo "error: apt-get install ${missing[*]} failed; see $LAB_LOGS/chromium-apt.log" >&2; exit 1; }
fi

find_chromium || { echo "error: chromium is still not on PATH after installing it" >&2; exit 1; }
