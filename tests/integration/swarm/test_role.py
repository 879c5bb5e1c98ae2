"""The swarm role forms a Docker Swarm from the inventory groups on three real Docker hosts (Docker-in-Docker
nodes), idempotently; a host with swarm_state=absent is drained and removed; an inventory without a manager
fails before anything is touched."""

from __future__ import annotations

import os
import tempfile

import pytest
import yaml

from tests.integration.swarm.conftest import INVENTORY, play_swarm_role

pytestmark = [pytest.mark.swarm]


def node_table(nodes):
    client = nodes.client()
    table = dict((n.attrs["Description"]["Hostname"], n.attrs) for n in client.nodes.list())
    client.close()
    return table


def changed_hosts(result):
    return sorted(set(r["host"] for r in result.results if r["result"].get("changed")))


def test_role_forms_the_swarm_then_changes_nothing(swarm, collections_path):
    # Check mode on hosts in no swarm predicts init and joins for all three (and forms nothing: the real
    # run after it changes all three too).
    predicted = swarm.check_run
    assert predicted.rc == 0, predicted
    assert changed_hosts(predicted) == sorted(swarm.hosts)
    init = [r["result"] for r in predicted.results
            if r["host"] == swarm.manager and r["task"].endswith("Start the swarm on the first manager")]
    assert init[0]["actions"] == ["init: no swarm on this host", "labels: labels [('flink.role', 'jobmanager')]"]
    first = swarm.first_run
    assert changed_hosts(first) == sorted(swarm.hosts)
    table = node_table(swarm)
    assert sorted(table) == sorted(swarm.hosts)
    assert table[swarm.manager]["Spec"]["Role"] == "manager"
    assert all(table[w]["Spec"]["Role"] == "worker" for w in swarm.workers)
    assert all(n["Status"]["State"] == "ready" for n in table.values())
    assert table[swarm.workers[0]]["Spec"]["Labels"] == {"flink.role": "taskmanager"}
    assert table[swarm.manager]["Spec"]["Labels"] == {"flink.role": "jobmanager"}

    again = play_swarm_role(collections_path)
    assert again.rc == 0, again
    assert changed_hosts(again) == []
    checked = play_swarm_role(collections_path, check=True, diff=True)
    assert checked.rc == 0 and changed_hosts(checked) == [], checked


def write_inventory(mutate):
    with open(INVENTORY) as handle:
        inventory = yaml.safe_load(handle)
    mutate(inventory)
    path = os.path.join(tempfile.mkdtemp(prefix="flinkops-swarm-inv-"), "inventory.yml")
    with open(path, "w") as handle:
        yaml.safe_dump(inventory, handle)
    return path


def test_absent_host_is_drained_and_removed_then_rejoins(swarm, collections_path):
    leaving = swarm.workers[-1]

    def mark_absent(inventory):
        inventory["all"]["children"]["swarm_workers"]["hosts"][leaving]["swarm_state"] = "absent"
    result = play_swarm_role(collections_path, inventory=write_inventory(mark_absent))
    assert result.rc == 0, result
    assert changed_hosts(result) == [leaving]
    assert leaving not in node_table(swarm)
    client = swarm.client(leaving)
    assert client.info()["Swarm"]["LocalNodeState"] == "inactive"
    client.close()

    back = play_swarm_role(collections_path)
    assert back.rc == 0, back
    assert changed_hosts(back) == [leaving]
    table = node_table(swarm)
    assert table[leaving]["Status"]["State"] == "ready"
    assert table[leaving]["Spec"]["Labels"] == {"flink.role": "taskmanager"}


def test_inventory_without_manager_fails_before_touching_anything(swarm_nodes, collections_path):
    def drop_managers(inventory):
        del inventory["all"]["children"]["swarm_managers"]
    before = dict((n, swarm_nodes.client(n).info()["Swarm"]["LocalNodeState"]) for n in swarm_nodes.workers)
    result = play_swarm_role(collections_path, inventory=write_inventory(drop_managers))
    assert result.rc != 0
    failed = [r for r in result.results if r["status"] == "failed"]
    assert failed and failed[0]["task"].endswith("Check that the inventory names a manager that stays")
    assert "has no host with swarm_state=present; a swarm needs a manager" in failed[0]["result"]["msg"]
    assert changed_hosts(result) == []
    after = dict((n, swarm_nodes.client(n).info()["Swarm"]["LocalNodeState"]) for n in swarm_nodes.workers)
    assert after == before
