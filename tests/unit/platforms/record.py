"""Record what a platform reads from a real engine, for the plan() unit tests (tests/unit/platforms/).

    python -m tests.unit.platforms.record NAME PARAMS.json      (from the repository root, with the test venv)

PARAMS.json holds the module parameters of a cluster that is deployed now (by a playbook or a test). The recorder
builds the platform class the registry picks for them, calls ``read()`` and ``prepare()`` exactly as the flows do,
and writes ``recorded/NAME.json``: the parameters (secrets replaced), the read state in the engine's own JSON
(Docker's and the swarm's API answers; Kubernetes objects as the API server sends them), the image id or registry
digest, and the name lookup the Docker plan makes. Nothing is changed on the engine.
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RECORDED = os.path.join(HERE, "recorded")


class RecordingModule(object):
    """What a platform needs of AnsibleModule when it only reads."""

    def __init__(self, params):
        self.params = params
        self.check_mode = True
        self._diff = False
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def full_params(params, kind):
    """The module's parameters with its argument spec's defaults, as Ansible would pass them."""
    from ansible_collections.flinkops.flink.plugins.module_utils.argspec import cluster_argument_spec
    spec = cluster_argument_spec(state=dict(default="present" if kind == "session" else "running"), job=dict())
    out = {}
    for name, option in spec.items():
        out[name] = option.get("default")
    out.update(params)
    return out


def record(name, params, kind="session"):
    from ansible_collections.flinkops.flink.plugins.module_utils.flows.cluster import desired_spec
    from ansible_collections.flinkops.flink.plugins.module_utils.registry import platform_class
    params = full_params(params, kind)
    module = RecordingModule(params)
    cls = platform_class(params, kind)
    cluster = cls(module, desired_spec(module, cls, require_image=True))
    actual = cluster.read()
    out = {"kind": kind, "params": dict(params, flink_config_secrets=dict(
        (k, "recorded-secret") for k in params.get("flink_config_secrets") or {}))}
    if cls.platform == "docker":
        out["image_id"] = cluster.prepare(check_only=True)
        out["name_lookup"] = cluster.api.containers(all=True, filters={"name": "^/%s-" % cluster.spec.name})
        out["actual"] = actual
    elif cls.platform == "swarm":
        cluster.service("jobmanager")
        out["digest"] = cluster._digest  # pylint: disable=protected-access
        out["actual"] = actual
    else:
        serialize = cluster.api_client.sanitize_for_serialization
        out["actual"] = {"deployment": serialize(actual["deployment"]),
                         "services": dict((k, serialize(v)) for k, v in actual["services"].items()),
                         "configmaps": [serialize(c) for c in actual["configmaps"]],
                         "pods": [serialize(p) for p in actual["pods"]]}
        if "flinkdeployment" in actual:  # mode operator: the custom resource, as the API server sends it
            out["actual"]["flinkdeployment"] = actual["flinkdeployment"]
    os.makedirs(RECORDED, exist_ok=True)
    path = os.path.join(RECORDED, "%s.json" % name)
    with open(path, "w") as handle:
        json.dump(out, handle, indent=1, sort_keys=True, default=str)
        handle.write("\n")
    return path


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
    # tests.conftest puts the collection on sys.path, as the unit tests import it
    import tests.conftest  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
    with open(sys.argv[2]) as params_file:
        given = json.load(params_file)
    print(record(sys.argv[1], given.get("params", given), given.get("kind", "session")))
