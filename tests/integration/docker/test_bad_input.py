"""Bad input fails with a clear error naming the option, before anything is touched: an existing cluster
stays exactly as it was (same containers, same state, same labels, same network)."""

from __future__ import annotations

import secrets
import socket

import pytest

from tests.conftest import FLINK_DEFAULT, flink_image, remove_cluster
from tests.integration.docker.conftest import free_port
from tests.integration.docker.test_session import session_task
from tests.lib.ansible import run_playbook

pytestmark = [pytest.mark.docker]


@pytest.fixture(scope="module")
def existing(collections_path, docker_client):
    name = "t%s-badinput" % secrets.token_hex(3)
    port = free_port()
    image = flink_image(FLINK_DEFAULT)
    result = run_playbook(collections_path, tasks=[session_task(name, image, port, taskmanager={"replicas": 1})])
    assert result.rc == 0, result
    yield {"name": name, "port": port, "image": image}
    remove_cluster(docker_client, name)


def snapshot(docker_client, name):
    found = docker_client.containers.list(all=True, filters={"label": "org.flinkops.cluster=%s" % name})
    networks = docker_client.networks.list(filters={"label": "org.flinkops.cluster=%s" % name})
    return (sorted((c.name, c.id, c.status, tuple(sorted(c.labels.items()))) for c in found),
            sorted(n.id for n in networks))


@pytest.fixture
def taken_port():
    """A port a host process (not a container) listens on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


CASES = {
    "invalid name": ({"name": "Orders_DB"}, "name", "DNS-1123"),
    "unparsable memory": ({"taskmanager": {"memory": "plenty"}}, "taskmanager.memory", "1600m"),
    "zero slots": ({"taskmanager": {"slots": 0}}, "taskmanager.slots", "at least 1"),
    "negative taskmanagers": ({"taskmanager": {"replicas": -2}}, "taskmanager.replicas", "0 or more"),
    "plugin the image lacks": ({"plugins": ["flink-nonexistent-fs"]}, "plugins[0]", "Choose one of"),
    "image that does not exist": ({"image": "flinkops/flink-missing:2.2.1-java17"}, "image", "could not be pulled"),
    "key removed in Flink 2": ({"flink_config": {"taskmanager.heap.size": "1g"}}, "flink_config.taskmanager.heap.size",
                               "removed in Flink 2.0"),
    "slots in flink_config and taskmanager.slots": ({"flink_config": {"taskmanager.numberOfTaskSlots": 4}},
                                                    "flink_config.taskmanager.numberOfTaskSlots", "taskmanager.slots"),
    "version that contradicts the image": ({"flink_version": "1.20.5"}, "flink_version", "conflicts with the image tag"),
    "managed environment variable": ({"env": {"FLINK_PROPERTIES": "a: b"}}, "env.FLINK_PROPERTIES", "flink_config"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_touches_nothing(case, collections_path, docker_client, existing):
    overrides, option, words = CASES[case]
    before = snapshot(docker_client, existing["name"])
    task = session_task(existing["name"], existing["image"], existing["port"], taskmanager={"replicas": 1})
    for key, value in overrides.items():
        args = task["flinkops.flink.flink_session"]
        args[key] = dict(args[key], **value) if isinstance(value, dict) and isinstance(args.get(key), dict) else value
    result = run_playbook(collections_path, tasks=[task])
    assert result.rc != 0, result
    out = result.task("session")
    assert out["msg"].startswith(option + ":"), out["msg"]
    assert words in out["msg"], out["msg"]
    assert snapshot(docker_client, existing["name"]) == before


def test_port_taken_by_a_process(collections_path, docker_client, existing, taken_port):
    before = snapshot(docker_client, existing["name"])
    task = session_task(existing["name"], existing["image"], taken_port, taskmanager={"replicas": 1})
    result = run_playbook(collections_path, tasks=[task])
    assert result.rc != 0, result
    assert result.task("session")["msg"].startswith("rest_port: port %d is already in use" % taken_port)
    assert snapshot(docker_client, existing["name"]) == before


def test_port_taken_by_another_cluster(collections_path, docker_client, existing, cluster_name):
    task = session_task(cluster_name, existing["image"], existing["port"], taskmanager={"replicas": 1})
    result = run_playbook(collections_path, tasks=[task])
    assert result.rc != 0, result
    msg = result.task("session")["msg"]
    assert msg.startswith("rest_port: port %d is already published by container %s-jobmanager" % (
        existing["port"], existing["name"])), msg
    assert docker_client.containers.list(all=True, filters={"label": "org.flinkops.cluster=%s" % cluster_name}) == []
    assert docker_client.networks.list(names=["flink-%s" % cluster_name]) == []
