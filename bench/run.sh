#!/usr/bin/env bash
# Run the benchmarks (not tests): sets up like the test command, then measures.
set -euo pipefail
# shellcheck source=../scripts/bootstrap.sh
source "$(cd "$(dirname "$0")/.." && pwd)/scripts/bootstrap.sh"
ensure_venv requirements-test.txt
install_collection
ensure_docker
bash "$TESTBED_DIR/docker/images.sh" "$FLINKOPS_FLINK_DEFAULT"
"$FLINKOPS_VENV/bin/python" "$REPO_ROOT/bench/session_deploy.py"
