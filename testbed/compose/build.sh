#!/usr/bin/env bash
# Builds (once) the Docker Compose v2 CLI plugin from the Go module proxy and installs it as a Docker CLI
# plugin (/usr/local/lib/docker/cli-plugins/docker-compose), which the `docker` CLI finds as `docker compose`.
# Cached outside the repository by version: $FLINKOPS_CACHE/compose/<version>/docker-compose; a second run
# only (re)installs the cached binary. Debian's docker-compose 1.29 (the retired Python tool) is not used.
#   COMPOSE_VERSION   the github.com/docker/compose/v2 version (default below)
# Go builds run under `nice -n 19` (the machine is shared).
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

COMPOSE_VERSION="${COMPOSE_VERSION:-2.40.3}"
COMPOSE_DIR="$FLINKOPS_CACHE/compose/$COMPOSE_VERSION"
COMPOSE_BIN="$COMPOSE_DIR/docker-compose"
PLUGIN_DIR="${COMPOSE_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}"

build() {
  [ -x "$COMPOSE_BIN" ] && return 0
  command -v go >/dev/null || die "go is needed to build the Compose plugin"
  local m="$COMPOSE_DIR/build" start
  start=$(date +%s)
  mkdir -p "$m"
  # A `replace` in Compose's own go.mod would not reach a consumer module: copy any into ours, so the build
  # uses the versions its release was made with (v2.40.3 has none; the step is for other versions).
  (cd "$m" && cat > go.mod <<MOD
module flinkops.test/composebuild

go 1.24.0

require github.com/docker/compose/v2 v$COMPOSE_VERSION
MOD
    GOTOOLCHAIN=local go mod download -json "github.com/docker/compose/v2@v$COMPOSE_VERSION" >/dev/null)
  local cmod
  cmod="$(go env GOMODCACHE)/cache/download/github.com/docker/compose/v2/@v/v$COMPOSE_VERSION.mod"
  [ -f "$cmod" ] || die "go.mod of github.com/docker/compose/v2 v$COMPOSE_VERSION not found in the module cache"
  awk '/^replace \($/{on=1} on{print} on&&/^\)$/{on=0} /^replace [^(]/{print}' "$cmod" >> "$m/go.mod"
  log "docker compose v$COMPOSE_VERSION: go build (about 5 min on 2 cores when cold; log: $COMPOSE_DIR/build.log)"
  if ! (cd "$m" && export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod &&
      { go mod tidy || true; } &&
      nice -n 19 go build -trimpath \
        -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=v$COMPOSE_VERSION" \
        -o "$COMPOSE_BIN.tmp" github.com/docker/compose/v2/cmd) >"$COMPOSE_DIR/build.log" 2>&1; then
    tail -n 20 "$COMPOSE_DIR/build.log" >&2
    die "building docker compose v$COMPOSE_VERSION failed"
  fi
  mv "$COMPOSE_BIN.tmp" "$COMPOSE_BIN"
  log "docker compose v$COMPOSE_VERSION built in $(( $(date +%s) - start )) s"
}

install_plugin() {
  mkdir -p "$PLUGIN_DIR"
  if ! cmp -s "$COMPOSE_BIN" "$PLUGIN_DIR/docker-compose"; then
    install -m 0755 "$COMPOSE_BIN" "$PLUGIN_DIR/docker-compose"
  fi
}

build
install_plugin
docker compose version >/dev/null 2>&1 || die "docker compose does not run after installing $PLUGIN_DIR/docker-compose"
log "docker compose: $(docker compose version --short 2>/dev/null) ($PLUGIN_DIR/docker-compose)"
