#!/usr/bin/env bash
# Builds (once) every binary the single-node test cluster needs, from the Go module proxy, into
# $FLINKOPS_CACHE/kubernetes/<K8S_VERSION>/bin. Keyed by version: a second run returns at once.
#   kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl  (k8s.io/kubernetes)
#   etcd                                                     (go.etcd.io/etcd/server/v3/etcdmain)
#   coredns                    (github.com/coredns/coredns, only the plugins a cluster DNS needs)
#   pause                      (src/pause: the pod sandbox process, a tiny static program)
# Go builds run under `nice -n 19` (the machine is shared); GO_BUILD_P sets `go build -p`.
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
K8S_DIR="$TESTBED_DIR/kubernetes"
# shellcheck source=env.sh
source "$K8S_DIR/env.sh"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
GO_BUILD_P="${GO_BUILD_P:-2}"
BUILD_DIR="$FLINKOPS_CACHE/kubernetes/$K8S_VERSION/build"
mkdir -p "$K8S_BIN_DIR" "$BUILD_DIR"
command -v go >/dev/null || die "go is needed to build the cluster's binaries"

gobuild() { nice -n 19 go build -p "$GO_BUILD_P" -trimpath "$@"; }

K8S_BINS="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl"

build_kubernetes() {
  local missing="" b
  for b in $K8S_BINS; do [ -x "$K8S_BIN_DIR/$b" ] || missing="$missing $b"; done
  [ -z "$missing" ] && return 0
  local minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
  local staging="v0.${K8S_VERSION#*.}"
  local m="$BUILD_DIR/kubernetes"
  mkdir -p "$m"
  log "kubernetes v$K8S_VERSION: fetching its go.mod to list the staging modules"
  # The staging modules (k8s.io/api, client-go, ...) are `replace`d by local paths in k8s.io/kubernetes'
  # own go.mod; a consumer replaces each of them by its published v0.<minor>.<patch> instead.
  (cd "$m" && cat > go.mod <<MOD
module flinkops.test/k8sbuild

go 1.24.0

godebug default=go1.24

require k8s.io/kubernetes v$K8S_VERSION
MOD
    go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" >/dev/null)
  local kmod
  kmod="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$K8S_VERSION.mod"
  [ -f "$kmod" ] || die "go.mod of k8s.io/kubernetes v$K8S_VERSION not found in the module cache"
  {
    echo "replace ("
    sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 '"$staging"'#p' "$kmod"
    echo ")"
  } >> "$m/go.mod"
  local ld="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld="$ld -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  done
  local pkgs=""
  for b in $missing; do pkgs="$pkgs k8s.io/kubernetes/cmd/$b"; done
  log "kubernetes v$K8S_VERSION: go build$missing (tens of minutes on 2 cores when cold)"
  (cd "$m" && gobuild -ldflags "$ld" -o "$K8S_BIN_DIR/" $pkgs)
}

build_etcd() {
  [ -x "$K8S_BIN_DIR/etcd" ] && return 0
  local m="$BUILD_DIR/etcd"
  mkdir -p "$m"
  cp "$K8S_DIR/src/etcd/main.go" "$m/"
  (cd "$m" && cat > go.mod <<MOD
module flinkops.test/etcdbuild

go 1.23

require go.etcd.io/etcd/server/v3 v$ETCD_VERSION
MOD
    log "etcd v$ETCD_VERSION: go build"
    go mod tidy >/dev/null 2>&1 || true
    gobuild -ldflags "-s -w" -o "$K8S_BIN_DIR/etcd" .)
}

build_coredns() {
  [ -x "$K8S_BIN_DIR/coredns" ] && return 0
  local m="$BUILD_DIR/coredns"
  mkdir -p "$m"
  cp "$K8S_DIR/src/coredns/main.go" "$m/"
  (cd "$m" && cat > go.mod <<MOD
module flinkops.test/corednsbuild

go 1.24.0

require github.com/coredns/coredns v$COREDNS_VERSION
MOD
    log "coredns v$COREDNS_VERSION: go build (kubernetes, cache, health, ready, errors, log, reload, loadbalance)"
    go mod tidy >/dev/null 2>&1 || true
    gobuild -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=v$COREDNS_VERSION" \
      -o "$K8S_BIN_DIR/coredns" .)
}

build_cri_clean() {
  [ -x "$K8S_BIN_DIR/cri-clean" ] && return 0
  local m="$BUILD_DIR/kubernetes"
  mkdir -p "$m/cri-clean"
  cp "$K8S_DIR/src/cri-clean/main.go" "$m/cri-clean/"
  log "cri-clean: go build (a CRI client of the kubernetes module's k8s.io/cri-api)"
  (cd "$m" && gobuild -ldflags "-s -w" -o "$K8S_BIN_DIR/cri-clean" ./cri-clean)
}

# Small programs with the standard library only.
build_small() {
  local name="$1" sum
  sum="$(sha256sum "$K8S_DIR/src/$name/main.go" | cut -c1-64)"
  [ -x "$K8S_BIN_DIR/$name" ] && [ "$(cat "$K8S_BIN_DIR/.$name.sha256" 2>/dev/null)" = "$sum" ] && return 0
  local m="$BUILD_DIR/$name"
  mkdir -p "$m"
  cp "$K8S_DIR/src/$name/main.go" "$m/"
  (cd "$m" && printf 'module flinkops.test/%s\n\ngo 1.22\n' "$name" > go.mod &&
    gobuild -ldflags "-s -w" -o "$K8S_BIN_DIR/$name" .)
  echo "$sum" >"$K8S_BIN_DIR/.$name.sha256"
}

# Images of static binaries, written without Docker (mkimage.py), loaded into containerd by `up`.
build_images() {
  mkdir -p "$K8S_IMAGE_DIR"
  if [ ! -f "$K8S_IMAGE_DIR/pause.tar" ]; then
    python3 "$K8S_DIR/mkimage.py" "$K8S_IMAGE_DIR/pause.tar.tmp" "$K8S_PAUSE_IMAGE" '["/pause"]' \
      "$K8S_BIN_DIR/pause=/pause" >/dev/null && mv "$K8S_IMAGE_DIR/pause.tar.tmp" "$K8S_IMAGE_DIR/pause.tar"
  fi
  if [ ! -f "$K8S_IMAGE_DIR/coredns.tar" ]; then
    python3 "$K8S_DIR/mkimage.py" "$K8S_IMAGE_DIR/coredns.tar.tmp" "$K8S_COREDNS_IMAGE" '["/coredns"]' \
      "$K8S_BIN_DIR/coredns=/coredns" >/dev/null && mv "$K8S_IMAGE_DIR/coredns.tar.tmp" "$K8S_IMAGE_DIR/coredns.tar"
  fi
  if [ ! -f "$K8S_IMAGE_DIR/nettool.tar" ] || [ "$(cat "$K8S_IMAGE_DIR/nettool.ref" 2>/dev/null)" != "$K8S_NETTOOL_IMAGE" ]; then
    python3 "$K8S_DIR/mkimage.py" "$K8S_IMAGE_DIR/nettool.tar.tmp" "$K8S_NETTOOL_IMAGE" '["/nettool"]' \
      "$K8S_BIN_DIR/nettool=/nettool" >/dev/null && mv "$K8S_IMAGE_DIR/nettool.tar.tmp" "$K8S_IMAGE_DIR/nettool.tar"
    echo "$K8S_NETTOOL_IMAGE" >"$K8S_IMAGE_DIR/nettool.ref"
  fi
}

start=$(date +%s)
build_kubernetes
build_etcd
build_coredns
build_small pause
build_small nettool
build_cri_clean
build_images
"$K8S_BIN_DIR/kube-apiserver" --version >/dev/null || die "kube-apiserver does not run"
log "binaries ready in $K8S_BIN_DIR ($(( $(date +%s) - start )) s)"
