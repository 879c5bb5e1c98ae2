"""kubernetes/lite.py against the real API server: its reads equal the SDK's, its errors are the SDK's, with client
certificates (the admin kubeconfig) and with a service account's token; and it reads without importing the SDK."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import ApiException, K8sClient

pytestmark = pytest.mark.kubernetes

VOLATILE = ("resourceVersion", "managedFields")


def same(client, obj):
    """The object's JSON without what changes between two reads; times as the server writes them (the SDK parses
    them into datetimes and writes them back with +00:00 for Z)."""
    data = json.loads(re.sub(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)\+00:00"', r'"\1Z"',
                             json.dumps(client.sanitize_for_serialization(obj))))
    if isinstance(data, dict) and isinstance(data.get("metadata"), dict):
        for key in VOLATILE:
            data["metadata"].pop(key, None)
    return data


def error_of(call, *args, **kwargs):
    with pytest.raises(ApiException) as caught:
        call(*args, **kwargs)
    return caught.value.status, json.loads(caught.value.body)["message"]


def test_reads_equal_the_sdks_with_client_certificates(k8s, namespace):
    k8s.kubectl("create", "configmap", "one", "--from-literal=config.yaml=a: b", "-n", namespace)
    k8s.kubectl("label", "configmap", "one", "app=lite", "-n", namespace)
    k8s.kubectl("create", "service", "nodeport", "lite-rest", "--tcp=8081:8081", "-n", namespace)
    params = {"kubeconfig": k8s.kubeconfig}
    fast, sdk = K8sClient(params), K8sClient(params, use_lite=False)
    assert fast.lite is not None and sdk.lite is None and fast.host == sdk.host
    for api, method, args, kwargs in [
            ("core", "read_namespace", (namespace,), {}),
            ("core", "read_namespaced_service", ("lite-rest", namespace), {}),
            ("core", "read_namespaced_config_map", ("one", namespace), {}),
            ("core", "list_namespaced_config_map", (namespace,), {"label_selector": "app=lite"})]:
        got, want = [getattr(getattr(c, api), method)(*args, **kwargs) for c in (fast, sdk)]
        if hasattr(want, "items"):
            assert len(got.items) == len(want.items) == 1
            got, want = got.items[0], want.items[0]
        assert same(fast, got) == same(sdk, want), method
        assert got.metadata.name == want.metadata.name and got.metadata.uid == want.metadata.uid
    service = fast.core.read_namespaced_service("lite-rest", namespace)
    assert service.spec.type == "NodePort" and service.spec.cluster_ip
    assert service.spec.ports[0].node_port == sdk.core.read_namespaced_service("lite-rest", namespace).spec.ports[0].node_port
    nodes = [[n.metadata.name for n in c.core.list_node().items] for c in (fast, sdk)]
    assert nodes[0] == nodes[1] and nodes[0]
    # Error answers: the same status and the API server's own message either way.
    for api, method, args in [("apps", "read_namespaced_deployment", ("missing", namespace)),
                              ("core", "read_namespace", ("no-such-namespace-here",))]:
        assert error_of(getattr(getattr(fast, api), method), *args) == \
            error_of(getattr(getattr(sdk, api), method), *args)


def test_reads_with_a_service_account_token_and_its_refusals(k8s, namespace, tmp_path):
    k8s.kubectl("create", "serviceaccount", "reader", "-n", namespace)
    k8s.kubectl("create", "rolebinding", "reader-view", "--clusterrole=view",
                "--serviceaccount=%s:reader" % namespace, "-n", namespace)
    token = k8s.kubectl("create", "token", "reader", "-n", namespace, "--duration=10m").stdout.strip()
    (tmp_path / "token").write_text(token)
    config = tmp_path / "reader.kubeconfig"
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "reader",
        "clusters": [{"name": "c", "cluster": {"server": k8s.server, "certificate-authority": k8s.ca_file}}],
        "users": [{"name": "reader", "user": {"tokenFile": "token"}}],
        "contexts": [{"name": "reader", "context": {"cluster": "c", "user": "reader"}}]}))
    fast = K8sClient({"kubeconfig": str(config)})
    sdk = K8sClient({"kubeconfig": str(config)}, use_lite=False)
    assert fast.lite is not None and fast.lite.conf["token"] == token
    deadline = time.monotonic() + 30
    while True:  # the binding takes a moment to count
        try:
            pods = fast.core.list_namespaced_pod(namespace)
            break
        except ApiException as exc:
            assert exc.status == 403 and time.monotonic() < deadline, exc
            time.sleep(0.5)
    assert pods.items == []
    # What view does not grant is refused as through the SDK (anything in kube-system, nodes).
    refused = error_of(fast.core.list_namespaced_pod, "kube-system")
    assert refused[0] == 403 and refused == error_of(sdk.core.list_namespaced_pod, "kube-system")
    status, message = error_of(fast.core.list_node)
    assert status == 403 and "system:serviceaccount:%s:reader" % namespace in message, message


def test_an_unchanged_runs_reads_do_not_import_the_sdk(k8s, namespace):
    """The reads of a run and the REST proxy's request, in a fresh interpreter: the kubernetes package stays
    unimported (what the benchmark's unchanged re-run saves), and the proxy answers as the API server does."""
    code = (
        "import json, sys\n"
        "from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import K8sClient\n"
        "c = K8sClient({'kubeconfig': sys.argv[1]})\n"
        "ns = sys.argv[2]\n"
        "c.core.read_namespace(ns); c.core.list_namespaced_pod(ns, label_selector='app=x')\n"
        "c.core.list_namespaced_config_map(ns, label_selector='app=x'); c.core.list_node()\n"
        "status, body = c.raw_request('GET', '/api/v1/namespaces/%s/services/none-rest:rest/proxy/overview' % ns)\n"
        "print(json.dumps({'sdk': [m for m in sys.modules if m.split('.')[0] == 'kubernetes'], 'proxy': status}))\n")
    out = subprocess.run([sys.executable, "-c", code, k8s.kubeconfig, namespace], capture_output=True, text=True,
                         check=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)))
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"sdk": [], "proxy": 404}, out.stdout + out.stderr
