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


def assert_as_before_and_ready(collections_path, docker_client, existing, before, spec):
    """The cluster is the one before the failed change (same containers, ids, states and labels), no staged
    (-next) or kept (-prev) container is left, and the unchanged spec finds it ready with nothing to do."""
    name = existing["name"]
    assert snapshot(docker_client, name) == before
    leftovers = [c.name for c in docker_client.containers.list(
        all=True, filters={"label": "org.flinkops.cluster=%s" % name})]
    assert not [n for n in leftovers if n.endswith("-next") or n.endswith("-prev")], leftovers
    again = run_playbook(collections_path, tasks=[session_task(name, existing["image"], existing["port"], **spec)])
    out = again.task("session")
    assert again.rc == 0 and out["changed"] is False and len(out["taskmanagers"]) == 1, out


def test_a_replacement_that_cannot_be_created_or_started_leaves_the_old_container(
        collections_path, docker_client, existing, tmp_path):
    """Create before remove: a mount Docker refuses at creation fails while the old containers run untouched; a
    mount that fails only at start gives the JobManager its old container back, started again; the unchanged
    spec then finds the cluster as it was and ready."""
    name = existing["name"]
    before = snapshot(docker_client, name)
    spec = dict(taskmanager={"replicas": 1})
    task = session_task(name, existing["image"], existing["port"],
                        mounts=[{"source": "/nonexistent/flinkops-data", "target": "/data"}], **spec)
    result = run_playbook(collections_path, tasks=[task])
    msg = result.task("session")["msg"]
    assert result.rc != 0 and msg.startswith(
        "mounts: creating the new %s-jobmanager failed, the running one was left as it was" % name), msg
    assert "does not exist" in msg, msg
    assert snapshot(docker_client, name) == before

    # A file over a directory of the image fails at the first look into the container's file system: with
    # conf_dir nothing is copied into the created container, so Docker creates it and refuses only to start it.
    a_file = tmp_path / "not-a-directory"
    a_file.write_text("x")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.yaml").write_text("rest.port: 8081\n")
    task = session_task(name, existing["image"], existing["port"], conf_dir=str(conf),
                        mounts=[{"source": str(a_file), "target": "/opt/flink/lib"}], **spec)
    result = run_playbook(collections_path, tasks=[task])
    msg = result.task("session")["msg"]
    assert result.rc != 0 and "starting the new %s-jobmanager failed; the old container was started again" % name \
        in msg, msg
    assert_as_before_and_ready(collections_path, docker_client, existing, before, spec)


def test_a_change_that_never_gets_ready_is_rolled_back(collections_path, docker_client, existing):
    """A TaskManager whose JVM cannot load its agent starts and exits again and again: the wait fails, the replaced
    TaskManager container (kept, stopped) is started again under its name, the module waits for it and fails with
    rolled_back=true. The cluster is the one before the change: same container ids, running, ready."""
    name = existing["name"]
    before = snapshot(docker_client, name)
    spec = dict(taskmanager={"replicas": 1})
    # (other slots too: the wait after the rollback expects the restored TaskManager's 2 slots, not the 3 asked)
    broken = session_task(name, existing["image"], existing["port"], taskmanager={
        "replicas": 1, "slots": 3, "java_opts": "-javaagent:/opt/flinkops-no-such-agent.jar"})
    result = run_playbook(collections_path, tasks=[broken])
    out = result.task("session")
    assert result.rc != 0 and out.get("rolled_back") is True, out
    assert out["restored"] == ["%s-taskmanager-1" % name], out  # the JobManager was not part of the change
    assert "keeps restarting" in out["msg"] or "exited" in out["msg"], out["msg"]
    assert "flinkops-no-such-agent.jar" in out["msg"], out["msg"]  # the TaskManager's log says why
    assert "rolled back to the last stable spec" in out["msg"], out["msg"]
    assert_as_before_and_ready(collections_path, docker_client, existing, before, spec)

    # With rollback off the failed containers stay for inspection (and the next run replaces them).
    broken["flinkops.flink.flink_session"]["rollback"] = False
    broken["flinkops.flink.flink_session"]["wait_timeout"] = 60
    result = run_playbook(collections_path, tasks=[broken])
    out = result.task("session")
    assert result.rc != 0 and "rolled_back" not in out, out
    tm = docker_client.containers.get("%s-taskmanager-1" % name)
    assert tm.id != [c for c in before[0] if c[0] == "%s-taskmanager-1" % name][0][1]
    fixed = run_playbook(collections_path, tasks=[session_task(name, existing["image"], existing["port"], **spec)])
    assert fixed.rc == 0 and fixed.task("session")["changed"] is True, fixed.task("session")
