#!/usr/bin/env bash
# Shared helpers for the test-bed scripts. Source it; do not run it.
# Everything expensive is cached outside the repository, keyed by version, so a second run is fast.
set -euo pipefail

FLINKOPS_CACHE="${FLINKOPS_CACHE:-/var/cache/flinkops}"
export FLINKOPS_CACHE
mkdir -p "$FLINKOPS_CACHE"

# Flink versions the collection supports and tests side by side.
FLINKOPS_FLINK_VERSIONS="${FLINKOPS_FLINK_VERSIONS:-1.20.5 2.2.1}"
# The default (newest) version, used by the main job.
FLINKOPS_FLINK_DEFAULT="${FLINKOPS_FLINK_DEFAULT:-2.2.1}"
export FLINKOPS_FLINK_VERSIONS FLINKOPS_FLINK_DEFAULT

TESTBED_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$TESTBED_DIR/.." && pwd)"
export TESTBED_DIR REPO_ROOT

log() { printf '[testbed %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }

# Image name of our locally built Flink image for a version (same layout as the official image).
flink_image() { printf 'flinkops/flink:%s-java17' "$1"; }

apt_updated=""
apt_install() {
  # Install Debian packages that are missing; runs apt-get update at most once per process.
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$apt_updated" ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
