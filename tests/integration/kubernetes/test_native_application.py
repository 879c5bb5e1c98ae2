"""flink_application with platform=kubernetes (Flink's native application mode) on the real test cluster:
a job jar from local:// (a hostPath volume of the pod template, on the single node, or baked into an image built
with flink_image), from an HTTP server inside the cluster with more artifacts (job.artifacts), or uploaded from the
controller; running, unchanged,
a savepoint upgrade that keeps the job's state, suspend and resume, a last-state upgrade (from the latest retained
checkpoint, state kept) and a stateless one (state dropped), removal that leaves nothing behind.

The job's output files and savepoints go to hostPath directories of the one node, which is this machine,
so the test reads them directly (the output checks of the Docker application test)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.conftest import CACHE, FLINK_DEFAULT, REPO
from tests.integration.docker.test_application import (
    assert_counts_continuous, jar_versions, output, wait_for_more_output)
from tests.integration.kubernetes.conftest import FLINK_VERSIONS, NETTOOL_IMAGE, flink_image
from tests.integration.kubernetes.test_native_session import app_objects, cluster_id, make_service_account
from tests.lib.ansible import run_playbook

pytestmark = pytest.mark.kubernetes


def pod_template(dirs):
    return {"apiVersion": "v1", "kind": "Pod", "spec": {
        "containers": [{"name": "flink-main-container", "volumeMounts": [
            {"name": "usrlib", "mountPath": "/opt/flink/usrlib"},
            {"name": "savepoints", "mountPath": "/savepoints"},
            {"name": "out", "mountPath": "/out"}]}],
        "volumes": [{"name": n, "hostPath": {"path": dirs[n if n != "usrlib" else "jars"], "type": "Directory"}}
                    for n in ("usrlib", "savepoints", "out")]}}


def app_args(k8s, namespace, name, dirs, jar, state="running", version=FLINK_DEFAULT, **job):
    job_spec = {"jar": "local:///opt/flink/usrlib/%s" % os.path.basename(jar),
                "entry_class": "org.flinkops.examples.StatefulCounter",
                "args": ["--rate", "20", "--keys", "4", "--out", "/out", "--checkpoint-interval-ms", "2000"],
                "savepoint_dir": "file:///savepoints"}
    job_spec.update(job)
    return {"name": name, "platform": "kubernetes", "namespace": namespace, "service_account": "flink",
            "kubeconfig": k8s.kubeconfig, "image": flink_image(version), "image_pull": "never",
            "flink_home": os.path.join(CACHE, "flink", version), "wait_timeout": 300, "state": state,
            "jobmanager": {"memory": "1024m", "cpu": 0.25},
            "taskmanager": {"memory": "1200m", "cpu": 0.25, "slots": 1},
            "flink_config": {"kubernetes.jobmanager.cpu.limit-factor": 8,
                             "kubernetes.taskmanager.cpu.limit-factor": 8,
                             "taskmanager.memory.managed.fraction": 0.1, "heartbeat.timeout": 180000,
                             # Checkpoints kept on cancellation (a few, as without high availability), so that a
                             # last-state upgrade has one to start from.
                             "execution.checkpointing.dir": "file:///savepoints/checkpoints",
                             "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
                             "execution.checkpointing.num-retained": 3},
            "pod_template": pod_template(dirs), "job": job_spec}


def run(collections_path, args, expect_ok=True, **kwargs):
    result = run_playbook(collections_path, tasks=[{"name": "app", "flinkops.flink.flink_application": args,
                                                    "register": "out"}], **kwargs)
    if expect_ok and result.rc != 0:
        failed = result.failures()
        pytest.fail("playbook failed: %s\n%s\n%s" % (failed, result.stdout[-3000:], result.stderr[-2000:]))
    return result.task("app")


def test_native_application_savepoint_upgrade_suspend_resume(k8s, namespace, collections_path, host_dirs):
    make_service_account(k8s, namespace)
    name = cluster_id("app")
    v1, v2 = jar_versions(host_dirs, FLINK_DEFAULT)
    os.chmod(v1, 0o644)
    os.chmod(v2, 0o644)

    deployed = run(collections_path, app_args(k8s, namespace, name, host_dirs, v1))
    assert deployed["changed"] and deployed["job_state"] == "RUNNING", deployed
    first_job = deployed["job_id"]
    again = run(collections_path, app_args(k8s, namespace, name, host_dirs, v1))
    assert again["changed"] is False, again
    wait_for_more_output(host_dirs["out"], 60, timeout=180)

    # Upgrade: a new jar. Check and diff mode predict it; the real run stops with a savepoint and resumes.
    predicted = run(collections_path, app_args(k8s, namespace, name, host_dirs, v2), check=True, diff=True)
    assert predicted["actions"][0]["action"] == "upgrade", predicted["actions"]
    assert predicted["diff"]["before"]["job"]["jar"].endswith("counter-v1.jar")
    assert predicted["diff"]["after"]["job"]["jar"].endswith("counter-v2.jar")
    upgraded = run(collections_path, app_args(k8s, namespace, name, host_dirs, v2))
    assert upgraded["last_savepoint"].startswith("file:") and "/savepoints/" in upgraded["last_savepoint"]
    assert upgraded["job_id"] != first_job and upgraded["job_state"] == "RUNNING"
    seen = len(output(host_dirs["out"]))
    wait_for_more_output(host_dirs["out"], seen + 40, timeout=180)

    # A savepoint upgrade whose new job fails (its output directory cannot be made, no restarts): rolled back. The
    # failed cluster is deleted and the one before it created again, its configuration restarting the job from the
    # savepoint this run took under a new job id; the counts go on (checked below); the spec before changes nothing.
    broken = app_args(k8s, namespace, name, host_dirs, v2, args=[
        "--rate", "20", "--keys", "4", "--out", "/proc/flinkops-no-output", "--checkpoint-interval-ms", "2000"])
    broken["flink_config"]["restart-strategy.type"] = "none"
    failed = run(collections_path, broken, expect_ok=False)
    assert failed.get("rolled_back") is True and "deployment %s" % name in failed["restored"], failed
    assert "FAILED" in failed["failure"] and "rolled back to the last stable spec" in failed["msg"], failed
    assert failed["savepoint"].startswith("file:") and failed["savepoint"] != upgraded["last_savepoint"], failed
    assert failed["job_state"] == "RUNNING" and failed["job_id"] != upgraded["job_id"], failed
    config = k8s.json("get", "configmap", "flink-config-%s" % name, "-n", namespace)["data"]["config.yaml"]
    assert failed["savepoint"] in config and failed["job_id"] in config and "/proc/flinkops-no-output" not in config
    again = run(collections_path, app_args(k8s, namespace, name, host_dirs, v2))
    assert again["changed"] is False and again["job_id"] == failed["job_id"], again
    seen = len(output(host_dirs["out"]))
    wait_for_more_output(host_dirs["out"], seen + 40, timeout=180)

    # Suspend: savepoint, the Deployment and everything it owns gone, the savepoint recorded.
    suspend = app_args(k8s, namespace, name, host_dirs, v2, state="suspended")
    suspended = run(collections_path, suspend)
    assert suspended["savepoint"].startswith("file:"), suspended
    assert not any(app_objects(k8s, namespace, name).values()), app_objects(k8s, namespace, name)
    record = k8s.json("get", "configmap", "flinkops-%s-state" % name, "-n", namespace)
    assert record["metadata"]["annotations"]["flinkops.org/savepoint"] == suspended["savepoint"]
    assert run(collections_path, suspend)["changed"] is False
    stopped_at = len(output(host_dirs["out"]))
    time.sleep(3)
    assert len(output(host_dirs["out"])) == stopped_at  # nothing runs while suspended

    resumed = run(collections_path, app_args(k8s, namespace, name, host_dirs, v2))
    assert resumed["savepoint"] == suspended["savepoint"] and resumed["job_state"] == "RUNNING", resumed
    assert [a["action"] for a in resumed["actions"]][0] == "resume"
    wait_for_more_output(host_dirs["out"], stopped_at + 40, timeout=180)

    # Last-state upgrade (new arguments): Flink cancels the job and the new one starts from its latest checkpoint.
    faster = ["--rate", "20", "--keys", "4", "--out", "/out", "--checkpoint-interval-ms", "1000"]
    last_state = run(collections_path, app_args(k8s, namespace, name, host_dirs, v2, upgrade_mode="last-state",
                                                args=faster))
    assert [a["action"] for a in last_state["actions"]][0] == "upgrade", last_state["actions"]
    assert last_state["job_state"] == "RUNNING" and "/checkpoints/" in last_state["savepoint"], last_state
    seen = len(output(host_dirs["out"]))
    wait_for_more_output(host_dirs["out"], seen + 40, timeout=180)

    # The whole history: every key counted on through savepoint and last-state upgrades and a suspend/resume.
    finals = assert_counts_continuous(output(host_dirs["out"]))
    assert len(finals) == 4 and min(finals.values()) > 30, finals

    # Stateless upgrade: the new job starts from nothing, so every key counts from 1 again.
    stateless = run(collections_path, app_args(k8s, namespace, name, host_dirs, v1, upgrade_mode="stateless",
                                               args=faster))
    assert [a["action"] for a in stateless["actions"]][0] == "upgrade" and stateless["job_state"] == "RUNNING"
    deadline = time.monotonic() + 180
    while len([row for row in output(host_dirs["out"]) if row[1] == 1]) < 8 and time.monotonic() < deadline:
        time.sleep(2)
    assert len([row for row in output(host_dirs["out"]) if row[1] == 1]) == 8, "no key started over"

    removed = run(collections_path, {"name": name, "platform": "kubernetes", "namespace": namespace,
                                     "kubeconfig": k8s.kubeconfig, "state": "absent"})
    assert removed["changed"]
    assert not any(app_objects(k8s, namespace, name).values())
    assert k8s.kubectl("get", "configmap", "flinkops-%s-state" % name, "-n", namespace, check=False).returncode != 0


@pytest.mark.parametrize("version", FLINK_VERSIONS, ids=lambda v: "flink-%s" % v)
def test_native_application_from_an_uploaded_jar(k8s, namespace, collections_path, host_dirs, tmp_path, version):
    """A jar on the controller: Flink's client uploads it to kubernetes.artifacts.local-upload-target (here a
    directory of the one node, mounted at the same path into the pods, as a shared filesystem would be)."""
    make_service_account(k8s, namespace)
    upload = tmp_path / "upload"
    upload.mkdir()
    upload.chmod(0o777)
    name = cluster_id("up")
    jar = os.path.join(host_dirs["jars"], "counter-upload.jar")
    shutil.copy(os.path.join(CACHE, "jobs", version, "flinkops-examples.jar"), jar)
    args = app_args(k8s, namespace, name, host_dirs, jar, version=version)
    args["job"]["jar"] = jar
    template = args["pod_template"]
    template["spec"]["containers"][0]["volumeMounts"].append({"name": "upload", "mountPath": str(upload)})
    template["spec"]["volumes"].append({"name": "upload", "hostPath": {"path": str(upload), "type": "Directory"}})

    # Without an upload target: refused before anything is touched, naming the key to set.
    res = run(collections_path, args, expect_ok=False)
    assert "kubernetes.artifacts.local-upload-target" in res["msg"], res
    assert app_objects(k8s, namespace, name)["deployments"] == []

    args["flink_config"]["kubernetes.artifacts.local-upload-target"] = "file://%s" % upload
    out = run(collections_path, args)
    assert out["changed"] and out["job_state"] == "RUNNING", out
    assert os.listdir(str(upload)), "nothing was uploaded to %s" % upload
    wait_for_more_output(host_dirs["out"], 20, timeout=180)
    assert run(collections_path, args)["changed"] is False

    out = run(collections_path, {"name": name, "platform": "kubernetes", "namespace": namespace,
                                 "kubeconfig": k8s.kubeconfig, "state": "absent"})
    assert out["changed"] and not any(app_objects(k8s, namespace, name).values())


JARS_SERVER = """
apiVersion: v1
kind: Pod
metadata: {name: jars, labels: {app: jars}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: files
      image: %(image)s
      imagePullPolicy: Never
      args: [files, "8000", /srv]
      ports: [{containerPort: 8000}]
      readinessProbe: {httpGet: {path: /counter.jar, port: 8000}, periodSeconds: 1}
      resources: {requests: {cpu: 10m, memory: 16Mi}}
      volumeMounts: [{name: srv, mountPath: /srv, readOnly: true}]
  volumes: [{name: srv, hostPath: {path: %(dir)s, type: Directory}}]
---
apiVersion: v1
kind: Service
metadata: {name: jars}
spec:
  selector: {app: jars}
  ports: [{port: 8000, targetPort: 8000}]
"""


def test_native_application_fetches_its_jar_and_artifacts_over_http(
        k8s, namespace, collections_path, host_dirs, tmp_path):
    """The job jar and one more artifact from a plain HTTP server inside the cluster, and one artifact from the
    image's file system (local://): the JobManager fetches the remote two into user.artifacts.base-dir before the
    job starts, and the job runs from the fetched jar (its jar is not in usrlib)."""
    make_service_account(k8s, namespace)
    served = tmp_path / "served"
    served.mkdir()
    os.chmod(str(tmp_path), 0o755)
    shutil.copy(os.path.join(CACHE, "jobs", FLINK_DEFAULT, "flinkops-examples.jar"), str(served / "counter.jar"))
    shutil.copy(os.path.join(CACHE, "jobs", FLINK_DEFAULT, "TopSpeedWindowing.jar"), str(served / "udf.jar"))
    shutil.copy(os.path.join(CACHE, "jobs", FLINK_DEFAULT, "flink-metrics-prometheus.jar"),
                os.path.join(host_dirs["jars"], "format.jar"))
    k8s.apply(JARS_SERVER % {"image": NETTOOL_IMAGE, "dir": str(served)}, namespace)
    k8s.wait("pod/jars", "condition=Ready", namespace)
    base = "http://jars.%s.svc:8000" % namespace
    name = cluster_id("fetch")
    args = app_args(k8s, namespace, name, host_dirs, "counter.jar",
                    artifacts=[base + "/udf.jar", "local:///opt/flink/usrlib/format.jar"])
    args["job"]["jar"] = base + "/counter.jar"

    # Plain http without Flink's switch for it: refused before anything is touched, naming the key.
    res = run(collections_path, args, expect_ok=False)
    assert res["option"] == "job.jar" and "user.artifacts.raw-http-enabled: true" in res["msg"], res
    assert app_objects(k8s, namespace, name)["deployments"] == []

    args["flink_config"]["user.artifacts.raw-http-enabled"] = True
    out = run(collections_path, args)
    assert out["changed"] and out["job_state"] == "RUNNING", out
    pod = k8s.json("get", "pods", "-n", namespace, "-l", "app=%s,component=jobmanager" % name)["items"][0]
    listing = k8s.exec(namespace, pod["metadata"]["name"], "find", "/opt/flink/artifacts", "-type", "f", check=True)
    fetched = sorted(listing.stdout.split())
    target = "/opt/flink/artifacts/%s/%s" % (namespace, name)
    # The remote ones are fetched; a local:// one is used where it is (Flink's LocalArtifactFetcher copies nothing).
    assert fetched == ["%s/%s" % (target, f) for f in ("counter.jar", "udf.jar")], listing.stdout
    config = k8s.exec(namespace, pod["metadata"]["name"], "cat", "/opt/flink/conf/config.yaml", check=True).stdout
    assert "udf.jar" in config and "format.jar" in config, config
    wait_for_more_output(host_dirs["out"], 20, timeout=180)
    assert run(collections_path, args)["changed"] is False

    # Another artifact list is an upgrade of the job (check mode predicts it; nothing changes).
    other = dict(args, job=dict(args["job"], artifacts=[base + "/udf.jar"]))
    predicted = run(collections_path, other, check=True, diff=True)
    assert predicted["changed"] and predicted["actions"], predicted
    assert predicted["diff"]["before"]["job"]["artifacts"] != predicted["diff"]["after"]["job"]["artifacts"]

    out = run(collections_path, {"name": name, "platform": "kubernetes", "namespace": namespace,
                                 "kubeconfig": k8s.kubeconfig, "state": "absent"})
    assert out["changed"] and not any(app_objects(k8s, namespace, name).values())


def test_native_application_from_an_image_built_with_flink_image(k8s, namespace, collections_path, host_dirs):
    """The seed's custom-image path: flink_image bakes the job jar into usrlib of an image; the image goes into the
    cluster's containerd (as a registry push would make it pullable), and the application runs its local:// jar
    with no volume for it."""
    make_service_account(k8s, namespace)
    name = cluster_id("baked")
    image = "flinkops-test/%s:1" % name
    jar = os.path.join(CACHE, "jobs", FLINK_DEFAULT, "flinkops-examples.jar")
    built = run_playbook(collections_path, tasks=[{"name": "image", "register": "out", "flinkops.flink.flink_image": {
        "name": image, "base_image": flink_image(FLINK_DEFAULT), "usrlib": [jar]}}])
    assert built.rc == 0, built.stdout[-3000:]
    assert built.task("image")["changed"], built.task("image")
    try:
        load = subprocess.run(["bash", os.path.join(REPO, "testbed", "kubernetes", "cluster.sh"), "load-images", image],
                              capture_output=True, text=True, timeout=600, check=False)
        assert load.returncode == 0, load.stdout + load.stderr
        args = app_args(k8s, namespace, name, host_dirs, "flinkops-examples.jar")
        args["image"] = image
        args["flink_version"] = FLINK_DEFAULT  # the tag does not tell it
        template = args["pod_template"]["spec"]
        template["containers"][0]["volumeMounts"] = [m for m in template["containers"][0]["volumeMounts"]
                                                     if m["name"] != "usrlib"]
        template["volumes"] = [v for v in template["volumes"] if v["name"] != "usrlib"]
        assert not os.listdir(host_dirs["jars"])  # the jar is in the image only
        out = run(collections_path, args)
        assert out["changed"] and out["job_state"] == "RUNNING", out
        pod = k8s.json("get", "pods", "-n", namespace, "-l", "app=%s,component=jobmanager" % name)["items"][0]
        assert pod["spec"]["containers"][0]["image"] == image
        wait_for_more_output(host_dirs["out"], 20, timeout=180)
        assert run(collections_path, args)["changed"] is False
        out = run(collections_path, {"name": name, "platform": "kubernetes", "namespace": namespace,
                                     "kubeconfig": k8s.kubeconfig, "state": "absent"})
        assert out["changed"] and not any(app_objects(k8s, namespace, name).values())
    finally:
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True, check=False)
