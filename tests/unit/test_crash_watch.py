"""Telling a crash loop from one restart the restart policy mends (docker/crash_watch.py)."""

from __future__ import annotations

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.docker.crash_watch import EXIT_GRACE, CrashWatch

pytestmark = pytest.mark.unit


class Clock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_one_restart_is_ridden_out_a_second_is_a_crash_loop():
    watch = CrashWatch("unless-stopped", clock=Clock())
    assert watch.problem("jm", "running", 3) is None  # restarts before the wait do not count
    assert watch.problem("jm", "running", 4) is None
    assert watch.problem("jm", "running", 5) == "keeps restarting (2 restarts)"


def test_an_exit_counts_at_once_without_a_restart_policy():
    watch = CrashWatch("no", clock=Clock())
    assert watch.problem("tm", "exited", 0) == "exited"


def test_an_exit_under_a_restart_policy_counts_only_when_it_lasts():
    clock = Clock()
    watch = CrashWatch("on-failure", clock=clock)
    assert watch.problem("tm", "exited", 0) is None  # the moment between the death and the policy's restart
    clock.now += EXIT_GRACE - 1
    assert watch.problem("tm", "exited", 0) is None
    assert watch.problem("tm", "running", 1) is None  # restarted: the exit is forgotten
    clock.now += 1
    assert watch.problem("tm", "exited", 1) is None
    clock.now += EXIT_GRACE
    assert watch.problem("tm", "exited", 1) == "exited"
