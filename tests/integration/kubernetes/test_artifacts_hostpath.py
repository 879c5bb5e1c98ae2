"""The artifacts role with a shared filesystem path for native Kubernetes: the jar goes to a directory of the
node (on this test bed the node is this machine), and a Flink pod that mounts it as hostPath sees the same bytes."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time

import pytest

from tests.conftest import FLINK_DEFAULT, flink_image
from tests.lib.ansible import run_playbook

pytestmark = pytest.mark.kubernetes


def test_hostpath_target_seen_by_a_pod(k8s, namespace, collections_path, tmp_path):
    shared = "/var/tmp/flinkops-artifacts-%s" % secrets.token_hex(3)
    jar = tmp_path / "job.jar"
    jar.write_bytes(os.urandom(100000))
    want = hashlib.sha256(jar.read_bytes()).hexdigest()
    tasks = [{"name": "upload", "ansible.builtin.include_role": {"name": "flinkops.flink.artifacts"},
              "vars": {"artifacts_dir": shared, "artifacts_files": [{"src": str(jar)}]}},
             {"name": "show", "ansible.builtin.debug": {"var": "artifacts_checksums"}}]
    try:
        first = run_playbook(collections_path, tasks=tasks)
        assert first.rc == 0, first
        assert first.task("show")["artifacts_checksums"] == {"job.jar": want}
        again = run_playbook(collections_path, tasks=tasks)
        assert [r["task"] for r in again.results if r["result"].get("changed")] == [], again
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader"}, "spec": {
            "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": flink_image(FLINK_DEFAULT), "imagePullPolicy": "Never",
                            "command": ["bash", "-c", "sha256sum /opt/flink/usrlib/job.jar"],
                            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                            "volumeMounts": [{"name": "usrlib", "mountPath": "/opt/flink/usrlib", "readOnly": True}]}],
            "volumes": [{"name": "usrlib", "hostPath": {"path": shared, "type": "Directory"}}]}}
        k8s.apply(json.dumps(pod), namespace=namespace)
        deadline = time.monotonic() + 180
        while k8s.json("get", "pod", "reader", "-n", namespace)["status"].get("phase") not in ("Succeeded", "Failed"):
            assert time.monotonic() < deadline, k8s.kubectl("describe", "pod", "reader", "-n", namespace).stdout
            time.sleep(1)
        logs = k8s.kubectl("logs", "reader", "-n", namespace).stdout
        assert logs.split()[0] == want, logs
    finally:
        for name in os.listdir(shared) if os.path.isdir(shared) else []:
            os.remove(os.path.join(shared, name))
        if os.path.isdir(shared):
            os.rmdir(shared)
