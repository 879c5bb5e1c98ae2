# -*- coding: utf-8 -*-
"""JobControl's last-state step, from recorded REST answers: the checkpoint a last-state upgrade restores from is
read once the job stopped and Flink's checkpoint-statistics cache expired (a path read earlier can name a subsumed,
deleted checkpoint: the swarm application test failed on that with "Could not start the JobMaster")."""

from __future__ import annotations

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils import job as job_module
from ansible_collections.flinkops.flink.plugins.module_utils.job import JobControl, flink_duration_seconds

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("value,seconds", [
    ("3000", 3.0), ("3 s", 3.0), ("500ms", 0.5), ("1 min", 60.0), ("2 seconds", 2.0), (" 10 S ", 10.0),
    (None, None), ("", None), ("soon", None), ("3 fortnights", None),
])
def test_flink_durations(value, seconds):
    assert flink_duration_seconds(value) == seconds


class RecordedRest(object):
    """Answers recorded from a Flink 1.20 JobManager; the checkpoint statistics change once the job is cancelled
    and the cache time has passed (the clock is the test's)."""

    def __init__(self, config, clock):
        self.config = config
        self.clock = clock
        self.cancelled_at = None
        self.calls = []

    def jobmanager_config(self):
        return dict(self.config)

    def get(self, path):
        self.calls.append(("get", path))
        assert path.endswith("/checkpoints/config")
        return {"externalization": {"enabled": True, "delete_on_cancellation": False}}

    def checkpoints(self, _job_id):
        self.calls.append(("checkpoints", self.clock[0]))
        fresh = self.cancelled_at is not None and self.clock[0] - self.cancelled_at > 3.0
        number = 8 if fresh else 7
        return {"latest": {"completed": {"external_path": "file:/savepoints/checkpoints/j/chk-%d" % number}}}

    def cancel(self, _job_id):
        self.cancelled_at = self.clock[0]

    def job(self, _job_id):
        return {"state": "CANCELED"}


@pytest.fixture()
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(job_module.time, "sleep", lambda s: now.__setitem__(0, now[0] + s))
    return now


@pytest.mark.parametrize("config,expected_wait", [
    ({}, 3.0),
    ({"web.refresh-interval": "3000"}, 3.0),
    ({"web.refresh-interval": "1 s", "rest.cache.checkpoint-statistics.timeout": "5 s"}, 5.0),
    ({"rest.cache.checkpoint-statistics.timeout": "1 h"}, 60.0),
])
def test_last_state_path_is_read_after_the_cache_expired(clock, config, expected_wait):
    rest = RecordedRest(config, clock)
    control = JobControl(rest)
    assert control.stats_cache_seconds() == expected_wait
    path = control.cancel_keeping_last_state("j", "upgrade_mode", timeout=10, sleep=0.1)
    assert path == "file:/savepoints/checkpoints/j/chk-8"
    last_read = [c for c in rest.calls if c[0] == "checkpoints"][-1][1]
    assert last_read - rest.cancelled_at >= expected_wait


class BatchJobRest(object):
    """A bounded job in BATCH mode: Flink answers its checkpoint statistics with 404 (recorded from 1.20.5)."""

    def checkpoints(self, job_id):
        from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError
        raise BackendError("GET /jobs/%s/checkpoints answered HTTP 404" % job_id, partial={
            "status": 404, "errors": "org.apache.flink.runtime.rest.handler.RestHandlerException: Checkpointing has "
                                     "not been enabled."})


def test_a_job_without_checkpointing_has_no_savepoint_to_resume_from():
    control = JobControl(BatchJobRest())
    assert control.latest_savepoint("j") is None and control.latest_checkpoint("j") is None
