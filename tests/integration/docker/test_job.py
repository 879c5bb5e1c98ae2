"""flink_job on a real session cluster: submit once (jar uploaded once, by content), idempotent re-runs,
check/diff mode, savepoint upgrades (new jar, then parallelism), a last-state upgrade, a savepoint on demand,
suspend and resume; the job's output proves no key lost its count. A savepoint that cannot be written leaves
the job running; bad input fails before anything is submitted or stopped. A job submitted with the Flink CLI is
listed by flink_info and taken over by flink_job given its id (upgrade through a savepoint, suspend, cancel)."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request

import pytest

from tests.conftest import FLINK_DEFAULT, flink_image
from tests.integration.docker.conftest import flink_run
from tests.integration.docker.test_application import assert_counts_continuous, jar_versions, output, wait_for_more_output
from tests.integration.docker.test_session import session_task
from tests.lib.ansible import run_playbook

pytestmark = [pytest.mark.docker]
COUNTER = "org.flinkops.examples.StatefulCounter"


def job_task(name, port, jar, state="running", **extra):
    args = {"name": name, "rest_url": "http://127.0.0.1:%d" % port, "jar": jar, "entry_class": COUNTER,
            "args": ["--rate", "20", "--keys", "4", "--out", "/out", "--checkpoint-interval-ms", "2000"],
            "savepoint_dir": "file:///savepoints", "state": state, "wait_timeout": 180}
    args.update(extra)
    return {"name": "job", "register": "out", "flinkops.flink.flink_job": args}


def run(collections_path, task, expect_ok=True, **kwargs):
    result = run_playbook(collections_path, tasks=[task], **kwargs)
    if expect_ok and result.rc != 0:
        pytest.fail("playbook failed: %s" % result.failures())
    name = task["name"]
    return result.task(name)


def rest(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as response:
        return json.loads(response.read())


def wait_for_checkpoint(port, job_id, timeout=180):
    """Until the job has completed a checkpoint (what a last-state upgrade starts from)."""
    deadline = time.monotonic() + timeout
    while True:
        counts = rest(port, "/jobs/%s/checkpoints" % job_id).get("counts") or {}
        if counts.get("completed", 0) >= 1:
            return counts
        assert time.monotonic() < deadline, "no completed checkpoint after %ds: %s" % (timeout, counts)
        time.sleep(1)


@pytest.fixture
def session(collections_path, cluster_name, port, dirs):
    task = session_task(cluster_name, flink_image(FLINK_DEFAULT), port, taskmanager={"replicas": 1, "slots": 4},
                        mounts=[{"source": dirs["savepoints"], "target": "/savepoints"},
                                {"source": dirs["out"], "target": "/out"}],
                        flink_config={"execution.checkpointing.dir": "file:///savepoints/checkpoints"})
    result = run_playbook(collections_path, tasks=[task])
    assert result.rc == 0, result
    return port


def test_job_lifecycle_keeps_state(collections_path, session, dirs):
    port = session
    v1, v2 = jar_versions(dirs, FLINK_DEFAULT)
    name = "counter"

    predicted = run(collections_path, job_task(name, port, v1), check=True)
    assert predicted["action"] == "submit" and predicted["changed"]
    assert rest(port, "/jobs/overview")["jobs"] == [] and rest(port, "/jars")["files"] == []

    started = run(collections_path, job_task(name, port, v1))
    assert started["action"] == "submit" and started["job_state"] == "RUNNING"
    again = run(collections_path, job_task(name, port, v1))
    assert again["changed"] is False and again["job_id"] == started["job_id"]
    assert len(rest(port, "/jars")["files"]) == 1          # uploaded once
    wait_for_more_output(dirs["out"], 60)

    # Upgrade 1: a new jar; check and diff mode predict it, the real run goes through a savepoint.
    predicted = run(collections_path, job_task(name, port, v2), check=True, diff=True)
    assert predicted["action"] == "upgrade"
    assert predicted["diff"]["before"]["spec_hash"] != predicted["diff"]["after"]["spec_hash"]
    # The fields, not only hashes: the running job's spec travels with it (a global job parameter).
    before, after = predicted["diff"]["before"], predicted["diff"]["after"]
    assert before["jar"].endswith(os.path.basename(v1)) and after["jar"].endswith(os.path.basename(v2))
    assert before["jar_sha256"] != after["jar_sha256"] and before["entry_class"] == after["entry_class"]
    assert before["state"] == "running" and before["args"] == after["args"]
    upgraded = run(collections_path, job_task(name, port, v2))
    assert upgraded["action"] == "upgrade" and upgraded["savepoint"] == upgraded["last_savepoint"]
    assert "/savepoints/" in upgraded["savepoint"] and upgraded["job_state"] == "RUNNING"
    seen = len(output(dirs["out"]))
    wait_for_more_output(dirs["out"], seen + 40)

    # Upgrade 2: parallelism.
    rescaled = run(collections_path, job_task(name, port, v2, parallelism=2))
    assert rescaled["action"] == "upgrade"
    assert all(v["parallelism"] == 2 for v in rest(port, "/jobs/%s" % rescaled["job_id"])["vertices"])

    # A savepoint on demand: the job keeps running, same id.
    taken = run(collections_path, job_task(name, port, v2, parallelism=2, trigger_savepoint=True))
    assert taken["action"] == "savepoint" and "/savepoints/" in taken["savepoint"]
    assert rest(port, "/jobs/%s" % rescaled["job_id"])["state"] == "RUNNING"

    # Suspend (savepoint, job stops), then resume from that savepoint.
    suspended = run(collections_path, job_task(name, port, v2, state="suspended", parallelism=2))
    assert suspended["action"] == "suspend" and "/savepoints/" in suspended["savepoint"]
    assert rest(port, "/jobs/%s" % rescaled["job_id"])["state"] == "FINISHED"
    assert run(collections_path, job_task(name, port, v2, state="suspended", parallelism=2))["changed"] is False
    stopped_at = len(output(dirs["out"]))
    resumed = run(collections_path, job_task(name, port, v2, parallelism=2))
    assert resumed["action"] == "resume" and resumed["savepoint"] == suspended["savepoint"]
    wait_for_more_output(dirs["out"], stopped_at + 40)

    # A switch to last-state on a job that does not retain checkpoints is refused, nothing changes.
    refused = run(collections_path, job_task(name, port, v2, parallelism=2, upgrade_mode="last-state",
                                             args=["--rate", "25", "--keys", "4", "--out", "/out"]), expect_ok=False)
    assert refused["msg"].startswith("upgrade_mode: job %s does not retain its checkpoints" % resumed["job_id"])
    assert rest(port, "/jobs/%s" % resumed["job_id"])["state"] == "RUNNING"

    finals = assert_counts_continuous(output(dirs["out"]))
    assert len(finals) == 4 and min(finals.values()) > 30, finals

    # A savepoint that cannot be written: the job keeps running and the error names the directory.
    bad = job_task(name, port, v1, parallelism=2, savepoint_dir="file:///proc/flinkops-no-savepoints")
    failed = run(collections_path, bad, expect_ok=False)
    assert failed["msg"].startswith("savepoint_dir:") and "keeps running" in failed["msg"], failed["msg"]
    assert rest(port, "/jobs/%s" % resumed["job_id"])["state"] == "RUNNING"

    cancelled = run(collections_path, job_task(name, port, v2, state="cancelled"))
    assert cancelled["job_state"] == "CANCELED"
    removed = run(collections_path, job_task(name, port, v2, state="absent"))
    assert removed["action"] == "delete-jars" and rest(port, "/jars")["files"] == []


def test_last_state_upgrade_keeps_state(collections_path, session, dirs):
    port = session
    v1, v2 = jar_versions(dirs, FLINK_DEFAULT)
    started = run(collections_path, job_task("ls", port, v1, upgrade_mode="last-state"))
    wait_for_more_output(dirs["out"], 80)  # 4 s of data: two checkpoints at 2 s, on a quiet machine
    wait_for_checkpoint(port, started["job_id"])  # under load the first one can take longer
    upgraded = run(collections_path, job_task("ls", port, v2, upgrade_mode="last-state"))
    assert upgraded["action"] == "upgrade" and "/savepoints/checkpoints/" in upgraded["savepoint"]
    assert upgraded["job_id"] != started["job_id"]
    seen = len(output(dirs["out"]))
    wait_for_more_output(dirs["out"], seen + 40)
    # Restored from a checkpoint, records after it are replayed (at-least-once output): counts may repeat
    # with the same seq, but never reset to 1 and never skip.
    finals = assert_counts_continuous(output(dirs["out"]))
    assert len(finals) == 4


@pytest.mark.parametrize("case", ["missing jar", "jar without the class", "resume with no savepoint",
                                  "savepoint path that does not exist"])
def test_bad_job_input(case, collections_path, session, dirs):
    port = session
    v1, _v2 = jar_versions(dirs, FLINK_DEFAULT)
    extra, option = {
        "missing jar": ({"jar": "/nonexistent/job.jar"}, "jar"),
        "jar without the class": ({"entry_class": "org.flinkops.examples.NoSuchJob"}, "entry_class"),
        "resume with no savepoint": ({"restore": "required"}, "restore"),
        "savepoint path that does not exist": ({"savepoint_path": "file:///savepoints/savepoint-nope"}, "savepoint_path"),
    }[case]
    extra = dict(extra)
    failed = run(collections_path, job_task("bad", port, extra.pop("jar", v1), **extra), expect_ok=False)
    assert failed["msg"].startswith(option + ":"), failed["msg"]
    if case == "savepoint path that does not exist":
        # Flink checks the path when the job starts: the attempt shows in its history as failed, nothing runs.
        assert "savepoint-nope" in failed["msg"], failed["msg"]
        assert [j["state"] for j in rest(port, "/jobs/overview")["jobs"]] in ([], ["FAILED"])
    else:
        assert rest(port, "/jobs/overview")["jobs"] == []


def cli_submit(port, jar, out):
    """A job submitted the way a user does it by hand: ``flink run -d``; returns its id."""
    os.makedirs(out)
    os.chmod(out, 0o777)
    submitted = flink_run(FLINK_DEFAULT, port, "-d", "-c", COUNTER, jar, "--rate", "20", "--keys", "4",
                          "--out", "/out/" + os.path.basename(out), "--checkpoint-interval-ms", "2000")
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    job_id = re.search(r"JobID ([0-9a-f]{32})", submitted.stdout).group(1)
    deadline = time.monotonic() + 60
    while rest(port, "/jobs/%s" % job_id)["state"] != "RUNNING":
        assert time.monotonic() < deadline, rest(port, "/jobs/%s" % job_id)["state"]
        time.sleep(1)
    return job_id


def test_cli_submitted_job_is_listed_and_taken_over(collections_path, session, dirs, cluster_name):
    port = session
    v1, v2 = jar_versions(dirs, FLINK_DEFAULT)
    out_a = os.path.join(dirs["out"], "a")
    cli_job = cli_submit(port, v1, out_a)

    info = run(collections_path, {"name": "info", "register": "out", "flinkops.flink.flink_info": {
        "name": cluster_name}})
    assert [(j["id"], j["state"]) for j in info["jobs"]] == [(cli_job, "RUNNING")]
    wait_for_more_output(out_a, 60)

    # Bad ids fail naming job_id, before anything is touched.
    for bad_id, words in (("not-an-id", "is not a Flink job id"), ("0" * 32, "knows no job " + "0" * 32)):
        failed = run(collections_path, job_task("taken", port, v2, job_id=bad_id), expect_ok=False)
        assert failed["msg"].startswith("job_id:") and words in failed["msg"], failed["msg"]
    assert rest(port, "/jobs/%s" % cli_job)["state"] == "RUNNING"

    # Taken over under a name with a new jar: check and diff mode say so; the real run goes through a savepoint.
    # The CLI built the job with its own configuration (max parallelism 128), not the session's (64): the task says
    # so, or Flink refuses to map the savepoint's state ("Max parallelism mismatch").
    task = job_task("taken", port, v2, job_id=cli_job, flink_config={"pipeline.max-parallelism": 128},
                    args=["--rate", "20", "--keys", "4", "--out", "/out/a", "--checkpoint-interval-ms", "2000"])
    predicted = run(collections_path, task, check=True, diff=True)
    assert predicted["action"] == "upgrade" and "submitted outside this module" in predicted["reason"]
    assert predicted["diff"]["before"] == {"job_id": cli_job, "submitted_outside": True, "state": "running"}
    assert rest(port, "/jobs/%s" % cli_job)["state"] == "RUNNING"
    taken = run(collections_path, task)
    assert taken["action"] == "upgrade" and "/savepoints/" in taken["savepoint"], taken
    assert taken["job_id"] != cli_job and taken["job_state"] == "RUNNING"
    assert rest(port, "/jobs/%s" % cli_job)["state"] == "FINISHED"
    # The task keeps job_id: the job of this name is found again, nothing changes.
    again = run(collections_path, task)
    assert again["changed"] is False and again["job_id"] == taken["job_id"]
    seen = len(output(out_a))
    wait_for_more_output(out_a, seen + 40)

    # Suspended: the job's real final state comes back.
    suspended = run(collections_path, dict(task, **{"flinkops.flink.flink_job": dict(
        task["flinkops.flink.flink_job"], state="suspended")}))
    assert suspended["action"] == "suspend" and suspended["job_state"] == "FINISHED"
    assert rest(port, "/jobs/%s" % taken["job_id"])["state"] == "FINISHED"
    resumed = run(collections_path, task)
    assert resumed["action"] == "resume" and resumed["savepoint"] == suspended["savepoint"]
    seen = len(output(out_a))
    wait_for_more_output(out_a, seen + 40)
    finals = assert_counts_continuous(output(out_a))
    assert len(finals) == 4 and min(finals.values()) > 20, finals

    # A second CLI job cancelled by id: CANCELED is what the module reports; a re-run changes nothing.
    other = cli_submit(port, v1, os.path.join(dirs["out"], "b"))
    cancelled = run(collections_path, job_task("other", port, v1, job_id=other, state="cancelled"))
    assert cancelled["action"] == "cancel" and cancelled["job_state"] == "CANCELED"
    assert rest(port, "/jobs/%s" % other)["state"] == "CANCELED"
    assert run(collections_path, job_task("other", port, v1, job_id=other, state="cancelled"))["changed"] is False
    assert rest(port, "/jobs/%s" % resumed["job_id"])["state"] == "RUNNING"
