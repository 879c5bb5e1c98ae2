#!/usr/bin/env bash
# Build the test-bed job jars for each Flink version.
#
#   testbed/jobs/build.sh [VERSION...]     default: all of $FLINKOPS_FLINK_VERSIONS
#
# Leaves, per VERSION:
#   $FLINKOPS_CACHE/jobs/VERSION/flinkops-examples.jar   org.flinkops.examples.StatefulCounter
#                                                        (Main-Class) and .BoundedCounter, compiled
#                                                        with the host javac against
#                                                        $FLINKOPS_CACHE/flink/VERSION/lib/*
#   $FLINKOPS_CACHE/jobs/VERSION/TopSpeedWindowing.jar   the official example
#                                                        (org.apache.flink:flink-examples-streaming,
#                                                        classifier TopSpeedWindowing) from Maven
#                                                        Central; see docs/testbed-docker.md for
#                                                        the version actually served
#   $FLINKOPS_CACHE/jobs/VERSION/flink-metrics-prometheus.jar  a plugin that is not in the image
#                                                        (org.apache.flink:flink-metrics-prometheus),
#                                                        for the plugins role's tests
# The Flink distribution comes from testbed/docker/images.sh --dist-only (run here if missing).
# Cached by a hash of the sources and this script; a second run takes well under a second.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
# shellcheck source=SCRIPTDIR/../docker/maven.sh
. "$TESTBED_DIR/docker/maven.sh"

SRC="$TESTBED_DIR/jobs/src"
RELEASE=11   # class files for Java 11+, so the jar also runs on java11 images

build_examples() { # version
  local ver="$1" out="$FLINKOPS_CACHE/jobs/$1" hash t0=$SECONDS
  hash="$({ printf 'flink=%s release=%s\n' "$ver" "$RELEASE"; cat "$0";
            find "$SRC" -type f -name '*.java' | LC_ALL=C sort | xargs cat; } | sha256sum | cut -c1-16)"
  if [ -f "$out/flinkops-examples.jar" ] && [ "$(cat "$out/flinkops-examples.jar.hash" 2>/dev/null)" = "$hash" ]; then
    log "flinkops-examples.jar for $ver is up to date ($hash)"
    return 0
  fi
  command -v javac >/dev/null 2>&1 || apt_install openjdk-17-jdk-headless
  local lib="$FLINKOPS_CACHE/flink/$ver/lib"
  [ -f "$FLINKOPS_CACHE/flink/$ver/.flinkops-complete" ] || "$TESTBED_DIR/docker/images.sh" --dist-only "$ver"
  local work; work="$(mktemp -d)"
  mkdir -p "$work/classes" "$out"
  local -a sources
  mapfile -t sources < <(find "$SRC" -type f -name '*.java' | LC_ALL=C sort)
  javac -nowarn --release "$RELEASE" -encoding UTF-8 -cp "$lib/*" -d "$work/classes" "${sources[@]}" \
    || { rm -rf "$work"; die "javac failed for Flink $ver"; }
  printf 'Main-Class: org.flinkops.examples.StatefulCounter\nImplementation-Title: flinkops-examples\nImplementation-Version: %s\nX-Flinkops-Source-Hash: %s\n' \
    "$ver" "$hash" >"$work/manifest.txt"
  jar --create --file "$work/flinkops-examples.jar" --manifest "$work/manifest.txt" -C "$work/classes" . \
    || { rm -rf "$work"; die "jar failed"; }
  mv "$work/flinkops-examples.jar" "$out/flinkops-examples.jar"
  printf '%s\n' "$hash" >"$out/flinkops-examples.jar.hash"
  rm -rf "$work"
  log "built $out/flinkops-examples.jar in $((SECONDS - t0))s"
}

fetch_top_speed() { # version
  local ver="$1" out="$FLINKOPS_CACHE/jobs/$1"
  if [ -f "$out/TopSpeedWindowing.jar" ]; then
    log "TopSpeedWindowing.jar for $ver is cached ($(cat "$out/TopSpeedWindowing.jar.source" 2>/dev/null))"
    return 0
  fi
  log "Maven Central: org.apache.flink:flink-examples-streaming:$ver:TopSpeedWindowing"
  local tmp got
  tmp="$(mktemp -d)"
  got="$(maven_fetch_nearest org.apache.flink flink-examples-streaming TopSpeedWindowing "$ver" "$tmp")" \
    || { rm -rf "$tmp"; die "no flink-examples-streaming TopSpeedWindowing jar for $ver on Maven Central"; }
  mkdir -p "$out"
  mv "$tmp/$got" "$out/TopSpeedWindowing.jar"
  printf '%s\n' "$got" >"$out/TopSpeedWindowing.jar.source"
  rm -rf "$tmp"
  [ "$got" = "flink-examples-streaming-$ver-TopSpeedWindowing.jar" ] \
    || log "  using $got for Flink $ver (exact version not in the repository)"
}

fetch_prometheus() { # version
  local ver="$1" out="$FLINKOPS_CACHE/jobs/$1"
  if [ -f "$out/flink-metrics-prometheus.jar" ]; then
    log "flink-metrics-prometheus.jar for $ver is cached ($(cat "$out/flink-metrics-prometheus.jar.source" 2>/dev/null))"
    return 0
  fi
  log "Maven Central: org.apache.flink:flink-metrics-prometheus:$ver"
  local tmp got
  tmp="$(mktemp -d)"
  got="$(maven_fetch_nearest org.apache.flink flink-metrics-prometheus "" "$ver" "$tmp")" \
    || { rm -rf "$tmp"; die "no flink-metrics-prometheus jar for $ver on Maven Central"; }
  mkdir -p "$out"
  mv "$tmp/$got" "$out/flink-metrics-prometheus.jar"
  printf '%s\n' "$got" >"$out/flink-metrics-prometheus.jar.source"
  rm -rf "$tmp"
}

main() {
  local versions=("$@") t0=$SECONDS
  [ ${#versions[@]} -gt 0 ] || read -r -a versions <<<"$FLINKOPS_FLINK_VERSIONS"
  for v in "${versions[@]}"; do
    build_examples "$v"
    fetch_top_speed "$v"
    fetch_prometheus "$v"
  done
  log "done in $((SECONDS - t0))s: $(for v in "${versions[@]}"; do printf '%s ' "$FLINKOPS_CACHE/jobs/$v/"; done)"
}

main "$@"
