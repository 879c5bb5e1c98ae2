"""Flink's own native Kubernetes session on the test cluster, driven by the Flink client from PyPI.

The client's kubernetes-session.sh creates the JobManager Deployment; the JobManager (with the
service account and role binding the Flink docs describe) creates TaskManager pods itself when a
job needs slots; `flink run --target kubernetes-session` submits a job; deleting the JobManager
Deployment removes everything else through owner references.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import CACHE
from tests.integration.kubernetes.conftest import FLINK_VERSIONS, flink_image
from tests.integration.kubernetes.test_operator import run as session  # one flink_session task, any mode
from tests.lib.ansible import run_playbook

pytestmark = pytest.mark.kubernetes

CLUSTER_ID = "native-session"


def flink_options(k8s, namespace, version):
    """-D options: small enough that a JobManager and two TaskManagers fit on 2 cores."""
    opts = {
        "kubernetes.cluster-id": CLUSTER_ID,
        "kubernetes.namespace": namespace,
        "kubernetes.config.file": k8s.kubeconfig,
        "kubernetes.service-account": "flink-service-account",
        "kubernetes.container.image.ref": flink_image(version),
        # The images exist only in the node's containerd: never pull.
        "kubernetes.container.image.pull-policy": "Never",
        # Reached from this host at the node address + node port.
        "kubernetes.rest-service.exposed.type": "NodePort",
        "kubernetes.jobmanager.cpu.amount": "0.25",
        "kubernetes.taskmanager.cpu.amount": "0.25",
        # Requests stay small, limits let the JVMs start in reasonable time.
        "kubernetes.jobmanager.cpu.limit-factor": "8",
        "kubernetes.taskmanager.cpu.limit-factor": "8",
        "jobmanager.memory.process.size": "1024m",
        "taskmanager.memory.process.size": "1200m",
        "taskmanager.memory.managed.fraction": "0.1",
        "taskmanager.numberOfTaskSlots": "1",
        # Keep idle TaskManagers so that the test can look at them after the job finished.
        "resourcemanager.taskmanager-timeout": "600000",
        # On 2 busy cores a starved TaskManager can miss the default 50 s heartbeat window and be dropped
        # (seen once under a load average of 16): give it more room.
        "heartbeat.timeout": "180000",
    }
    return ["-D%s=%s" % kv for kv in opts.items()]


def run_client(k8s, dist, *args, timeout=300):
    env = dict(k8s.env, FLINK_HOME=dist)
    env.pop("FLINK_CONF_DIR", None)
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=env, cwd=dist, check=False)


def rest(base, path):
    with urllib.request.urlopen(base + path, timeout=10) as resp:
        return json.loads(resp.read())


def labelled(k8s, kind, namespace, selector):
    return k8s.json("get", kind, "-n", namespace, "-l", selector)["items"]


@pytest.mark.parametrize("version", FLINK_VERSIONS, ids=lambda v: "flink-%s" % v)
def test_native_session_job_and_owner_reference_cleanup(k8s, namespace, flink_dist, version, collections_path):
    dist = flink_dist[version]
    jar = os.path.join(CACHE, "jobs", version, "flinkops-examples.jar")
    assert os.path.exists(jar), jar
    # Service account and role binding as in Flink's "Native Kubernetes" docs (RBAC section),
    # bound in the session's namespace.
    k8s.kubectl("create", "serviceaccount", "flink-service-account", "-n", namespace)
    k8s.kubectl("create", "rolebinding", "flink-role-binding-flink", "--clusterrole=edit",
                "--serviceaccount=%s:flink-service-account" % namespace, "-n", namespace)

    opts = flink_options(k8s, namespace, version)
    res = run_client(k8s, dist, os.path.join(dist, "bin", "kubernetes-session.sh"), *opts, timeout=180)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    k8s.kubectl("rollout", "status", "deployment/%s" % CLUSTER_ID, "-n", namespace, "--timeout=240s",
                timeout=270)
    app = "app=%s" % CLUSTER_ID
    assert [p["metadata"]["name"] for p in labelled(k8s, "pods", namespace, app + ",component=taskmanager")] == []

    node_port = k8s.json("get", "service", "%s-rest" % CLUSTER_ID, "-n", namespace)["spec"]["ports"][0]["nodePort"]
    base = "http://%s:%d" % (k8s.node_ip, node_port)
    deadline = time.monotonic() + 120
    while True:
        try:
            rest(base, "/overview")
            break
        except OSError:
            assert time.monotonic() < deadline, "Flink REST at %s did not answer" % base
            time.sleep(2)

    # Parallelism 2 with one slot per TaskManager: the JobManager must start two TaskManager pods.
    res = run_client(k8s, dist, os.path.join(dist, "bin", "flink"), "run", "--target", "kubernetes-session",
                     *opts, "-p", "2", "-c", "org.flinkops.examples.BoundedCounter", jar, timeout=420)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    assert "Job has been submitted with JobID" in res.stdout, res.stdout[-4000:]

    jobs = rest(base, "/jobs/overview")["jobs"]
    assert [j["state"] for j in jobs] == ["FINISHED"], jobs
    # BoundedCounter runs in BATCH mode: its subtasks form separate pipelined regions, so two slots may be asked
    # for at once (two pods) or, when the first TaskManager comes up quickly, one slot may run both regions in
    # turn and the second pending pod be given back. Either way the TaskManagers are pods the JobManager started
    # on demand (none before the job), every subtask ran on one of them, and their ids are the pod names.
    tms = rest(base, "/taskmanagers")["taskmanagers"]
    assert 1 <= len(tms) <= 2, tms
    tm_pods = [p for p in labelled(k8s, "pods", namespace, app + ",component=taskmanager")
               if p["metadata"]["name"] in {tm["id"] for tm in tms}]
    assert sorted(tm["id"] for tm in tms) == sorted(p["metadata"]["name"] for p in tm_pods), (tms, tm_pods)
    assert {p["status"]["phase"] for p in tm_pods} == {"Running"}
    assert {p["spec"]["containers"][0]["image"] for p in tm_pods} == {flink_image(version)}
    job_id = jobs[0]["jid"]
    ran_on = set()
    for vertex in rest(base, "/jobs/%s" % job_id)["vertices"]:
        assert vertex["parallelism"] <= 2, vertex
        for sub in rest(base, "/jobs/%s/vertices/%s" % (job_id, vertex["id"]))["subtasks"]:
            ran_on.add(sub.get("taskmanager-id") or sub.get("host"))
    assert ran_on and ran_on <= {tm["id"] for tm in tms} | {p["status"].get("podIP") for p in tm_pods}, (ran_on, tms)
    # The job's result, printed by a TaskManager to its container log.
    expected = "SUMMARY total count=10000 sum=50005000"
    assert "BoundedCounter: expected " + expected in res.stdout
    logs = "".join(k8s.kubectl("logs", "-n", namespace, p["metadata"]["name"]).stdout for p in tm_pods)
    assert expected in logs, logs[-3000:]

    # flink_session adopts the cluster by its id (issue 17): a spec that differs from what runs is refused naming
    # the option, with nothing touched; the matching spec adopts it as it runs (no pod restarts, the module only
    # annotates the Deployment); the next run changes nothing; flink_info then finds the CLI's job by name.
    # The JobManager's pod and the registered TaskManagers' must stay as they are. A second TaskManager pod that
    # was still pending when one slot ran both regions may be given back by Flink at any time (seen with 1.20.5
    # during the adoption below): it may go, but no pod may come.
    every_pod_before = set(p["metadata"]["uid"] for p in labelled(k8s, "pods", namespace, app))
    pods_before = set(p["metadata"]["uid"] for p in labelled(k8s, "pods", namespace, app + ",component=jobmanager"))
    pods_before |= set(p["metadata"]["uid"] for p in tm_pods)
    args = {"name": CLUSTER_ID, "platform": "kubernetes", "namespace": namespace, "kubeconfig": k8s.kubeconfig,
            "service_account": "flink-service-account", "image": flink_image(version), "image_pull": "never",
            "rest_exposure": "NodePort", "flink_home": dist, "wait_timeout": 300,
            "jobmanager": {"memory": "1024m", "cpu": 0.25}, "taskmanager": {"memory": "1200m", "cpu": 0.25, "slots": 1},
            "flink_config": {"kubernetes.jobmanager.cpu.limit-factor": 8, "kubernetes.taskmanager.cpu.limit-factor": 8,
                             "taskmanager.memory.managed.fraction": 0.1, "heartbeat.timeout": 180000,
                             "resourcemanager.taskmanager-timeout": 600000}}
    other = session(collections_path, dict(args, taskmanager=dict(args["taskmanager"], slots=2)), expect_ok=False)
    assert other.rc != 0
    message = other.failures()[0]
    assert message.startswith("taskmanager.slots: a session cluster %s that Flink's client started" % CLUSTER_ID), message
    assert "taskmanager.numberOfTaskSlots: running 1, spec 2" in message, message
    predicted = session(collections_path, args, check=True).task("session")
    assert predicted["changed"] and [a["action"] for a in predicted["actions"]] == ["adopt"], predicted
    annotations = k8s.json("get", "deployment", CLUSTER_ID, "-n", namespace)["metadata"].get("annotations") or {}
    assert "flinkops.org/managed-by" not in annotations
    adopted = session(collections_path, args).task("session")
    assert adopted["changed"] and [a["action"] for a in adopted["actions"]] == ["adopt"], adopted
    annotations = k8s.json("get", "deployment", CLUSTER_ID, "-n", namespace)["metadata"]["annotations"]
    assert annotations["flinkops.org/managed-by"] == "flinkops.flink"
    pods_after = set(p["metadata"]["uid"] for p in labelled(k8s, "pods", namespace, app))
    assert pods_before <= pods_after <= every_pod_before, (pods_before, pods_after, every_pod_before)
    assert session(collections_path, args).task("session")["changed"] is False
    info = run_playbook(collections_path, tasks=[{"name": "info", "register": "out", "flinkops.flink.flink_info": {
        "name": CLUSTER_ID, "platform": "kubernetes", "namespace": namespace, "kubeconfig": k8s.kubeconfig}}]).task("info")
    assert [(j["id"], j["state"]) for j in info["jobs"]] == [(job_id, "FINISHED")], info["jobs"]

    # Everything the session made is owned by the JobManager Deployment ...
    deployment = k8s.json("get", "deployment", CLUSTER_ID, "-n", namespace)
    uid = deployment["metadata"]["uid"]
    owned = {}
    for kind in ("configmaps", "services"):
        owned[kind] = labelled(k8s, kind, namespace, app)
        assert owned[kind], "no %s labelled %s" % (kind, app)
    owned["taskmanager pods"] = tm_pods
    for kind, items in owned.items():
        for item in items:
            refs = item["metadata"].get("ownerReferences") or []
            assert [(r["kind"], r["uid"]) for r in refs] == [("Deployment", uid)], (kind, item["metadata"])

    # ... so deleting it removes them: the garbage collector, not Flink, does that.
    k8s.kubectl("delete", "deployment", CLUSTER_ID, "-n", namespace)
    deadline = time.monotonic() + 180
    left = None
    while time.monotonic() < deadline:
        left = {kind: [i["metadata"]["name"] for i in labelled(k8s, kind, namespace, app)]
                for kind in ("pods", "configmaps", "services", "replicasets")}
        if not any(left.values()):
            break
        time.sleep(2)
    assert not any(left.values()), "left after deleting the JobManager deployment: %s" % left
