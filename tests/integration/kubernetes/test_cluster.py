"""The single-node test cluster itself: node, images, Service DNS, in-cluster API access, RBAC."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.integration.kubernetes.conftest import (
    FLINK_DEFAULT, FLINK_VERSIONS, NETTOOL_IMAGE, flink_image, pod_manifest)

pytestmark = pytest.mark.kubernetes


def test_node_ready_with_stamped_versions(k8s):
    out = k8s.kubectl("get", "nodes").stdout
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["NAME", "STATUS"]
    assert lines[1].split()[:2] == [k8s.node_name, "Ready"], out

    core = k8s.sdk()[0]
    node = core.read_node(k8s.node_name)
    conditions = {c.type: c.status for c in node.status.conditions}
    assert conditions["Ready"] == "True"
    assert conditions["MemoryPressure"] == "False" and conditions["DiskPressure"] == "False"
    assert node.status.node_info.kubelet_version == "v" + k8s.version
    assert node.status.node_info.container_runtime_version.startswith("containerd://1.6")
    addresses = {a.type: a.address for a in node.status.addresses}
    assert addresses["InternalIP"] == k8s.node_ip

    server = json.loads(k8s.kubectl("version", "-o", "json").stdout)["serverVersion"]
    assert server["gitVersion"] == "v" + k8s.version


def test_control_plane_healthy_and_dns_running(k8s):
    ready = k8s.kubectl("get", "--raw", "/readyz?verbose").stdout
    assert "readyz check passed" in ready
    # The in-cluster `kubernetes` Service points at the API server's address on the node.
    svc = k8s.json("get", "service", "kubernetes", "-n", "default")
    assert svc["spec"]["clusterIP"] == k8s.kubernetes_service_ip
    eps = k8s.json("get", "endpoints", "kubernetes", "-n", "default")
    assert eps["subsets"][0]["addresses"][0]["ip"] == k8s.node_ip
    dns = k8s.json("get", "service", "kube-dns", "-n", "kube-system")
    assert dns["spec"]["clusterIP"] == k8s.dns_ip
    dep = k8s.json("get", "deployment", "coredns", "-n", "kube-system")
    assert dep["status"].get("readyReplicas") == 1


@pytest.mark.parametrize("version", FLINK_VERSIONS, ids=lambda v: "flink-%s" % v)
def test_pod_with_our_flink_image_runs(k8s, namespace, version):
    image = flink_image(version)
    # Through the image's entrypoint, which passes other commands through (as the official one does).
    k8s.apply(pod_manifest("flink", image, ["sleep", "600"]), namespace)
    k8s.wait("pod/flink", "jsonpath={.status.phase}=Running", namespace, timeout=120)
    pod = k8s.json("get", "pod", "flink", "-n", namespace)
    assert pod["status"]["containerStatuses"][0]["image"].endswith(image)
    assert pod["status"]["podIP"].startswith(k8s.node_ip.rsplit(".", 2)[0] + ".")
    out = k8s.exec(namespace, "flink", "bash", "-c", "ls /opt/flink/lib; java -version 2>&1", check=True).stdout
    assert "flink-dist-%s.jar" % version in out or "flink-dist_2.12-%s.jar" % version in out, out
    assert 'version "17' in out


ECHO = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: 1
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: echo
          image: %(image)s
          imagePullPolicy: Never
          args: [serve, "8080"]
          ports: [{containerPort: 8080}]
          readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
          resources: {requests: {cpu: 10m, memory: 16Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
"""


def test_service_dns_name_resolves_and_connects_from_pods(k8s, namespace, new_namespace):
    k8s.apply(ECHO % {"image": NETTOOL_IMAGE}, namespace)
    # Clients live in another namespace, so they must use `<service>.<namespace>`.
    client_ns = new_namespace("t-client")
    k8s.apply(pod_manifest("nettool", NETTOOL_IMAGE, ["sleep"]), client_ns)
    k8s.apply(pod_manifest("flink", flink_image(FLINK_DEFAULT), ["sleep", "600"]), client_ns)
    k8s.kubectl("rollout", "status", "deployment/echo", "-n", namespace, "--timeout=120s", timeout=150)
    k8s.wait("pod/nettool", "condition=Ready", client_ns)
    k8s.wait("pod/flink", "condition=Ready", client_ns)
    svc_ip = k8s.json("get", "service", "echo", "-n", namespace)["spec"]["clusterIP"]
    name = "echo.%s" % namespace

    # Go's resolver in a static binary ...
    res = k8s.exec(client_ns, "nettool", "/nettool", "dns", name)
    assert res.returncode == 0 and res.stdout.split() == [svc_ip], res.stdout + res.stderr
    # kube-proxy programs a new Service's endpoints within a second or so of the pod being Ready;
    # until then the Service IP answers "connection refused".
    deadline = time.monotonic() + 30
    while True:
        res = k8s.exec(client_ns, "nettool", "/nettool", "get", "http://%s/" % name)
        if res.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "flinkops-echo echo-" in res.stdout
    # ... and glibc's in our Flink image (search path + ndots from the pod's resolv.conf).
    script = ("getent hosts %s && exec 3<>/dev/tcp/%s/80 && "
              "printf 'GET / HTTP/1.0\\r\\nHost: echo\\r\\n\\r\\n' >&3 && cat <&3") % (name, name)
    res = k8s.exec(client_ns, "flink", "bash", "-c", script)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.split()[0] == svc_ip
    assert "200 OK" in res.stdout and "flinkops-echo echo-" in res.stdout
    # The full name works too, and names that do not exist do not resolve.
    res = k8s.exec(client_ns, "nettool", "/nettool", "dns", "echo.%s.svc.cluster.local" % namespace)
    assert res.stdout.split() == [svc_ip]
    res = k8s.exec(client_ns, "nettool", "/nettool", "dns", "missing.%s" % namespace)
    assert res.returncode != 0
    # No upstream resolver: names outside the cluster are not answered (nothing leaves the machine).
    res = k8s.exec(client_ns, "nettool", "/nettool", "dns", "example.org")
    assert res.returncode != 0


READER = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: reader}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader-reads-pods}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: ServiceAccount, name: reader}]
"""


def test_pod_reaches_api_through_kubernetes_service_with_its_token(k8s, namespace):
    k8s.apply(READER, namespace)
    k8s.apply(pod_manifest("api-client", NETTOOL_IMAGE, ["sleep"], service_account="reader"), namespace)
    k8s.wait("pod/api-client", "condition=Ready", namespace)

    res = k8s.exec(namespace, "api-client", "/nettool", "dns", "kubernetes.default.svc")
    assert res.stdout.split() == [k8s.kubernetes_service_ip], res.stdout + res.stderr
    # nettool api: GET https://kubernetes.default.svc<path> with the mounted token and CA.
    res = k8s.exec(namespace, "api-client", "/nettool", "api", "/api/v1/namespaces/%s/pods" % namespace)
    assert res.returncode == 0, res.stdout + res.stderr
    status, body = res.stdout.split("\n", 1)
    assert status == "status 200"
    pods = json.loads(body)
    assert [p["metadata"]["name"] for p in pods["items"]] == ["api-client"]
    # The same token is not allowed what its Role does not grant.
    res = k8s.exec(namespace, "api-client", "/nettool", "api", "/api/v1/namespaces/kube-system/secrets")
    assert res.returncode != 0
    assert res.stdout.startswith("status 403")
    assert "system:serviceaccount:%s:reader" % namespace in res.stdout


def test_rbac_is_enforced_for_a_user_without_binding(k8s, namespace, tmp_path):
    k8s.kubectl("create", "serviceaccount", "nobody", "-n", namespace)
    token = k8s.kubectl("create", "token", "nobody", "-n", namespace, "--duration=10m").stdout.strip()
    config = tmp_path / "nobody.kubeconfig"
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "nobody",
        "clusters": [{"name": "c", "cluster": {"server": k8s.server, "certificate-authority": k8s.ca_file}}],
        "users": [{"name": "nobody", "user": {"token": token}}],
        "contexts": [{"name": "nobody", "context": {"cluster": "c", "user": "nobody", "namespace": namespace}}],
    }))
    who = "system:serviceaccount:%s:nobody" % namespace

    res = k8s.kubectl("get", "pods", check=False, kubeconfig=str(config))
    assert res.returncode != 0
    assert "forbidden" in res.stderr.lower(), res.stderr
    assert 'User "%s" cannot list resource "pods"' % who in res.stderr
    res = k8s.kubectl("auth", "can-i", "create", "deployments", "-n", namespace, "--as", who, check=False)
    assert res.stdout.strip() == "no"

    # The token itself is valid: with a binding the very same request is allowed.
    k8s.kubectl("create", "rolebinding", "nobody-view", "--clusterrole=view",
                "--serviceaccount=%s:nobody" % namespace, "-n", namespace)
    deadline = time.monotonic() + 30
    while True:
        res = k8s.kubectl("get", "pods", check=False, kubeconfig=str(config))
        if res.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert res.returncode == 0, res.stderr
    # ... and still only what the binding grants.
    res = k8s.kubectl("get", "secrets", check=False, kubeconfig=str(config))
    assert res.returncode != 0 and "forbidden" in res.stderr.lower()
    res = k8s.kubectl("get", "pods", "-n", "kube-system", check=False, kubeconfig=str(config))
    assert res.returncode != 0 and "forbidden" in res.stderr.lower()


def test_garbage_collector_follows_owner_references(k8s, namespace):
    k8s.kubectl("create", "configmap", "owner", "--from-literal=a=b", "-n", namespace)
    owner = k8s.json("get", "configmap", "owner", "-n", namespace)
    k8s.apply(json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "owned", "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}]},
        "data": {"c": "d"}}), namespace)
    k8s.kubectl("delete", "configmap", "owner", "-n", namespace)
    deadline = time.monotonic() + 60
    while k8s.kubectl("get", "configmap", "owned", "-n", namespace, check=False).returncode == 0:
        assert time.monotonic() < deadline, "the garbage collector did not delete the owned ConfigMap"
        time.sleep(0.5)


def test_cluster_sh_up_is_idempotent_and_status_reports(k8s):
    from tests.integration.kubernetes.conftest import CLUSTER_SH, _sh
    t0 = time.monotonic()
    res = _sh("bash", CLUSTER_SH, "up", timeout=120)
    took = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    assert "already up" in res.stderr
    assert took < 20, "a second up took %.1fs" % took
    res = _sh("bash", CLUSTER_SH, "status", timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    for component in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
                      "kube-proxy", "containerd"):
        assert any(line.split()[:2] == [component, "running"] for line in res.stdout.splitlines()), res.stdout
    env = _sh("bash", CLUSTER_SH, "env").stdout
    assert "export KUBECONFIG=%s" % k8s.kubeconfig in env
    assert os.path.exists(k8s.kubeconfig)


def test_cluster_traffic_is_confined_to_this_machine(k8s, namespace):
    """Checked on the configuration, without sending anything anywhere."""
    import subprocess

    # Pods may talk to each other over the bridge, nothing else is forwarded in or out of it.
    rules = subprocess.run(["iptables", "-S", "FLINKOPS-K8S-FWD"], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert rules[1:] == [
        "-A FLINKOPS-K8S-FWD -i flinkcni0 -o flinkcni0 -j ACCEPT",
        "-A FLINKOPS-K8S-FWD -i flinkcni0 -j REJECT --reject-with icmp-port-unreachable",
        "-A FLINKOPS-K8S-FWD -o flinkcni0 -j REJECT --reject-with icmp-port-unreachable",
    ], rules
    forward = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True, check=True).stdout
    assert "-A FORWARD -j FLINKOPS-K8S-FWD" in forward
    # Cluster addresses that no pod or Service holds are unreachable, not sent to the default gateway.
    free_ip = k8s.node_ip.rsplit(".", 2)[0] + ".250.250"
    route = subprocess.run(["ip", "route", "get", free_ip], capture_output=True, text=True, check=False)
    assert route.returncode != 0 or route.stdout.startswith("unreachable"), route.stdout + route.stderr
    # Cluster DNS has no upstream: no `forward` in the Corefile.
    corefile = k8s.json("get", "configmap", "coredns", "-n", "kube-system")["data"]["Corefile"]
    assert "kubernetes cluster.local" in corefile and "forward" not in corefile
    # And pods are pointed at the cluster DNS only.
    k8s.apply(pod_manifest("resolv", NETTOOL_IMAGE, ["sleep"]), namespace)
    k8s.wait("pod/resolv", "condition=Ready", namespace)
    resolv = k8s.exec(namespace, "resolv", "/nettool", "cat", "/etc/resolv.conf", check=True).stdout
    nameservers = [line.split()[1] for line in resolv.splitlines() if line.startswith("nameserver")]
    assert nameservers == [k8s.dns_ip], resolv
    assert "search %s.svc.cluster.local svc.cluster.local cluster.local" % namespace in resolv
