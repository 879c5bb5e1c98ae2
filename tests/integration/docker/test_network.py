"""The network role on one Docker engine: two bridge networks from the role included twice in one play with
different variables (one with a subnet, gateway, address range, driver option, labels, internal), check mode
first, idempotent, a container gets its address from the range; other settings are refused naming the option,
recreate replaces an unused network, bad input fails before anything is touched, absent removes."""

from __future__ import annotations

import ipaddress
import secrets

import pytest

from tests.conftest import FLINK_DEFAULT, flink_image
from tests.lib.ansible import run_playbook

pytestmark = [pytest.mark.docker]


@pytest.fixture
def names(docker_client):
    prefix = "t%s-net" % secrets.token_hex(3)
    yield prefix
    for network in docker_client.networks.list():
        if network.name.startswith(prefix):
            network.remove()


def play(*networks):
    tasks = [{"name": "network %s" % v["network_name"], "ansible.builtin.include_role": {"name": "flinkops.flink.network"},
              "vars": v} for v in networks]
    return [{"name": "networks", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def failed(result):
    return [r["result"] for r in result.results if r["status"] == "failed"][0]


def test_bridge_networks_from_the_role(docker_client, names, collections_path):
    full = {"network_name": "%s-full" % names, "network_internal": True,
            "network_ipam_config": [{"subnet": "10.237.41.0/24", "gateway": "10.237.41.1",
                                     "ip_range": "10.237.41.128/25"}],
            "network_driver_options": {"com.docker.network.driver.mtu": 1400},
            "network_labels": {"cluster": "orders"}}
    plain = {"network_name": "%s-plain" % names}

    predicted = run_playbook(collections_path, plays=play(full, plain), check=True, diff=True)
    assert predicted.rc == 0, predicted
    changed = [r["result"] for r in predicted.results if r["result"].get("changed")]
    assert [c["actions"] for c in changed] == [["create: network %s-full (bridge)" % names],
                                               ["create: network %s-plain (bridge)" % names]]
    assert changed[0]["diff"]["before"] == {}
    assert changed[0]["diff"]["after"]["ipam_config"] == full["network_ipam_config"]
    assert not docker_client.networks.list(names=["%s-full" % names, "%s-plain" % names])

    made = run_playbook(collections_path, plays=play(full, plain))
    assert made.rc == 0, made
    assert len(made.changed) == 2
    net = docker_client.api.inspect_network("%s-full" % names)
    assert (net["Driver"], net["Scope"], net["Internal"]) == ("bridge", "local", True)
    assert net["IPAM"]["Config"] == [{"Subnet": "10.237.41.0/24", "Gateway": "10.237.41.1",
                                      "IPRange": "10.237.41.128/25"}]
    assert net["Options"]["com.docker.network.driver.mtu"] == "1400"
    assert net["Labels"] == {"cluster": "orders", "org.flinkops.managed-by": "flinkops.flink"}
    assert docker_client.api.inspect_network("%s-plain" % names)["Internal"] is False

    again = run_playbook(collections_path, plays=play(full, plain))
    assert again.rc == 0 and again.changed == [], again

    # A container on the network gets an address from the range.
    container = docker_client.containers.run(flink_image(FLINK_DEFAULT), ["sleep", "60"], entrypoint=[],
                                             network="%s-full" % names, detach=True, remove=True,
                                             name="%s-probe" % names)
    try:
        container.reload()
        address = container.attrs["NetworkSettings"]["Networks"]["%s-full" % names]["IPAddress"]
        assert ipaddress.ip_address(address) in ipaddress.ip_network("10.237.41.128/25")

        # Other settings: refused with the option named; recreate is refused while the container is attached.
        other = dict(full, network_ipam_config=[{"subnet": "10.237.42.0/24"}])
        refused = run_playbook(collections_path, plays=play(other))
        assert refused.rc != 0
        assert failed(refused)["option"] == "ipam_config[0].subnet"
        forced = run_playbook(collections_path, plays=play(dict(other, network_recreate=True)))
        assert forced.rc != 0
        assert failed(forced)["option"] == "recreate" and "%s-probe" % names in failed(forced)["msg"]
        assert docker_client.api.inspect_network("%s-full" % names)["Id"] == net["Id"]
    finally:
        container.remove(force=True)

    # Unused: recreate replaces it.
    replaced = run_playbook(collections_path, plays=play(dict(full, network_internal=False, network_recreate=True)))
    assert replaced.rc == 0, replaced
    assert len(replaced.changed) == 1
    now = docker_client.api.inspect_network("%s-full" % names)
    assert now["Id"] != net["Id"] and now["Internal"] is False

    removed = run_playbook(collections_path, plays=play(dict(full, network_state="absent"),
                                                        dict(plain, network_state="absent")))
    assert removed.rc == 0, removed
    assert len(removed.changed) == 2
    assert not docker_client.networks.list(names=["%s-full" % names, "%s-plain" % names])


@pytest.mark.parametrize("variables,option,text", [
    ({"network_attachable": True}, "attachable", "only overlay networks are attachable"),
    ({"network_encrypted": True}, "encrypted", "encryption is an overlay network option"),
    ({"network_ipam_config": [{"subnet": "10.237.43.0/24", "gateway": "10.237.44.1"}]}, "ipam_config[0].gateway",
     "is not in subnet"),
    ({"network_ipam_config": [{"subnet": "10.237.43.7/24"}]}, "ipam_config[0].subnet", "not a valid network"),
])
def test_bad_input_touches_nothing(docker_client, names, collections_path, variables, option, text):
    result = run_playbook(collections_path, plays=play(dict({"network_name": names}, **variables)))
    assert result.rc != 0
    out = failed(result)
    assert out["option"] == option and text in out["msg"], out
    assert not docker_client.networks.list(names=[names])


def test_another_driver_is_refused(docker_client, names, collections_path):
    existing = docker_client.networks.create(names, driver="bridge")
    before = docker_client.api.inspect_network(existing.id)
    result = run_playbook(collections_path, plays=play({"network_name": names, "network_driver": "macvlan"}))
    assert result.rc != 0
    out = failed(result)
    assert out["option"] == "driver" and "exists with driver bridge (scope local), not macvlan" in out["msg"]
    assert docker_client.api.inspect_network(existing.id) == before
