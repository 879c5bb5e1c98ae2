"""flink_application platform=compose with the real `docker compose` and real Flink: the stateful counter deployed,
upgraded with a savepoint (new jar) and with the last state (new parallelism), suspended and resumed; its output
proves every key's count went on with no reset and no gap. Check mode predicts each step; an unchanged run leaves the
file byte for byte. A stateless upgrade at the end starts the job without state, as documented."""

from __future__ import annotations

import os
import time

import pytest
import yaml

from tests.conftest import FLINK_DEFAULT
from tests.integration.compose.conftest import compose, project_containers
from tests.integration.docker.test_application import (
    app_task, assert_counts_continuous, jar_versions, output, rest, wait_for_more_output)
from tests.lib.ansible import run_playbook

pytestmark = [pytest.mark.docker, pytest.mark.compose]


def compose_app(name, directory, image, port, jar, dirs, state="running", **job):
    task = app_task(name, image, port, jar, dirs, state=state, **job)
    args = task["flinkops.flink.flink_application"]
    args.update({"platform": "compose", "project_dir": directory, "flink_config": {
        "execution.checkpointing.dir": "file:///savepoints/checkpoints",
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION"}})
    return task


def run(collections_path, task, expect_ok=True, **kwargs):
    result = run_playbook(collections_path, tasks=[task], **kwargs)
    if expect_ok and result.rc != 0:
        failed = result.failures()
        pytest.fail("playbook failed: %s\n%s" % (failed, result.stdout[-3000:]))
    return result.task("app") if result.results else {"msg": result.stdout[-3000:]}


def kinds(result):
    return [(a["action"], a["target"]) for a in result["actions"]]


def read(path):
    with open(path) as handle:
        return handle.read()


def test_upgrades_and_suspend_lose_no_state(collections_path, docker_client, project, image, port, dirs,
                                            flink_version):
    name, directory = project
    path = os.path.join(directory, "compose.yaml")
    v1, v2 = jar_versions(dirs, flink_version)

    task = compose_app(name, directory, image, port, v1, dirs)
    predicted = run(collections_path, task, check=True)
    deployed = run(collections_path, task)
    assert kinds(deployed) == kinds(predicted) and deployed["job_state"] == "RUNNING", deployed
    text = read(path)
    assert "      - standalone-job\n" in text and "--job-id" in text and "/opt/flink/usrlib/counter-v1.jar" in text
    compose(directory, "config", "--quiet")
    mtime = os.stat(path).st_mtime_ns
    again = run(collections_path, task)
    assert again["changed"] is False and again["job_id"] == deployed["job_id"]
    assert read(path) == text and os.stat(path).st_mtime_ns == mtime
    wait_for_more_output(dirs["out"], 80)

    # Upgrade 1, savepoint mode, a new jar: predicted (the file's diff shows the pending restore), then applied.
    upgrade = compose_app(name, directory, image, port, v2, dirs)
    predicted = run(collections_path, upgrade, check=True, diff=True)
    assert kinds(predicted)[0] == ("upgrade", "job of %s" % name), predicted["actions"]
    assert "counter-v2.jar" in predicted["diff"]["after"] and "counter-v1.jar" in predicted["diff"]["before"]
    assert "--fromSavepoint" in predicted["diff"]["after"]
    upgraded = run(collections_path, upgrade)
    assert kinds(upgraded) == kinds(predicted)
    assert upgraded["last_savepoint"].startswith("file:") and upgraded["job_id"] != deployed["job_id"]
    assert upgraded["job_state"] == "RUNNING" and upgraded["last_savepoint"] in read(path)
    seen = len(output(dirs["out"]))
    wait_for_more_output(dirs["out"], seen + 60)

    if flink_version == FLINK_DEFAULT:
        # A savepoint upgrade whose new job fails (its output directory cannot be made, no restarts): rolled back.
        # The file before it comes back, its JobManager's command restarting the job from the savepoint this run
        # took under a new job id; the counts go on (checked at the end); the spec before changes nothing.
        broken = compose_app(name, directory, image, port, v2, dirs, args=[
            "--rate", "20", "--keys", "4", "--out", "/proc/flinkops-no-output", "--checkpoint-interval-ms", "2000"])
        broken["flinkops.flink.flink_application"]["flink_config"]["restart-strategy.type"] = "none"
        failed = run(collections_path, broken, expect_ok=False)
        assert failed.get("rolled_back") is True and any("jobmanager" in r for r in failed["restored"]), failed
        assert "FAILED" in failed["failure"] and "rolled back to the last stable spec" in failed["msg"], failed
        assert failed["savepoint"].startswith("file:") and failed["savepoint"] != upgraded["last_savepoint"]
        assert failed["job_state"] == "RUNNING" and failed["job_id"] != upgraded["job_id"], failed
        text = read(path)
        command = yaml.safe_load(text)["services"]["jobmanager"]["command"]
        assert command[command.index("--fromSavepoint") + 1] == failed["savepoint"], command
        assert command[command.index("--job-id") + 1] == failed["job_id"], command
        assert "/proc/flinkops-no-output" not in text and "restart-strategy" not in text
        assert run(collections_path, upgrade)["changed"] is False and read(path) == text
        seen = len(output(dirs["out"]))
        wait_for_more_output(dirs["out"], seen + 60)

    # Upgrade 2, last-state mode, a new parallelism: from the latest retained checkpoint.
    rescale = compose_app(name, directory, image, port, v2, dirs, parallelism=2, upgrade_mode="last-state")
    predicted = run(collections_path, rescale, check=True)
    rescaled = run(collections_path, rescale)
    assert kinds(rescaled) == kinds(predicted) and kinds(rescaled)[0][0] == "upgrade"
    assert "/savepoints/checkpoints/" in rescaled["savepoint"], rescaled["savepoint"]
    vertices = rest(port, "/jobs/%s" % rescaled["job_id"])["vertices"]
    assert vertices and all(v["parallelism"] == 2 for v in vertices), vertices
    seen = len(output(dirs["out"]))
    wait_for_more_output(dirs["out"], seen + 60)

    # Suspend: a savepoint, the containers gone (the file stays for the resume), the savepoint recorded.
    suspend = compose_app(name, directory, image, port, v2, dirs, state="suspended", parallelism=2,
                          upgrade_mode="last-state")
    suspended = run(collections_path, suspend)
    assert suspended["savepoint"].startswith("file:")
    assert project_containers(docker_client, name) == {} and os.path.exists(path)
    assert run(collections_path, suspend)["changed"] is False
    stopped_at = len(output(dirs["out"]))
    time.sleep(3)
    assert len(output(dirs["out"])) == stopped_at

    # Resume from the recorded savepoint.
    resumed = run(collections_path, rescale)
    assert kinds(resumed)[0][0] == "resume" and resumed["savepoint"] == suspended["savepoint"]
    assert resumed["job_state"] == "RUNNING" and suspended["savepoint"] in read(path)
    wait_for_more_output(dirs["out"], stopped_at + 60)

    finals = assert_counts_continuous(output(dirs["out"]))
    assert len(finals) == 4 and min(finals.values()) > 50, finals

    # Stateless: the new job starts without state (no savepoint taken, none restored).
    stateless = compose_app(name, directory, image, port, v2, dirs, parallelism=1, upgrade_mode="stateless")
    fresh = run(collections_path, stateless)
    assert kinds(fresh)[0][0] == "upgrade" and fresh["job_state"] == "RUNNING"
    assert fresh.get("savepoint") is None and "--fromSavepoint" not in read(path)

    removed = run(collections_path, compose_app(name, directory, image, port, v2, dirs, state="absent"))
    assert removed["changed"] and project_containers(docker_client, name) == {} and not os.path.exists(path)
    assert docker_client.volumes.list(filters={"name": "flinkops-%s-state" % name}) == []
