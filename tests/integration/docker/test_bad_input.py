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
from tests.lib.bad_input import cases, catalogue_tasks, problems

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


@pytest.fixture(scope="module")
def catalogue(collections_path, docker_client, existing):
    """Every case of the catalogue as one playbook against the running cluster, with snapshots around it."""
    before = snapshot(docker_client, existing["name"])
    args = session_task(existing["name"], existing["image"], existing["port"],
                        taskmanager={"replicas": 1})["flinkops.flink.flink_session"]
    result = run_playbook(collections_path, tasks=catalogue_tasks("flinkops.flink.flink_session", args, "docker"))
    return result, before, snapshot(docker_client, existing["name"])


def test_bad_input_catalogue_names_the_option_and_touches_nothing(catalogue):
    result, before, after = catalogue
    assert len(cases("docker")) >= 40
    assert problems(result, "docker") == []
    assert after == before  # same containers (ids), states and labels, same network


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
