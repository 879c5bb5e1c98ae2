"""A rolling image update of the TaskManagers on the swarm: a new image is pushed under the *same tag*, the
module resolves the tag to its new registry digest (the spec did not change) and the swarm replaces the
TaskManagers one at a time (update_config parallelism 1, stop-first, rollback on failure). While it rolls, the
JobManager's REST API keeps answering and at least one TaskManager stays registered (the TaskManagers' built-in
health check makes the swarm wait for each new TaskManager to register before it replaces the next); afterwards every task runs
the new image, both TaskManagers registered again from their new tasks, and a second run changes nothing."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request

import pytest

from tests.conftest import FLINK_DEFAULT, flink_image
from tests.integration.swarm.conftest import build_image, push_image
from tests.integration.swarm.test_session import jobmanager_task, ok, rest, rest_url, taskmanager_task

pytestmark = [pytest.mark.swarm]

UPDATE_DELAY = 8


class RestPoller(threading.Thread):
    """Asks the JobManager for its TaskManagers every half second and records what it saw."""

    def __init__(self, url):
        super(RestPoller, self).__init__(daemon=True)
        self.url = url
        self.samples = []  # (seconds, answered, registered TaskManager ids or error)
        self.stop = threading.Event()

    def run(self):
        start = time.monotonic()
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(self.url + "/taskmanagers", timeout=5) as response:
                    ids = sorted(t["id"] for t in json.loads(response.read())["taskmanagers"])
                self.samples.append((time.monotonic() - start, True, ids))
            except Exception as exc:  # pylint: disable=broad-except
                self.samples.append((time.monotonic() - start, False, str(exc)))
            self.stop.wait(0.5)


def running_tasks(client, service):
    return [t for t in client.api.tasks(filters={"service": service, "desired-state": "running"})
            if t["Status"]["State"] == "running"]


def test_rolling_update_of_a_new_image_under_the_same_tag(swarm, prefix, collections_path):
    tag = "flinkops/flink:%s-%s" % (flink_image(FLINK_DEFAULT).split(":")[1], prefix.rsplit("-", 1)[1])
    image, first_digest = push_image(swarm, flink_image(FLINK_DEFAULT), tag)
    update_config = {"parallelism": 1, "delay": UPDATE_DELAY, "order": "stop-first", "failure_action": "rollback",
                     "monitor": 10}
    jm = jobmanager_task(swarm, prefix)
    tm = taskmanager_task(swarm, prefix, image=image, update_config=update_config, wait_timeout=300)

    deployed = ok(collections_path, jm, tm)
    tm_out = deployed.task("taskmanager")
    assert tm_out["image_digest"] == first_digest
    assert tm_out["taskmanagers"] == ["%s-tm-1" % prefix, "%s-tm-2" % prefix]
    client = swarm.client()
    service = client.api.inspect_service("%s-tm" % prefix)
    assert service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "%s@%s" % (image, first_digest)
    # The built-in health check (registered with the JobManager) paces the rolling update.
    assert "GET /taskmanagers" in service["Spec"]["TaskTemplate"]["ContainerSpec"]["Healthcheck"]["Test"][3]
    assert ok(collections_path, jm, tm).changed == []

    # The same tag, new content: a derived image (one label more, so another image id and digest).
    local = "flinkops/flink:rolling-%s" % prefix
    new_id = build_image(local, "FROM %s\nLABEL org.flinkops.test.rolling=%s\n" % (flink_image(FLINK_DEFAULT), prefix))
    try:
        pushed_again, new_digest = push_image(swarm, local, tag)
    finally:
        subprocess.run(["docker", "rmi", local], capture_output=True, timeout=120, check=False)
    assert pushed_again == image and new_digest != first_digest

    predicted = ok(collections_path, jm, tm, check=True, diff=True)
    assert predicted.changed == ["taskmanager"]
    (action,) = predicted.task("taskmanager")["actions"]
    assert action.startswith("update: service %s-tm (image %s is now %s" % (prefix, image, new_digest))
    assert first_digest in action and "spec changed" not in action
    diff = predicted.task("taskmanager")["diff"]
    assert (diff["before"]["image_digest"], diff["after"]["image_digest"]) == (first_digest, new_digest)
    assert diff["before"]["spec_hash"] == diff["after"]["spec_hash"]
    assert client.api.inspect_service("%s-tm" % prefix)["Version"] == service["Version"]  # check mode touched nothing

    old_containers = set(t["Status"]["ContainerStatus"]["ContainerID"] for t in running_tasks(client, "%s-tm" % prefix))
    poller = RestPoller(rest_url(swarm))
    poller.start()
    try:
        rolled = ok(collections_path, jm, tm)
    finally:
        poller.stop.set()
        poller.join(10)
    out = rolled.task("taskmanager")
    assert rolled.changed == ["taskmanager"]
    assert out["image_digest"] == new_digest

    # While it rolled: REST always answered, never without a TaskManager, and it was a real roll (the
    # JobManager saw a moment with one TaskManager only, or two at all times if re-registration was that fast).
    assert len(poller.samples) > 20, poller.samples
    unanswered = [s for s in poller.samples if not s[1]]
    assert not unanswered, unanswered
    timeline = ["%.1fs:%s" % (s[0], len(s[2])) for s in poller.samples]
    assert min(len(s[2]) for s in poller.samples) >= 1, timeline
    print("rolling update: %.1fs, %d REST samples, registered counts %s" % (
        rolled.seconds, len(poller.samples), sorted(set(len(s[2]) for s in poller.samples))))

    # Afterwards: the update completed, each task runs the new image (the container's image id on its node),
    # the tasks were replaced one at a time (update delay between them), and both TaskManagers registered again.
    service = client.api.inspect_service("%s-tm" % prefix)
    assert service["UpdateStatus"]["State"] == "completed"
    tasks = running_tasks(client, "%s-tm" % prefix)
    assert len(tasks) == 2
    started = []
    for task in tasks:
        assert task["Spec"]["ContainerSpec"]["Image"] == "%s@%s" % (image, new_digest)
        container_id = task["Status"]["ContainerStatus"]["ContainerID"]
        assert container_id not in old_containers
        node = client.api.inspect_node(task["NodeID"])["Description"]["Hostname"]
        node_client = swarm.client(node)
        assert node_client.api.inspect_container(container_id)["Image"] == new_id
        node_client.close()
        started.append(task["CreatedAt"])
    started.sort()
    first_start, second_start = [time.mktime(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) for s in started]
    assert second_start - first_start >= UPDATE_DELAY, started
    assert out["taskmanagers"] == ["%s-tm-1" % prefix, "%s-tm-2" % prefix]
    assert sorted(t["id"] for t in rest(rest_url(swarm), "/taskmanagers")["taskmanagers"]) == out["taskmanagers"]
    # The JobManager (another image) was left alone.
    assert rolled.task("jobmanager")["changed"] is False

    again = ok(collections_path, jm, tm)
    assert again.changed == []
    client.close()
