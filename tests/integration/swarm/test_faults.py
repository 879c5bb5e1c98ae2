"""Faults of the engine under a run. The test bed's nodes each run their own dockerd, so one of them can be
restarted in the middle of a run without touching the engine the rest of the suite uses; these tests hold the
swarm test bed's lock like every test of this package.

A Docker daemon restarted while flink_session (platform docker) creates and waits: the run fails, saying the
engine went away (or rides it out); the re-run converges, with exactly the cluster's containers (no duplicate, no
orphan, no <name>-next/-prev left), and a third run changes nothing."""

from __future__ import annotations

import secrets
import subprocess
import threading
import time

import docker
import pytest

from tests.integration.swarm.test_session import rest, wait_node
from tests.lib.ansible import run_playbook

pytestmark = [pytest.mark.swarm]

PORT = 18090


def session_task(swarm, node, name):
    return {"name": "session", "register": "out", "flinkops.flink.flink_session": {
        "name": name, "platform": "docker", "docker_host": swarm.docker_host(node), "image": swarm.image(),
        "rest_port": PORT, "rest_bind_address": "0.0.0.0", "jobmanager": {"memory": "1024m"},
        "taskmanager": {"memory": "1152m", "replicas": 2, "slots": 1}, "wait_timeout": 300}}


def restart_when_created(swarm, node, name, restarted, timeout=300):
    """Restart the node's dockerd (its container) once the run has created the JobManager's container."""
    client = swarm.client(node)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if client.containers.list(all=True, filters={"name": "%s-jobmanager" % name}):
                subprocess.run(["docker", "restart", "-t", "5", node], check=True, capture_output=True, timeout=120)
                restarted["at"] = time.monotonic()
                return
            time.sleep(0.2)
    finally:
        client.close()


def engine_up(swarm, node, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        try:
            client = swarm.client(node)
            client.ping()
            return client
        except docker.errors.DockerException:
            assert time.monotonic() < deadline, "the dockerd of %s is not back after %ss" % (node, timeout)
            time.sleep(1)


def test_docker_daemon_restarted_in_the_middle_of_a_run(swarm, collections_path):
    node = swarm.workers[-1]
    name = "flinkops-fault-%s" % secrets.token_hex(3)
    task = session_task(swarm, node, name)
    restarted = {}
    restarter = threading.Thread(target=restart_when_created, args=(swarm, node, name, restarted))
    restarter.start()
    started = time.monotonic()
    first = run_playbook(collections_path, tasks=[task])
    restarter.join()
    client = engine_up(swarm, node)
    try:
        assert restarted, "the JobManager's container was never seen"
        out = first.task("session") if first.results else {"msg": first.stdout[-2000:]}
        print("dockerd restarted %.1fs into the run; the run %s after %.1fs: %s" % (
            restarted["at"] - started, "failed" if first.rc else "passed", time.monotonic() - started,
            out.get("msg")))
        if first.rc != 0:  # the run met the outage outside a wait: a clean error naming the option, no traceback
            assert out.get("msg", "").startswith("docker_host: cannot reach the Docker daemon"), out

        # The re-run converges: exactly the cluster's containers, running, its TaskManagers registered.
        again = run_playbook(collections_path, tasks=[task])
        assert again.rc == 0, again.task("session").get("msg") if again.results else again.stdout[-2000:]
        names = sorted(c.name for c in client.containers.list(
            all=True, filters={"label": "org.flinkops.cluster=%s" % name}))
        assert names == ["%s-jobmanager" % name, "%s-taskmanager-1" % name, "%s-taskmanager-2" % name], names
        assert all(c.status == "running" for c in client.containers.list(
            all=True, filters={"label": "org.flinkops.cluster=%s" % name}))
        url = "http://%s:%d" % (swarm.address(node), PORT)
        tms = sorted(t["id"] for t in rest(url, "/taskmanagers")["taskmanagers"])
        assert tms == ["%s-taskmanager-1" % name, "%s-taskmanager-2" % name], tms
        third = run_playbook(collections_path, tasks=[task])
        assert third.rc == 0 and third.task("session")["changed"] is False, third.task("session")
    finally:
        for container in client.containers.list(all=True, filters={"label": "org.flinkops.cluster=%s" % name}):
            container.remove(force=True)
        for network in client.networks.list(filters={"label": "org.flinkops.cluster=%s" % name}):
            network.remove()
        client.close()
        manager = swarm.client()
        wait_node(manager, node, "ready")  # the swarm's next tests need every node
        manager.close()
