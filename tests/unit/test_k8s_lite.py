"""kubernetes/lite.py: which connection options the SDK-free transport takes (and which it leaves to the SDK), and
that its Resources read like the SDK's models."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes import lite

pytestmark = pytest.mark.unit


def kubeconfig(tmp_path, cluster=None, user=None, contexts=("a",)):
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": contexts[0],
        "clusters": [{"name": "c", "cluster": dict({"server": "https://10.0.0.1:6443"}, **(cluster or {}))}],
        "users": [{"name": "u", "user": user or {}}],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": "u"}} for n in contexts]}))
    return str(path)


def test_kubeconfig_files_resolve_relative_to_the_kubeconfig_and_options_override(tmp_path):
    path = kubeconfig(tmp_path, cluster={"certificate-authority": "ca.crt"},
                      user={"client-certificate": "u.crt", "client-key": "/abs/u.key"})
    conf = lite.settings({"kubeconfig": path}, environ={})
    assert conf["server"] == "https://10.0.0.1:6443" and conf["verify"] is True
    assert conf["ca_file"] == str(tmp_path / "ca.crt") and conf["cert_file"] == str(tmp_path / "u.crt")
    assert conf["key_file"] == "/abs/u.key" and conf["token"] is None
    conf = lite.settings({"kubeconfig": path, "host": "https://other:443", "api_key": "t0k", "validate_certs": False,
                          "ca_cert": "/etc/ca.pem"}, environ={})
    assert (conf["server"], conf["token"], conf["verify"], conf["ca_file"]) == (
        "https://other:443", "t0k", False, "/etc/ca.pem")
    # E(KUBECONFIG)'s first file when the option is not given, as the SDK path does.
    assert lite.settings({}, environ={"KUBECONFIG": path + os.pathsep + "/nope"})["server"] == "https://10.0.0.1:6443"


def test_token_file_and_inline_data(tmp_path):
    (tmp_path / "token").write_text("s3cret\n")
    path = kubeconfig(tmp_path, cluster={"certificate-authority-data": base64.b64encode(b"PEM").decode()},
                      user={"tokenFile": "token"})
    conf = lite.settings({"kubeconfig": path}, environ={})
    assert conf["token"] == "s3cret" and conf["ca_data"] and conf["ca_file"] is None
    # An explicit CA file wins over the kubeconfig's data.
    assert lite.settings({"kubeconfig": path, "ca_cert": "/etc/ca.pem"}, environ={})["ca_data"] is None


@pytest.mark.parametrize("cluster, user, params", [
    ({}, {"exec": {"command": "aws"}}, {}),                       # credential plugins: the SDK runs them
    ({}, {"auth-provider": {"name": "oidc"}}, {}),
    ({}, {"username": "a", "password": "b"}, {}),
    ({"proxy-url": "http://proxy:3128"}, {}, {}),                 # a proxy
    ({"tls-server-name": "api"}, {}, {}),
    ({}, {}, {"proxy": "http://proxy:3128"}),
    ({}, {}, {"context": "nope"}),                                # the SDK path names the option
    ({"server": "10.0.0.1:6443"}, {}, {}),                        # no scheme
], ids=["exec", "auth-provider", "basic", "proxy-url", "tls-server-name", "proxy-option", "unknown-context",
        "no-scheme"])
def test_what_it_does_not_fully_understand_goes_to_the_sdk(tmp_path, cluster, user, params):
    path = kubeconfig(tmp_path, cluster=cluster, user=user)
    assert lite.settings(dict(params, kubeconfig=path), environ={}) is None


def test_a_missing_kubeconfig_goes_to_the_sdk(tmp_path):
    assert lite.settings({"kubeconfig": str(tmp_path / "missing")}, environ={}) is None
    (tmp_path / "bad").write_text("{unbalanced")
    assert lite.settings({"kubeconfig": str(tmp_path / "bad")}, environ={}) is None


def test_resources_read_like_the_sdks_models():
    pod = lite.wrap({"metadata": {"name": "p", "labels": {"app.kubernetes.io/name": "x", "component": "jobmanager"},
                                  "ownerReferences": [{"uid": "u1"}]},
                     "spec": {"nodeName": "n1", "containers": [{"image": "flink:2"}]},
                     "status": {"podIP": "10.1.2.3", "containerStatuses": [{"restartCount": 2,
                                                                            "state": {"waiting": {"reason": "X"}}}]}})
    assert pod.metadata.name == "p" and pod.spec.node_name == "n1" and pod.status.pod_ip == "10.1.2.3"
    assert pod.metadata.labels.get("app.kubernetes.io/name") == "x"  # map keys stay as they are
    assert pod.metadata.owner_references[0].uid == "u1"
    assert pod.status.container_statuses[0].state.waiting.reason == "X"
    assert pod.status.container_statuses[0].restart_count == 2
    assert pod.metadata.deletion_timestamp is None and pod.status.conditions is None  # missing -> None
    # Setting through attributes changes the object itself (tests and callers edit what they read).
    pod.metadata.annotations = {}
    pod.metadata.labels["component"] = "taskmanager"
    assert pod["metadata"]["annotations"] == {} and pod.metadata.labels["component"] == "taskmanager"
    assert json.loads(json.dumps(pod))["metadata"]["labels"]["component"] == "taskmanager"
    assert pod.to_dict()["spec"]["nodeName"] == "n1"


def test_a_service_reads_its_irregular_names():
    svc = lite.wrap({"spec": {"clusterIP": "10.0.0.9", "clusterIPs": ["10.0.0.9"], "type": "NodePort",
                              "ports": [{"port": 8081, "nodePort": 30081, "targetPort": "rest"}]}})
    assert svc.spec.cluster_ip == "10.0.0.9" and svc.spec.cluster_i_ps == ["10.0.0.9"]
    assert svc.spec.ports[0].node_port == 30081 and svc.spec.ports[0].target_port == "rest"


def test_importing_the_client_does_not_import_the_sdk():
    """What an unchanged run pays: the client's modules alone, without the kubernetes package (0.2-0.3 s)."""
    code = ("import sys\n"
            "from ansible_collections.flinkops.flink.plugins.module_utils.platforms import k8s_operator\n"
            "from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import K8sClient\n"
            "K8sClient({'host': 'https://127.0.0.1:1'})\n"
            "print(sorted(m for m in sys.modules if m == 'kubernetes' or m.startswith('kubernetes.')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)))
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


class _Transport(object):
    """The lite transport's answers, recorded: a path -> JSON object, an error status, or no answer."""

    host = "https://10.0.0.1:6443"

    def __init__(self, answers):
        self.answers, self.asked = answers, []

    def get(self, path, query=None):
        self.asked.append((path, query))
        answer = self.answers.get(path)
        if answer is None:
            raise lite.LiteUnavailable("connection refused")
        if isinstance(answer, int):
            raise lite.LiteError(answer, "Not Found", b'{"message": "nope"}')
        return lite.wrap(answer)


def routed_client(answers):
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import K8sClient
    client = K8sClient({"host": "https://10.0.0.1:6443"})
    client.lite = _Transport(answers)
    sdk_calls = []

    def sdk_call(api, method, args, kwargs):
        sdk_calls.append((api, method, args, kwargs))
        return "from the SDK"
    client.sdk_call = sdk_call
    return client, sdk_calls


def test_reads_go_to_the_transport_with_their_selectors_and_lists_read_as_the_sdks():
    client, sdk_calls = routed_client({
        "/api/v1/namespaces/ns/pods": {"items": [{"metadata": {"name": "p"}}], "metadata": {"resourceVersion": "9"}},
        "/apis/apps/v1/namespaces/ns/deployments/d": {"metadata": {"name": "d"}},
        "/apis/flink.apache.org/v1beta1/namespaces/ns/flinkdeployments/f": {"spec": {"job": None}}})
    pods = client.core.list_namespaced_pod("ns", label_selector="app=x")
    assert [p.metadata.name for p in pods.items] == ["p"] and pods.metadata.resource_version == "9"
    assert client.lite.asked[-1] == ("/api/v1/namespaces/ns/pods", {"labelSelector": "app=x"})
    assert client.apps.read_namespaced_deployment("d", "ns").metadata.name == "d"
    # Custom objects come back as the SDK gives them: a dict.
    assert client.custom.get_namespaced_custom_object("flink.apache.org", "v1beta1", "ns", "flinkdeployments",
                                                      "f") == {"spec": {"job": None}}
    assert sdk_calls == []


def test_errors_no_answers_writes_and_unknown_arguments():
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import ApiException
    client, sdk_calls = routed_client({"/api/v1/namespaces/gone": 404})
    with pytest.raises(ApiException) as caught:
        client.core.read_namespace("gone")
    assert caught.value.status == 404 and json.loads(caught.value.body)["message"] == "nope"
    # No answer: the SDK asks again (its errors are the ones users have always seen).
    assert client.core.read_namespace("silent") == "from the SDK"
    # Writes, and reads with arguments the transport does not pass on, go to the SDK as they are.
    client.core.create_namespaced_config_map("ns", {"metadata": {"name": "c"}})
    client.core.list_namespaced_pod("ns", _request_timeout=5)
    assert [c[:2] for c in sdk_calls] == [
        ("CoreV1Api", "read_namespace"), ("CoreV1Api", "create_namespaced_config_map"),
        ("CoreV1Api", "list_namespaced_pod")]
    assert sdk_calls[2][3] == {"_request_timeout": 5}


def test_names_are_one_path_segment():
    assert lite.segment("flink-1.20") == "flink-1.20"
    assert lite.segment("a/b") == "a%2Fb" and lite.segment("x y") == "x%20y"
