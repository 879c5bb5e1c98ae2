#!/usr/bin/env bash
# Shared set-up for the README's commands: a virtual environment with the collection's dependencies,
# the collection built and installed as a user installs it, and the local Docker engine running.
# Source it; it defines FLINKOPS_VENV, FLINKOPS_COLLECTIONS and the functions below.
# shellcheck source=../testbed/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/testbed/lib.sh"

FLINKOPS_VENV="${FLINKOPS_VENV:-$FLINKOPS_CACHE/venv}"
FLINKOPS_COLLECTIONS="$FLINKOPS_CACHE/collections"
FLINKOPS_PYTHON="${FLINKOPS_PYTHON:-}"
export FLINKOPS_VENV FLINKOPS_COLLECTIONS

pick_python() {
  # ansible-core 2.19 needs Python 3.11+; prefer the machine's python3.11, then python3.
  if [ -n "$FLINKOPS_PYTHON" ]; then echo "$FLINKOPS_PYTHON"; return; fi
  for candidate in python3.11 python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"; return
    fi
  done
  die "no Python 3.11 or newer found; set FLINKOPS_PYTHON"
}

ensure_venv() {
  # ensure_venv REQUIREMENTS_FILE: (re)install only when the requirements changed.
  local req="$REPO_ROOT/$1" stamp="$FLINKOPS_VENV/.flinkops-requirements"
  local want
  want="$(cat "$REPO_ROOT/requirements.txt" "$req" | sha256sum | cut -c1-16)"
  if [ ! -x "$FLINKOPS_VENV/bin/python" ]; then
    log "creating the virtual environment $FLINKOPS_VENV"
    "$(pick_python)" -m venv "$FLINKOPS_VENV"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing Python packages from $1"
    "$FLINKOPS_VENV/bin/pip" install -q --upgrade pip >/dev/null
    "$FLINKOPS_VENV/bin/pip" install -q -r "$req"
    echo "$want" > "$stamp"
  fi
  export PATH="$FLINKOPS_VENV/bin:$PATH"
}

install_collection() {
  # Build the tarball and install it, exactly as a user would.
  local work
  work="$(mktemp -d)"
  "$FLINKOPS_VENV/bin/ansible-galaxy" collection build "$REPO_ROOT" --output-path "$work" --force >/dev/null
  "$FLINKOPS_VENV/bin/ansible-galaxy" collection install --force -p "$FLINKOPS_COLLECTIONS" "$work"/flinkops-flink-*.tar.gz >/dev/null
  rm -rf "$work"
  # Bytecode of the modules and module_utils, as pip writes it for an installed package: the in-process runs read it
  # (plugins/plugin_utils/source_cache.py). Python would write it on the first run itself, but this machine sets
  # PYTHONDONTWRITEBYTECODE.
  "$FLINKOPS_VENV/bin/python" -m compileall -q "$FLINKOPS_COLLECTIONS/ansible_collections/flinkops/flink/plugins/modules" \
    "$FLINKOPS_COLLECTIONS/ansible_collections/flinkops/flink/plugins/module_utils" >/dev/null
  export ANSIBLE_COLLECTIONS_PATH="$FLINKOPS_COLLECTIONS"
  log "collection flinkops.flink installed in $FLINKOPS_COLLECTIONS"
}

ensure_docker() {
  bash "$TESTBED_DIR/docker/engine.sh" up
  eval "$(bash "$TESTBED_DIR/docker/engine.sh" env)"
}
