"""plan() of every platform from reads recorded on the real engines (tests/unit/platforms/recorded/, written by
record.py from running clusters): the unchanged spec plans nothing, and each kind of change plans exactly the
actions a real run would apply. The platforms run their own planning code; only the engine's answers are replayed,
and a call that plan() was not recorded making fails the test."""

from __future__ import annotations

import copy
import json
import os

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes import lite
from ansible_collections.flinkops.flink.plugins.module_utils.flows.cluster import desired_spec
from ansible_collections.flinkops.flink.plugins.module_utils.registry import platform_class
from tests.unit.platforms.record import RECORDED, RecordingModule, full_params

pytestmark = pytest.mark.unit


def load(name):
    with open(os.path.join(RECORDED, "%s.json" % name)) as handle:
        return json.load(handle)


def merge(params, changes):
    out = copy.deepcopy(params)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = dict(out[key], **value)
        else:
            out[key] = value
    return out


class Replay(object):
    """The engine's answers that plan() may ask for, as recorded; anything else is a test failure."""

    def __init__(self, answers):
        self.answers = answers

    def __getattr__(self, name):
        if name not in self.answers:
            raise AssertionError("plan() called %s, which was not recorded" % name)
        return lambda *args, **kwargs: copy.deepcopy(self.answers[name])


def docker_platform(recording, **changes):
    params = merge(full_params(recording["params"], recording["kind"]), changes)
    module = RecordingModule(params)
    cls = platform_class(params, recording["kind"])
    cluster = cls(module, desired_spec(module, cls, require_image=params["state"] != "absent"))
    cluster.api = Replay({"containers": recording["name_lookup"]})
    cluster.image.api = cluster.api
    cluster.image._image_id, cluster.image._image_checked = recording["image_id"], True
    # Flink's memory check runs BashJavaUtils in a container of the image: no recorded read can answer it. It runs
    # for real in tests/integration/docker/test_session.py; here the plan is what is under test.
    cluster.check_memory_with_flink = lambda creates: None
    actual = copy.deepcopy(recording["actual"])
    actual["taskmanagers"] = dict((int(k), v) for k, v in actual["taskmanagers"].items())
    return cluster, actual


def planned(cluster, actual, state="present"):
    return [(a.kind, a.target, a.reason) for a in cluster.plan(actual, state)]


# Docker -------------------------------------------------------------------------------------------------------
def test_docker_unchanged_plans_nothing():
    rec = load("docker_session")
    cluster, actual = docker_platform(rec)
    assert planned(cluster, actual) == []
    before = cluster.before_view(actual)
    assert dict(before, state=None) == dict(cluster.desired_view(), state=None)
    assert before["flink_config_secrets"] == {"s3.secret-key": "********"}


def test_docker_taskmanager_memory_recreates_only_taskmanagers():
    cluster, actual = docker_platform(load("docker_session"), taskmanager={"memory": "1280m"})
    assert planned(cluster, actual) == [
        ("recreate", "rec-session-taskmanager-1", "changed: taskmanager.memory"),
        ("recreate", "rec-session-taskmanager-2", "changed: taskmanager.memory")]


def test_docker_taskmanager_java_opts_recreate_only_taskmanagers():
    # env.java.opts.taskmanager is read by the TaskManagers' start script only: the JobManager stays.
    cluster, actual = docker_platform(load("docker_session"), taskmanager={"java_opts": "-Dflinkops.tm=1"})
    assert [(k, t) for k, t, _r in planned(cluster, actual)] == [
        ("recreate", "rec-session-taskmanager-1"), ("recreate", "rec-session-taskmanager-2")]
    cluster, actual = docker_platform(load("docker_session"), jobmanager={"java_opts": "-Dflinkops.jm=1"})
    assert [(k, t) for k, t, _r in planned(cluster, actual)] == [("recreate", "rec-session-jobmanager")]


def test_docker_flink_config_recreates_every_container():
    cluster, actual = docker_platform(load("docker_session"), flink_config={"execution.checkpointing.interval": "20s"})
    assert [(k, t) for k, t, _r in planned(cluster, actual)] == [
        ("recreate", "rec-session-jobmanager"), ("recreate", "rec-session-taskmanager-1"),
        ("recreate", "rec-session-taskmanager-2")]
    assert all(r == "changed: flink_config" for _k, _t, r in planned(cluster, actual))


def test_docker_a_new_secret_value_recreates_without_showing_it():
    cluster, actual = docker_platform(load("docker_session"), flink_config_secrets={"s3.secret-key": "rotated"})
    plan = planned(cluster, actual)
    assert len(plan) == 3 and all(k == "recreate" for k, _t, _r in plan)
    assert "rotated" not in json.dumps([plan, cluster.desired_view()])


def test_docker_scaling_adds_and_removes_taskmanagers():
    cluster, actual = docker_platform(load("docker_session"), taskmanager={"replicas": 3})
    assert planned(cluster, actual) == [("create", "rec-session-taskmanager-3", "missing")]
    cluster, actual = docker_platform(load("docker_session"), taskmanager={"replicas": 1})
    assert planned(cluster, actual) == [("remove", "rec-session-taskmanager-2", "taskmanager.replicas is 1")]


def test_docker_new_image_id_stopped_container_restart_and_absent():
    rec = load("docker_session")
    cluster, actual = docker_platform(rec)
    cluster.image._image_id = "sha256:" + "0" * 64
    assert set(r for _k, _t, r in planned(cluster, actual)) == {"image flinkops/flink:2.2.1-java17 has a new id"}
    cluster, actual = docker_platform(rec)
    actual["taskmanagers"][2]["State"] = "exited"
    assert planned(cluster, actual) == [("start", "rec-session-taskmanager-2", "container is exited")]
    cluster, actual = docker_platform(rec, state="restarted")
    assert [k for k, _t, _r in planned(cluster, actual, "restarted")] == ["restart"] * 3
    cluster, actual = docker_platform(rec, state="absent")
    assert planned(cluster, actual, "absent") == [
        ("remove", "rec-session-taskmanager-2", "state is absent"), ("remove", "rec-session-taskmanager-1", "state is absent"),
        ("remove", "rec-session-jobmanager", "state is absent"), ("remove", "network flink-rec-session", "state is absent")]


def test_docker_foreign_container_with_our_name_is_refused():
    rec = load("docker_session")
    cluster, actual = docker_platform(rec, taskmanager={"replicas": 3})
    stranger = copy.deepcopy(rec["name_lookup"][0])
    stranger.update(Id="f" * 64, Names=["/rec-session-taskmanager-3"])
    cluster.api = Replay({"containers": rec["name_lookup"] + [stranger]})
    with pytest.raises(SpecError) as err:
        cluster.plan(actual, "present")
    assert err.value.option == "name" and "rec-session-taskmanager-3" in str(err.value)


def test_docker_application_job_change_is_an_upgrade_of_the_jobmanager_only():
    from ansible_collections.flinkops.flink.plugins.module_utils.flows.application import plan_application
    rec = load("docker_application")
    cluster, actual = docker_platform(rec)
    assert planned(cluster, actual) == []
    job = dict(rec["params"]["job"], parallelism=4)
    cluster, actual = docker_platform(rec, job=job)
    actions, after = plan_application(cluster, actual, None, "running", check_mode=True)
    assert [(a.kind, a.target) for a in actions] == [("upgrade", "job of rec-app"), ("recreate", "rec-app-jobmanager")]
    assert "upgrade_mode savepoint" in actions[0].reason and after["job"]["parallelism"] == 4
    # suspended: a savepoint, then the containers go (the network stays for the resume)
    cluster, actual = docker_platform(rec)
    actions, after = plan_application(cluster, actual, None, "suspended", check_mode=True)
    assert [(a.kind, a.target) for a in actions] == [
        ("savepoint", "job of rec-app"), ("remove", "rec-app-taskmanager-1"), ("remove", "rec-app-jobmanager")]
    assert after == {"state": "suspended"}


def test_docker_application_trigger_savepoint_is_one_more_action_after_the_deploy():
    from ansible_collections.flinkops.flink.plugins.module_utils.flows.application import plan_application
    rec = load("docker_application")
    cluster, actual = docker_platform(rec, trigger_savepoint=True)
    actions = plan_application(cluster, actual, None, "running", check_mode=True)[0]
    assert [(a.kind, a.role, a.reason) for a in actions] == [("savepoint", "snapshot", "trigger_savepoint is true")]
    job = dict(rec["params"]["job"], parallelism=4)
    cluster, actual = docker_platform(rec, job=job, trigger_savepoint=True)
    actions = plan_application(cluster, actual, None, "running", check_mode=True)[0]
    assert [a.kind for a in actions] == ["upgrade", "recreate", "savepoint"]


def test_docker_before_view_takes_the_taskmanagers_own_part():
    """TaskManagers recreated after the JobManager (a TaskManager-only change) carry their part of the view."""
    cluster, actual = docker_platform(load("docker_session"))
    assert cluster.before_view(actual)["taskmanager"]["slots"] == 2  # recorded TaskManagers: the JobManager's view
    for container in actual["taskmanagers"].values():
        container["Labels"]["org.flinkops.spec"] = json.dumps({"taskmanager": {"memory": "1280m", "slots": 3}})
    before = cluster.before_view(actual)
    assert (before["taskmanager"]["memory"], before["taskmanager"]["slots"], before["taskmanager"]["replicas"]) == \
        ("1280m", 3, 2)


# Swarm --------------------------------------------------------------------------------------------------------
def swarm_platform(recording, **changes):
    params = merge(full_params(recording["params"], recording["kind"]), changes)
    params["api_version"] = "1.41"  # no version negotiation: the client is never asked anything
    module = RecordingModule(params)
    cls = platform_class(params, recording["kind"])
    cluster = cls(module, desired_spec(module, cls, require_image=params["state"] != "absent"))
    cluster.client = Replay({})  # plan() works from the read; any call to the engine fails the test
    cluster._digest = recording["digest"]
    return cluster, copy.deepcopy(recording["actual"])


def test_swarm_unchanged_plans_nothing():
    cluster, actual = swarm_platform(load("swarm_session"))
    assert planned(cluster, actual) == []
    before = cluster.before_view(actual)
    assert dict(before, state=None) == dict(cluster.desired_view(), state=None)


def test_swarm_taskmanager_changes_update_only_the_taskmanager_service():
    rec = load("swarm_session")
    name = rec["params"]["name"]
    cluster, actual = swarm_platform(rec, taskmanager={"replicas": 3})
    assert planned(cluster, actual) == [("update", "service %s-taskmanager" % name, "changed: taskmanager.replicas")]
    cluster, actual = swarm_platform(rec, taskmanager={"slots": 3, "memory": "1280m"})
    assert planned(cluster, actual) == [("update", "service %s-taskmanager" % name,
                                         "changed: taskmanager.memory, taskmanager.slots")]


def test_swarm_shared_changes_update_both_and_a_new_secret_is_created_first():
    rec = load("swarm_session")
    name = rec["params"]["name"]
    cluster, actual = swarm_platform(rec, flink_config={"execution.checkpointing.interval": "30s"})
    assert planned(cluster, actual) == [
        ("update", "service %s-%s" % (name, role), "changed: flink_config.execution.checkpointing.interval")
        for role in ("jobmanager", "taskmanager")]
    cluster, actual = swarm_platform(rec, flink_config_secrets={"s3.secret-key": "rotated"})
    plan = planned(cluster, actual)
    assert [(k, t.split(" ")[0]) for k, t, _r in plan] == [
        ("create", "secret"), ("update", "service"), ("update", "service")]
    assert "rotated" not in json.dumps([plan, cluster.desired_view()])


def test_swarm_new_image_digest_restart_and_absent():
    rec = load("swarm_session")
    name = rec["params"]["name"]
    cluster, actual = swarm_platform(rec)
    cluster._digest = "sha256:" + "1" * 64
    assert [(k, t) for k, t, _r in planned(cluster, actual)] == [
        ("update", "service %s-jobmanager" % name), ("update", "service %s-taskmanager" % name)]
    assert all("is now sha256:111" in r for _k, _t, r in planned(cluster, actual))
    cluster, actual = swarm_platform(rec, state="restarted")
    assert [k for k, _t, _r in planned(cluster, actual, "restarted")] == ["restart", "restart"]
    cluster, actual = swarm_platform(rec, state="absent")
    plan = planned(cluster, actual, "absent")
    assert [(k, t.split(" ")[0]) for k, t, _r in plan] == [
        ("remove", "service"), ("remove", "service"), ("remove", "secrets"), ("remove", "network")]
    assert plan[0][1] == "service %s-taskmanager" % name


def test_swarm_network_of_another_driver_is_refused():
    cluster, actual = swarm_platform(load("swarm_session"))
    actual["network"]["Driver"], actual["network"]["Scope"] = "bridge", "local"
    with pytest.raises(SpecError) as err:
        cluster.plan(actual, "present")
    assert err.value.option == "network"


# Kubernetes (native) ------------------------------------------------------------------------------------------
@pytest.fixture(params=["sdk", "lite"])
def k8s_form(request):
    """The reads as either client returns them: the SDK's models, or kubernetes/lite.py's Resources (an unchanged
    run reads without the SDK); the plans must not differ."""
    return request.param


def k8s_platform(recording, form="sdk", **changes):
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.native_spec import is_ha_configmap
    params = merge(full_params(recording["params"], recording["kind"]), changes)
    # No kubeconfig is read and nothing is asked: the client is built for an address that is never called.
    params.update(kubeconfig=None, context=None, host="https://127.0.0.1:1")
    module = RecordingModule(params)
    cls = platform_class(params, recording["kind"])
    cluster = cls(module, desired_spec(module, cls, require_image=params["state"] != "absent"))
    cluster.core = cluster.apps = cluster.authz = Replay({})
    client = cluster.api_client

    def typed(data, kind):  # the SDK's own deserialisation of the API server's JSON, or the lite transport's
        if form == "lite":
            return lite.wrap(copy.deepcopy(data))
        return client.sdk()._ApiClient__deserialize(copy.deepcopy(data), kind)  # pylint: disable=protected-access

    rec = recording["actual"]
    configmaps = [typed(c, "V1ConfigMap") for c in rec["configmaps"]]
    actual = {"deployment": typed(rec["deployment"], "V1Deployment") if rec["deployment"] else None,
              "services": dict((k, typed(v, "V1Service") if v else None) for k, v in rec["services"].items()),
              "configmaps": configmaps, "pods": [typed(p, "V1Pod") for p in rec["pods"]],
              "ha_configmaps": [c for c in configmaps if is_ha_configmap(c, cluster.cluster_id)]}
    return cluster, actual


def test_k8s_unchanged_plans_nothing(k8s_form):
    cluster, actual = k8s_platform(load("k8s_session"), form=k8s_form)
    assert actual["deployment"] is not None and len(actual["pods"]) >= 1
    assert planned(cluster, actual) == []
    assert dict(cluster.before_view(actual), state=None) == dict(cluster.desired_view(), state=None)


def test_k8s_spec_changes_recreate_the_deployment_naming_the_fields(k8s_form):
    rec = load("k8s_session")
    name = rec["params"]["name"]
    cluster, actual = k8s_platform(rec, taskmanager={"memory": "1280m", "slots": 3}, form=k8s_form)
    assert planned(cluster, actual) == [
        ("recreate", "deployment %s" % name, "changed: taskmanager.memory, taskmanager.slots")]
    before, after = cluster.before_view(actual), cluster.desired_view()
    assert (before["taskmanager"]["memory"], after["taskmanager"]["memory"]) != (None, None)
    assert after["taskmanager"]["slots"] == 3 and before["taskmanager"]["slots"] != 3
    cluster, actual = k8s_platform(rec, flink_config={"execution.checkpointing.interval": "30s"}, form=k8s_form)
    assert planned(cluster, actual) == [
        ("recreate", "deployment %s" % name, "changed: flink_config.execution.checkpointing.interval")]


def test_k8s_log_level_is_an_update_without_restart_and_restarted_restarts(k8s_form):
    rec = load("k8s_session")
    name = rec["params"]["name"]
    cluster, actual = k8s_platform(rec, log_level="DEBUG", form=k8s_form)
    assert [(k, t) for k, t, _r in planned(cluster, actual)] == [("update", "log level of %s" % name)]
    cluster, actual = k8s_platform(rec, state="restarted", form=k8s_form)
    assert planned(cluster, actual, "restarted") == [("restart", "deployment %s" % name, "state is restarted")]


def test_k8s_absent_removes_the_deployment(k8s_form):
    rec = load("k8s_session")
    cluster, actual = k8s_platform(rec, state="absent", form=k8s_form)
    assert [(k, t) for k, t, _r in planned(cluster, actual, "absent")][:1] == [
        ("remove", "deployment %s" % rec["params"]["name"])]


def test_k8s_foreign_deployment_and_left_over_services_are_refused(k8s_form):
    rec = load("k8s_session")
    cluster, actual = k8s_platform(rec, form=k8s_form)
    actual["deployment"].metadata.annotations = {}
    actual["deployment"].metadata.labels = {"app": cluster.cluster_id}  # not one Flink's client made
    with pytest.raises(SpecError) as err:
        cluster.plan(actual, "present")
    assert err.value.option == "name" and "did not create" in err.value.message
    cluster, actual = k8s_platform(rec, form=k8s_form)
    actual["deployment"] = None
    with pytest.raises(SpecError) as err:
        cluster.plan(actual, "present")
    assert err.value.option == "name" and "without a Deployment" in err.value.message


def test_k8s_session_started_by_flinks_client_is_adopted_when_the_spec_matches(k8s_form):
    """The recorded cluster without the module's annotations is what kubernetes-session.sh with the same settings
    leaves: its ConfigMap's configuration matches the spec, so the plan only annotates it; another spec is refused
    naming the option, before anything is touched."""
    rec = load("k8s_session")
    name = rec["params"]["name"]
    cluster, actual = k8s_platform(rec, form=k8s_form)
    actual["deployment"].metadata.annotations = {}
    assert [(k, t) for k, t, _r in planned(cluster, actual)] == [("adopt", "deployment %s" % name)]
    cluster, actual = k8s_platform(rec, taskmanager={"slots": 7}, form=k8s_form)
    actual["deployment"].metadata.annotations = {}
    with pytest.raises(SpecError) as err:
        cluster.plan(actual, "present")
    # slotmanager.number-of-slots.min (replicas x slots) differs too and comes first.
    assert err.value.option == "taskmanager.replicas" and "started without this collection" in err.value.message
    assert "taskmanager.slots (taskmanager.numberOfTaskSlots: running 2, spec 7)" in err.value.message
