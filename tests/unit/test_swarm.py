"""Pure logic of the swarm modules: the "update out of sequence" retry, the service spec (validation before
anything is touched, FLINK_PROPERTIES, the spec hash)."""

from __future__ import annotations

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.swarm.retry import (
    is_out_of_sequence, retry_out_of_sequence)
from ansible_collections.flinkops.flink.plugins.module_utils.swarm.service import PORT_GRACE_SECONDS, placement_error
from ansible_collections.flinkops.flink.plugins.module_utils.swarm.service_spec import ServiceSpec

pytestmark = [pytest.mark.unit]


class FakeAPIError(Exception):
    def __init__(self, explanation):
        super(FakeAPIError, self).__init__("500 Server Error: " + explanation)
        self.explanation = explanation


def racing(failures, error="rpc error: code = Unknown desc = update out of sequence"):
    """An update that loses the race ``failures`` times, re-reading the version each time."""
    calls = []

    def attempt():
        calls.append(len(calls))
        if len(calls) <= failures:
            raise FakeAPIError(error)
        return "updated at version %d" % len(calls)
    return attempt, calls


def test_retry_succeeds_after_lost_races():
    attempt, calls = racing(2)
    slept = []
    result, tries = retry_out_of_sequence(attempt, attempts=5, delay=0.1, sleep=slept.append)
    assert result == "updated at version 3" and tries == 3 and len(calls) == 3
    assert slept == [0.1, 0.2]  # backs off a little more each time


def test_retry_is_bounded():
    attempt, calls = racing(10)
    with pytest.raises(FakeAPIError, match="out of sequence"):
        retry_out_of_sequence(attempt, attempts=4, sleep=lambda s: None)
    assert len(calls) == 4


def test_other_errors_are_not_retried():
    attempt, calls = racing(3, error="service not found")
    with pytest.raises(FakeAPIError, match="not found"):
        retry_out_of_sequence(attempt, attempts=5, sleep=lambda s: None)
    assert len(calls) == 1


def test_out_of_sequence_detection():
    assert is_out_of_sequence(FakeAPIError("update out of sequence"))
    assert is_out_of_sequence(Exception("rpc error: code = Unknown desc = Update out of sequence"))
    assert not is_out_of_sequence(Exception("no such service"))


def params(**overrides):
    base = dict(name="orders-tm", state="present", image="registry:5000/flinkops/flink:2.2.1-java17",
                flink_version=None, command="taskmanager", args=[], replicas=2, jobmanager_address="orders-jm",
                flink_config={"taskmanager.numberOfTaskSlots": 2}, env={}, mounts=[], networks=[{"name": "flink"}],
                publish=[], endpoint_mode="dnsrr", constraints=["node.labels.flink.role==taskmanager"],
                preferences=[], resources=None, restart_policy=None, update_config=None, labels={},
                container_labels={}, hostname=None)
    base.update(overrides)
    return base


def test_taskmanager_properties_and_stable_ids():
    spec = ServiceSpec(params())
    lines = spec.data["env"]["FLINK_PROPERTIES"].splitlines()
    assert "jobmanager.rpc.address: orders-jm" in lines
    assert "taskmanager.numberOfTaskSlots: 2" in lines
    # expanded by the swarm per task: TaskManagers register as orders-tm-1, orders-tm-2
    assert lines[-1] == "taskmanager.resource-id: {{.Service.Name}}-{{.Task.Slot}}"


def test_hash_is_stable_and_follows_the_spec():
    assert ServiceSpec(params()).hash == ServiceSpec(params()).hash
    assert ServiceSpec(params()).hash != ServiceSpec(params(replicas=3)).hash
    assert ServiceSpec(params()).hash != ServiceSpec(params(constraints=[])).hash


@pytest.mark.parametrize("overrides, option", [
    ({"jobmanager_address": None}, "jobmanager_address"),
    ({"command": "jobmanager", "replicas": 2}, "replicas"),
    ({"flink_config": {"jobmanager.rpc.address": "x"}}, "flink_config.jobmanager.rpc.address"),
    ({"env": {"FLINK_PROPERTIES": "a: b"}}, "env.FLINK_PROPERTIES"),
    ({"labels": {"org.flinkops.x": "1"}}, "labels.org.flinkops.x"),
    ({"publish": [{"published": 8081, "target": 8081, "mode": "ingress"}]}, "publish"),
    ({"flink_config": {"taskmanager.memory.network.min": "64m"}}, None),
    ({"resources": {"limit_memory": "lots"}}, "resources.limit_memory"),
])
def test_bad_input_names_the_option(overrides, option):
    if option is None:
        ServiceSpec(params(**overrides))
        return
    with pytest.raises(SpecError) as err:
        ServiceSpec(params(**overrides))
    assert err.value.option == option


def test_taskmanager_host_from_rpc_path():
    from ansible_collections.flinkops.flink.plugins.module_utils.swarm.service import tm_host
    assert tm_host({"path": "pekko.tcp://flink@10.0.1.8:36817/user/rpc/taskmanager_0"}) == "10.0.1.8"
    assert tm_host({"path": "akka.tcp://flink@tm-1.example:6122/user/rpc/taskmanager_0"}) == "tm-1.example"
    assert tm_host({}) is None


def test_image_digest_of_a_reference():
    from ansible_collections.flinkops.flink.plugins.module_utils.swarm.service import SwarmService, image_digest
    assert image_digest("reg:5000/flink:2.2.1@sha256:abc") == "sha256:abc"
    assert image_digest("reg:5000/flink:2.2.1") is None
    assert image_digest(None) is None
    actual = {"Spec": {"TaskTemplate": {"ContainerSpec": {"Image": "reg:5000/f:1@sha256:0f"}}}}
    assert SwarmService.running_digest(actual) == "sha256:0f"
    assert SwarmService.running_digest(None) is None


def test_taskmanagers_get_the_registration_health_check():
    health = ServiceSpec(params(flink_config={"rest.port": 9081})).data["healthcheck"]
    assert health["test"][:3] == ["CMD", "bash", "-c"]
    assert "/dev/tcp/orders-jm/9081" in health["test"][3] and "GET /taskmanagers" in health["test"][3]
    assert (health["interval"], health["retries"]) == (5, 24)
    assert ServiceSpec(params(command="jobmanager", replicas=1, jobmanager_address=None)).data["healthcheck"] == {}
    off = ServiceSpec(params(healthcheck={"test": ["NONE"]})).data["healthcheck"]
    assert off["test"] == ["NONE"]
    with pytest.raises(SpecError) as err:
        ServiceSpec(params(healthcheck={"test": ["curl", "-f", "http://localhost"]}))
    assert err.value.option == "healthcheck.test"


def pending(task_id, error, slot=1):
    return {"id": task_id, "slot": slot, "state": "pending", "error": error}


PORT_BUSY = "no suitable node (scheduling constraints not satisfied on 2 nodes; host-mode port already in use on 1 node)"


def test_a_constraint_no_node_satisfies_fails_at_once():
    error = placement_error("jm", [pending("a", "no suitable node (scheduling constraints not satisfied on 3 nodes)")],
                            {}, 100.0)
    assert error.option == "constraints" and "task 1 of jm" in str(error)
    error = placement_error("jm", [pending("a", "no suitable node (insufficient resources on 3 nodes)")], {}, 100.0)
    assert error.option == "resources"


def test_a_busy_host_port_gets_a_grace_period():
    seen = {}
    tasks = [{"id": "r", "slot": 1, "state": "running", "error": ""}, pending("a", PORT_BUSY, slot=2)]
    assert placement_error("jm", tasks, seen, 100.0) is None
    assert placement_error("jm", tasks, seen, 100.0 + PORT_GRACE_SECONDS - 1) is None
    error = placement_error("jm", tasks, seen, 100.0 + PORT_GRACE_SECONDS)
    assert error.option == "publish" and "task 2 of jm" in str(error) and "host mode" in str(error)
    # Another task (the swarm replaced the pending one) starts its own grace period.
    assert placement_error("jm", [pending("b", PORT_BUSY)], seen, 100.0 + PORT_GRACE_SECONDS + 1) is None
