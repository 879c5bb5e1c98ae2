"""What a compose.yaml of this collection runs, read back for the wait after a rollback (compose/rollback.py)."""

from __future__ import annotations

import pytest

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
