"""The network role on the swarm: overlay networks made through the manager (the role included twice in one
play with different variables), encrypted and with a subnet and labels as asked, idempotent; a Flink cluster
on the manager and both workers attached to one of them works across the hosts. Bad input: a network that exists
with another driver, and one with other settings, fail naming the option and leave the network untouched."""

from __future__ import annotations

import pytest

from tests.integration.swarm.test_session import jobmanager_task, ok, run, taskmanager_task

pytestmark = [pytest.mark.swarm]


def network_play(swarm, *networks, **play):
    tasks = []
    for variables in networks:
        tasks.append({"name": "network %s" % variables["network_name"],
                      "ansible.builtin.include_role": {"name": "flinkops.flink.network"},
                      "vars": dict({"network_docker_host": swarm.manager_docker_host}, **variables)})
    return [dict({"name": "networks", "hosts": "localhost", "gather_facts": False, "tasks": tasks}, **play)]


def test_overlay_networks_from_the_role_span_the_hosts(swarm, prefix, collections_path):
    encrypted = {"network_name": "%s-enc" % prefix, "network_driver": "overlay", "network_attachable": True,
                 "network_encrypted": True, "network_ipam_config": [{"subnet": "10.231.7.0/24", "gateway": "10.231.7.1"}],
                 "network_labels": {"team": "orders"}}
    plain = {"network_name": "%s-net" % prefix, "network_driver": "overlay"}
    client = swarm.client()

    predicted = ok(collections_path, plays=network_play(swarm, encrypted, plain), check=True, diff=True)
    changed = [r["result"] for r in predicted.results if r["result"].get("changed")]
    assert [c["actions"] for c in changed] == [["create: network %s-enc (overlay, encrypted)" % prefix],
                                               ["create: network %s-net (overlay)" % prefix]]
    assert changed[0]["diff"]["after"]["encrypted"] is True
    assert not [n for n in client.networks.list() if n.name.startswith(prefix)]

    made = ok(collections_path, plays=network_play(swarm, encrypted, plain))
    assert len(made.changed) == 2
    enc = client.api.inspect_network("%s-enc" % prefix)
    assert (enc["Driver"], enc["Scope"], enc["Attachable"]) == ("overlay", "swarm", True)
    assert "encrypted" in enc["Options"]
    assert enc["IPAM"]["Config"][0]["Subnet"] == "10.231.7.0/24"
    assert enc["IPAM"]["Config"][0]["Gateway"] == "10.231.7.1"
    assert enc["Labels"]["team"] == "orders" and enc["Labels"]["org.flinkops.managed-by"] == "flinkops.flink"
    net = client.api.inspect_network("%s-net" % prefix)
    assert (net["Driver"], net["Scope"], net["Attachable"]) == ("overlay", "swarm", False)
    assert "encrypted" not in (net["Options"] or {})

    again = ok(collections_path, plays=network_play(swarm, encrypted, plain))
    assert again.changed == []

    # A Flink cluster on the role's network: JobManager on the manager, TaskManagers on both workers. They
    # register with the JobManager across the hosts, which only works if the overlay spans them.
    on_net = [{"name": "%s-net" % prefix, "create": False}]
    deployed = ok(collections_path, jobmanager_task(swarm, prefix, networks=on_net),
                  taskmanager_task(swarm, prefix, networks=on_net))
    tm_out = deployed.task("taskmanager")
    assert sorted(t["node"] for t in tm_out["tasks"]) == swarm.workers
    assert tm_out["taskmanagers"] == ["%s-tm-1" % prefix, "%s-tm-2" % prefix]
    assert not [a for a in deployed.task("jobmanager")["actions"] if a.startswith("create_network")]
    for task in client.api.tasks(filters={"service": "%s-tm" % prefix, "desired-state": "running"}):
        assert [n["Network"]["ID"] for n in task["NetworksAttachments"]] == [net["Id"]]

    # Other settings on an existing network: refused naming the option, the network (in use) untouched.
    changed_labels = dict(plain, network_labels={"team": "payments"})
    refused = run(collections_path, plays=network_play(swarm, changed_labels))
    assert refused.rc != 0
    out = [r["result"] for r in refused.results if r["status"] == "failed"][0]
    assert out["option"] == "labels.team"
    assert "Docker cannot change a network in place" in out["msg"] and "recreate: true" in out["msg"]
    forced = run(collections_path, plays=network_play(swarm, dict(changed_labels, network_recreate=True)))
    assert forced.rc != 0
    out = [r["result"] for r in forced.results if r["status"] == "failed"][0]
    assert out["option"] == "recreate" and "service %s-tm" % prefix in out["msg"]
    assert client.api.inspect_network("%s-net" % prefix)["Id"] == net["Id"]
    client.close()


def test_network_with_another_driver_is_refused_and_left_alone(swarm, prefix, collections_path):
    client = swarm.client()
    existing = client.networks.create(prefix, driver="bridge", labels={"owner": "someone-else"})
    before = client.api.inspect_network(existing.id)
    result = run(collections_path, plays=network_play(swarm, {"network_name": prefix, "network_driver": "overlay",
                                                              "network_encrypted": True}))
    assert result.rc != 0
    out = [r["result"] for r in result.results if r["status"] == "failed"][0]
    assert out["option"] == "driver"
    assert "exists with driver bridge (scope local), not overlay; it was left as it is" in out["msg"]
    assert "Use another network name, or remove the existing network first" in out["msg"]
    after = client.api.inspect_network(existing.id)
    assert after == before
    assert [n.id for n in client.networks.list(names=[prefix])] == [existing.id]
    client.close()
