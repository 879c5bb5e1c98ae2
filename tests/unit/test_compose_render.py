"""The Compose file of platform compose, and how a plan reads a file it wrote: pure logic, no engine."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.flinkops.flink.plugins.module_utils.compose.cli import parse_version
from ansible_collections.flinkops.flink.plugins.module_utils.compose.render import (
    ComposeFile, changed_keys, service_sections, without_scale)
from ansible_collections.flinkops.flink.plugins.module_utils.platforms.compose_application import _file_job

pytestmark = pytest.mark.unit


def project():
    made = ComposeFile("orders", ["a header"])
    made.services["jobmanager"] = {
        "image": "flink:2.2.1-java17",
        "command": ["standalone-job", "--job-id", "0" * 32, "--fromSavepoint", "file:///sp/savepoint-1"],
        "ports": ["127.0.0.1:8081:8081"],
        "environment": {"FLINK_PROPERTIES": "a.b: 1\nrest.address: jobmanager", "HOME_DIR": "$HOME", "YES": "yes"},
        "mem_limit": "1600m", "cpus": 0.5, "restart": "unless-stopped"}
    made.services["taskmanager"] = {"image": "flink:2.2.1-java17", "command": ["taskmanager"],
                                    "depends_on": ["jobmanager"], "scale": 2,
                                    "volumes": [{"type": "volume", "source": "state", "target": "/state"}]}
    made.volumes["state"] = {"name": "state"}
    return made


def test_the_file_is_the_yaml_compose_reads():
    text = project().render()
    data = yaml.safe_load(text)
    assert data["name"] == "orders" and list(data["services"]) == ["jobmanager", "taskmanager"]
    jm = data["services"]["jobmanager"]
    assert jm["command"][-1] == "file:///sp/savepoint-1" and jm["ports"] == ["127.0.0.1:8081:8081"]
    # FLINK_PROPERTIES is a literal block; `$` doubled for Compose's interpolation; "yes" stays a string.
    assert "FLINK_PROPERTIES: |\n        a.b: 1\n        rest.address: jobmanager\n" in text
    assert jm["environment"]["FLINK_PROPERTIES"] == "a.b: 1\nrest.address: jobmanager\n"
    assert jm["environment"]["HOME_DIR"] == "$$HOME" and jm["environment"]["YES"] == "yes"
    assert jm["cpus"] == 0.5 and data["services"]["taskmanager"]["scale"] == 2
    assert data["services"]["taskmanager"]["volumes"][0] == {"type": "volume", "source": "state", "target": "/state"}
    assert data["volumes"] == {"state": {"name": "state"}} and text.startswith("# a header\n")


def test_services_are_read_back_and_scale_alone_recreates_nothing():
    old = project()
    new = project()
    new.services["taskmanager"]["scale"] = 3
    a, b = service_sections(old.render()), service_sections(new.render())
    assert set(a) == {None, "jobmanager", "taskmanager"}
    assert a["jobmanager"] == b["jobmanager"]
    assert a["taskmanager"] != b["taskmanager"]
    assert without_scale(a["taskmanager"]) == without_scale(b["taskmanager"])
    new.services["jobmanager"]["environment"]["FLINK_PROPERTIES"] = "a.b: 2\nrest.address: jobmanager"
    new.services["jobmanager"]["mem_limit"] = "2g"
    c = service_sections(new.render())
    assert changed_keys(a["jobmanager"], c["jobmanager"]) == ["a.b", "mem_limit"]


def test_the_job_id_and_restore_point_are_read_from_the_file():
    text = project().render()
    assert _file_job(text, "f" * 32) == ("0" * 32, "file:///sp/savepoint-1")
    assert _file_job(None, "f" * 32) == ("f" * 32, None)


@pytest.mark.parametrize("output,version", [("2.40.3\n", (2, 40, 3)), ("v2.20.0", (2, 20, 0)),
                                            ("Docker Compose version v5.7.1", (5, 7, 1)), ("", None)])
def test_plugin_versions(output, version):
    assert parse_version(output) == version
