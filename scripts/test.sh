#!/usr/bin/env bash
# All the tests, on real engines: sets up what they need (virtual environment, Docker engine, Flink
# images for every supported version, job jars) and runs pytest. Works on a fresh machine:
#   bash scripts/test.sh                 everything (what CI runs)
#   bash scripts/test.sh -m docker       one platform (markers: unit, docker, swarm, kubernetes, lint)
#   bash scripts/test.sh -k lifecycle    any pytest selection
# Two pytest-xdist workers run two halves of the suite side by side (tests/conftest.py groups them);
# FLINKOPS_TEST_WORKERS=1 runs everything in one process (for -s, -x, pdb).
# The Kubernetes tests start the Kubernetes test bed themselves when selected.
set -euo pipefail
# shellcheck source=bootstrap.sh
source "$(cd "$(dirname "$0")" && pwd)/bootstrap.sh"

ensure_venv requirements-test.txt
ensure_docker
start=$(date +%s)
bash "$TESTBED_DIR/docker/images.sh"
bash "$TESTBED_DIR/compose/build.sh"
bash "$TESTBED_DIR/jobs/build.sh" >/dev/null
log "test bed ready in $(( $(date +%s) - start ))s"

cd "$REPO_ROOT"
workers="${FLINKOPS_TEST_WORKERS:-2}"
if [ "$workers" -gt 1 ]; then
  exec "$FLINKOPS_VENV/bin/python" -m pytest -n "$workers" --dist loadscope --durations=25 "$@"
fi
exec "$FLINKOPS_VENV/bin/python" -m pytest --durations=25 "$@"
