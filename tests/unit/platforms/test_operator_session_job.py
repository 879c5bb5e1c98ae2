"""flink_job with mode=operator, without an API server: what is refused before anything is touched, the
FlinkSessionJob as rendered, and plan() over its states (the resource the module renders, with the status fields
the operator sets). tests/integration/kubernetes/test_operator_session_jobs.py runs the same on the real operator."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.platforms.k8s_operator_job import (
    OperatorJobSpec, OperatorSessionJob)
from tests.unit.platforms.record import RecordingModule

pytestmark = pytest.mark.unit

PARAMS = {"name": "clicks", "cluster": "session", "platform": "kubernetes", "mode": "operator", "namespace": "flink",
          "state": "running", "jar": "https://jars.example.com/clicks-1.jar", "entry_class": "com.example.Clicks",
          "args": ["--fast"], "parallelism": 2, "flink_config": {}, "savepoint_path": None,
          "allow_non_restored_state": False, "upgrade_mode": "savepoint", "savepoint_dir": "s3://b/savepoints",
          "restore": "auto", "trigger_savepoint": False, "rest_url": None, "labels": {"team": "a"},
          "kubeconfig": None, "context": None, "host": "https://127.0.0.1:1", "wait": True, "wait_timeout": 60,
          "wait_sleep": 0.5}
SESSION = {"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
           "metadata": {"name": "session", "namespace": "flink"}, "spec": {"flinkVersion": "v2_2"}}


def session_job(**changes):
    params = dict(PARAMS, **changes)
    return OperatorSessionJob(RecordingModule(params), OperatorJobSpec(params))


def applied(job, job_state="running", **status):
    resource = copy.deepcopy(job.resource(job_state))
    resource["metadata"]["generation"] = 1
    resource["status"] = dict({"lifecycleState": "STABLE", "observedGeneration": 1,
                               "jobStatus": {"state": "RUNNING", "jobId": "b" * 32}}, **status)
    return {"job": resource, "deployment": copy.deepcopy(SESSION)}


@pytest.mark.parametrize("changes, option", [
    ({"name": "Clicks_1"}, "name"),
    ({"rest_url": "http://jm:8081"}, "rest_url"),
    ({"state": "cancelled"}, "state"),
    ({"cluster": None}, "cluster"),
    ({"jar": "/srv/clicks.jar"}, "jar"),
])
def test_refused_before_anything_is_touched(changes, option):
    with pytest.raises(SpecError) as err:
        OperatorJobSpec(dict(PARAMS, **changes))
    assert err.value.option == option, str(err.value)


def test_the_flinksessionjob_as_rendered():
    body = session_job(savepoint_path="s3://b/savepoints/sp-1").resource()
    assert body["kind"] == "FlinkSessionJob" and body["metadata"]["labels"]["team"] == "a"
    assert body["spec"]["deploymentName"] == "session"
    assert body["spec"]["job"] == {"jarURI": PARAMS["jar"], "entryClass": "com.example.Clicks", "args": ["--fast"],
                                   "parallelism": 2, "upgradeMode": "savepoint", "state": "running",
                                   "allowNonRestoredState": False, "initialSavepointPath": "s3://b/savepoints/sp-1"}
    assert body["spec"]["flinkConfiguration"] == {"execution.checkpointing.savepoint-dir": "s3://b/savepoints"}
    suspended = session_job(upgrade_mode="stateless").resource("suspended")["spec"]["job"]
    assert suspended["state"] == "suspended" and suspended["upgradeMode"] == "savepoint"
    assert "entryClass" not in session_job(entry_class=None).resource()["spec"]["job"]  # the jar's Main-Class


def test_plan_through_the_states_of_a_flinksessionjob():
    job = session_job()
    assert [a.kind for a in job.plan({"job": None, "deployment": SESSION}, "running")] == ["submit"]
    with pytest.raises(SpecError) as err:
        job.plan({"job": None, "deployment": None}, "running")
    assert err.value.option == "cluster" and "no FlinkDeployment" in str(err.value)
    application = dict(SESSION, spec={"job": {"jarURI": "local:///x.jar"}})
    with pytest.raises(SpecError):
        job.plan({"job": None, "deployment": application}, "running")

    running = applied(job)
    assert job.plan(running, "running") == []
    assert [a.kind for a in job.plan(running, "suspended")] == ["suspend"]
    upgrade = session_job(jar="https://jars.example.com/clicks-2.jar").plan(running, "running")
    assert [a.kind for a in upgrade] == ["upgrade"] and "jar" in upgrade[0].reason
    moved = session_job(cluster="other")
    with pytest.raises(SpecError) as err:
        moved.plan(running, "running")
    assert err.value.option == "cluster"

    suspended = applied(job, "suspended", lifecycleState="SUSPENDED",
                        jobStatus={"state": "FINISHED", "upgradeSavepointPath": "s3://b/savepoints/sp-2"})
    assert job.plan(suspended, "suspended") == []
    resume = job.plan(suspended, "running")
    assert [a.kind for a in resume] == ["resume"] and "s3://b/savepoints/sp-2" in resume[0].reason
    assert job.before_view(suspended)["state"] == "suspended"
    assert [a.kind for a in job.plan(running, "absent")] == ["remove"]
    assert job.plan({"job": None, "deployment": None}, "absent") == []


def test_trigger_savepoint_is_a_savepoint_action_on_an_unchanged_running_job_only():
    job = session_job(trigger_savepoint=True)
    running = applied(job)
    plan = job.plan(running, "running")
    assert [(a.kind, a.role) for a in plan] == [("savepoint", "job")] and "FlinkStateSnapshot" in plan[0].reason
    # a changed job is upgraded (the upgrade's savepoint is returned), as flink_job does on Docker
    changed = session_job(trigger_savepoint=True, jar="https://jars.example.com/clicks-2.jar").plan(running, "running")
    assert [a.kind for a in changed] == ["upgrade"]
    assert [a.kind for a in job.plan({"job": None, "deployment": SESSION}, "running")] == ["submit"]


def test_the_flinkstatesnapshot_of_an_on_demand_savepoint():
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.state_snapshot import (
        snapshot_body, snapshot_name)
    body = snapshot_body("flink", "FlinkSessionJob", "clicks", "s3://b/savepoints", now=1796317099,
                         labels={"flinkops.test/operator": "shared", "app.kubernetes.io/managed-by": "someone"})
    # the labels of the job it references (an operator's label selector picks it up with the job)
    assert body["metadata"] == {"name": "clicks-savepoint-20261203-165819", "namespace": "flink",
                                "labels": {"app.kubernetes.io/managed-by": "flinkops",
                                           "flinkops.test/operator": "shared"}}
    assert body["spec"] == {"jobReference": {"kind": "FlinkSessionJob", "name": "clicks"},
                            "savepoint": {"path": "s3://b/savepoints", "disposeOnDelete": False,
                                          "formatType": "CANONICAL", "alreadyExists": False}}
    assert "path" not in snapshot_body("flink", "FlinkDeployment", "clicks")["spec"]["savepoint"]
    long_name = snapshot_name("a" * 250, now=0)
    assert len(long_name) <= 253 and long_name.endswith("-savepoint-19700101-000000")
