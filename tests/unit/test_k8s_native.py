"""Pure logic of the native Kubernetes platform: option validation, Flink settings, log level rewriting."""

from __future__ import annotations

import json

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.flink_client import _client_error, set_root_level
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.native_spec import NativeSpec
from ansible_collections.flinkops.flink.plugins.module_utils.registry import check_options, platform_class
from ansible_collections.flinkops.flink.plugins.module_utils.spec import ClusterSpec

pytestmark = pytest.mark.unit

BASE = {"name": "orders", "platform": "kubernetes", "image": "flink:2.2.1-java17", "flink_home": "/opt/flink",
        "state": "present"}


def cluster_spec(params):
    """The desired state as the flows parse it: options of other platforms refused, the platform's defaults."""
    check_options(params)
    cls = platform_class(params)
    return ClusterSpec.from_params(params, default_taskmanagers=cls.default_taskmanagers,
                                   standby_jobmanagers=cls.standby_jobmanagers)


def native(**params):
    merged = dict(BASE, **params)
    return NativeSpec(merged, cluster_spec(merged), merged["state"])


def refused(option, **params):
    with pytest.raises(SpecError) as err:
        native(**params)
    assert err.value.option == option, str(err.value)
    return str(err.value)


def test_defaults():
    spec = native()
    assert (spec.namespace, spec.service_account, spec.exposure, spec.jm_replicas, spec.tm_min) == \
        ("default", "default", "ClusterIP", 1, 0)


def test_bad_input_names_the_option():
    assert "Ingress" in refused("rest_exposure", rest_exposure="Ingress")
    assert "high availability" in refused("jobmanager.replicas", jobmanager={"replicas": 2})
    refused("high_availability.storage_dir", high_availability={"enabled": True})
    refused("namespace", namespace="Bad_NS")
    refused("rest_port", rest_port=8081)
    refused("flink_config.kubernetes.cluster-id", flink_config={"kubernetes.cluster-id": "x"})
    refused("flink_home", flink_home=None)
    refused("annotations", annotations={"flinkops.org/x": "1"})
    refused("tolerations[0]", tolerations=[{"key": "a", "colour": "red"}])
    refused("secrets[0].mount_path", secrets=[{"name": "s", "mount_path": "relative"}])
    refused("pod_template", pod_template="/no/such/template.yaml")
    refused("pod_template", pod_template={"kind": "Deployment"})


def test_absent_needs_no_flink_home():
    assert native(state="absent", flink_home=None).flink_home is None


def test_ha_with_standbys():
    spec = native(jobmanager={"replicas": 2}, high_availability={"enabled": True, "storage_dir": "s3://b/ha"})
    assert spec.jm_replicas == 2 and spec.ha


def test_loadbalancer_warns():
    assert any("LoadBalancer" in w for w in native(rest_exposure="LoadBalancer").warnings)


def test_inline_and_text_pod_templates():
    text = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: flink-main-container\n"
    assert native(pod_template=text).pod_template["spec"]["containers"][0]["name"] == "flink-main-container"
    assert native(pod_template={"spec": {}}).pod_template["kind"] == "Pod"


def test_tolerations_in_flink_syntax():
    spec = native(tolerations=[{"key": "a", "operator": "Equal", "value": "b", "effect": "NoSchedule"},
                               {"key": "c", "operator": "Exists"}])
    assert spec.tolerations == "key:a,operator:Equal,value:b,effect:NoSchedule;key:c,operator:Exists"


def test_platform_options_refused_on_docker():
    for params, option in (({"namespace": "x"}, "namespace"), ({"rest_exposure": "NodePort"}, "rest_exposure"),
                           ({"jobmanager": {"replicas": 2}}, "jobmanager.replicas")):
        with pytest.raises(SpecError) as err:
            check_options(dict(params, platform="docker"))
        assert err.value.option == option and "platform kubernetes only" in str(err.value), str(err.value)
    check_options({"platform": "docker", "namespace": None, "jobmanager": {"replicas": None}})
    check_options({"platform": "docker", "jobmanager": {"replicas": 1}})


def test_set_root_level():
    text = "monitorInterval=30\nrootLogger.level = INFO\nrootLogger.appenderRef.console.ref = ConsoleAppender\n"
    out = set_root_level(text, "DEBUG")
    assert "rootLogger.level = DEBUG" in out and "INFO" not in out and "monitorInterval=30" in out
    assert set_root_level("a=b\n", "WARN").endswith("rootLogger.level = WARN\n")


def test_client_error_prefers_the_root_cause():
    text = "org.apache.flink.client.deployment.ClusterDeploymentException: Could not create\n" \
           "Caused by: io.fabric8.KubernetesClientException: Forbidden\n"
    assert _client_error(text) == "io.fabric8.KubernetesClientException: Forbidden"


def app_job(jar, **config):
    from ansible_collections.flinkops.flink.plugins.module_utils.platforms.k8s_native_application import K8sApplicationJob
    params = dict(BASE, job={"jar": jar, "entry_class": "org.example.Job"}, flink_config=config)
    return K8sApplicationJob(params, cluster_spec(params))


def test_application_jar_locations(tmp_path):
    assert not app_job("local:///opt/flink/usrlib/job.jar").upload
    assert not app_job("https://repo.example.org/job.jar").upload
    assert not app_job("s3://bucket/job.jar").upload
    for jar, words in (("ftp://host/job.jar", "not a URL Flink's JobManager fetches"), ("relative/job.jar", "neither a URL"),
                       ("/no/such/job.jar", "does not exist"), (None, "required")):
        with pytest.raises(SpecError) as err:
            app_job(jar)
        assert err.value.option == "job.jar" and words in str(err.value), str(err.value)


def test_uploaded_jar_needs_an_upload_target(tmp_path):
    import zipfile
    jar = tmp_path / "job.jar"
    with zipfile.ZipFile(str(jar), "w") as archive:
        archive.writestr("org/example/Job.class", b"\xca\xfe\xba\xbe")
    with pytest.raises(SpecError) as err:
        app_job(str(jar))
    assert err.value.option == "flink_config.kubernetes.artifacts.local-upload-target"
    job = app_job(str(jar), **{"kubernetes.artifacts.local-upload-target": "s3://bucket/jars"})
    assert job.upload and job.jar_sha256


def test_an_unknown_context_names_the_option_and_the_contexts_there(tmp_path):
    import kubernetes
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import K8sClient, check_context
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": "u"}} for n in ("a", "b")]}))
    check_context(kubernetes, str(path), "b")
    check_context(kubernetes, str(path), None)
    with pytest.raises(SpecError) as caught:
        check_context(kubernetes, str(path), "prod")
    assert caught.value.option == "context" and "its contexts: a, b" in caught.value.message
    # The client: a known context is served by the lite transport (nothing is asked yet), an unknown one falls to
    # the SDK's loading, which names the option before anything is asked.
    assert K8sClient({"kubeconfig": str(path), "context": "b"}).lite.host == "https://127.0.0.1:6443"
    with pytest.raises(SpecError) as caught:
        K8sClient({"kubeconfig": str(path), "context": "prod"})
    assert caught.value.option == "context" and "its contexts: a, b" in caught.value.message
