"""The Flink Kubernetes Operator on the real test cluster: installed by the role flinkops.flink.operator (the
operator built from its 1.15.0 release source, testbed/kubernetes/operator.sh), and flink_session with
mode=operator writing a FlinkDeployment that the real operator turns into a real Flink session cluster: check
mode, deploy to STABLE with the TaskManagers registered, an unchanged re-run, check/diff of a change, flink_info's
listing, a change whose JobManager never starts rolled back to the last stable FlinkDeployment and Secret, removal
that leaves nothing behind, an image that does not exist failing in bounded time, and
bad input refused before anything is touched."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from tests.conftest import FLINK_DEFAULT, REPO
from tests.integration.kubernetes.conftest import OPERATOR_IMAGE, SHARED_LABEL, flink_image
from tests.integration.kubernetes.test_k8s_rights import user_kubeconfig
from tests.integration.kubernetes.test_native_session import app_objects, make_service_account
from tests.lib.ansible import run_playbook

pytestmark = pytest.mark.kubernetes


def session_args(k8s, namespace, name, version=FLINK_DEFAULT, **overrides):
    args = {
        "name": name, "platform": "kubernetes", "mode": "operator", "namespace": namespace,
        "service_account": "flink", "kubeconfig": k8s.kubeconfig, "image": flink_image(version),
        "image_pull": "never", "wait_timeout": 420, "labels": dict(SHARED_LABEL),
        "jobmanager": {"memory": "1024m", "cpu": 0.25},
        "taskmanager": {"memory": "1200m", "cpu": 0.25, "slots": 2, "replicas": 1},
        "flink_config": {"taskmanager.memory.managed.fraction": 0.1, "heartbeat.timeout": 180000,
                         "kubernetes.jobmanager.cpu.limit-factor": 8, "kubernetes.taskmanager.cpu.limit-factor": 8},
    }
    for key, value in overrides.items():
        args[key] = dict(args[key], **value) if isinstance(value, dict) and isinstance(args.get(key), dict) else value
    return args


def run(collections_path, args, expect_ok=True, **kwargs):
    result = run_playbook(collections_path, tasks=[{"name": "session", "flinkops.flink.flink_session": args,
                                                    "register": "out"}], **kwargs)
    if expect_ok and result.rc != 0:
        failed = result.failures()
        pytest.fail("playbook failed: %s\n%s" % (failed, result.stdout[-3000:]))
    return result


def flink_deployment(k8s, namespace, name):
    proc = k8s.kubectl("get", "flinkdeployment", name, "-n", namespace, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


# On the newest Flink only: test_operator_session_jobs.py deploys its session on the oldest, and the applications
# (test_operator_application.py) run on both.
@pytest.mark.parametrize("version", [FLINK_DEFAULT], ids=lambda v: "flink-%s" % v)
def test_operator_session_lifecycle(k8s, operator, namespace, collections_path, version):
    make_service_account(k8s, namespace)
    name = "op-%s" % secrets.token_hex(3)
    args = session_args(k8s, namespace, name, version)

    # Check mode on nothing: a create is planned (the server dry-ran the FlinkDeployment), nothing is made.
    out = run(collections_path, args, check=True).task("session")
    assert out["changed"] and [a["action"] for a in out["actions"]] == ["create"], out
    assert flink_deployment(k8s, namespace, name) is None

    t0 = time.monotonic()
    out = run(collections_path, args).task("session")
    print("deploy to STABLE with 1 TaskManager took %.0fs" % (time.monotonic() - t0))
    assert out["changed"] and out["flink_version"] == version, out
    assert out["operator"]["lifecycle_state"] == "STABLE", out["operator"]
    assert out["operator"]["jobmanager_deployment_status"] == "READY", out["operator"]
    assert len(out["taskmanagers"]) == 1 and out["slots_total"] == 2, out
    resource = flink_deployment(k8s, namespace, name)
    assert resource["spec"]["flinkVersion"] == "v%s_%s" % tuple(version.split(".")[:2])
    assert resource["spec"]["flinkConfiguration"]["taskmanager.numberOfTaskSlots"] == "2"
    assert resource["spec"]["flinkConfiguration"]["slotmanager.number-of-slots.min"] == "2"
    assert resource["spec"]["jobManager"]["resource"]["memory"] == "1g"  # 1024m, as the views write it
    assert json.loads(resource["metadata"]["annotations"]["flinkops.org/spec"])["mode"] == "operator"
    # What the operator made from it: Flink's native objects, the JobManager with our service account and image.
    pod = k8s.json("get", "pods", "-n", namespace, "-l", "app=%s,component=jobmanager" % name)["items"][0]
    assert pod["spec"]["serviceAccountName"] == "flink"
    assert pod["spec"]["containers"][0]["image"] == flink_image(version)
    generation = resource["metadata"]["generation"]

    # Unchanged: nothing applied, the resource's generation stays.
    out = run(collections_path, args).task("session")
    assert not out["changed"] and out["actions"] == [], out
    assert flink_deployment(k8s, namespace, name)["metadata"]["generation"] == generation

    # flink_info lists it with the operator's status, and reads its cluster through the API server.
    info = run_playbook(collections_path, tasks=[{"name": "info", "flinkops.flink.flink_info": {
        "platform": "kubernetes", "mode": "operator", "namespace": namespace, "name": name,
        "kubeconfig": k8s.kubeconfig, "include_config": False}}]).task("info")
    assert [(d["name"], d["lifecycle_state"], d["mode"]) for d in info["deployments"]] == [(name, "STABLE", "session")]
    assert info["flink_version"] == version and info["overview"]["taskmanagers"] == 1, info

    # A change in check + diff mode: the operator would redeploy; the diff names the fields; nothing is touched. With
    # it come flink_config_secrets, which live in a Secret the pods mount (as in native mode), never in the
    # FlinkDeployment or a ConfigMap.
    hidden = "flinkops-%s" % secrets.token_hex(8)
    changed = dict(args, flink_config=dict(args["flink_config"], **{"pipeline.max-parallelism": 64}),
                   flink_config_secrets={"flinkops.test.credential": hidden})
    out = run(collections_path, changed, check=True, diff=True).task("session")
    assert out["changed"] and [a["action"] for a in out["actions"]] == ["recreate"], out
    assert out["actions"][0]["reason"].startswith("changed: flink_config.pipeline.max-parallelism"), out["actions"]
    assert out["diff"]["after"]["flink_config"]["pipeline.max-parallelism"] == 64
    assert "pipeline.max-parallelism" not in out["diff"]["before"]["flink_config"]
    assert out["diff"]["after"]["flink_config_secrets"] == {"flinkops.test.credential": "********"}
    assert flink_deployment(k8s, namespace, name)["metadata"]["generation"] == generation

    # Applied: the operator redeploys and the wait follows it to STABLE again, with the new settings in Flink.
    out = run(collections_path, changed).task("session")
    assert out["changed"] and out["operator"]["lifecycle_state"] == "STABLE", out
    assert out["operator"]["reconciled_generation"] == generation + 1, out["operator"]
    assert not run(collections_path, changed).task("session")["changed"]
    pod = k8s.json("get", "pods", "-n", namespace, "-l", "app=%s,component=jobmanager" % name)["items"][0]
    seen = k8s.exec(namespace, pod["metadata"]["name"], "wget", "-qO-", "http://localhost:8081/jobmanager/config",
                    check=True).stdout
    assert {"key": "flinkops.test.credential", "value": hidden} in json.loads(seen), seen
    everywhere = k8s.kubectl("get", "flinkdeployments,configmaps,deployments,replicasets,pods,services", "-n",
                             namespace, "-o", "json").stdout
    assert hidden not in everywhere
    secret = k8s.json("get", "secret", "%s-config-secrets" % name, "-n", namespace)
    assert secret["metadata"]["labels"]["app"] == name
    # A new value of a secret setting is a change (the pods' template carries a salted digest, never the value).
    rotated = dict(changed, flink_config_secrets={"flinkops.test.credential": hidden + "-2"})
    out = run(collections_path, rotated, check=True).task("session")
    assert out["changed"] and [a["action"] for a in out["actions"]] == ["recreate"], out

    # A change the operator deploys but whose JobManager never starts (its JVM cannot load an agent), with a new
    # secret value: the wait meets the crash loop, the module applies the last stable FlinkDeployment again (the
    # operator redeploys it) with the Secret as it was, waits for it to be STABLE and fails with rolled_back=true.
    # The spec before then changes nothing.
    stable = flink_deployment(k8s, namespace, name)
    broken = dict(changed, jobmanager=dict(args.get("jobmanager") or {},
                                           java_opts="-javaagent:/opt/flinkops-no-such-agent.jar"),
                  flink_config_secrets={"flinkops.test.credential": hidden + "-broken"})
    res = run(collections_path, broken, expect_ok=False)
    failed = res.task("session")
    assert res.status("session") == "failed" and failed.get("rolled_back") is True, failed
    assert failed["restored"] == ["flinkdeployment %s" % name], failed
    assert "CrashLoopBackOff" in failed["failure"] and "flinkops-no-such-agent.jar" in failed["failure"], failed
    assert "rolled back to the last stable spec" in failed["msg"], failed["msg"]
    resource = flink_deployment(k8s, namespace, name)
    assert resource["spec"] == stable["spec"] and resource["status"]["lifecycleState"] == "STABLE", resource["status"]
    assert resource["metadata"]["annotations"]["flinkops.org/spec-hash"] == \
        stable["metadata"]["annotations"]["flinkops.org/spec-hash"]
    assert "no-such-agent" not in json.dumps(k8s.json("get", "deployment", name, "-n", namespace)["spec"])
    pod = k8s.json("get", "pods", "-n", namespace, "-l", "app=%s,component=jobmanager" % name)["items"][0]
    seen = k8s.exec(namespace, pod["metadata"]["name"], "wget", "-qO-", "http://localhost:8081/jobmanager/config",
                    check=True).stdout
    assert {"key": "flinkops.test.credential", "value": hidden} in json.loads(seen), seen
    out = run(collections_path, changed).task("session")
    assert not out["changed"] and out["operator"]["lifecycle_state"] == "STABLE", out
    assert len(out["taskmanagers"]) == 1, out

    # Removal: the FlinkDeployment and everything the operator made for it are gone.
    absent = {"name": name, "platform": "kubernetes", "mode": "operator", "namespace": namespace,
              "kubeconfig": k8s.kubeconfig, "state": "absent"}
    out = run(collections_path, absent).task("session")
    assert out["changed"] and [a["action"] for a in out["actions"]][:1] == ["remove"], out
    assert flink_deployment(k8s, namespace, name) is None
    left = app_objects(k8s, namespace, name)
    assert not any(left.values()), left
    assert k8s.kubectl("get", "secret", "%s-config-secrets" % name, "-n", namespace, check=False).returncode != 0
    assert not run(collections_path, absent).task("session")["changed"]


def test_operator_session_image_missing_fails_in_bounded_time(k8s, operator, namespace, collections_path):
    make_service_account(k8s, namespace)
    name = "op-%s" % secrets.token_hex(3)
    args = session_args(k8s, namespace, name, image="flinkops/no-such-image:%s-java17" % FLINK_DEFAULT,
                        flink_version=FLINK_DEFAULT, wait_timeout=600)
    t0 = time.monotonic()
    res = run(collections_path, args, expect_ok=False)
    took = time.monotonic() - t0
    assert res.rc != 0
    failed = res.results[-1]["result"]
    assert "no-such-image" in failed["msg"] and ("ErrImageNeverPull" in failed["msg"] or "ERROR" in failed["msg"]), \
        failed["msg"]
    assert took < 240, "the failure took %.0fs of a 600 s wait" % took
    # Left in place for inspection, and removable.
    assert flink_deployment(k8s, namespace, name) is not None
    out = run(collections_path, {"name": name, "platform": "kubernetes", "mode": "operator", "namespace": namespace,
                                 "kubeconfig": k8s.kubeconfig, "state": "absent"}).task("session")
    assert out["changed"]


@pytest.mark.parametrize("overrides, option, text", [
    ({"service_account": "nobody"}, "service_account", "does not exist"),
    ({"flink_config": {"kubernetes.cluster-id": "other"}}, "flink_config.kubernetes.cluster-id", "conflicts"),
    ({"service_account": "norights"}, "service_account", "may not get pods"),
    # The module's own user: one who may read the namespace's objects but not FlinkDeployments (the view ClusterRole
    # does not cover the operator's CRDs), one who may read FlinkDeployments but not write them.
    ({"kubeconfig": "viewer"}, "kubeconfig", "may not read FlinkDeployment"),
    ({"kubeconfig": "fd-reader"}, "kubeconfig", "may not create flinkdeployments.flink.apache.org, patch "
                                                "flinkdeployments.flink.apache.org, delete flinkdeployments"),
], ids=["service-account", "managed-key", "sa-without-rights", "user-may-not-read", "user-may-not-write"])
def test_operator_session_bad_input_touches_nothing(k8s, operator, namespace, collections_path, tmp_path,
                                                    overrides, option, text):
    make_service_account(k8s, namespace)
    make_service_account(k8s, namespace, "norights", with_role=False)
    name = "op-%s" % secrets.token_hex(3)
    overrides = dict(overrides)
    user = overrides.pop("kubeconfig", None)
    if user:
        k8s.kubectl("create", "serviceaccount", user, "-n", namespace)
        k8s.kubectl("create", "rolebinding", user + "-view", "--clusterrole=view",
                    "--serviceaccount=%s:%s" % (namespace, user), "-n", namespace)
        if user == "fd-reader":
            k8s.kubectl("create", "role", user, "--verb=get,list,watch", "--resource=flinkdeployments.flink.apache.org",
                        "-n", namespace)
            k8s.kubectl("create", "rolebinding", user, "--role=" + user, "--serviceaccount=%s:%s" % (namespace, user),
                        "-n", namespace)
        overrides["kubeconfig"] = user_kubeconfig(k8s, namespace, user, tmp_path)
    res = run(collections_path, session_args(k8s, namespace, name, **overrides), expect_ok=False)
    failed = res.results[-1]["result"]
    assert res.rc != 0 and failed.get("option") == option and text in failed["msg"], failed
    assert flink_deployment(k8s, namespace, name) is None


def test_session_operator_playbook(k8s, operator, new_namespace, collections_path):
    """The shipped playbooks/session_operator.yml as it is: the role (a second install of the operator, watching a
    new namespace, beside the fixture's), the session as a FlinkDeployment, an unchanged second run, removal."""
    namespace = new_namespace("t-opbook")
    name = "pb-%s" % secrets.token_hex(3)
    extra = {"flink_name": name, "flink_namespace": namespace, "flink_kubeconfig": k8s.kubeconfig,
             "flink_image": flink_image(FLINK_DEFAULT), "flink_image_pull": "never", "flink_cpu": 0.25,
             "operator_chart_path": operator, "operator_image": OPERATOR_IMAGE, "operator_image_pull_policy": "Never",
             "operator_namespace": "%s-operator" % namespace, "operator_name": "operator-%s" % namespace}
    path = "%s/playbooks/session_operator.yml" % REPO
    first = run_playbook(collections_path, playbook_path=path, extra_vars=extra)
    assert first.rc == 0, first.stdout[-4000:]
    session = first.task("Session cluster")
    assert session["changed"] and session["operator"]["lifecycle_state"] == "STABLE", session
    second = run_playbook(collections_path, playbook_path=path, extra_vars=extra)
    assert second.rc == 0, second.stdout[-4000:]
    assert not any(r["result"].get("changed") for r in second.results), [
        r["task"] for r in second.results if r["result"].get("changed")]
    gone = run_playbook(collections_path, playbook_path=path,
                        extra_vars=dict(extra, flink_state="absent", operator_state="absent"))
    assert gone.rc == 0 and gone.task("Session cluster")["changed"], gone.stdout[-4000:]
    assert flink_deployment(k8s, namespace, name) is None
    assert k8s.kubectl("get", "deployment", extra["operator_name"], "-n", extra["operator_namespace"],
                       check=False).returncode != 0
