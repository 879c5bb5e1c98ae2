"""Pure logic of the operator's resources as flink_info and the operator role read them: status summaries."""

from __future__ import annotations

import json

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.operator_resources import (
    operator_error, summary)

pytestmark = pytest.mark.unit


def test_application_deployment_summary():
    obj = {"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
           "metadata": {"name": "orders", "namespace": "flink", "generation": 3},
           "spec": {"job": {"jarURI": "local:///opt/flink/usrlib/job.jar"}},
           "status": {"lifecycleState": "STABLE", "jobManagerDeploymentStatus": "READY", "observedGeneration": 3,
                      "jobStatus": {"state": "RUNNING", "jobId": "abc", "upgradeSavepointPath": "file:/sp/1"}}}
    out = summary(obj)
    assert (out["key"], out["mode"], out["lifecycle_state"], out["jobmanager_deployment_status"], out["job_state"],
            out["last_savepoint"], out["generation"], out["reconciled_generation"], out["error"]) == (
        "FlinkDeployment flink/orders", "application", "STABLE", "READY", "RUNNING", "file:/sp/1", 3, 3, None)
    assert out["ref"] == {"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
                          "metadata": {"name": "orders", "namespace": "flink"}}


def test_session_job_and_fresh_resource_without_status():
    out = summary({"kind": "FlinkSessionJob", "metadata": {"name": "j", "namespace": "n"},
                   "spec": {"deploymentName": "session"}})
    assert out["deployment_name"] == "session" and out["lifecycle_state"] is None and "mode" not in out
    assert summary({"kind": "FlinkDeployment", "metadata": {"name": "s", "namespace": "n"}, "spec": {}})["mode"] == \
        "session"


def test_operator_error_is_its_message():
    doc = json.dumps({"type": "org.apache.flink.kubernetes.operator.exception.ReconciliationException",
                      "message": "Job could not be upgraded", "throwableList": []})
    assert operator_error({"error": doc}) == "Job could not be upgraded"
    assert operator_error({"error": "plain text"}) == "plain text"
    assert operator_error({}) is None


@pytest.mark.parametrize("status, expected", [
    ({"jobManagerDeploymentStatus": "READY"}, True),
    ({"jobManagerDeploymentStatus": "DEPLOYING"}, True),
    ({"jobManagerDeploymentStatus": "DEPLOYED_NOT_READY"}, True),
    ({"jobManagerDeploymentStatus": "ERROR"}, True),
    ({"jobManagerDeploymentStatus": "MISSING"}, False),  # suspended, or deleted and seen so by the operator
    ({}, True),  # created, not reconciled yet: the Deployment may be on its way
    (None, True),
])
def test_jobmanager_deployment_from_the_flinkdeployment_status(status, expected):
    """An existing FlinkDeployment's read skips the JobManager Deployment: its status says whether there is one."""
    from ansible_collections.flinkops.flink.plugins.module_utils.platforms.k8s_operator import jobmanager_deployment
    resource = {"metadata": {"name": "s"}, "spec": {}}
    if status is not None:
        resource["status"] = status
    assert jobmanager_deployment(resource) is expected
