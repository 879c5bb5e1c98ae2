# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``flink_config_secrets`` in Flink's native Kubernetes mode: in a Secret, never in Flink's ConfigMap.

Flink's client writes the whole configuration it is given into the ConfigMap ``flink-config-<cluster-id>``, which
anyone who may read ConfigMaps in the namespace can read. So the secret part never goes to the client: it goes
into a Secret ``<cluster-id>-config-secrets`` with a small start script. The pod template the module gives
Flink's client mounts that Secret into the main container of every pod (JobManager and TaskManagers), and
``kubernetes.entry.path`` runs the script first: it builds a configuration directory of its own in the container
(the ConfigMap's files linked, so log level changes still reach log4j; the configuration file copied with the
secret settings appended), points FLINK_CONF_DIR at it and hands over to the image's entrypoint (or the user's
``entrypoint``). Flink's start scripts and its Kubernetes entrypoints read FLINK_CONF_DIR.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shlex

from ansible_collections.flinkops.flink.plugins.module_utils.flink_config import render

MOUNT_PATH = "/etc/flinkops/config-secrets"
SCRIPT_KEY = "entrypoint.sh"
CONFIG_KEY = "secret-config"
ENTRY_PATH = MOUNT_PATH + "/" + SCRIPT_KEY
VOLUME = "flinkops-config-secrets"
MAIN_CONTAINER = "flink-main-container"
IMAGE_ENTRYPOINT = "/docker-entrypoint.sh"
# On the operator's pod template: a digest of the settings, so that new values redeploy the pods.
DIGEST_ANNOTATION = "flinkops.org/config-secrets-digest"


def secrets_digest(secret_config, salt):
    """A digest of the settings that tells when they changed (it goes into an annotation, which more people may read
    than the Secret): salted with the cluster's namespace and id, and slow (PBKDF2, 200,000 rounds, about 0.1 s), so
    that it does not help anyone guessing a weak value."""
    data = json.dumps(sorted((k, str(v)) for k, v in secret_config.items())).encode("utf-8")
    return hashlib.pbkdf2_hmac("sha256", data, ("flinkops:" + salt).encode("utf-8"), 200000).hex()[:32]


def secret_name(cluster_id):
    return "%s-config-secrets" % cluster_id


def start_script(next_entrypoint=None):
    """The script ``kubernetes.entry.path`` runs: Flink's start command follows as its arguments."""
    nxt = shlex.quote(next_entrypoint or IMAGE_ENTRYPOINT)
    return "\n".join([
        "#!/usr/bin/env bash",
        "# Written by flinkops.flink: the configuration of flink_config_secrets is read from this Secret only.",
        "set -eu",
        "umask 077",
        'src="${FLINK_CONF_DIR:-${FLINK_HOME}/conf}"',
        'dst="$(mktemp -d "${TMPDIR:-/tmp}/flinkops-conf.XXXXXX")"',
        'for path in "$src"/*; do',
        '  name="$(basename "$path")"',
        '  case "$name" in',
        '    config.yaml|flink-conf.yaml) { cat "$path"; echo; cat %s; } > "$dst/$name" ;;'
        % shlex.quote(MOUNT_PATH + "/" + CONFIG_KEY),
        '    *) ln -s "$path" "$dst/$name" ;;',
        "  esac",
        "done",
        "# The 1.x image's entrypoint starts Flink as user flink when it runs as root.",
        'if [ "$(id -u)" = 0 ] && id flink >/dev/null 2>&1; then chown -R -h flink: "$dst"; fi',
        'export FLINK_CONF_DIR="$dst"',
        'exec %s "$@"' % nxt,
        ""])


def secret_config_text(secret_config, version):
    """The secret settings as lines of the configuration file the Flink version reads (no header)."""
    text = render(dict(secret_config), version.standard_yaml)
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")) + "\n"


def secret_body(cluster_id, secret_config, version, next_entrypoint=None, labels=None):
    """The Secret (as a dict for the API) that holds the settings and the start script."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": secret_name(cluster_id), "labels": dict(labels or {})},
        "stringData": {CONFIG_KEY: secret_config_text(secret_config, version),
                       SCRIPT_KEY: start_script(next_entrypoint)},
    }


def with_secret_volume(template, cluster_id):
    """A copy of the pod template (or a new one) whose main container mounts the Secret read-only."""
    pod = copy.deepcopy(template) if template else {"apiVersion": "v1", "kind": "Pod"}
    spec = pod.setdefault("spec", {}) or {}
    pod["spec"] = spec
    volumes = [v for v in (spec.get("volumes") or []) if v.get("name") != VOLUME]
    volumes.append({"name": VOLUME, "secret": {"secretName": secret_name(cluster_id), "defaultMode": 0o555}})
    spec["volumes"] = volumes
    containers = spec.get("containers") or []
    main = [c for c in containers if c.get("name") == MAIN_CONTAINER]
    if not main:
        main = [{"name": MAIN_CONTAINER}]
        containers.append(main[0])
    mounts = [m for m in (main[0].get("volumeMounts") or []) if m.get("name") != VOLUME]
    mounts.append({"name": VOLUME, "mountPath": MOUNT_PATH, "readOnly": True})
    main[0]["volumeMounts"] = mounts
    spec["containers"] = containers
    return pod
