#!/usr/bin/env bash
# Run the benchmarks (not tests): sets up like the test command, then measures.
set -euo pipefail
# shellcheck source=../scripts/bootstrap.sh
source "$(cd "$(dirname "$0")/.." && pwd)/scripts/bootstrap.sh"
ensure_venv requirements-test.txt
install_collection
ensure_docker
bash "$TESTBED_DIR/docker/images.sh" "$FLINKOPS_FLINK_DEFAULT"

# community.docker for the reference playbook (no Galaxy here: taken from the ansible package on PyPI, which
# bundles it). Optional: without it the benchmark runs without that reference.
COMMUNITY_PKG="${BENCH_ANSIBLE_PACKAGE:-ansible==11.13.0}"
community_dir="$FLINKOPS_CACHE/bench-collections/${COMMUNITY_PKG//[^A-Za-z0-9.]/_}"
if [ ! -d "$community_dir/ansible_collections/community/docker" ]; then
  log "fetching community.docker from $COMMUNITY_PKG (PyPI) for the reference playbook"
  tmp="$(mktemp -d)"
  if "$FLINKOPS_VENV/bin/pip" download -q --no-deps "$COMMUNITY_PKG" -d "$tmp" >/dev/null 2>&1; then
    "$FLINKOPS_VENV/bin/python" - "$tmp" "$community_dir.partial" <<'PY'
import glob, sys, zipfile
wheel = zipfile.ZipFile(glob.glob(sys.argv[1] + "/*.whl")[0])
wanted = ("ansible_collections/community/docker/", "ansible_collections/community/library_inventory_filtering_v1/")
wheel.extractall(sys.argv[2], [n for n in wheel.namelist() if n.startswith(wanted)])
PY
    rm -rf "$community_dir" && mv "$community_dir.partial" "$community_dir"
  else
    log "could not download $COMMUNITY_PKG; the community.docker reference is skipped"
  fi
  rm -rf "$tmp"
fi
if [ -d "$community_dir/ansible_collections/community/docker" ]; then
  export BENCH_COMMUNITY_COLLECTIONS="$community_dir"
fi
if [ "${BENCH_DOCKER:-1}" = 1 ]; then
  "$FLINKOPS_VENV/bin/python" "$REPO_ROOT/bench/session_deploy.py"
fi
# What Flink's own memory check costs a changing run (BENCH_VALIDATION=1, or with BENCH_DOCKER).
if [ "${BENCH_VALIDATION:-${BENCH_DOCKER:-1}}" = 1 ]; then
  "$FLINKOPS_VENV/bin/python" "$REPO_ROOT/bench/validation_cost.py"
fi
# The operator benchmark brings up the Kubernetes test bed and the operator image itself: BENCH_OPERATOR=1
# (BENCH_DOCKER=0 to run it alone).
if [ "${BENCH_OPERATOR:-0}" = 1 ]; then
  bash "$TESTBED_DIR/docker/images.sh"
  bash "$TESTBED_DIR/jobs/build.sh" >/dev/null
  bash "$TESTBED_DIR/kubernetes/cluster.sh" up
  bash "$TESTBED_DIR/kubernetes/cluster.sh" load-images
  "$FLINKOPS_VENV/bin/python" "$REPO_ROOT/bench/operator_application.py"
fi
# The Compose benchmark builds the Compose plugin (cached) and uses the local engine: BENCH_COMPOSE=1.
if [ "${BENCH_COMPOSE:-0}" = 1 ]; then
  bash "$TESTBED_DIR/compose/build.sh"
  "$FLINKOPS_VENV/bin/python" "$REPO_ROOT/bench/compose_session.py"
fi
# Native Kubernetes against Flink's own kubernetes-session.sh (BENCH_NATIVE=1).
if [ "${BENCH_NATIVE:-0}" = 1 ]; then
  bash "$TESTBED_DIR/docker/images.sh"
  bash "$TESTBED_DIR/kubernetes/cluster.sh" up
  bash "$TESTBED_DIR/kubernetes/cluster.sh" load-images
  "$FLINKOPS_VENV/bin/python" "$REPO_ROOT/bench/native_session.py"
fi
# What the platforms in $1 (comma-separated) need beyond the Docker engine.
platform_setup() {
  case ",$1," in *,compose,*) bash "$TESTBED_DIR/compose/build.sh" ;; esac
  case ",$1," in *,kubernetes,*|*,operator,*)
    bash "$TESTBED_DIR/docker/images.sh"
    bash "$TESTBED_DIR/kubernetes/cluster.sh" up
    bash "$TESTBED_DIR/kubernetes/cluster.sh" load-images ;;
  esac
}
# What an unchanged run costs beyond Ansible's start-up, with and without the collection's bytecode (BENCH_RERUN=1;
# BENCH_RERUN_PLATFORMS picks platforms, default docker,compose,kubernetes,operator; swarm needs its test bed up).
if [ "${BENCH_RERUN:-0}" = 1 ]; then
  platform_setup "${BENCH_RERUN_PLATFORMS:-docker,compose,kubernetes,operator}"
  "$FLINKOPS_VENV/bin/python" "$REPO_ROOT/bench/rerun_cost.py"
fi
# How an unchanged re-run's cost grows with the TaskManager count (BENCH_SCALING=1; BENCH_SCALING_PLATFORMS picks
# platforms, default docker,compose,kubernetes,operator; swarm needs its test bed up, as below).
if [ "${BENCH_SCALING:-0}" = 1 ]; then
  platform_setup "${BENCH_SCALING_PLATFORMS:-docker,compose,kubernetes,operator}"
  "$FLINKOPS_VENV/bin/python" "$REPO_ROOT/bench/scaling.py"
fi
# The swarm benchmark needs the swarm test bed up and formed (bench/swarm_session.py says how): BENCH_SWARM=1.
if [ "${BENCH_SWARM:-0}" = 1 ]; then
  "$FLINKOPS_VENV/bin/python" "$REPO_ROOT/bench/swarm_session.py"
fi
# The report across platforms: what bench/results/ holds, as tables and docs/benchmarks.png (BENCH_REPORT=0 skips).
if [ "${BENCH_REPORT:-1}" = 1 ]; then
  FLINKOPS_VENV="$FLINKOPS_CACHE/venv-bench" ensure_venv bench/requirements.txt
  "$FLINKOPS_CACHE/venv-bench/bin/python" "$REPO_ROOT/bench/report.py"
fi
