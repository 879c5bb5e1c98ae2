"""A Flink session cluster as two swarm services on three real Docker hosts: the JobManager on the manager,
TaskManagers on the two workers by placement; they register with the JobManager, a job runs across them
to FINISHED, a lost worker's TaskManager is rescheduled and registers again, TaskManagers scale up and
down. Bad input: a constraint no node satisfies, a network that exists
with another driver."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import CACHE, FLINK_DEFAULT
from tests.lib.ansible import run_playbook

pytestmark = [pytest.mark.swarm]

REST_PORT = 18081


def jobmanager_task(swarm, prefix, **overrides):
    args = {"name": "%s-jm" % prefix, "image": swarm.image(), "command": "jobmanager",
            "docker_host": swarm.manager_docker_host, "networks": [{"name": prefix}], "endpoint_mode": "dnsrr",
            "publish": [{"published": REST_PORT, "target": 8081, "mode": "host"}],
            "constraints": ["node.labels.flink.role==jobmanager"],
            "flink_config": {"jobmanager.memory.process.size": "1024m"},
            "rest_url": rest_url(swarm), "wait_timeout": 180}
    args.update(overrides)
    return {"name": "jobmanager", "flinkops.flink.flink_swarm_service": args}


def taskmanager_task(swarm, prefix, replicas=2, **overrides):
    args = {"name": "%s-tm" % prefix, "image": swarm.image(), "command": "taskmanager", "replicas": replicas,
            "jobmanager_address": "%s-jm" % prefix, "docker_host": swarm.manager_docker_host,
            "networks": [{"name": prefix}], "endpoint_mode": "dnsrr",
            "constraints": ["node.labels.flink.role==taskmanager"], "preferences": ["node.hostname"],
            "flink_config": {"taskmanager.memory.process.size": "1152m", "taskmanager.numberOfTaskSlots": 2},
            "resources": {"limit_memory": "1152m"},
            "rest_url": rest_url(swarm), "wait_timeout": 240}
    args.update(overrides)
    return {"name": "taskmanager", "flinkops.flink.flink_swarm_service": args}


def rest_url(swarm):
    return "http://%s:%d" % (swarm.address(swarm.manager), REST_PORT)


def rest(url, path):
    with urllib.request.urlopen(url + path, timeout=10) as response:
        return json.loads(response.read())


def wait_node(client, hostname, state, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        nodes = dict((n.attrs["Description"]["Hostname"], n.attrs["Status"]["State"]) for n in client.nodes.list())
        if nodes.get(hostname) == state:
            return
        assert time.monotonic() < deadline, "node %s not %s after %ss: %s" % (hostname, state, timeout, nodes)
        time.sleep(1)


def run(collections_path, *tasks, **kwargs):
    return run_playbook(collections_path, tasks=list(tasks), **kwargs)


def ok(collections_path, *tasks, **kwargs):
    result = run(collections_path, *tasks, **kwargs)
    if result.rc != 0:
        failed = result.failures()
        pytest.fail("playbook failed: %s\n%s" % (failed, result.stderr[-2000:]))
    return result


def test_session_cluster_across_nodes(swarm, prefix, collections_path):
    jm, tm = jobmanager_task(swarm, prefix), taskmanager_task(swarm, prefix)

    predicted = ok(collections_path, jm, tm, check=True, diff=True)
    assert predicted.task("jobmanager")["actions"] == [
        "create_network: network %s (overlay)" % prefix, "create: service %s-jm" % prefix]
    assert predicted.task("taskmanager")["diff"]["before"] == {}
    client = swarm.client()
    assert not [s for s in client.services.list() if s.name.startswith(prefix)]

    start = time.monotonic()
    deployed = ok(collections_path, jm, tm)
    deploy_seconds = time.monotonic() - start
    jm_out, tm_out = deployed.task("jobmanager"), deployed.task("taskmanager")
    assert jm_out["changed"] and tm_out["changed"]
    assert [t["node"] for t in jm_out["tasks"]] == [swarm.manager]
    assert sorted(t["node"] for t in tm_out["tasks"]) == swarm.workers
    assert tm_out["taskmanagers"] == ["%s-tm-1" % prefix, "%s-tm-2" % prefix]
    overview = rest(rest_url(swarm), "/overview")
    assert overview["taskmanagers"] == 2 and overview["slots-total"] == 4
    print("deploy (pull on fresh nodes included): %.1fs" % deploy_seconds)

    again = ok(collections_path, jm, tm)
    assert again.changed == []

    # A job across both TaskManagers (parallelism 4 = all slots of both) runs to FINISHED.
    flink = os.path.join(CACHE, "flink", FLINK_DEFAULT, "bin", "flink")
    jar = os.path.join(CACHE, "jobs", FLINK_DEFAULT, "flinkops-examples.jar")
    proc = subprocess.run([flink, "run", "-m", "%s:%d" % (swarm.address(swarm.manager), REST_PORT), "-p", "4",
                           "-c", "org.flinkops.examples.BoundedCounter", jar],
                          capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = rest(rest_url(swarm), "/jobs/overview")["jobs"]
    assert [j["state"] for j in jobs] == ["FINISHED"]
    job = rest(rest_url(swarm), "/jobs/%s" % jobs[0]["jid"])
    used = set()
    for vertex in job["vertices"]:
        info = rest(rest_url(swarm), "/jobs/%s/vertices/%s/taskmanagers" % (jobs[0]["jid"], vertex["id"]))
        used.update(t.get("taskmanager-id") or t.get("taskmanagerId") for t in info["taskmanagers"])
    assert used == {"%s-tm-1" % prefix, "%s-tm-2" % prefix}

    # A worker is lost, then the TaskManagers are updated (a new environment variable): the swarm has placed the lost
    # worker's task on the other worker, the update applies to both tasks there, and the module's wait reports them
    # registered (from their new addresses; the JobManager's stale registration does not count). Then the worker
    # comes back. (Stopping the worker while the update's wait runs was tried: when the swarm had already assigned
    # the updated task to that worker, the update waited on it until the worker came back, a swarm behaviour the
    # module can only report; one CI run out of two met it.)
    lost = [t["node"] for t in tm_out["tasks"] if t["slot"] == 2][0]
    other = [w for w in swarm.workers if w != lost][0]
    moving = taskmanager_task(swarm, prefix, env={"FLINKOPS_FAULT": "worker-lost"})
    subprocess.run(["docker", "stop", "-t", "5", lost], check=True, capture_output=True, timeout=60)
    try:
        wait_node(client, lost, "down")
        moved = ok(collections_path, jm, moving)
        assert moved.changed == ["taskmanager"]
        assert sorted(t["node"] for t in moved.task("taskmanager")["tasks"]) == [other, other]
        assert moved.task("taskmanager")["taskmanagers"] == ["%s-tm-1" % prefix, "%s-tm-2" % prefix]
        assert [n.attrs["Status"]["State"] for n in client.nodes.list()
                if n.attrs["Description"]["Hostname"] == lost] == ["down"]
    finally:
        subprocess.run(["docker", "start", lost], check=True, capture_output=True, timeout=60)
    wait_node(client, lost, "ready")

    # Scale up: a third TaskManager registers, the JobManager is untouched.
    jm_id = jm_out["service_id"]
    up = ok(collections_path, jm, taskmanager_task(swarm, prefix, replicas=3))
    assert up.changed == ["taskmanager"]
    assert up.task("taskmanager")["taskmanagers"] == ["%s-tm-%d" % (prefix, i) for i in (1, 2, 3)]
    assert up.task("jobmanager")["service_id"] == jm_id
    # Scale down: exactly one stays registered.
    down = ok(collections_path, jm, taskmanager_task(swarm, prefix, replicas=1))
    assert down.task("taskmanager")["taskmanagers"] == ["%s-tm-1" % prefix]
    assert rest(rest_url(swarm), "/overview")["taskmanagers"] == 1

    removed = ok(collections_path, dict(taskmanager_task(swarm, prefix), **{
        "flinkops.flink.flink_swarm_service": {"name": "%s-tm" % prefix, "state": "absent",
                                               "docker_host": swarm.manager_docker_host}}))
    assert removed.task("taskmanager")["changed"]
    assert "%s-tm" % prefix not in [s.name for s in client.services.list()]
    client.close()


def test_constraint_no_node_satisfies_fails_fast(swarm, prefix, collections_path):
    task = taskmanager_task(swarm, prefix, constraints=["node.labels.flink.role==nowhere"], rest_url=None,
                            wait_timeout=120)
    result = run(collections_path, task)
    assert result.rc != 0
    out = result.task("taskmanager")
    assert out["option"] == "constraints"
    assert "placement: no node can run task" in out["msg"]
    assert "scheduling constraints not satisfied" in out["msg"]
    assert result.seconds < 60  # failed at once, not after wait_timeout


def test_network_with_another_driver_is_refused(swarm, prefix, collections_path):
    client = swarm.client()
    client.networks.create(prefix, driver="bridge")
    result = run(collections_path, jobmanager_task(swarm, prefix))
    assert result.rc != 0
    out = result.task("jobmanager")
    assert out["option"] == "networks"
    assert "exists with driver bridge" in out["msg"]
    assert not [s for s in client.services.list() if s.name.startswith(prefix)]
    client.close()
