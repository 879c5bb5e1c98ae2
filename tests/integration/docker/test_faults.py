"""Faults while the module works, on the real engine: the run either rides them out or fails saying what happened,
and a re-run converges; a stateful job's counts go on with no reset and no gap."""

from __future__ import annotations

import os
import signal
import threading
import time

import docker.errors
import pytest

from tests.conftest import FLINK_DEFAULT, flink_image
from tests.integration.docker.test_application import (
    app_task, assert_counts_continuous, jar_versions, output, rest, run, wait_for_more_output)

pytestmark = [pytest.mark.docker]


def kill_new_container(docker_client, name, old_id, killed, timeout=300):
    """kill -9 the main process of container ``name`` once it is another one than ``old_id`` and running: the module has created
    and started it and now waits for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            container = docker_client.containers.get(name)
        except docker.errors.NotFound:
            container = None
        if container is not None and container.id != old_id and container.status == "running":
            time.sleep(3)  # its JVM is up and starting the job
            # kill -9 from the host, as the OOM killer or a crash would end it: `docker kill` counts as a manual
            # stop, after which Docker's restart policy does not restart the container.
            container.reload()
            os.kill(container.attrs["State"]["Pid"], signal.SIGKILL)
            killed.update(id=container.id, at=time.monotonic())
            return
        time.sleep(0.2)


def test_jobmanager_killed_while_the_module_waits(collections_path, docker_client, cluster_name, port, dirs):
    """An upgrade (savepoint, new JobManager): the new JobManager's JVM is killed (SIGKILL) while the module waits
    for the job. Docker's restart policy starts it again, it resumes the job from the same savepoint, and the module's
    wait rides it out (one restart is no crash loop). A re-run changes nothing; the counts have no gap or reset."""
    image = flink_image(FLINK_DEFAULT)
    v1, v2 = jar_versions(dirs, FLINK_DEFAULT)
    run(collections_path, app_task(cluster_name, image, port, v1, dirs))
    wait_for_more_output(dirs["out"], 40)
    jm_name = "%s-jobmanager" % cluster_name
    old_id = docker_client.containers.get(jm_name).id

    killed = {}
    killer = threading.Thread(target=kill_new_container, args=(docker_client, jm_name, old_id, killed))
    killer.start()
    started = time.monotonic()
    upgraded = run(collections_path, app_task(cluster_name, image, port, v2, dirs))
    killer.join()
    assert killed, "the new JobManager was never seen running"
    print("killed %.1fs into the run, which took %.1fs" % (killed["at"] - started, time.monotonic() - started))
    assert upgraded["job_state"] == "RUNNING" and upgraded["savepoint"], upgraded
    jm = docker_client.containers.get(jm_name)
    assert jm.id == killed["id"] and jm.attrs["RestartCount"] == 1, (jm.id, jm.attrs["RestartCount"])
    assert rest(port, "/jobs/%s" % upgraded["job_id"])["state"] == "RUNNING"

    # Converged: nothing to do, one JobManager and one TaskManager, nothing left of the replacement.
    again = run(collections_path, app_task(cluster_name, image, port, v2, dirs))
    assert again["changed"] is False and again["job_id"] == upgraded["job_id"], again
    names = sorted(c.name for c in docker_client.containers.list(
        all=True, filters={"label": "org.flinkops.cluster=%s" % cluster_name}))
    assert names == [jm_name, "%s-taskmanager-1" % cluster_name], names

    seen = len(output(dirs["out"]))
    wait_for_more_output(dirs["out"], seen + 40)
    finals = assert_counts_continuous(output(dirs["out"]))
    assert len(finals) == 4 and min(finals.values()) > 20, finals
