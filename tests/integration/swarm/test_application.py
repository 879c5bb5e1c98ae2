"""An application cluster on the swarm, as playbooks/application_swarm.yml runs it: the job jar baked into an
image (flink_image on the manager's daemon), pushed to the registry, the JobManager service runs `standalone-job
--job-classname org.flinkops.examples.BoundedCounter`, TaskManagers on both workers; the job runs to FINISHED,
its output is complete, the JobManager is not restarted (restart policy on-failure), a second run changes
nothing, flink_state=absent removes the services."""

from __future__ import annotations

import os
import re
import sys
import time

import pytest

from tests.conftest import CACHE, FLINK_DEFAULT, REPO
from tests.integration.swarm.conftest import INVENTORY
from tests.integration.swarm.test_session import rest
from tests.lib.ansible import run_playbook

pytestmark = [pytest.mark.swarm]

PLAYBOOK = os.path.join(REPO, "playbooks", "application_swarm.yml")
PORT = 18083
N, KEYS = 5000, 3


def play(collections_path, **extra):
    extra = dict({"ansible_python_interpreter": sys.executable}, **extra)
    result = run_playbook(collections_path, playbook_path=PLAYBOOK, inventory=INVENTORY, extra_vars=extra)
    assert result.rc == 0, result
    return result


def test_application_runs_to_completion(swarm, prefix, collections_path):
    jar = os.path.join(CACHE, "jobs", FLINK_DEFAULT, "flinkops-examples.jar")
    names = {"flink_name": prefix, "flink_rest_port": PORT, "flink_app_jar": jar,
             "flink_app_args": ["--n", str(N), "--keys", str(KEYS)]}
    first = play(collections_path, **names)
    assert sorted(first.changed) == ["Application cluster", "Application image with the job jar in usrlib",
                                     "Push the application image to the registry"]
    url = "http://%s:%d" % (swarm.address(swarm.manager), PORT)
    assert "BoundedCounter FINISHED" in first.task("Show the result")["msg"]
    assert sorted(t["id"] for t in first.task("Application cluster")["taskmanagers"]) == [
        "%s-taskmanager-1" % prefix, "%s-taskmanager-2" % prefix]

    # Through the REST API: exactly one job, the application, FINISHED.
    jobs = rest(url, "/jobs/overview")["jobs"]
    assert [(j["name"], j["state"]) for j in jobs] == [("BoundedCounter", "FINISHED")]

    # Its output (the TaskManagers' stdout, collected by the swarm from both workers) is complete.
    client = swarm.client()
    logs = b"".join(client.api.service_logs("%s-taskmanager" % prefix, stdout=True, stderr=False,
                                            timestamps=False)).decode("utf-8", "replace")
    expected = {}
    for i in range(1, N + 1):
        count, total = expected.get(i % KEYS, (0, 0))
        expected[i % KEYS] = (count + 1, total + i)
    seen = dict((int(k), (int(c), int(s))) for k, c, s in re.findall(r"key=(\d+) count=(\d+) sum=(\d+)", logs))
    assert seen == expected, logs[-3000:]
    assert re.findall(r"SUMMARY total count=(\d+) sum=(\d+)", logs) == [(str(N), str(N * (N + 1) // 2))]

    # The image the services run is the one built with the jar, pinned by digest, from the registry.
    jm_service = client.api.inspect_service("%s-jobmanager" % prefix)
    spec = jm_service["Spec"]["TaskTemplate"]
    assert spec["ContainerSpec"]["Image"].startswith("%s/flinkops/%s:" % (swarm.registry, prefix))
    assert "@sha256:" in spec["ContainerSpec"]["Image"]
    assert spec["ContainerSpec"]["Args"][:3] == ["standalone-job", "--job-classname",
                                                 "org.flinkops.examples.BoundedCounter"]
    assert spec["RestartPolicy"]["Condition"] == "on-failure"
    # The JobManager ran once: no restart after the finished job.
    time.sleep(5)
    tasks = client.api.tasks(filters={"service": "%s-jobmanager" % prefix})
    assert [t["Status"]["State"] for t in tasks] == ["running"], [t["Status"] for t in tasks]

    again = play(collections_path, **names)
    assert again.changed == []
    assert [(j["name"], j["state"]) for j in rest(url, "/jobs/overview")["jobs"]] == [("BoundedCounter", "FINISHED")]

    removed = play(collections_path, flink_state="absent", **names)
    assert sorted(removed.changed) == ["Application cluster"]
    assert not [s for s in client.services.list() if s.name.startswith(prefix)]
    client.close()
