"""rest.with_slots: a TaskManager counts as ready once its slot report arrived (seen on the operator platform: one
listed with slotsNumber 0 right after it registered, which made a wait end before its slots were there)."""

from __future__ import annotations

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.rest import with_slots

pytestmark = pytest.mark.unit


def test_only_taskmanagers_with_their_slots_count():
    tms = [{"id": "tm-1", "slotsNumber": 2, "freeSlots": 2}, {"id": "tm-2", "slotsNumber": 0, "freeSlots": 0},
           {"id": "tm-3"}]
    assert [tm["id"] for tm in with_slots(tms)] == ["tm-1"]
    assert with_slots([]) == []
