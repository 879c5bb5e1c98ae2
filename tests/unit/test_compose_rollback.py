"""What a compose.yaml of this collection runs, read back for the wait after a rollback (compose/rollback.py)."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.flinkops.flink.plugins.module_utils.compose.rollback import taskmanagers_of

pytestmark = pytest.mark.unit

FILE = """name: orders
services:
  jobmanager:
    image: "flink:2.2.1-java17"
  taskmanager:
    image: "flink:2.2.1-java17"
    scale: 3
    environment:
      FLINK_PROPERTIES: "jobmanager.rpc.address: jobmanager\\ntaskmanager.numberOfTaskSlots: 2\\ntaskmanager.bind-host: 0.0.0.0"
"""


def test_count_and_slots_are_read_from_the_file():
    assert taskmanagers_of(FILE) == (3, 2)


def test_a_file_that_does_not_say_gives_none():
    assert taskmanagers_of("services: {jobmanager: {image: x}}") == (None, None)
    assert taskmanagers_of("services: [") == (None, None)


def test_an_application_file_restarts_its_job_from_the_state_an_upgrade_saved():
    """restart_file: the old file's JobManager command with a new job id and the savepoint the upgrade took; the
    rest of the file byte for byte; values that need quoting or a doubled $ read and written back as the renderer
    writes them."""
    from ansible_collections.flinkops.flink.plugins.module_utils.compose.render import ComposeFile
    from ansible_collections.flinkops.flink.plugins.module_utils.compose.rollback import restart_file
    made = ComposeFile("orders", ["a header"])
    made.services["jobmanager"] = {
        "image": "flink:2.2.1-java17",
        "command": ["standalone-job", "--job-classname", "org.example.Job", "--job-id", "0" * 32,
                    "--fromSavepoint", "file:///sp/savepoint-1", "--allowNonRestoredState", "--rate", "20",
                    "--note", "a $cost: yes"],
        "ports": ["127.0.0.1:8081:8081"]}
    made.services["taskmanager"] = {"image": "flink:2.2.1-java17", "command": ["taskmanager"], "scale": 2}
    text = made.render()
    patched = restart_file(text, "1" * 32, "file:///sp/savepoint-2")
    data = yaml.safe_load(patched)
    assert data["services"]["jobmanager"]["command"] == [
        "standalone-job", "--job-classname", "org.example.Job", "--job-id", "1" * 32,
        "--fromSavepoint", "file:///sp/savepoint-2", "--rate", "20", "--note", "a $$cost: yes"]
    assert text.partition("    command:")[0] == patched.partition("    command:")[0]
    assert text.partition("    ports:")[2] == patched.partition("    ports:")[2]
    # No state to restart from (a stateless upgrade): the old restore point goes, none comes.
    assert "--fromSavepoint" not in yaml.safe_load(restart_file(text, "1" * 32, None))["services"]["jobmanager"][
        "command"]
    made.services["jobmanager"]["command"] = ["jobmanager"]  # a session's file: nothing to restart
    assert restart_file(made.render(), "1" * 32, "file:///sp/savepoint-2") is None
