"""Fixtures for the Kubernetes platform: the real single-node cluster of testbed/kubernetes/.

The package-scoped fixture ``k8s`` makes sure our Flink images exist (testbed/docker/images.sh), starts the
cluster with ``testbed/kubernetes/cluster.sh up`` (which also copies the images into the cluster's
containerd) and stops it again after the last test of this directory if it was not running before (FLINKOPS_K8S_KEEP=1 keeps
it). Tests talk to it with kubectl, the Flink client and the kubernetes Python SDK: no mocks.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time

import pytest

from tests.conftest import CACHE, FLINK_DEFAULT, FLINK_VERSIONS, REPO, flink_image
from tests.lib.ansible import run_playbook
from tests.lib import k8s_users

CLUSTER_SH = os.path.join(REPO, "testbed", "kubernetes", "cluster.sh")


def _sh(*cmd, timeout=None):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=False)


def _cluster_settings():
    """K8S_* settings as cluster.sh sees them (env.sh after lib.sh)."""
    script = ('source "%s/testbed/lib.sh"; source "%s/testbed/kubernetes/env.sh"; '
              'for v in K8S_VERSION K8S_BIN_DIR K8S_KUBECONFIG K8S_STATE K8S_NODE_IP K8S_API_PORT '
              'K8S_NODE_NAME K8S_KUBERNETES_SVC_IP K8S_DNS_IP K8S_NETTOOL_IMAGE; do echo "$v=${!v}"; done') % (REPO, REPO)
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


class K8s:
    """The running cluster, as the tests see it."""

    def __init__(self, settings):
        self.version = settings["K8S_VERSION"]
        self.bin_dir = settings["K8S_BIN_DIR"]
        self.kubeconfig = settings["K8S_KUBECONFIG"]
        self.ca_file = os.path.join(settings["K8S_STATE"], "pki", "ca.crt")
        self.node_ip = settings["K8S_NODE_IP"]
        self.node_name = settings["K8S_NODE_NAME"]
        self.server = "https://%s:%s" % (settings["K8S_NODE_IP"], settings["K8S_API_PORT"])
        self.kubernetes_service_ip = settings["K8S_KUBERNETES_SVC_IP"]
        self.dns_ip = settings["K8S_DNS_IP"]
        self.kubectl_bin = os.path.join(self.bin_dir, "kubectl")
        self.env = dict(os.environ, KUBECONFIG=self.kubeconfig,
                        PATH=self.bin_dir + os.pathsep + os.environ.get("PATH", ""))

    def kubectl(self, *args, check=True, input=None, timeout=120, kubeconfig=None):
        cmd = [self.kubectl_bin, "--kubeconfig", kubeconfig or self.kubeconfig] + list(args)
        proc = subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def json(self, *args):
        return json.loads(self.kubectl(*(list(args) + ["-o", "json"])).stdout)

    def apply(self, manifest, namespace=None):
        args = ["apply", "-f", "-"] + (["-n", namespace] if namespace else [])
        return self.kubectl(*args, input=manifest)

    def wait(self, what, condition, namespace, timeout=120):
        self.kubectl("wait", what, "--for=" + condition, "-n", namespace, "--timeout=%ds" % timeout,
                     timeout=timeout + 30)

    def exec(self, namespace, pod, *cmd, check=False, timeout=60):
        return self.kubectl("exec", "-n", namespace, pod, "--", *cmd, check=check, timeout=timeout)

    def apiserver2(self, action):
        """Start or stop the cluster's second API server (testbed/kubernetes/cluster.sh apiserver2): a real
        kube-apiserver on the same etcd that only the test restarting it talks to."""
        proc = _sh("bash", CLUSTER_SH, "apiserver2", action, timeout=180)
        if proc.returncode != 0:
            raise AssertionError("cluster.sh apiserver2 %s failed:\n%s" % (action, proc.stderr[-3000:]))
        return proc.stdout.strip()

    def sdk(self):
        """A CoreV1Api of the kubernetes Python SDK, configured with the cluster's kubeconfig."""
        kubernetes = pytest.importorskip("kubernetes")
        client = kubernetes.config.new_client_from_config(config_file=self.kubeconfig)
        return kubernetes.client.CoreV1Api(client), kubernetes.client.AppsV1Api(client)


def _ensure_flink_images():
    """Docker engine and our Flink images: the images go from Docker into the cluster's containerd."""
    for script, args in (("engine.sh", ["up"]), ("images.sh", [])):
        path = os.path.join(REPO, "testbed", "docker", script)
        if not os.path.exists(path):
            pytest.fail("%s is missing: the Kubernetes tests need the Flink images it provides" % path)
        proc = _sh("bash", path, *args)
        if proc.returncode != 0:
            pytest.fail("%s %s failed:\n%s" % (path, " ".join(args), proc.stderr[-4000:]))


@pytest.fixture(scope="package")
def k8s():
    """The test bed, up; stopped after the last of its users (tests/lib/k8s_users.py) when the tests started it."""
    was_up = _sh("bash", CLUSTER_SH, "status", timeout=60).returncode == 0
    token = k8s_users.register(was_up)
    try:
        _ensure_flink_images()
        t0 = time.monotonic()
        proc = _sh("bash", CLUSTER_SH, "up")
        if proc.returncode != 0:
            pytest.fail("cluster.sh up failed:\n%s" % proc.stderr[-6000:])
        print("cluster.sh up took %.1fs:\n%s" % (time.monotonic() - t0, proc.stderr))
        yield K8s(_cluster_settings())
    finally:
        k8s_users.release(token, lambda: _sh("bash", CLUSTER_SH, "down", timeout=300))


@pytest.fixture(scope="package")
def kubeconfig(k8s):
    """Path of the cluster's admin kubeconfig."""
    return k8s.kubeconfig


def _new_namespace(k8s, prefix):
    name = "%s-%s" % (prefix, secrets.token_hex(3))
    k8s.kubectl("create", "namespace", name)
    # Pods are refused until the ServiceAccount controller has made `default` in the namespace.
    deadline = time.monotonic() + 60
    while k8s.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode != 0:
        assert time.monotonic() < deadline, "no default ServiceAccount in namespace %s" % name
        time.sleep(0.5)
    return name


@pytest.fixture
def namespace(k8s, request):
    """A fresh namespace, deleted (without waiting) after the test."""
    prefix = "t-" + request.node.name.split("[")[0].replace("test_", "")[:20].replace("_", "-").rstrip("-")
    name = _new_namespace(k8s, prefix)
    yield name
    k8s.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def new_namespace(k8s):
    """Factory for further namespaces in one test."""
    made = []

    def make(prefix="t-extra"):
        made.append(_new_namespace(k8s, prefix))
        return made[-1]

    yield make
    for name in made:
        k8s.kubectl("delete", "namespace", name, "--wait=false", check=False)


# Image of testbed/kubernetes/src/nettool (tagged by its source's hash).
NETTOOL_IMAGE = _cluster_settings()["K8S_NETTOOL_IMAGE"]


def pod_manifest(name, image, args, service_account=None, labels=None):
    spec = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 1,
        "containers": [{
            "name": "main", "image": image, "imagePullPolicy": "Never", "args": list(args),
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
        }],
    }
    if service_account:
        spec["serviceAccountName"] = service_account
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "labels": labels or {"app": name}}, "spec": spec})


@pytest.fixture(scope="session")
def flink_dist():
    """Host-side Flink client distributions and the example jars (built by the other test-bed scripts)."""
    dists = {v: os.path.join(CACHE, "flink", v) for v in FLINK_VERSIONS}
    missing = [v for v, d in dists.items() if not os.path.exists(os.path.join(d, "bin", "kubernetes-session.sh"))]
    if missing:
        proc = _sh("bash", os.path.join(REPO, "testbed", "docker", "images.sh"), "--dist-only", *missing)
        assert proc.returncode == 0, proc.stderr[-4000:]
    jars = os.path.join(REPO, "testbed", "jobs", "build.sh")
    if not all(os.path.exists(os.path.join(CACHE, "jobs", v, "flinkops-examples.jar")) for v in FLINK_VERSIONS):
        if not os.path.exists(jars):
            pytest.fail("%s is missing: the native-session test needs the example jars" % jars)
        proc = _sh("bash", jars)
        assert proc.returncode == 0, proc.stderr[-4000:]
    return dists


__all__ = ["FLINK_DEFAULT", "FLINK_VERSIONS", "NETTOOL_IMAGE", "flink_image", "pod_manifest"]


# The Flink Kubernetes Operator ---------------------------------------------------------------------
OPERATOR_NS = "flinkops-operator-test"
OPERATOR_IMAGE = "flinkops/flink-kubernetes-operator:1.15.0"
# The fixture's operator watches every namespace but only FlinkDeployments with this label, so that the playbook
# test's own operator (watching its namespace) is the only one reconciling that test's resources.
SHARED_LABEL = {"flinkops.test/operator": "shared"}


def operator_sh(*args):
    proc = subprocess.run(["bash", "%s/testbed/kubernetes/operator.sh" % REPO] + list(args), capture_output=True,
                          text=True, timeout=1800, check=False)
    if proc.returncode != 0:
        pytest.fail("operator.sh %s failed:\n%s" % (" ".join(args), proc.stderr[-4000:]))
    return proc.stdout.strip()


def role(collections_path, k8s, **variables):
    variables = dict({"operator_namespace": OPERATOR_NS, "operator_kubeconfig": k8s.kubeconfig,
                      "operator_image": OPERATOR_IMAGE, "operator_image_pull_policy": "Never",
                      "operator_config": {"kubernetes.operator.reconcile.interval": "15 s",
                                          "kubernetes.operator.label.selector": "flinkops.test/operator=shared",
                                          # session jobs fetch their jars over http from a pod of the cluster
                                          "kubernetes.operator.user.artifacts.allowed-schemes": ["https", "http"],
                                          "kubernetes.operator.user.artifacts.disallow-restricted-hosts": False}},
                     **variables)
    return run_playbook(collections_path, tasks=[{"name": "operator", "ansible.builtin.include_role": {
        "name": "flinkops.flink.operator"}, "vars": variables}])


@pytest.fixture(scope="package")
def operator(k8s, collections_path):
    """The operator, watching every namespace, installed by the role (its chart from the test bed's build); one for
    every operator test (test_operator*.py), removed by the role at the end."""
    chart = operator_sh("chart").splitlines()[-1]
    operator_sh("load")
    t0 = time.monotonic()
    result = role(collections_path, k8s, operator_chart_path=chart)
    assert result.rc == 0, result.stdout[-4000:]
    print("operator installed in %.0fs" % (time.monotonic() - t0))
    yield chart
    result = role(collections_path, k8s, operator_state="absent", operator_delete_deployments=True)
    assert result.rc == 0, result.stdout[-4000:]


@pytest.fixture
def host_dirs(tmp_path):
    """Directories of the one node (this machine) for hostPath volumes: savepoints, job output, jars."""
    made = {}
    for name in ("savepoints", "out", "jars"):
        path = tmp_path / name
        path.mkdir()
        path.chmod(0o777)  # Flink runs as uid 9999 in the pods
        made[name] = str(path)
    os.chmod(str(tmp_path), 0o755)
    yield made
    shutil.rmtree(str(tmp_path), ignore_errors=True)
