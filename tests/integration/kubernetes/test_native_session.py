"""flink_session with platform=kubernetes (Flink's native mode) on the real test cluster, with real Flink:
deploy, TaskManagers only on demand, jobs run by flink_job through the API server (listed by flink_info),
idempotency from the live Deployment, check and diff mode, exposure types, removal (high-availability ConfigMaps
included), and bad input that touches nothing."""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
import urllib.parse

import pytest
import yaml

from tests.conftest import CACHE, FLINK_DEFAULT
from tests.integration.kubernetes.conftest import FLINK_VERSIONS, flink_image
from tests.lib.ansible import run_playbook
from tests.lib.tcp_proxy import TcpProxy

pytestmark = pytest.mark.kubernetes

# Flink docs, "Native Kubernetes" RBAC, least privilege: what the JobManager does with the API.
FLINK_ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "flink"},
    "rules": [
        {"apiGroups": [""], "resources": ["pods", "configmaps"],
         "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    ]}


def make_service_account(k8s, namespace, name="flink", with_role=True):
    role = FLINK_ROLE
    k8s.kubectl("create", "serviceaccount", name, "-n", namespace)
    if with_role:
        k8s.apply(json.dumps(role), namespace)
        k8s.kubectl("create", "rolebinding", name, "--role=%s" % role["metadata"]["name"],
                    "--serviceaccount=%s:%s" % (namespace, name), "-n", namespace)
    return name


def session_args(k8s, namespace, name, version=FLINK_DEFAULT, **overrides):
    args = {
        "name": name, "platform": "kubernetes", "namespace": namespace, "service_account": "flink",
        "kubeconfig": k8s.kubeconfig, "image": flink_image(version), "image_pull": "never",
        "flink_home": os.path.join(CACHE, "flink", version), "wait_timeout": 300,
        "jobmanager": {"memory": "1024m", "cpu": 0.25},
        "taskmanager": {"memory": "1200m", "cpu": 0.25, "slots": 1},
        "flink_config": {"kubernetes.jobmanager.cpu.limit-factor": 8, "kubernetes.taskmanager.cpu.limit-factor": 8,
                         "taskmanager.memory.managed.fraction": 0.1, "heartbeat.timeout": 180000,
                         "resourcemanager.taskmanager-timeout": 600000},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(args.get(key), dict):
            args[key] = dict(args[key], **value)
        else:
            args[key] = value
    return args


def run(collections_path, args, expect_ok=True, **kwargs):
    result = run_playbook(collections_path, tasks=[{"name": "session", "flinkops.flink.flink_session": args,
                                                    "register": "out"}], **kwargs)
    if expect_ok and result.rc != 0:
        failed = result.failures()
        pytest.fail("playbook failed: %s\n%s\n%s" % (failed, result.stdout[-3000:], result.stderr[-2000:]))
    return result


def run_module(collections_path, module, args, expect_ok=True, **kwargs):
    """One task of another module of the collection (flink_job, flink_info); its result."""
    result = run_playbook(collections_path, tasks=[{"name": "task", "flinkops.flink.%s" % module: args,
                                                    "register": "out"}], **kwargs)
    if expect_ok and result.rc != 0:
        failed = result.failures()
        pytest.fail("%s failed: %s\n%s" % (module, failed, result.stdout[-3000:]))
    return result.task("task")


def app_objects(k8s, namespace, name):
    found = {}
    for kind in ("deployments", "pods", "services", "configmaps", "replicasets"):
        found[kind] = sorted(i["metadata"]["name"] for i in
                             k8s.json("get", kind, "-n", namespace, "-l", "app=%s" % name)["items"])
    return found


def proxied_kubeconfig(k8s, tmp_path, server=None):
    """A TcpProxy in front of the API server (or ``server``, a URL) and a copy of the kubeconfig that goes through
    it."""
    with open(k8s.kubeconfig) as handle:
        config = yaml.safe_load(handle)
    server = urllib.parse.urlsplit(server or config["clusters"][0]["cluster"]["server"])
    proxy = TcpProxy(server.hostname, server.port)
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = "https://127.0.0.1:%d" % proxy.port
    path = str(tmp_path / "proxied.kubeconfig")
    with open(path, "w") as handle:
        yaml.safe_dump(config, handle)
    return proxy, path


def delete_new_jobmanager_pod(k8s, namespace, name, old_uid, deleted, outage=20, timeout=300):
    """Delete the JobManager pod of Deployment ``name`` once the Deployment is another than ``old_uid`` and its pod
    runs (the module has recreated the cluster and waits for it); then restart the second API server (the one the
    module talks to): stopped, down for ``outage`` seconds, started and ready again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = k8s.kubectl("get", "deployment", name, "-n", namespace, "-o", "jsonpath={.metadata.uid}",
                            check=False).stdout.strip()
        if found and found != old_uid:
            pods = k8s.json("get", "pods", "-n", namespace, "-l", "app=%s,component=jobmanager" % name)["items"]
            running = [p["metadata"]["name"] for p in pods if p["status"].get("phase") == "Running"]
            if running:
                time.sleep(3)
                k8s.kubectl("delete", "pod", running[0], "-n", namespace, "--wait=false")
                deleted["pod"] = running[0]
                time.sleep(2)
                k8s.apiserver2("stop")
                deleted["stopped"] = time.monotonic()
                time.sleep(outage)
                k8s.apiserver2("start")
                deleted["ready"] = time.monotonic()
                return
        time.sleep(0.5)


def cluster_id(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(3))


@pytest.mark.parametrize("version", FLINK_VERSIONS, ids=lambda v: "flink-%s" % v)
def test_native_session_lifecycle(k8s, namespace, flink_dist, collections_path, version):
    make_service_account(k8s, namespace)
    name = cluster_id("ns")
    args = session_args(k8s, namespace, name, version,
                        high_availability={"enabled": True, "storage_dir": "file:///tmp/flink-ha"})

    # Check mode on nothing: a create is planned, nothing is made.
    res = run(collections_path, args, check=True)
    out = res.task("session")
    assert out["changed"] and [a["action"] for a in out["actions"]] == ["create"], out
    assert app_objects(k8s, namespace, name)["deployments"] == []

    t0 = time.monotonic()
    out = run(collections_path, args).task("session")
    print("deploy took %.0fs" % (time.monotonic() - t0))
    assert out["changed"] and out["flink_version"] == version, out
    # Native mode: no TaskManager before a job needs one.
    assert out["taskmanagers"] == [] and out["slots_total"] == 0, out
    roles = sorted(p["role"] for p in out["pods"])
    assert roles == ["jobmanager"], out["pods"]
    assert "/services/%s-rest:rest/proxy" % name in out["rest_url"], out["rest_url"]
    assert out["rest_service"]["type"] == "ClusterIP"
    deployment = k8s.json("get", "deployment", name, "-n", namespace)
    annotations = deployment["metadata"]["annotations"]
    assert annotations["flinkops.org/managed-by"] == "flinkops.flink"
    assert json.loads(annotations["flinkops.org/spec"])["namespace"] == namespace
    pod = k8s.json("get", "pods", "-n", namespace, "-l", "app=%s,component=jobmanager" % name)["items"][0]
    assert pod["spec"]["serviceAccountName"] == "flink"
    assert pod["spec"]["containers"][0]["image"] == flink_image(version)
    assert pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "250m"
    # The leader writes its high-availability ConfigMap (owned by nothing) once elected.
    deadline = time.monotonic() + 120
    while k8s.kubectl("get", "configmap", "%s-cluster-config-map" % name, "-n", namespace,
                      check=False).returncode != 0:
        assert time.monotonic() < deadline, "no high-availability ConfigMap: %s" % k8s.kubectl(
            "get", "configmaps", "-n", namespace, "--show-labels").stdout
        time.sleep(2)

    # Unchanged spec: nothing to do, read from the live Deployment.
    out = run(collections_path, args).task("session")
    assert not out["changed"] and out["actions"] == [], out
    assert k8s.json("get", "deployment", name, "-n", namespace)["metadata"]["uid"] == deployment["metadata"]["uid"]

    # A job: parallelism 2 with one slot each, so the JobManager starts two TaskManager pods. flink_job reaches the
    # cluster through the API server's service proxy (a ClusterIP Service): the kubeconfig is all it takes.
    jar = os.path.join(CACHE, "jobs", version, "flinkops-examples.jar")
    job_args = {"name": "bounded", "cluster": name, "platform": "kubernetes", "namespace": namespace,
                "kubeconfig": k8s.kubeconfig, "jar": jar, "entry_class": "org.flinkops.examples.BoundedCounter",
                "parallelism": 2, "wait_timeout": 420}
    job = run_module(collections_path, "flink_job", job_args)
    # flink_job's wait ends at RUNNING with every task running, or FINISHED: which one a bounded job shows first
    # depends on how fast the TaskManager pods start.
    assert job["action"] == "submit" and job["job_state"] in ("RUNNING", "FINISHED"), job
    assert "/services/%s-rest:rest/proxy" % name in job["rest_url"], job["rest_url"]
    job_id = job["job_id"]
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import K8sClient
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.proxy_rest import K8sProxyRest
    proxy = K8sProxyRest(K8sClient({"kubeconfig": k8s.kubeconfig}), namespace, name + "-rest", timeout=60)
    deadline = time.monotonic() + 180
    while proxy.job(job_id)["state"] != "FINISHED":
        assert time.monotonic() < deadline, proxy.job(job_id)
        time.sleep(2)
    # A bounded job that ran to its end is done: the same task changes nothing.
    again = run_module(collections_path, "flink_job", job_args)
    assert again["changed"] is False and again["job_id"] == job_id, again
    # BoundedCounter runs in BATCH mode, one pipelined region per subtask: the JobManager asks for a pod per slot
    # it needs at once, which is two, or one when the first TaskManager runs both regions in turn (a slow start
    # gives a pending pod back). The TaskManagers registered are the pods there are, named after them.
    deadline = time.monotonic() + 120
    while True:
        tm_pods = k8s.json("get", "pods", "-n", namespace, "-l", "app=%s,component=taskmanager" % name)["items"]
        pod_names = sorted(p["metadata"]["name"] for p in tm_pods if not p["metadata"].get("deletionTimestamp"))
        registered = sorted(tm["id"] for tm in proxy.taskmanagers())
        if pod_names == registered and 1 <= len(registered) <= 2:
            break
        assert time.monotonic() < deadline, (pod_names, registered)
        time.sleep(3)
    tm_pods = [p for p in tm_pods if p["metadata"]["name"] in registered]
    logs = "".join(k8s.kubectl("logs", "-n", namespace, p["metadata"]["name"]).stdout for p in tm_pods)
    assert "SUMMARY total count=10000 sum=50005000" in logs, logs[-3000:]

    # Still unchanged (TaskManagers on demand are not drift); the job shows in the return values.
    out = run(collections_path, args).task("session")
    assert not out["changed"], out
    assert [j["state"] for j in out["jobs"]] == ["FINISHED"], out["jobs"]
    assert sorted(tm["id"] for tm in out["taskmanagers"]) == registered, out["taskmanagers"]

    info = run_module(collections_path, "flink_info", {"name": name, "platform": "kubernetes", "namespace": namespace,
                                                       "kubeconfig": k8s.kubeconfig})
    assert [(j["id"], j["state"]) for j in info["jobs"]] == [(job_id, "FINISHED")], info["jobs"]

    if version == FLINK_DEFAULT:
        # A streaming job through the proxy: running on the idle TaskManagers, then cancelled by name.
        stream = dict(job_args, name="stream", entry_class="org.flinkops.examples.StatefulCounter", parallelism=1,
                      args=["--rate", "5", "--keys", "2", "--out", "/tmp/out"])
        started = run_module(collections_path, "flink_job", stream)
        assert started["action"] == "submit" and started["job_state"] == "RUNNING", started
        cancelled = run_module(collections_path, "flink_job", dict(stream, state="cancelled"))
        assert cancelled["action"] == "cancel" and cancelled["job_state"] == "CANCELED", cancelled
        assert proxy.job(started["job_id"])["state"] == "CANCELED"
        assert run_module(collections_path, "flink_job", dict(stream, state="cancelled"))["changed"] is False

    # A changed spec in check + diff mode: a recreate is planned, the diff says what, nothing is touched.
    changed = dict(args, flink_config=dict(args["flink_config"], **{"pipeline.max-parallelism": 64}))
    res = run(collections_path, changed, check=True, diff=True)
    out = res.task("session")
    assert out["changed"] and [a["action"] for a in out["actions"]] == ["recreate"], out
    assert "flink_config" in out["actions"][0]["reason"]
    assert out["diff"]["after"]["flink_config"]["pipeline.max-parallelism"] == 64
    assert "pipeline.max-parallelism" not in out["diff"]["before"]["flink_config"]
    assert k8s.json("get", "deployment", name, "-n", namespace)["metadata"]["uid"] == deployment["metadata"]["uid"]

    # Removal: the Deployment and everything it owns, and the HA ConfigMaps, are gone.
    absent = {"name": name, "platform": "kubernetes", "namespace": namespace, "kubeconfig": k8s.kubeconfig,
              "state": "absent"}
    out = run(collections_path, absent).task("session")
    assert out["changed"] and {a["action"] for a in out["actions"]} == {"remove"}, out
    left = app_objects(k8s, namespace, name)
    assert not any(left.values()), left
    out = run(collections_path, absent).task("session")
    assert not out["changed"], out


def test_native_session_nodeport_and_change(k8s, namespace, flink_dist, collections_path, tmp_path):
    """NodePort exposure gives a REST URL reachable from here; a changed spec recreates the cluster;
    taskmanager.replicas keeps TaskManagers up without jobs."""
    make_service_account(k8s, namespace)
    name = cluster_id("np")
    args = session_args(k8s, namespace, name, rest_exposure="NodePort")
    out = run(collections_path, args).task("session")
    assert out["rest_service"]["type"] == "NodePort" and out["rest_url"].startswith("http://%s:" % k8s.node_ip), out
    import urllib.request
    with urllib.request.urlopen(out["rest_url"] + "/overview", timeout=10) as response:
        assert json.loads(response.read())["flink-version"] == FLINK_DEFAULT
    uid = k8s.json("get", "deployment", name, "-n", namespace)["metadata"]["uid"]

    # The recreate, with two faults while the module waits for it: the new JobManager pod is deleted (the
    # Deployment makes another), then the API server the module talks to is restarted: a second kube-apiserver of
    # the cluster (same etcd, as in a control plane of several), so that the tests running beside this one keep
    # theirs; stopped (its connections closed), down for 20 s, started again. A TCP forwarder in front of it counts
    # the connections the module tried while it was down. The wait waits on: the run ends ready, with its
    # TaskManager registered to the JobManager that runs now.
    args = session_args(k8s, namespace, name, rest_exposure="NodePort", taskmanager={"replicas": 1})
    proxy, args["kubeconfig"] = proxied_kubeconfig(k8s, tmp_path, server=k8s.apiserver2("start"))
    deleted = {}
    deleter = threading.Thread(target=delete_new_jobmanager_pod, args=(k8s, namespace, name, uid, deleted))
    deleter.start()
    try:
        out = run(collections_path, args).task("session")
    finally:
        deleter.join()
        proxy.close()
        k8s.apiserver2("stop")
    assert "ready" in deleted, "no JobManager pod of the new Deployment was seen running (%s)" % deleted
    assert proxy.unreachable > 0, "the module never met the API server's restart"
    args["kubeconfig"] = k8s.kubeconfig
    assert out["changed"] and [a["action"] for a in out["actions"]] == ["recreate"], out
    assert k8s.json("get", "deployment", name, "-n", namespace)["metadata"]["uid"] != uid
    # At least the 1 kept: a TaskManager the deleted JobManager pod had started may register with the new one too.
    assert len(out["taskmanagers"]) >= 1, out
    # The deleted pod may still be terminating (its grace period) when the run ends: the one JobManager left, soon.
    deadline = time.monotonic() + 90
    while True:
        pods = [p["metadata"]["name"] for p in k8s.json(
            "get", "pods", "-n", namespace, "-l", "app=%s,component=jobmanager" % name)["items"]]
        if deleted["pod"] not in pods or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert deleted["pod"] not in pods and len(pods) == 1, (deleted, pods)
    out = run(collections_path, args).task("session")
    assert not out["changed"], out

    # Sizes Flink's own memory model refuses (checked with the client's BashJavaUtils before the recreate): the
    # run fails naming the option and quoting Flink, and the running cluster is untouched (same pods).
    pods = sorted(p["metadata"]["uid"] for p in k8s.json("get", "pods", "-n", namespace, "-l", "app=%s" % name)["items"])
    for overrides, option, words in (
            ({"taskmanager": {"replicas": 1, "memory": "600m"}}, "taskmanager.memory", "Sum of configured"),
            ({"taskmanager": {"replicas": 1}, "flink_config": {"taskmanager.memory.jvm-overhead.fraction": "lots"}},
             "flink_config.taskmanager.memory.jvm-overhead.fraction", "Could not parse value 'lots'")):
        res = run(collections_path, session_args(k8s, namespace, name, rest_exposure="NodePort", **overrides),
                  expect_ok=False)
        msg = res.task("session")["msg"]
        assert res.status("session") == "failed" and msg.startswith(option + ": Flink refuses") and words in msg, msg
        assert sorted(p["metadata"]["uid"] for p in k8s.json(
            "get", "pods", "-n", namespace, "-l", "app=%s" % name)["items"]) == pods

    # A change Flink accepts but whose JobManager never starts (its JVM cannot load an agent): the recreate's wait
    # meets CrashLoopBackOff, the module deletes the failed cluster and creates the last stable one's objects again
    # (Deployment with its spec annotations, Services, Flink's ConfigMaps; the config Secret the change added is
    # gone again), waits for its JobManager and the 1 TaskManager it keeps (not the 2 asked) and fails with
    # rolled_back=true. The spec before then changes nothing.
    def config_of(kind, obj):
        return k8s.json("get", kind, obj, "-n", namespace).get("data")
    flink_conf, rest_port = config_of("configmap", "flink-config-%s" % name), out["rest_url"]
    broken = session_args(k8s, namespace, name, rest_exposure="NodePort", taskmanager={"replicas": 2},
                          jobmanager={"java_opts": "-javaagent:/opt/flinkops-no-such-agent.jar"},
                          flink_config_secrets={"flinkops.test.never": "kept-nowhere"})
    res = run(collections_path, broken, expect_ok=False)
    failed = res.task("session")
    assert res.status("session") == "failed" and failed.get("rolled_back") is True, failed
    assert "CrashLoopBackOff" in failed["failure"] and "flinkops-no-such-agent.jar" in failed["failure"], failed
    assert "deployment %s" % name in failed["restored"] and "service %s-rest" % name in failed["restored"] and \
        "configmap flink-config-%s" % name in failed["restored"], failed["restored"]
    assert "rolled back to the last stable spec" in failed["msg"], failed["msg"]
    assert config_of("configmap", "flink-config-%s" % name) == flink_conf
    assert k8s.kubectl("get", "secret", "%s-config-secrets" % name, "-n", namespace, check=False).returncode != 0
    jm = k8s.json("get", "deployment", name, "-n", namespace)
    assert "no-such-agent" not in json.dumps(jm["spec"]) and jm["status"].get("readyReplicas") == 1, jm["status"]
    out = run(collections_path, args).task("session")
    assert not out["changed"] and len(out["taskmanagers"]) == 1 and out["rest_url"] == rest_port, out
    out = run(collections_path, {"name": name, "platform": "kubernetes", "namespace": namespace,
                                 "kubeconfig": k8s.kubeconfig, "state": "absent"}).task("session")
    assert out["changed"]
    assert not any(app_objects(k8s, namespace, name).values())


BAD = {
    "invalid-id": ({"name": "Bad_Id"}, "name", "not a valid cluster name"),
    "missing-namespace": ({"namespace": "no-such-ns-x1"}, "namespace", "does not exist"),
    "sa-without-rights": ({"service_account": "norights"}, "service_account", "may not get pods"),
    "ha-replicas-without-ha": ({"jobmanager": {"replicas": 2}}, "jobmanager.replicas", "high availability"),
    "unknown-exposure": ({"rest_exposure": "Ingress"}, "rest_exposure", "Ingress"),
    "docker-option": ({"rest_port": 8081}, "rest_port", "applies to platform compose and docker and swarm only"),
    "missing-sa": ({"service_account": "nobody"}, "service_account", "does not exist"),
    "unknown-context": ({"context": "no-such-context"}, "context", "is not in kubeconfig"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_native_session_bad_input(case, k8s, namespace, collections_path):
    make_service_account(k8s, namespace)
    make_service_account(k8s, namespace, "norights", with_role=False)
    overrides, option, words = BAD[case]
    overrides = dict(overrides)
    name = overrides.pop("name", None) or cluster_id("bad")
    args = session_args(k8s, overrides.pop("namespace", namespace), name, **overrides)
    before = k8s.json("get", "all", "-n", namespace)["items"]
    res = run(collections_path, args, expect_ok=False)
    out = res.task("session")
    assert res.status("session") == "failed", out
    assert words in out["msg"] and option in out["msg"], out["msg"]
    if case == "sa-without-rights":
        # The message names every missing permission.
        for verb in ("list pods", "watch pods", "create pods", "delete pods", "get deployments.apps"):
            assert verb in out["msg"], out["msg"]
    assert k8s.json("get", "all", "-n", namespace)["items"] == before
    assert k8s.json("get", "configmaps", "-n", namespace, "-l", "app=%s" % name)["items"] == []


def test_native_session_pod_features_and_live_log_level(k8s, namespace, collections_path):
    """Plugins, secrets as files and as environment variables, an inline pod template, node selector,
    tolerations, labels, annotations and JVM options show in the running JobManager and TaskManager pods; a new log
    level reaches the running cluster without a restart."""
    make_service_account(k8s, namespace)
    k8s.kubectl("create", "secret", "generic", "creds", "--from-literal=user=alice",
                "--from-literal=token=s3cr3t", "-n", namespace)
    name = cluster_id("feat")
    # flink_config_secrets: in a Secret of the cluster's only (a key Flink does not mask, one it masks).
    hidden, hidden_s3 = "cfg-%s" % secrets.token_hex(6), "cfg-s3-%s" % secrets.token_hex(6)
    # A custom entrypoint of the user's (here from a ConfigMap the template mounts) that hands over to the image's.
    k8s.kubectl("create", "configmap", "custom-entrypoint", "-n", namespace, "--from-literal=entrypoint.sh="
                '#!/bin/bash\necho "$@" > /tmp/custom-entrypoint-args\nexec /docker-entrypoint.sh "$@"\n')
    template = {"metadata": {"labels": {"from-template": "yes"}},
                "spec": {"containers": [{"name": "flink-main-container",
                                         "env": [{"name": "FROM_TEMPLATE", "value": "hello"}],
                                         "volumeMounts": [{"name": "custom", "mountPath": "/opt/custom"}]}],
                         "volumes": [{"name": "custom", "configMap": {"name": "custom-entrypoint",
                                                                      "defaultMode": 0o755}}]}}
    args = session_args(
        k8s, namespace, name, taskmanager={"replicas": 1}, plugins=["flink-s3-fs-hadoop"],
        secrets=[{"name": "creds", "mount_path": "/opt/creds"}],
        env_secrets=[{"env": "CREDS_TOKEN", "secret": "creds", "key": "token"}],
        env={"PLAIN_ENV": "plain"}, pod_template=template, labels={"team": "data"},
        annotations={"example.org/owner": "data-team"}, node_selector={"kubernetes.io/hostname": k8s.node_name},
        tolerations=[{"key": "example.org/dedicated", "operator": "Equal", "value": "flink", "effect": "NoSchedule"}],
        log_level="INFO", java_opts="-Dflinkops.all=yes", jobmanager={"java_opts": "-Dflinkops.role=jm"},
        jemalloc=False, entrypoint=["/opt/custom/entrypoint.sh"],
        flink_config_secrets={"flinkops.test.credential": hidden, "s3.secret-key": hidden_s3})
    out = run(collections_path, args).task("session")
    assert out["changed"] and len(out["taskmanagers"]) == 1, out
    pods = k8s.json("get", "pods", "-n", namespace, "-l", "app=%s" % name)["items"]
    assert sorted(p["metadata"]["labels"]["component"] for p in pods) == ["jobmanager", "taskmanager"]
    version = FLINK_DEFAULT
    for pod in pods:
        pname = pod["metadata"]["name"]
        meta, spec = pod["metadata"], pod["spec"]
        assert meta["labels"]["team"] == "data" and meta["labels"]["from-template"] == "yes", meta["labels"]
        assert meta["annotations"]["example.org/owner"] == "data-team"
        assert spec["nodeSelector"] == {"kubernetes.io/hostname": k8s.node_name}
        assert {"key": "example.org/dedicated", "operator": "Equal", "value": "flink", "effect": "NoSchedule"} \
            in spec["tolerations"]
        env = k8s.exec(namespace, pname, "sh", "-c", "echo $FROM_TEMPLATE/$CREDS_TOKEN/$PLAIN_ENV").stdout.strip()
        assert env == "hello/s3cr3t/plain", (pname, env)
        assert k8s.exec(namespace, pname, "cat", "/opt/creds/user").stdout == "alice"
        plugin = "/opt/flink/plugins/flink-s3-fs-hadoop-%s/flink-s3-fs-hadoop-%s.jar" % (version, version)
        assert k8s.exec(namespace, pname, "test", "-f", plugin).returncode == 0, (pname, plugin)
        # java_opts in the running JVM, next to the image's Java 17 options (added to, not replaced).
        processes = "for p in /proc/[0-9]*; do printf '%s ' ${p#/proc/}; tr '\\0' ' ' < $p/cmdline; echo; done"
        listing = k8s.exec(namespace, pname, "sh", "-c", processes).stdout.splitlines()
        jvms = [line for line in listing if "org.apache.flink." in line and "java" in line and "/proc/" not in line]
        assert len(jvms) == 1, (pname, listing)
        pid, jvm = jvms[0].split()[0], jvms[0].split()[1:]
        assert "-Dflinkops.all=yes" in jvm and "--add-opens=java.base/java.util=ALL-UNNAMED" in jvm, (pname, jvm)
        assert ("-Dflinkops.role=jm" in jvm) == (meta["labels"]["component"] == "jobmanager"), (pname, jvm)
        # jemalloc=false: the official entrypoint did not preload it (it does by default).
        maps = k8s.exec(namespace, pname, "cat", "/proc/%s/maps" % pid).stdout
        assert "libjvm.so" in maps and "libjemalloc" not in maps, (pname, pid)
        # entrypoint: Flink's kubernetes.entry.path, given Flink's start command, handing over to the image's.
        main = [c for c in spec["containers"] if c["name"] == "flink-main-container"][0]
        # With flink_config_secrets, the config Secret's start script runs first and hands over to it.
        assert main["command"] == ["/etc/flinkops/config-secrets/entrypoint.sh"], main.get("command")
        script = "kubernetes-%s.sh" % meta["labels"]["component"]
        assert script in k8s.exec(namespace, pname, "cat", "/tmp/custom-entrypoint-args").stdout, pname
        # The JVM reads the configuration the start script built: Flink's ConfigMap with the secrets appended.
        environ = k8s.exec(namespace, pname, "sh", "-c", "tr '\\0' '\\n' < /proc/%s/environ" % pid).stdout
        conf_dir = [line.split("=", 1)[1] for line in environ.splitlines() if line.startswith("FLINK_CONF_DIR=")]
        assert conf_dir and conf_dir[0].startswith("/tmp/flinkops-conf."), (pname, conf_dir)
        conf = k8s.exec(namespace, pname, "cat", conf_dir[0] + "/config.yaml").stdout
        assert "flinkops.test.credential: %s" % hidden in conf and "s3.secret-key: %s" % hidden_s3 in conf, pname
    # Flink runs with the secret settings (its REST API masks the key it considers sensitive)...
    config = dict((e["key"], e["value"]) for e in json.loads(k8s.exec(
        namespace, [p["metadata"]["name"] for p in pods if p["metadata"]["labels"]["component"] == "jobmanager"][0],
        "wget", "-qO-", "http://localhost:8081/jobmanager/config").stdout))
    assert config["flinkops.test.credential"] == hidden and config["s3.secret-key"] == "******", config
    # ...which no ConfigMap, Deployment, pod, service or annotation of the cluster shows, nor the module's output.
    objects = k8s.kubectl("get", "configmaps,deployments,replicasets,pods,services", "-n", namespace, "-o", "json").stdout
    assert "flink-config-%s" % name in objects
    for value in (hidden, hidden_s3, "s3cr3t"):
        assert value not in objects and value not in json.dumps(out), value
    secret = k8s.json("get", "secret", "%s-config-secrets" % name, "-n", namespace)
    assert secret["metadata"]["labels"]["app"] == name

    out = run(collections_path, args).task("session")
    assert not out["changed"], out

    # A new log level: an update of the running cluster, no new pods, DEBUG lines in the JobManager's log.
    uids = sorted(p["metadata"]["uid"] for p in pods)
    jm = [p["metadata"]["name"] for p in pods if p["metadata"]["labels"]["component"] == "jobmanager"][0]
    debug = dict(args, log_level="DEBUG")
    out = run(collections_path, debug, diff=True).task("session")
    assert out["changed"] and [a["action"] for a in out["actions"]] == ["update"], out
    assert out["diff"]["before"]["log_level"] == "INFO" and out["diff"]["after"]["log_level"] == "DEBUG"
    assert sorted(p["metadata"]["uid"] for p in
                  k8s.json("get", "pods", "-n", namespace, "-l", "app=%s" % name)["items"]) == uids
    since = time.monotonic()
    deadline = since + 240
    while " DEBUG " not in k8s.kubectl("logs", "-n", namespace, jm, "--since=60s").stdout:
        assert time.monotonic() < deadline, "no DEBUG line in %s within 240 s" % jm
        time.sleep(5)
    print("DEBUG lines after %.0fs" % (time.monotonic() - since))
    out = run(collections_path, debug).task("session")
    assert not out["changed"], out
    # Removal takes the config Secret with the cluster.
    run(collections_path, dict(args, state="absent"))
    assert k8s.kubectl("get", "secret", "%s-config-secrets" % name, "-n", namespace, check=False).returncode != 0


def test_native_session_ha_standby_takes_over(k8s, namespace, collections_path, tmp_path):
    """Two JobManagers with Kubernetes high availability (storage on a hostPath of the one node): deleting the
    leader's pod, the standby takes over and the job runs on with the same id."""
    make_service_account(k8s, namespace)
    ha_dir = tmp_path / "ha"
    ha_dir.mkdir()
    ha_dir.chmod(0o777)
    os.chmod(str(tmp_path), 0o755)
    name = cluster_id("ha")
    template = {"spec": {"containers": [{"name": "flink-main-container",
                                         "volumeMounts": [{"name": "ha", "mountPath": "/ha"}]}],
                         "volumes": [{"name": "ha", "hostPath": {"path": str(ha_dir), "type": "Directory"}}]}}
    args = session_args(k8s, namespace, name, jobmanager={"replicas": 2}, pod_template=template,
                        high_availability={"enabled": True, "storage_dir": "file:///ha"})
    out = run(collections_path, args).task("session")
    assert out["changed"], out
    jms = k8s.json("get", "pods", "-n", namespace, "-l", "app=%s,component=jobmanager" % name)["items"]
    assert len(jms) == 2, [p["metadata"]["name"] for p in jms]
    assert not run(collections_path, args).task("session")["changed"]

    # The leader is the pod whose address the leader ConfigMap holds.
    deadline = time.monotonic() + 120
    while True:
        found = k8s.kubectl("get", "configmap", "%s-cluster-config-map" % name, "-n", namespace, "-o", "json",
                            check=False)
        data = json.dumps(json.loads(found.stdout).get("data") or {}) if found.returncode == 0 else ""
        leader = [p for p in jms if p["status"]["podIP"] and p["status"]["podIP"] in data]
        if len(leader) == 1:
            break
        assert time.monotonic() < deadline, (data, [p["status"]["podIP"] for p in jms])
        time.sleep(2)
    leader_name = leader[0]["metadata"]["name"]

    # A jar uploaded over REST stays on the JobManager that received it, and the Service balances between
    # both: upload and run through the API server's proxy to the leader's pod (`flink run` would send the
    # job in one request instead).
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import K8sClient
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.proxy_rest import K8sProxyRest
    api = K8sClient({"kubeconfig": k8s.kubeconfig})
    to_leader = K8sProxyRest(api, namespace, name + "-rest", timeout=60)
    to_leader.path_prefix = "/api/v1/namespaces/%s/pods/%s:8081/proxy" % (namespace, leader_name)
    to_leader.base_url = api.host + to_leader.path_prefix
    jar_id = to_leader.upload_jar(os.path.join(CACHE, "jobs", FLINK_DEFAULT, "flinkops-examples.jar"))
    job_id = to_leader.run_jar(jar_id, {"entryClass": "org.flinkops.examples.StatefulCounter",
                                        "programArgs": "--rate 5 --keys 2 --checkpoint-interval-ms 2000"},
                               timeout=120)
    proxy = K8sProxyRest(api, namespace, name + "-rest", timeout=60)

    def wait_running(what, timeout=300):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                # Only this job, RUNNING, and under the same id (through whichever JobManager the Service picks:
                # the replacement pod answers errors until it has found the leader).
                last = [(j["jid"], j["state"]) for j in proxy.jobs()]
                if last == [(job_id, "RUNNING")]:
                    return
            except Exception as exc:  # the REST Service has no leader endpoint during the fail-over
                last = str(exc)[:200]
            time.sleep(3)
        pytest.fail("job %s not RUNNING %s: %s" % (job_id, what, last))
    wait_running("after submission")

    t0 = time.monotonic()
    old_ip = leader[0]["status"]["podIP"]
    k8s.kubectl("delete", "pod", leader_name, "-n", namespace, "--wait=true", "--timeout=120s", timeout=150)
    # Another JobManager took over: the leader ConfigMap now holds the address of a live JobManager pod, not the
    # deleted pod's. (Usually the standby; the Deployment's replacement pod may win the election instead.)
    deadline = time.monotonic() + 420
    while True:
        data = json.dumps(k8s.json("get", "configmap", "%s-cluster-config-map" % name, "-n", namespace).get("data"))
        pods = k8s.json("get", "pods", "-n", namespace, "-l", "app=%s,component=jobmanager" % name)["items"]
        live = [p["status"].get("podIP") for p in pods
                if p["metadata"]["name"] != leader_name and p["status"].get("podIP")]
        if old_ip not in data and any(ip in data for ip in live):
            break
        assert time.monotonic() < deadline, "no new leader among %s: %s" % (live, data[:2000])
        time.sleep(2)
    wait_running("after deleting the leader %s" % leader_name, timeout=420)
    print("leader pod deleted, standby leading and the job RUNNING after %.0fs" % (time.monotonic() - t0))

    out = run(collections_path, {"name": name, "platform": "kubernetes", "namespace": namespace,
                                 "kubeconfig": k8s.kubeconfig, "state": "absent"}).task("session")
    assert out["changed"]
    assert not any(app_objects(k8s, namespace, name).values()), app_objects(k8s, namespace, name)


def test_session_kubernetes_playbook(k8s, namespace, collections_path):
    """The shipped playbooks/session_kubernetes.yml as it is: deploy, unchanged second run, removal."""
    from tests.lib.ansible import REPO
    # The service account and its least-privilege Role from the collection's own role.
    role = run_playbook(collections_path, tasks=[{"name": "rbac", "ansible.builtin.include_role": {
        "name": "flinkops.flink.k8s_namespace"}, "vars": {
        "k8s_namespace_name": namespace, "k8s_namespace_create": False, "k8s_namespace_service_account": "flink",
        "k8s_namespace_kubeconfig": k8s.kubeconfig}}])
    assert role.rc == 0, role
    name = cluster_id("pb")
    extra = {"flink_name": name, "flink_namespace": namespace, "flink_kubeconfig": k8s.kubeconfig,
             "flink_home": os.path.join(CACHE, "flink", FLINK_DEFAULT), "flink_image": flink_image(FLINK_DEFAULT),
             "flink_image_pull": "never"}
    path = os.path.join(REPO, "playbooks", "session_kubernetes.yml")
    first = run_playbook(collections_path, playbook_path=path, extra_vars=extra)
    assert first.rc == 0, first
    assert first.task("Session cluster")["changed"]
    assert "/services/%s-rest:rest/proxy" % name in first.task("Session cluster")["rest_url"]
    second = run_playbook(collections_path, playbook_path=path, extra_vars=extra)
    assert second.rc == 0 and not second.task("Session cluster")["changed"], second
    gone = run_playbook(collections_path, playbook_path=path, extra_vars=dict(extra, flink_state="absent"))
    assert gone.rc == 0 and gone.task("Session cluster")["changed"], gone
    assert not any(app_objects(k8s, namespace, name).values())
