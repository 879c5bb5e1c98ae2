"""kubernetes/native_snapshot.py: what a rollback of a native cluster creates again, from objects as read (dicts in
the API server's own JSON shape, as sanitize_for_serialization gives them)."""

from __future__ import annotations

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.native_snapshot import clean, owned_by, restored_summary

pytestmark = pytest.mark.unit

DEPLOYMENT_UID = "11111111-aaaa"


def read_service(name, cluster_ip, node_port=None):
    port = {"name": "rest", "port": 8081, "targetPort": 8081}
    if node_port:
        port["nodePort"] = node_port
    return {"kind": "Service", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "ns", "uid": "svc-uid", "resourceVersion": "42",
                         "creationTimestamp": "2026-12-06T12:00:00Z", "managedFields": [{"manager": "flink"}],
                         "labels": {"app": "c1", "type": "flink-native-kubernetes"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "c1",
                                              "uid": DEPLOYMENT_UID, "controller": True,
                                              "blockOwnerDeletion": True}]},
            "spec": {"clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "type": "NodePort" if node_port else
                     "ClusterIP", "ports": [port], "selector": {"app": "c1", "component": "jobmanager"}},
            "status": {"loadBalancer": {}}}


def test_a_service_is_created_again_with_its_node_port_and_the_new_owner():
    body = clean(read_service("c1-rest", "10.0.0.12", node_port=31234), owner_uid="22222222-bbbb")
    meta = body["metadata"]
    assert "status" not in body and not {"uid", "resourceVersion", "creationTimestamp", "managedFields"} & set(meta)
    assert meta["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "c1",
                                        "uid": "22222222-bbbb", "controller": True, "blockOwnerDeletion": True}]
    assert "clusterIP" not in body["spec"] and "clusterIPs" not in body["spec"]  # the API server gives a new one
    assert body["spec"]["ports"][0]["nodePort"] == 31234  # the REST URL stays what it was
    assert meta["labels"] == {"app": "c1", "type": "flink-native-kubernetes"}


def test_a_headless_service_stays_headless_and_the_read_object_is_not_changed():
    read = read_service("c1", "None")
    body = clean(read, owner_uid="x")
    assert body["spec"]["clusterIP"] == "None" and body["spec"]["clusterIPs"] == ["None"]
    assert read["metadata"]["uid"] == "svc-uid" and read["metadata"]["ownerReferences"][0]["uid"] == DEPLOYMENT_UID


def test_a_deployment_keeps_its_spec_annotations_but_not_the_revision():
    deployment = {"kind": "Deployment", "apiVersion": "apps/v1",
                  "metadata": {"name": "c1", "uid": DEPLOYMENT_UID, "generation": 3,
                               "annotations": {"deployment.kubernetes.io/revision": "1",
                                               "flinkops.org/spec-hash": "abc", "flinkops.org/spec": "{}"}},
                  "spec": {"replicas": 1}, "status": {"readyReplicas": 1}}
    body = clean(deployment)
    assert body["metadata"] == {"name": "c1", "annotations": {"flinkops.org/spec-hash": "abc",
                                                              "flinkops.org/spec": "{}"}}
    assert body["spec"] == {"replicas": 1} and "status" not in body


def test_only_what_the_deployment_owns_is_kept_and_listed():
    ha = {"kind": "ConfigMap", "metadata": {"name": "c1-cluster-config-map", "labels": {"app": "c1"}}}
    conf = {"kind": "ConfigMap", "metadata": {"name": "flink-config-c1", "ownerReferences": [{"uid": DEPLOYMENT_UID}]}}
    assert owned_by(conf, DEPLOYMENT_UID) and not owned_by(ha, DEPLOYMENT_UID)
    assert not owned_by(conf, "another-uid")
    snapshot = {"deployment": {"metadata": {"name": "c1"}}, "owned": [read_service("c1-rest", "10.0.0.1"), conf]}
    assert restored_summary(snapshot) == ["configmap flink-config-c1", "deployment c1", "service c1-rest"]


def test_an_application_config_restarts_from_other_state_nested_flat_or_legacy():
    """restart_config: the job id and restore point of the restored JobManager, whichever way the client wrote the
    keys (Flink 2's nested config.yaml, flat keys, the legacy flink-conf.yaml lines); a removed restore point goes."""
    import yaml
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.native_snapshot import restart_config
    nested = ("$internal:\n  pipeline:\n    job-id: 00000000000000000000000000000001\nexecution:\n  savepoint:\n"
              "    path: file:/sp/savepoint-old\n    ignore-unclaimed-state: false\n  checkpointing:\n"
              "    interval: 2s\nkubernetes:\n  cluster-id: app\n")
    new = {"$internal.pipeline.job-id": "2" * 32, "execution.savepoint.path": "file:/sp/savepoint-new"}
    data = yaml.safe_load(restart_config("config.yaml", nested, new))
    assert data["$internal.pipeline.job-id"] == "2" * 32 and "$internal" not in data
    assert data["execution.savepoint.path"] == "file:/sp/savepoint-new"
    assert data["execution"] == {"savepoint": {"ignore-unclaimed-state": False}, "checkpointing": {"interval": "2s"}}
    assert data["kubernetes"] == {"cluster-id": "app"}
    flat = "$internal.pipeline.job-id: %s\nexecution.savepoint.path: file:/sp/old\nparallelism.default: 2\n" % ("1" * 32)
    data = yaml.safe_load(restart_config("config.yaml", flat, dict(new, **{"execution.savepoint.path": None})))
    assert data == {"parallelism.default": 2, "$internal.pipeline.job-id": "2" * 32}
    legacy = "jobmanager.rpc.port: 6123\n$internal.pipeline.job-id: %s\nexecution.savepoint.path: file:/sp/old\n" % (
        "1" * 32)
    assert restart_config("flink-conf.yaml", legacy, new).splitlines() == [
        "jobmanager.rpc.port: 6123", "$internal.pipeline.job-id: " + "2" * 32,
        "execution.savepoint.path: file:/sp/savepoint-new"]
