"""kubernetes/operator_rollback.py: what is kept of a FlinkDeployment before a change, and the body that rolls a
failed one back to it (shapes as the operator 1.15 writes them)."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes import operator_rollback as rb
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.operator_resources import operator_rolls_back

pytestmark = pytest.mark.unit


def deployment(generation=3, observed=3, lifecycle="STABLE", jm="READY", job_state="RUNNING", upgrade_mode="savepoint",
               upgrade_savepoint=None, job=True, nonce=None):
    spec = {"image": "flink:2.2.1-java17", "flinkVersion": "v2_2", "flinkConfiguration": {"a": "1"},
            "jobManager": {"replicas": 1}, "restartNonce": 2}
    status = {"lifecycleState": lifecycle, "jobManagerDeploymentStatus": jm, "observedGeneration": observed,
              "reconciliationStatus": {"state": "DEPLOYED", "lastStableSpec": "{}"}}
    if job:
        spec["job"] = {"jarURI": "local:///opt/flink/usrlib/v1.jar", "upgradeMode": upgrade_mode, "state": "running",
                       "parallelism": 1}
        if nonce is not None:
            spec["job"]["savepointRedeployNonce"] = nonce
        status["jobStatus"] = {"state": job_state, "jobId": "a" * 32, "upgradeSavepointPath": upgrade_savepoint}
    return {"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
            "metadata": {"name": "app", "namespace": "ns", "generation": generation, "uid": "u-1",
                         "resourceVersion": "77", "managedFields": [{"manager": "flinkops"}],
                         "finalizers": ["flinkdeployments.flink.apache.org/finalizer"],
                         "labels": {"team": "data", "app.kubernetes.io/managed-by": "flinkops"},
                         "annotations": {"flinkops.org/spec-hash": "h1", "flinkops.org/spec": "{}",
                                         "kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": spec, "status": status}


@pytest.mark.parametrize("changes, application, expected", [
    ({}, True, True),
    ({}, False, True),
    ({"observed": 2}, True, False),  # the operator has not reconciled the generation read
    ({"lifecycle": "DEPLOYED"}, True, False),
    ({"lifecycle": "FAILED"}, False, False),
    ({"jm": "DEPLOYING"}, False, False),
    ({"job_state": "RESTARTING"}, True, False),
    ({"job_state": "RESTARTING"}, False, True),  # a session's readiness has no job
])
def test_only_a_spec_the_operator_reports_stable_is_kept(changes, application, expected):
    assert rb.stable(deployment(**changes), application) is expected


def test_the_kept_body_has_the_spec_labels_and_our_annotations_only():
    resource = deployment()
    body = rb.kept_body(resource)
    assert body["spec"] == resource["spec"] and body["spec"] is not resource["spec"]
    assert body["metadata"] == {"name": "app", "namespace": "ns",
                                "labels": {"team": "data", "app.kubernetes.io/managed-by": "flinkops"},
                                "annotations": {"flinkops.org/spec-hash": "h1", "flinkops.org/spec": "{}"}}
    assert "status" not in body and body["kind"] == "FlinkDeployment"


def test_a_session_is_applied_again_as_it_was():
    kept = rb.kept_body(deployment(job=False))
    assert rb.restore_body(kept, deployment(job=False, lifecycle="DEPLOYED"), None) == kept


def test_an_application_is_redeployed_from_the_state_this_upgrade_saved():
    before = deployment(upgrade_savepoint="file:/sp/savepoint-older")
    failed = deployment(generation=4, observed=4, lifecycle="FAILED", job_state="FAILED",
                        upgrade_savepoint="file:/sp/savepoint-new")
    failed["spec"]["job"]["jarURI"] = "local:///opt/flink/usrlib/v2.jar"
    kept = rb.kept_body(before)
    assert rb.restorable_state(kept, before, failed) == (True, "file:/sp/savepoint-new")
    body = rb.restore_body(kept, failed, "file:/sp/savepoint-new")
    job = body["spec"]["job"]
    assert job["jarURI"].endswith("v1.jar") and job["initialSavepointPath"] == "file:/sp/savepoint-new"
    assert job["savepointRedeployNonce"] == 1  # the operator redeploys only for a nonce it has not seen
    assert "initialSavepointPath" not in kept["spec"]["job"]  # the kept body is left as it was


def test_the_redeploy_nonce_is_new_to_both_specs():
    kept = rb.kept_body(deployment(nonce=4))
    failed = deployment(nonce=6)
    assert rb.restore_body(kept, failed, "file:/sp/x")["spec"]["job"]["savepointRedeployNonce"] == 7
    assert rb.restore_body(kept, None, "file:/sp/x")["spec"]["job"]["savepointRedeployNonce"] == 5


@pytest.mark.parametrize("before_path, failed_path", [
    ("file:/sp/savepoint-older", "file:/sp/savepoint-older"),  # the operator has not stopped the job yet
    (None, None),  # last-state through high-availability metadata: no path to name
])
def test_no_rollback_without_a_state_saved_in_this_upgrade(before_path, failed_path):
    before = deployment(upgrade_savepoint=before_path)
    failed = deployment(lifecycle="DEPLOYED", job_state="RECONCILING", upgrade_savepoint=failed_path)
    assert rb.restorable_state(rb.kept_body(before), before, failed) == (False, None)


def test_a_stateless_job_goes_back_without_state():
    before = deployment(upgrade_mode="stateless")
    failed = deployment(lifecycle="FAILED", job_state="FAILED")
    kept = rb.kept_body(before)
    assert rb.restorable_state(kept, before, failed) == (True, None)
    assert rb.restore_body(kept, failed, None) == kept


def test_the_savepoint_info_of_older_statuses_counts_as_saved_state():
    failed = deployment()
    failed["status"]["jobStatus"] = {"state": "FAILED", "savepointInfo": {"lastSavepoint": {"location": "file:/sp/1"}}}
    assert rb.saved_state(failed) == "file:/sp/1"
    assert rb.saved_state(copy.deepcopy(deployment(job=False))) is None


@pytest.mark.parametrize("configuration, expected", [
    ({}, False), (None, False),
    ({"kubernetes.operator.deployment.rollback.enabled": "true"}, True),
    ({"kubernetes.operator.deployment.rollback.enabled": " TRUE "}, True),
    ({"kubernetes.operator.deployment.rollback.enabled": "false"}, False),
])
def test_the_operators_own_rollback_is_left_to_it_where_the_user_turns_it_on(configuration, expected):
    assert operator_rolls_back(configuration) is expected


def test_an_unchanged_run_does_not_import_the_rollback_modules():
    """The modules a rollback needs are imported when a change needs them: an unchanged run compiles less."""
    import subprocess
    import sys
    code = ("import sys\n"
            "from ansible_collections.flinkops.flink.plugins.module_utils.platforms import k8s_operator_application\n"
            "print(sorted(m.rsplit('.', 1)[-1] for m in sys.modules if m.endswith(("
            "'operator_rollback', 'native_snapshot', 'flink_validation', 'docker.api'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(__import__("os").environ, PYTHONPATH=":".join(sys.path)))
    assert out.stdout.strip() == "[]", out
