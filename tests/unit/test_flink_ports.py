"""Flink's ports in flink_config: parsed as Flink parses them, fixed clashes within one process refused."""

from __future__ import annotations

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.flink_ports import check_ports, parse_ports

pytestmark = [pytest.mark.unit]


def test_defaults_do_not_clash():
    assert check_ports({}) == {"jobmanager": {"rest.port": 8081, "jobmanager.rpc.port": 6123,
                                              "blob.server.port": 6124},
                               "taskmanager": {}}


@pytest.mark.parametrize("value, ranges", [
    (8082, [(8082, 8082)]), ("8082", [(8082, 8082)]), ("50100-50200", [(50100, 50200)]),
    ("50100, 50105-50110", [(50100, 50100), (50105, 50110)]), (0, [(0, 0)]), ("65535", [(65535, 65535)])])
def test_parse_ports(value, ranges):
    assert parse_ports("blob.server.port", value) == ranges


@pytest.mark.parametrize("key, value, words", [
    ("rest.port", "eighty", "not a port"),
    ("rest.port", True, "not a port"),
    ("rest.port", "8081-8090", "not a port"),      # rest.port takes one number; rest.bind-port takes a range
    ("jobmanager.rpc.port", "6123,6124", "not a port"),
    ("blob.server.port", 70000, "outside the ports"),
    ("blob.server.port", "6200-6100", "empty range"),
    ("taskmanager.rpc.port", "", "not a port"),
    ("taskmanager.data.port", 1.5, "not a port"),
])
def test_unparsable_ports_name_the_key(key, value, words):
    with pytest.raises(SpecError) as caught:
        check_ports({key: value})
    assert caught.value.option == "flink_config.%s" % key
    assert words in caught.value.message


def test_two_fixed_ports_of_the_jobmanager_clash():
    with pytest.raises(SpecError) as caught:
        check_ports({"rest.port": 9000, "blob.server.port": 9000})
    assert caught.value.option == "flink_config.blob.server.port"
    assert "rest.port and blob.server.port are both port 9000 in the jobmanager" in caught.value.message


def test_a_clash_with_a_default_names_the_default():
    with pytest.raises(SpecError) as caught:
        check_ports({"jobmanager.rpc.port": 8081})
    assert caught.value.option == "flink_config.jobmanager.rpc.port"
    assert "rest.port is 8081 when not set" in str(caught.value)


def test_taskmanager_ports_clash_only_with_each_other():
    # The JobManager and a TaskManager are separate processes (containers, pods): the same number is fine.
    assert check_ports({"taskmanager.rpc.port": 6123, "taskmanager.data.port": 6126})["taskmanager"] == {
        "taskmanager.rpc.port": 6123, "taskmanager.data.port": 6126}
    with pytest.raises(SpecError) as caught:
        check_ports({"taskmanager.rpc.port": 6122, "taskmanager.data.port": "6122"})
    assert caught.value.option == "flink_config.taskmanager.data.port"


def test_ranges_and_any_port_never_clash():
    check_ports({"rest.port": 9000, "blob.server.port": "9000-9010", "metrics.internal.query-service.port": 0})


def test_rest_bind_port_replaces_rest_port_for_binding():
    check_ports({"rest.port": 6123, "rest.bind-port": "8081-8085"})
    with pytest.raises(SpecError):
        check_ports({"rest.bind-port": 6124})
