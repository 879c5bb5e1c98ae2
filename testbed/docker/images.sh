#!/usr/bin/env bash
# Build the local Flink images of the test bed (no container registry needed).
#
#   testbed/docker/images.sh [VERSION...]     default: all of $FLINKOPS_FLINK_VERSIONS
#   testbed/docker/images.sh --dist-only [VERSION...]   only the host-side Flink distribution(s)
#   testbed/docker/images.sh --base-only      only the base image
#
# For every VERSION this leaves:
#   $FLINKOPS_CACHE/flink/VERSION/            a normal FLINK_HOME (bin conf lib opt plugins log) for
#                                             the host: $FLINKOPS_CACHE/flink/VERSION/bin/flink
#   $FLINKOPS_CACHE/flink/VERSION.s3/         the S3 plugin jar that goes to /opt/flink/opt/
#   image $(flink_image VERSION)              e.g. flinkops/flink:2.2.1-java17, built on the official
#                                             `flink` image's recipe with its entrypoint byte for byte
#                                             (see testbed/docker/image/Dockerfile)
# Steps, each cached:
#   a) base image flinkops/base:bookworm-jre17: debootstrap --variant=minbase of Debian bookworm with
#      a JRE 17, imported with `docker import` (rootfs tarball in $FLINKOPS_CACHE/base/)
#   b) Flink distribution from PyPI: apache-flink (bin/, conf/) and apache-flink-libraries (lib/,
#      opt/, plugins/, bin/bash-java-utils.jar), downloads in $FLINKOPS_CACHE/downloads/pypi/
#   c) S3 plugin jar (org.apache.flink:flink-s3-fs-hadoop) from Maven Central with `mvn`
#   d) docker build FROM the base image with the official recipe of the version's major.minor from
#      $FLINKOPS_UPSTREAM/flink-docker (default ../shared/upstream beside the checkout): its
#      docker-entrypoint.sh byte for byte, its Dockerfile's configuration-step arguments and whether it
#      ends with USER flink; skipped when the image carries the same org.flinkops.build-hash label.
#      After a build the entrypoint inside the image is compared with the upstream file.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

IMAGE_SRC="$TESTBED_DIR/docker/image"
BASE_IMAGE="${FLINKOPS_BASE_IMAGE:-flinkops/base:bookworm-jre17}"
BASE_SUITE=bookworm
# What the official image brings besides Flink: the eclipse-temurin JRE image's JRE and tools, and its
# Dockerfile's `apt-get install gpg libsnappy1v5 gettext-base libjemalloc-dev` plus gosu (downloaded from
# GitHub upstream; Debian's package here). hostname and util-linux are in minbase already.
BASE_PACKAGES="openjdk-17-jre-headless,bash,procps,gettext-base,util-linux,hostname,ca-certificates,curl,wget,netbase,tzdata,gpg,libjemalloc-dev,libsnappy1v5,gosu,findutils,gzip,tar,less"
UPSTREAM="${FLINKOPS_UPSTREAM:-$(cd "$REPO_ROOT/.." && pwd)/shared/upstream}"
PYPI_DIR="$FLINKOPS_CACHE/downloads/pypi"
# shellcheck source=SCRIPTDIR/maven.sh
. "$TESTBED_DIR/docker/maven.sh"

sha() { sha256sum | cut -c1-16; }

debian_mirror() {
  # First URI of the main (non-security) suite in the apt sources of this machine.
  local f=/etc/apt/sources.list.d/debian.sources
  if [ -f "$f" ]; then
    awk -v suite="$BASE_SUITE" '
      /^URIs:/ { uri=$2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite && uri != "") { print uri; exit } }
    ' "$f"
    return
  fi
  awk -v suite="$BASE_SUITE" '$1 == "deb" && $3 == suite { print $2; exit }' /etc/apt/sources.list 2>/dev/null
}

image_label() { # image label -> value (empty if no image / no label)
  docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

build_base() {
  local mirror hash tarball t0=$SECONDS
  mirror="$(debian_mirror)"
  [ -n "$mirror" ] || die "no Debian mirror for $BASE_SUITE found in the apt sources"
  hash="$(printf '%s\n' "$BASE_SUITE" "$BASE_PACKAGES" "minbase" | sha)"
  if [ "$(image_label "$BASE_IMAGE" org.flinkops.base-hash)" = "$hash" ]; then
    log "base image $BASE_IMAGE is up to date ($hash)"
    return 0
  fi
  tarball="$FLINKOPS_CACHE/base/$BASE_SUITE-jre17-$hash.tar"
  if [ ! -s "$tarball" ]; then
    apt_install debootstrap
    local root="$FLINKOPS_CACHE/base/rootfs-$hash"
    rm -rf "$root"
    mkdir -p "$root"
    log "debootstrap $BASE_SUITE (minbase + JRE 17) from $mirror"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$BASE_SUITE" "$root" "$mirror" \
      >"$FLINKOPS_CACHE/base/debootstrap-$hash.log" 2>&1 \
      || { tail -n 30 "$FLINKOPS_CACHE/base/debootstrap-$hash.log" >&2; die "debootstrap failed"; }
    # Slim it down: package caches, lists, docs. The image never runs apt itself.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
      "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
      "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
    tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
    log "rootfs tarball $(du -h "$tarball" | cut -f1) in $((SECONDS - t0))s"
  fi
  log "docker import $BASE_IMAGE"
  docker import \
    -c "ENV LANG=C.UTF-8 JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64" \
    -c "LABEL org.flinkops.base-hash=$hash" \
    -c 'CMD ["bash"]' \
    "$tarball" "$BASE_IMAGE" >/dev/null
  log "base image $BASE_IMAGE ready in $((SECONDS - t0))s"
}

pypi_fetch() { # name version -> path of the downloaded file (wheel or sdist), cached
  local name="$1" ver="$2" norm f
  norm="${name//-/_}"
  mkdir -p "$PYPI_DIR"
  f="$(find "$PYPI_DIR" -maxdepth 1 \( -name "$norm-$ver-*.whl" -o -name "$norm-$ver.tar.gz" \) | sort | head -n1)"
  if [ -z "$f" ]; then
    log "pip download $name==$ver"
    # Pin the wheel tags so the same file comes down whatever python3 this machine has;
    # bin/ and conf/ are the same in every wheel of a release.
    python3 -m pip download -q --no-deps -d "$PYPI_DIR" \
      --python-version 3.11 --implementation cp --platform manylinux2014_x86_64 \
      "$name==$ver" >&2 || die "pip download $name==$ver failed"
    f="$(find "$PYPI_DIR" -maxdepth 1 \( -name "$norm-$ver-*.whl" -o -name "$norm-$ver.tar.gz" \) | sort | head -n1)"
    [ -n "$f" ] || die "pip download $name==$ver left no file in $PYPI_DIR"
  fi
  printf '%s\n' "$f"
}

unpack() { # archive dir
  mkdir -p "$2"
  case "$1" in
    *.whl) python3 -m zipfile -e "$1" "$2" ;;
    *.tar.gz) tar -xzf "$1" -C "$2" ;;
    *) die "unknown archive type: $1" ;;
  esac
}

build_dist() { # version -> $FLINKOPS_CACHE/flink/V (a FLINK_HOME)
  local ver="$1" home="$FLINKOPS_CACHE/flink/$1" t0=$SECONDS
  if [ -f "$home/.flinkops-complete" ]; then
    log "Flink $ver distribution is cached in $home"
    return 0
  fi
  local pyf lib tmp src_bin src_lib
  pyf="$(pypi_fetch apache-flink "$ver")"
  lib="$(pypi_fetch apache-flink-libraries "$ver")"
  tmp="$(mktemp -d "$FLINKOPS_CACHE/flink/.unpack-$ver.XXXXXX")"
  unpack "$pyf" "$tmp/a"
  unpack "$lib" "$tmp/b"
  # apache-flink has pyflink/bin + pyflink/conf; apache-flink-libraries has lib/ opt/ plugins/ and
  # bin/bash-java-utils.jar, either as pyflink/ (wheel, 2.x) or as <sdist>/deps/ (sdist, 1.20).
  src_bin="$(dirname "$(find "$tmp/a" -path '*/bin/flink' -type f | head -n1)")"
  src_lib="$(dirname "$(find "$tmp/b" -path '*/lib/flink-dist-*.jar' -type f | head -n1)")"
  if [ ! -d "$src_bin" ] || [ ! -d "$src_bin/../conf" ]; then die "no bin/flink + conf/ in $pyf"; fi
  [ -d "$src_lib" ] || die "no lib/flink-dist-*.jar in $lib"
  local new="$tmp/home"
  mkdir -p "$new/log" "$new/opt" "$new/plugins"
  cp -a "$src_bin" "$new/bin"
  cp -a "$src_bin/../conf" "$new/conf"
  cp -a "$src_lib" "$new/lib"
  local d
  for d in opt plugins bin licenses; do
    [ -d "$src_lib/../$d" ] && cp -a "$src_lib/../$d/." "$new/$d/"
  done
  # Python-only helpers of the pip package are of no use in a plain distribution.
  rm -f "$new"/bin/*.bat "$new"/bin/find-flink-home.sh "$new"/bin/pyflink-shell.sh
  find "$new/bin" -name '*.sh' -exec chmod 0755 {} +
  chmod 0755 "$new/bin/flink"
  for f in "$src_lib"/../../LICENSE "$src_lib"/../../NOTICE "$src_lib"/../LICENSE "$src_lib"/../NOTICE; do
    [ -f "$f" ] && cp "$f" "$new/"
  done
  printf '%s\n' "$ver" >"$new/VERSION"
  rm -rf "$home"
  mv "$new" "$home"
  rm -rf "$tmp"
  local out
  out="$("$home/bin/flink" --version 2>&1)" || die "$home/bin/flink --version failed: $out"
  case "$out" in *"Version: $ver"*) ;; *) die "$home/bin/flink --version says: $out" ;; esac
  touch "$home/.flinkops-complete"
  log "Flink $ver distribution in $home ($((SECONDS - t0))s): $(printf '%s' "$out" | tr -s '\n' ' ')"
}

fetch_s3() { # version -> $FLINKOPS_CACHE/flink/V.s3/flink-s3-fs-hadoop-*.jar
  local ver="$1" dir="$FLINKOPS_CACHE/flink/$1.s3"
  if [ -n "$(find "$dir" -maxdepth 1 -name 'flink-s3-fs-hadoop-*.jar' 2>/dev/null)" ]; then return 0; fi
  log "Maven Central: org.apache.flink:flink-s3-fs-hadoop:$ver"
  local got
  got="$(maven_fetch_nearest org.apache.flink flink-s3-fs-hadoop "" "$ver" "$dir.tmp")" \
    || die "flink-s3-fs-hadoop for $ver is not available from Maven Central"
  [ "$got" = "flink-s3-fs-hadoop-$ver.jar" ] || log "  using $got for Flink $ver (exact version not in the repository)"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
}

recipe_dir() { # version -> the upstream flink-docker recipe of its major.minor (java17)
  local dir="$UPSTREAM/flink-docker/${1%.*}/scala_2.12-java17-ubuntu"
  [ -f "$dir/Dockerfile" ] && [ -f "$dir/docker-entrypoint.sh" ] \
    || die "no official image recipe for Flink $1 at $dir (../shared/upstream must be beside the checkout, or set FLINKOPS_UPSTREAM)"
  printf '%s\n' "$dir"
}

conf_step() { # version -> the -repKV/-rmKV arguments of the upstream Dockerfile's configuration step
  local args
  args="$(grep -oE '"-(repKV|rmKV)"[[:space:]]+"[^"]+"' "$(recipe_dir "$1")/Dockerfile" \
    | awk '!seen[$0]++ { gsub(/"/, ""); printf "%s %s ", $1, $2 }')"
  [ -n "$args" ] || die "no configuration step (-repKV/-rmKV) found in $(recipe_dir "$1")/Dockerfile"
  printf '%s\n' "${args% }"
}

run_as() { # version -> the user the upstream image runs as (USER flink in 2.x, root in 1.x)
  if grep -qE '^USER[[:space:]]+flink' "$(recipe_dir "$1")/Dockerfile"; then echo flink; else echo root; fi
}

build_hash() { # version -> hash of what goes into the image
  local ver="$1"
  {
    printf 'version=%s\nbase=%s\nstep=%s\nuser=%s\n' "$ver" "$(image_label "$BASE_IMAGE" org.flinkops.base-hash)" \
      "$(conf_step "$ver")" "$(run_as "$ver")"
    cat "$IMAGE_SRC/Dockerfile" "$(recipe_dir "$ver")/docker-entrypoint.sh"
    ls "$FLINKOPS_CACHE/flink/$ver.s3"
  } | sha
}

check_entrypoint() { # version: the entrypoint inside the image is the upstream file, byte for byte
  local ver="$1" tag inside
  tag="$(flink_image "$ver")"
  inside="$(mktemp)"
  docker run --rm --entrypoint cat "$tag" /docker-entrypoint.sh >"$inside" \
    || { rm -f "$inside"; die "cannot read /docker-entrypoint.sh of $tag"; }
  if ! cmp -s "$inside" "$(recipe_dir "$ver")/docker-entrypoint.sh"; then
    rm -f "$inside"; die "the entrypoint of $tag differs from $(recipe_dir "$ver")/docker-entrypoint.sh"
  fi
  rm -f "$inside"
  log "image $tag runs the upstream entrypoint ($(recipe_dir "$ver")/docker-entrypoint.sh, byte for byte)"
}

build_image() { # version
  local ver="$1" tag hash t0=$SECONDS ctx
  tag="$(flink_image "$ver")"
  hash="$(build_hash "$ver")"
  if [ "$(image_label "$tag" org.flinkops.build-hash)" = "$hash" ]; then
    log "image $tag is up to date ($hash)"
    return 0
  fi
  ctx="$(mktemp -d "$FLINKOPS_CACHE/flink/.ctx-$ver.XXXXXX")"
  # Build context: hard links (same filesystem) or copies of the cached distribution.
  cp -al "$FLINKOPS_CACHE/flink/$ver" "$ctx/flink" 2>/dev/null || cp -a "$FLINKOPS_CACHE/flink/$ver" "$ctx/flink"
  rm -f "$ctx/flink/.flinkops-complete"
  cp "$FLINKOPS_CACHE/flink/$ver.s3"/*.jar "$ctx/flink/opt/"
  # The official image names the jar after the Flink version; ENABLE_BUILT_IN_PLUGINS relies on it.
  local s3; s3="$(basename "$(ls "$FLINKOPS_CACHE/flink/$ver.s3"/*.jar)")"
  [ "$s3" = "flink-s3-fs-hadoop-$ver.jar" ] || ln -s "$s3" "$ctx/flink/opt/flink-s3-fs-hadoop-$ver.jar"
  cp "$IMAGE_SRC/Dockerfile" "$ctx/"
  cp "$(recipe_dir "$ver")/docker-entrypoint.sh" "$ctx/"
  chmod 0755 "$ctx/docker-entrypoint.sh"
  log "docker build $tag (official recipe $(recipe_dir "$ver"), user $(run_as "$ver"))"
  if ! DOCKER_BUILDKIT=0 docker build -q -t "$tag" \
      --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg FLINK_VERSION="$ver" \
      --build-arg CONF_STEP="$(conf_step "$ver")" --build-arg RUN_AS="$(run_as "$ver")" \
      --label "org.flinkops.build-hash=$hash" "$ctx" >"$ctx.log" 2>&1; then
    cat "$ctx.log" >&2; rm -rf "$ctx" "$ctx.log"; die "docker build of $tag failed"
  fi
  rm -rf "$ctx" "$ctx.log"
  log "image $tag built in $((SECONDS - t0))s"
  check_entrypoint "$ver"
}

main() {
  local mode=all
  case "${1:-}" in
    --base-only) mode=base; shift ;;
    --dist-only) mode=dist; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
  esac
  local versions=("$@") t0=$SECONDS
  [ ${#versions[@]} -gt 0 ] || read -r -a versions <<<"$FLINKOPS_FLINK_VERSIONS"
  mkdir -p "$FLINKOPS_CACHE/flink"
  if [ "$mode" = dist ]; then
    for v in "${versions[@]}"; do build_dist "$v"; done
    log "done in $((SECONDS - t0))s"; return 0
  fi
  "$TESTBED_DIR/docker/engine.sh" up
  build_base
  [ "$mode" = base ] && { log "done in $((SECONDS - t0))s"; return 0; }
  for v in "${versions[@]}"; do
    build_dist "$v"
    fetch_s3 "$v"
    build_image "$v"
  done
  log "done in $((SECONDS - t0))s: $(for v in "${versions[@]}"; do printf '%s ' "$(flink_image "$v")"; done)"
}

main "$@"
