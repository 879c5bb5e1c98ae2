"""The example playbook playbooks/session_swarm.yml with the test-bed inventory, as a user runs it after
playbooks/swarm.yml: the overlay network from the network role, a session cluster (flink_session, platform swarm)
comes up with its TaskManagers registered, a second run changes nothing, flink_state=absent removes it."""

from __future__ import annotations

import json
import os
import sys
import urllib.request

import pytest

from tests.conftest import REPO
from tests.integration.swarm.conftest import INVENTORY
from tests.lib.ansible import run_playbook

pytestmark = [pytest.mark.swarm]

PLAYBOOK = os.path.join(REPO, "playbooks", "session_swarm.yml")


def play(collections_path, **extra):
    extra = dict({"ansible_python_interpreter": sys.executable}, **extra)
    result = run_playbook(collections_path, playbook_path=PLAYBOOK, inventory=INVENTORY, extra_vars=extra)
    assert result.rc == 0, result
    return result


def test_session_playbook(swarm, prefix, collections_path):
    names = {"flink_name": prefix, "flink_taskmanagers": 1, "flink_rest_port": 18082}
    first = play(collections_path, **names)
    network_task = [t for t in first.changed if t.endswith("Network %s" % prefix)]
    assert len(network_task) == 1  # the role flinkops.flink.network made the overlay network
    assert sorted(set(first.changed) - set(network_task)) == ["Session cluster"]
    network = swarm.client().api.inspect_network(prefix)
    assert (network["Driver"], network["Scope"], network["Attachable"]) == ("overlay", "swarm", True)
    cluster = first.task("Session cluster")
    assert not [a for a in cluster["actions"] if a["target"].startswith("network")]  # the role's network is used
    assert [t["id"] for t in cluster["taskmanagers"]] == ["%s-taskmanager-1" % prefix]
    url = "http://%s:18082" % swarm.address(swarm.manager)
    assert "Flink web UI: %s" % url in first.task("Show the web UI and the TaskManagers")["msg"]
    with urllib.request.urlopen(url + "/overview", timeout=10) as response:
        assert json.loads(response.read())["taskmanagers"] == 1

    again = play(collections_path, **names)
    assert again.changed == []

    removed = play(collections_path, flink_state="absent", **names)
    assert sorted(removed.changed) == ["Session cluster"]
    assert [a["target"] for a in removed.task("Session cluster")["actions"]] == [
        "service %s-taskmanager" % prefix, "service %s-jobmanager" % prefix]  # the role's network stays
    client = swarm.client()
    assert not [s for s in client.services.list() if s.name.startswith(prefix)]
    client.close()
