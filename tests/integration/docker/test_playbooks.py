"""The shipped playbooks run as they are: the main session playbook deploys, runs the example job and is
unchanged on a second run; its removal playbook removes everything."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from tests.conftest import CACHE, FLINK_DEFAULT, REPO, flink_image
from tests.lib.ansible import run_playbook

pytestmark = [pytest.mark.docker]


def test_session_playbook(collections_path, docker_client, cluster_name, port):
    extra = {"flink_cluster_name": cluster_name, "flink_image": flink_image(FLINK_DEFAULT), "flink_rest_port": port,
             "flink_example_jar": os.path.join(CACHE, "jobs", FLINK_DEFAULT, "TopSpeedWindowing.jar")}
    playbook = os.path.join(REPO, "playbooks", "session_docker.yml")
    first = run_playbook(collections_path, playbook_path=playbook, extra_vars=extra)
    assert first.rc == 0, first
    assert first.task("Run the example job on the cluster")["job_state"] == "RUNNING"
    shown = first.task("Show where the web UI is and how the job is doing")["msg"]
    assert shown[0] == "Flink %s web UI: http://127.0.0.1:%d" % (FLINK_DEFAULT, port)
    with urllib.request.urlopen("http://127.0.0.1:%d/jobs/overview" % port, timeout=10) as response:
        jobs = json.loads(response.read())["jobs"]
    assert [j["state"] for j in jobs] == ["RUNNING"]

    second = run_playbook(collections_path, playbook_path=playbook, extra_vars=extra)
    assert second.rc == 0 and second.changed == [], second.changed

    removed = run_playbook(collections_path, playbook_path=os.path.join(REPO, "playbooks", "remove_session_docker.yml"),
                           extra_vars={"flink_cluster_name": cluster_name})
    assert removed.rc == 0 and removed.changed == ["Remove the session cluster"]
    assert docker_client.containers.list(all=True, filters={"label": "org.flinkops.cluster=%s" % cluster_name}) == []
