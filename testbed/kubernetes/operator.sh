#!/usr/bin/env bash
# The Flink Kubernetes Operator for the test bed, built here from its release source (no operator image or jar
# can be pulled or downloaded on these machines). Each step is cached outside the repository, keyed by version:
#
#   testbed/kubernetes/operator.sh build   Maven build of ../shared/upstream/flink-kubernetes-operator-<V>-src.tar.gz
#                                          (operator module and what it needs; dependencies from Maven Central into
#                                          $FLINKOPS_CACHE/maven/repository) -> $FLINKOPS_CACHE/operator/<V>/dist:
#                                          the shaded operator jar, the standalone jar, log4j/ (the log binding the
#                                          operator's Dockerfile adds), plugins/, chart/ (the Helm chart: CRDs,
#                                          default configuration) and docker-entrypoint.sh (the release's own)
#   testbed/kubernetes/operator.sh image   docker image flinkops/flink-kubernetes-operator:<V> on the test bed's base
#                                          image, laid out as the operator's Dockerfile lays it out (uid 9999,
#                                          /opt/flink, /flink-kubernetes-operator, the release's entrypoint)
#   testbed/kubernetes/operator.sh load    the image into the Kubernetes test bed's containerd (cluster up)
#   testbed/kubernetes/operator.sh all     the three
#   testbed/kubernetes/operator.sh chart   print the chart directory (for tests and the role's CRDs)
#
# Environment: FLINKOPS_OPERATOR_VERSION (default 1.15.0), FLINKOPS_UPSTREAM (default ../shared/upstream beside the
# project root). The build runs under `nice -n 19`: about 2 minutes once the dependencies (about 500 MB) are cached.
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

OPERATOR_VERSION="${FLINKOPS_OPERATOR_VERSION:-1.15.0}"
UPSTREAM="${FLINKOPS_UPSTREAM:-$(cd "$REPO_ROOT/.." && pwd)/shared/upstream}"
SRC_TAR="$UPSTREAM/flink-kubernetes-operator-$OPERATOR_VERSION-src.tar.gz"
OP_DIR="$FLINKOPS_CACHE/operator/$OPERATOR_VERSION"
DIST="$OP_DIR/dist"
M2="$FLINKOPS_CACHE/maven/repository"
OPERATOR_IMAGE="flinkops/flink-kubernetes-operator:$OPERATOR_VERSION"
BASE_IMAGE="${FLINKOPS_BASE_IMAGE:-flinkops/base:bookworm-jre17}"
export OPERATOR_IMAGE

cmd_build() {
  if [ -f "$DIST/.complete" ]; then return 0; fi
  [ -f "$SRC_TAR" ] || die "no operator source at $SRC_TAR (FLINKOPS_UPSTREAM)"
  command -v mvn >/dev/null 2>&1 || apt_install maven
  command -v javac >/dev/null 2>&1 || die "a JDK (javac) is needed to build the operator"
  local build="$OP_DIR/build" src start
  rm -rf "$build" && mkdir -p "$build" "$M2"
  tar -xzf "$SRC_TAR" -C "$build"
  src="$(find "$build" -mindepth 1 -maxdepth 1 -type d | head -n1)"
  log "operator $OPERATOR_VERSION: Maven build (dependencies cached in $M2)"
  start=$(date +%s)
  # antrun off: the CRD compatibility check downloads old CRDs from the internet. install, not package: the
  # standalone module must be in the local repository for the operator module.
  (cd "$src" && nice -n 19 mvn -B -q -ntp -Dmaven.repo.local="$M2" -DskipTests -Dcheckstyle.skip \
      -Dspotless.check.skip=true -Drat.skip=true -Dmaven.javadoc.skip=true -Dmaven.antrun.skip=true \
      -pl flink-kubernetes-operator -am install) > "$OP_DIR/build.log" 2>&1 ||
    { tail -n 40 "$OP_DIR/build.log" >&2; die "the operator's Maven build failed (log: $OP_DIR/build.log)"; }
  local target="$src/flink-kubernetes-operator/target"
  rm -rf "$DIST.partial" && mkdir -p "$DIST.partial"
  cp "$target/flink-kubernetes-operator-$OPERATOR_VERSION-shaded.jar" "$DIST.partial/"
  cp "$src/flink-kubernetes-standalone/target/flink-kubernetes-standalone-$OPERATOR_VERSION.jar" "$DIST.partial/"
  cp -r "$target/log4j" "$DIST.partial/log4j"
  if [ -d "$target/plugins" ]; then cp -r "$target/plugins" "$DIST.partial/plugins"; else mkdir "$DIST.partial/plugins"; fi
  cp -r "$src/helm/flink-kubernetes-operator" "$DIST.partial/chart"
  cp "$src/docker-entrypoint.sh" "$DIST.partial/docker-entrypoint.sh"
  cp "$src/LICENSE" "$DIST.partial/LICENSE"
  touch "$DIST.partial/.complete"
  rm -rf "$DIST" && mv "$DIST.partial" "$DIST"
  rm -rf "$build"
  log "operator $OPERATOR_VERSION built in $(( $(date +%s) - start ))s: $DIST"
}

image_hash() {
  (cd "$DIST" && find . -type f ! -name .complete -print0 | sort -z | xargs -0 sha256sum
   cat "$TESTBED_DIR/kubernetes/operator/Dockerfile"; docker image inspect -f '{{.Id}}' "$BASE_IMAGE") | sha256sum | cut -c1-16
}

cmd_image() {
  cmd_build
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || bash "$TESTBED_DIR/docker/images.sh" --base-only
  local hash have
  hash="$(image_hash)"
  have="$(docker image inspect -f '{{ index .Config.Labels "org.flinkops.build-hash" }}' "$OPERATOR_IMAGE" 2>/dev/null || true)"
  if [ "$have" = "$hash" ]; then return 0; fi
  log "operator $OPERATOR_VERSION: building image $OPERATOR_IMAGE"
  local ctx
  ctx="$(mktemp -d)"
  cp -r "$DIST/." "$ctx/"
  cp "$TESTBED_DIR/kubernetes/operator/Dockerfile" "$ctx/Dockerfile"
  docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "OPERATOR_VERSION=$OPERATOR_VERSION" \
    --label "org.flinkops.build-hash=$hash" -t "$OPERATOR_IMAGE" "$ctx" >/dev/null ||
    { rm -rf "$ctx"; die "building $OPERATOR_IMAGE failed"; }
  rm -rf "$ctx"
}

cmd_load() {
  cmd_image
  bash "$TESTBED_DIR/kubernetes/cluster.sh" load-images "$OPERATOR_IMAGE"
}

case "${1:-all}" in
  build) cmd_build ;;
  image) cmd_image ;;
  load) cmd_load ;;
  all) cmd_load ;;
  chart) cmd_build; printf '%s\n' "$DIST/chart" ;;
  *) die "usage: operator.sh build|image|load|all|chart" ;;
esac
