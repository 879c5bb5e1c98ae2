"""flink_job with mode=operator on the real Flink Kubernetes Operator: two FlinkSessionJobs on one session
FlinkDeployment, the jar fetched by the operator over http from a server on the node's address (the fixture's
operator allows http and private hosts; by default 1.15 allows https only, and a scheme it refuses fails the task with the
operator's message). One job is upgraded with a savepoint, suspended and resumed while the other keeps running
untouched (same job id, same generation); check and diff mode predict each action; removal of one leaves the other.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import CACHE, FLINK_VERSIONS
from tests.integration.kubernetes.conftest import SHARED_LABEL
from tests.integration.kubernetes.test_native_session import make_service_account
from tests.integration.kubernetes.test_operator import flink_deployment, session_args
from tests.lib.ansible import run_playbook

pytestmark = pytest.mark.kubernetes

EXAMPLE_CLASS = "org.apache.flink.streaming.examples.windowing.TopSpeedWindowing"


@pytest.fixture
def jar_server(k8s, host_dirs):
    """An http server of the jars directory on the node's address (the one node is this machine), as a jar
    repository outside the cluster would be; the operator's pod fetches from it."""
    node = k8s.json("get", "nodes")["items"][0]
    address = [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"][0]
    with socket.socket() as probe:
        probe.bind((address, 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", address,
                               "--directory", host_dirs["jars"]], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection((address, port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    yield "http://%s:%d" % (address, port)
    server.terminate()
    server.wait(timeout=10)


# The oldest Flink version: the session lifecycle test (test_operator.py) runs on the newest, so between them a
# session FlinkDeployment reaches STABLE with its TaskManagers on both.
VERSION = FLINK_VERSIONS[0]


def job_args(k8s, namespace, name, cluster, jar, **extra):
    args = {"name": name, "platform": "kubernetes", "mode": "operator", "namespace": namespace, "cluster": cluster,
            "kubeconfig": k8s.kubeconfig, "jar": jar, "entry_class": EXAMPLE_CLASS, "parallelism": 1,
            "savepoint_dir": "file:///savepoints", "wait_timeout": 300, "labels": dict(SHARED_LABEL)}
    args.update(extra)
    return args


def run_job(collections_path, args, expect_ok=True, **kwargs):
    result = run_playbook(collections_path, tasks=[{"name": "job", "flinkops.flink.flink_job": args}], **kwargs)
    if expect_ok and result.rc != 0:
        failed = result.failures()
        pytest.fail("playbook failed: %s\n%s" % (failed, result.stdout[-3000:]))
    return result.task("job")


def session_job(k8s, namespace, name):
    proc = k8s.kubectl("get", "flinksessionjob", name, "-n", namespace, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def test_two_session_jobs_one_changed_the_other_untouched(k8s, operator, namespace, collections_path, host_dirs,
                                                          jar_server):
    make_service_account(k8s, namespace)
    jars = host_dirs["jars"]
    for version in ("v1", "v2"):
        path = os.path.join(jars, "topspeed-%s.jar" % version)
        shutil.copy(os.path.join(CACHE, "jobs", VERSION, "TopSpeedWindowing.jar"), path)
        os.chmod(path, 0o644)
    base = jar_server
    cluster = "ops-%s" % secrets.token_hex(3)
    template = {"apiVersion": "v1", "kind": "Pod", "spec": {
        "containers": [{"name": "flink-main-container",
                        "volumeMounts": [{"name": "savepoints", "mountPath": "/savepoints"}]}],
        "volumes": [{"name": "savepoints", "hostPath": {"path": host_dirs["savepoints"], "type": "Directory"}}]}}
    session = session_args(k8s, namespace, cluster, VERSION, taskmanager={"slots": 2, "replicas": 1},
                           pod_template=template,
                           flink_config={"execution.checkpointing.dir": "file:///savepoints/checkpoints"})
    out = run_playbook(collections_path, tasks=[{"name": "s", "flinkops.flink.flink_session": session}])
    assert out.rc == 0, out.stdout[-3000:]

    a = job_args(k8s, namespace, "job-a", cluster, "%s/topspeed-v1.jar" % base)
    b = job_args(k8s, namespace, "job-b", cluster, "%s/topspeed-v1.jar" % base)
    predicted = run_job(collections_path, a, check=True)
    assert predicted["action"] == "submit" and session_job(k8s, namespace, "job-a") is None, predicted
    t0 = time.monotonic()
    first_a = run_job(collections_path, a)
    print("FlinkSessionJob to RUNNING took %.0fs" % (time.monotonic() - t0))
    assert first_a["changed"] and first_a["job_state"] == "RUNNING", first_a
    assert first_a["operator"]["lifecycle_state"] == "STABLE"
    first_b = run_job(collections_path, b)
    assert first_b["job_state"] == "RUNNING" and first_b["job_id"] != first_a["job_id"], first_b
    resource = session_job(k8s, namespace, "job-a")
    assert resource["spec"]["deploymentName"] == cluster
    assert resource["spec"]["job"]["jarURI"].endswith("/topspeed-v1.jar")
    b_generation = session_job(k8s, namespace, "job-b")["metadata"]["generation"]
    unchanged = run_job(collections_path, a)
    assert unchanged["changed"] is False and unchanged["job_id"] == first_a["job_id"], unchanged

    # Upgrade job A (a new jar): check + diff predict it, the operator stops A with a savepoint and starts v2 from it.
    a2 = dict(a, jar="%s/topspeed-v2.jar" % base)
    predicted = run_job(collections_path, a2, check=True, diff=True)
    assert predicted["action"] == "upgrade" and "jar" in predicted["reason"], predicted
    assert predicted["diff"]["before"]["jar"].endswith("v1.jar") and predicted["diff"]["after"]["jar"].endswith("v2.jar")
    upgraded = run_job(collections_path, a2)
    assert upgraded["job_state"] == "RUNNING" and upgraded["job_id"] != first_a["job_id"], upgraded
    assert "/savepoints/savepoint-" in (upgraded["savepoint"] or ""), upgraded
    assert run_job(collections_path, a2)["changed"] is False

    # Suspend and resume A: a savepoint, the resource stays; then A runs again from it.
    suspended = run_job(collections_path, dict(a2, state="suspended"))
    assert suspended["changed"] and suspended["operator"]["lifecycle_state"] == "SUSPENDED", suspended
    assert "/savepoints/savepoint-" in (suspended["savepoint"] or ""), suspended
    assert run_job(collections_path, dict(a2, state="suspended"))["changed"] is False
    resumed = run_job(collections_path, a2)
    assert resumed["action"] == "resume" and resumed["job_state"] == "RUNNING", resumed

    # B was never touched: same resource generation, same job, still running.
    after_b = session_job(k8s, namespace, "job-b")
    assert after_b["metadata"]["generation"] == b_generation
    assert after_b["status"]["jobStatus"]["jobId"] == first_b["job_id"]
    assert after_b["status"]["jobStatus"]["state"] == "RUNNING"

    # An on-demand savepoint of B: a FlinkStateSnapshot of the FlinkSessionJob, its path returned; B keeps running.
    b_snap = dict(b, trigger_savepoint=True)
    predicted = run_job(collections_path, b_snap, check=True)
    assert predicted["action"] == "savepoint" and predicted["changed"], predicted
    snap = run_job(collections_path, b_snap)
    assert snap["changed"] and snap["job_id"] == first_b["job_id"], snap
    assert (snap["savepoint"] or "").startswith("file:/savepoints/savepoint-"), snap
    assert os.path.isdir(os.path.join(host_dirs["savepoints"], os.path.basename(snap["savepoint"]))), snap
    made = k8s.json("get", "flinkstatesnapshot", snap["snapshot"], "-n", namespace)
    assert made["spec"]["jobReference"] == {"kind": "FlinkSessionJob", "name": "job-b"}, made["spec"]
    assert made["status"]["state"] == "COMPLETED" and made["status"]["path"] == snap["savepoint"], made["status"]
    assert session_job(k8s, namespace, "job-b")["status"]["jobStatus"]["state"] == "RUNNING"

    # A jar URL whose scheme the operator's artifact rules refuse: the operator's message, with the setting to change.
    refused = run_job(collections_path, job_args(k8s, namespace, "job-c", cluster, "ftp://jars/topspeed-v1.jar"),
                      expect_ok=False)
    assert refused["option"] == "jar" and "allowed-schemes" in refused["msg"], refused
    run_job(collections_path, job_args(k8s, namespace, "job-c", cluster, "x", state="absent"))

    # Removing A leaves B running; then B and the session go.
    gone = run_job(collections_path, dict(a2, state="absent"))
    assert gone["changed"] and session_job(k8s, namespace, "job-a") is None, gone
    assert session_job(k8s, namespace, "job-b")["status"]["jobStatus"]["state"] == "RUNNING"
    assert run_job(collections_path, dict(b, state="absent"))["changed"]
    out = run_playbook(collections_path, tasks=[{"name": "s", "flinkops.flink.flink_session": {
        "name": cluster, "platform": "kubernetes", "mode": "operator", "namespace": namespace,
        "kubeconfig": k8s.kubeconfig, "state": "absent"}}])
    assert out.rc == 0 and flink_deployment(k8s, namespace, cluster) is None
