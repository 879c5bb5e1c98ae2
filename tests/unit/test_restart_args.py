"""A rolled-back application's JobManager arguments: its job restarts from the state the upgrade saved."""

from __future__ import annotations

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.application_job import restart_args

pytestmark = pytest.mark.unit

HEAD = ["standalone-job", "-D", "pipeline.name=My Job", "--job-classname", "org.example.Job"]


def test_the_restore_point_and_job_id_are_replaced_and_the_users_arguments_kept():
    old = HEAD + ["--job-id", "a" * 32, "--fromSavepoint", "file:/sp/old", "--allowNonRestoredState", "--rate", "20"]
    assert restart_args(old, "b" * 32, "file:/sp/new") == HEAD + [
        "--job-id", "b" * 32, "--fromSavepoint", "file:/sp/new", "--rate", "20"]


def test_a_job_started_without_state_gets_the_saved_one():
    old = HEAD + ["--job-id", "a" * 32, "--out", "/out"]
    assert restart_args(old, "b" * 32, "file:/sp/new") == HEAD + [
        "--job-id", "b" * 32, "--fromSavepoint", "file:/sp/new", "--out", "/out"]


def test_nothing_saved_restarts_without_state_and_foreign_arguments_are_refused():
    old = HEAD + ["--job-id", "a" * 32, "--fromSavepoint", "file:/sp/old"]
    assert restart_args(old, "b" * 32, None) == HEAD + ["--job-id", "b" * 32]
    assert restart_args(["jobmanager"], "b" * 32, "file:/sp/new") is None
