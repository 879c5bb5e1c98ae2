"""flink_config_secrets on Kubernetes (native mode, and the operator's FlinkDeployment): the Secret, the pod
template that mounts it, the start script (run with bash on a configuration directory laid out as Flink's ConfigMap
mount is), and the settings Flink's client or the FlinkDeployment gets (without the secrets)."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.flink_config import FlinkVersion
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes import config_secret
from tests.unit.platforms.test_plan import k8s_platform, load

pytestmark = pytest.mark.unit


def test_secret_holds_the_settings_and_the_script():
    body = config_secret.secret_body("orders", {"s3.secret-key": "hunter2", "a.b": 3}, FlinkVersion("2.2.1"),
                                     labels={"app": "orders"})
    assert body["metadata"] == {"name": "orders-config-secrets", "labels": {"app": "orders"}}
    assert body["stringData"][config_secret.CONFIG_KEY] == "a.b: 3\ns3.secret-key: hunter2\n"
    script = body["stringData"][config_secret.SCRIPT_KEY]
    assert script.startswith("#!/usr/bin/env bash") and script.rstrip().endswith('exec /docker-entrypoint.sh "$@"')
    assert "hunter2" not in script
    custom = config_secret.start_script("/opt/custom/entry point.sh")
    assert custom.rstrip().endswith("exec '/opt/custom/entry point.sh' \"$@\"")


def test_pod_template_mounts_the_secret_next_to_the_users():
    user = {"metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "sidecar"},
                                    {"name": "flink-main-container",
                                     "volumeMounts": [{"name": "custom", "mountPath": "/opt/custom"}]}],
                     "volumes": [{"name": "custom", "configMap": {"name": "x"}}]}}
    merged = config_secret.with_secret_volume(user, "orders")
    assert len(user["spec"]["volumes"]) == 1  # the user's template is not changed
    assert merged["metadata"] == {"labels": {"a": "b"}}
    assert merged["spec"]["volumes"][-1] == {"name": config_secret.VOLUME, "secret": {
        "secretName": "orders-config-secrets", "defaultMode": 0o555}}
    main = merged["spec"]["containers"][1]
    assert main["volumeMounts"] == [{"name": "custom", "mountPath": "/opt/custom"}, {
        "name": config_secret.VOLUME, "mountPath": config_secret.MOUNT_PATH, "readOnly": True}]
    assert merged["spec"]["containers"][0] == {"name": "sidecar"}
    assert config_secret.with_secret_volume(merged, "orders") == merged  # applied twice: the same
    fresh = config_secret.with_secret_volume(None, "orders")
    assert fresh["kind"] == "Pod" and fresh["spec"]["containers"][0]["name"] == "flink-main-container"


def test_start_script_builds_a_configuration_of_its_own(tmp_path):
    """The script, run by bash: the configuration file is copied with the secrets appended, every other file is
    linked (a log level change of the ConfigMap still reaches log4j), FLINK_CONF_DIR points at the copy, and the
    next entrypoint gets Flink's start command."""
    mount = tmp_path / "secrets"
    mount.mkdir()
    (mount / config_secret.CONFIG_KEY).write_text(config_secret.secret_config_text(
        {"s3.secret-key": "hunter2"}, FlinkVersion("2.2.1")))
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.yaml").write_text("jobmanager.rpc.port: 6123")  # no newline at the end
    (conf / "log4j-console.properties").write_text("rootLogger.level = INFO\n")
    nxt = tmp_path / "next.sh"
    nxt.write_text('#!/bin/bash\necho "conf=$FLINK_CONF_DIR args=$*"\n')
    nxt.chmod(0o755)
    script = config_secret.start_script(str(nxt)).replace(config_secret.MOUNT_PATH, str(mount))
    env = dict(os.environ, FLINK_CONF_DIR=str(conf), TMPDIR=str(tmp_path))
    proc = subprocess.run(["bash", "-c", script, "entry", "bash", "-c", "kubernetes-jobmanager.sh kubernetes-session"],
                          capture_output=True, text=True, env=env, check=True)
    out = proc.stdout.strip()
    assert out.endswith("args=bash -c kubernetes-jobmanager.sh kubernetes-session"), out
    built = out.split("conf=", 1)[1].split(" ", 1)[0]
    assert built.startswith(str(tmp_path / "flinkops-conf."))
    assert open(os.path.join(built, "config.yaml")).read() == "jobmanager.rpc.port: 6123\ns3.secret-key: hunter2\n"
    assert oct(os.stat(os.path.join(built, "config.yaml")).st_mode & 0o777) == "0o600"
    log4j = os.path.join(built, "log4j-console.properties")
    assert os.path.islink(log4j) and os.readlink(log4j) == str(conf / "log4j-console.properties")
    (conf / "log4j-console.properties").write_text("rootLogger.level = DEBUG\n")
    assert open(log4j).read() == "rootLogger.level = DEBUG\n"


def test_flink_client_gets_no_secret_and_runs_the_start_script():
    cluster, _actual = k8s_platform(load("k8s_session"), flink_config_secrets={"s3.secret-key": "hunter2"},
                                    entrypoint=["/opt/custom/entrypoint.sh"])
    settings = cluster.flink_settings()
    assert "s3.secret-key" not in settings and "hunter2" not in repr(settings)
    assert settings["kubernetes.entry.path"] == config_secret.ENTRY_PATH
    template = cluster.client_pod_template()
    assert template["spec"]["volumes"][-1]["secret"]["secretName"] == "%s-config-secrets" % cluster.cluster_id
    assert "hunter2" not in repr(cluster.desired_view())
    plain, _actual = k8s_platform(load("k8s_session"), entrypoint=["/opt/custom/entrypoint.sh"])
    assert plain.flink_settings()["kubernetes.entry.path"] == "/opt/custom/entrypoint.sh"
    assert plain.client_pod_template() == plain.native.pod_template


def operator_session(secret_config):
    from ansible_collections.flinkops.flink.plugins.module_utils.flows.cluster import desired_spec
    from ansible_collections.flinkops.flink.plugins.module_utils.registry import platform_class
    from tests.unit.platforms.record import RecordingModule, full_params
    params = full_params({
        "name": "orders", "platform": "kubernetes", "mode": "operator", "namespace": "flink",
        "service_account": "flink", "image": "flinkops/flink:2.2.1-java17", "state": "present",
        "kubeconfig": None, "context": None, "host": "https://127.0.0.1:1",
        "flink_config_secrets": secret_config}, "session")
    module = RecordingModule(params)
    cls = platform_class(params, "session")
    return cls(module, desired_spec(module, cls, require_image=True))


def test_operator_gets_the_secret_through_its_pod_template_never_in_the_resource():
    platform = operator_session({"s3.secret-key": "hunter2"})
    body = platform.resource()
    assert "hunter2" not in str(body)
    assert body["spec"]["flinkConfiguration"]["kubernetes.entry.path"] == config_secret.ENTRY_PATH
    template = body["spec"]["podTemplate"]
    assert template["spec"]["volumes"] == [{"name": config_secret.VOLUME, "secret": {
        "secretName": "orders-config-secrets", "defaultMode": 0o555}}]
    digest = template["metadata"]["annotations"][config_secret.DIGEST_ANNOTATION]
    # New values: a new digest in the pods' template and a new spec hash, so the plan redeploys.
    other = operator_session({"s3.secret-key": "hunter3"})
    assert other.resource()["spec"]["podTemplate"]["metadata"]["annotations"][config_secret.DIGEST_ANNOTATION] != digest
    assert other.spec_hash() != platform.spec_hash()
    # Without secrets: no template and no start script.
    plain = operator_session({})
    assert "podTemplate" not in plain.resource()["spec"]
    assert "kubernetes.entry.path" not in plain.resource()["spec"]["flinkConfiguration"]


def test_digest_is_salted_by_the_cluster():
    one = config_secret.secrets_digest({"k": "v"}, "flink/orders")
    assert one == config_secret.secrets_digest({"k": "v"}, "flink/orders")
    assert one != config_secret.secrets_digest({"k": "v"}, "flink/clicks")
    assert one != config_secret.secrets_digest({"k": "w"}, "flink/orders")
