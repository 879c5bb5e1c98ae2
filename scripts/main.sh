#!/usr/bin/env bash
# The main job: a Flink session cluster (1 JobManager, 2 TaskManagers) on the local Docker engine and an
# example job on it; prints the web UI URL and the job's state. Works on a fresh machine:
#   bash scripts/main.sh
# Environment: FLINK_REST_PORT (default 8081), FLINKOPS_FLINK_DEFAULT (Flink version, default 2.2.1).
# Remove the cluster afterwards with:
#   ANSIBLE_COLLECTIONS_PATH=$FLINKOPS_CACHE/collections ansible-playbook -i playbooks/inventory/localhost.yml playbooks/remove_session_docker.yml
set -euo pipefail
# shellcheck source=bootstrap.sh
source "$(cd "$(dirname "$0")" && pwd)/bootstrap.sh"

version="$FLINKOPS_FLINK_DEFAULT"
ensure_venv requirements.txt
install_collection
ensure_docker

# The official image when a registry answers; otherwise one built here from the PyPI distribution.
image="flink:${version}-java17"
if ! docker image inspect "$image" >/dev/null 2>&1 && ! timeout 60 docker pull -q "$image" >/dev/null 2>&1; then
  log "cannot pull $image (no registry reachable); building a local image instead"
  bash "$TESTBED_DIR/docker/images.sh" "$version"
  image="$(flink_image "$version")"
fi
bash "$TESTBED_DIR/jobs/build.sh" "$version" >/dev/null
jar="$FLINKOPS_CACHE/jobs/$version/TopSpeedWindowing.jar"

"$FLINKOPS_VENV/bin/ansible-playbook" -i "$REPO_ROOT/playbooks/inventory/localhost.yml" \
  -e ansible_python_interpreter="$FLINKOPS_VENV/bin/python" \
  -e flink_image="$image" -e flink_rest_port="${FLINK_REST_PORT:-8081}" -e flink_example_jar="$jar" \
  "$REPO_ROOT/playbooks/session_docker.yml"

info="$("$FLINKOPS_VENV/bin/python" - "${FLINK_REST_PORT:-8081}" <<'PY'
import json, sys, urllib.request
url = "http://127.0.0.1:%s" % sys.argv[1]
jobs = json.load(urllib.request.urlopen(url + "/jobs/overview", timeout=10))["jobs"]
print("Flink web UI: %s" % url)
for job in jobs:
    print("Job %s (%s): %s" % (job["name"], job["jid"], job["state"]))
PY
)"
printf '\n%s\n' "$info"
