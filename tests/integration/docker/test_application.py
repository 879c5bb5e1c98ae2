"""flink_application on the real engine: a stateful job upgraded twice with savepoints (new jar, then new
parallelism) and suspended/resumed once; its output proves every key's count went on with no reset and no
gap. Failing savepoints leave the old job running; bad input fails before anything is stopped."""

from __future__ import annotations

import collections
import glob
import json
import os
import re
import shutil
import time
import urllib.request
import zipfile

import pytest

from tests.conftest import FLINK_DEFAULT, flink_image
from tests.integration.docker.conftest import examples_jar
from tests.lib.ansible import run_playbook

pytestmark = [pytest.mark.docker]
LINE = re.compile(r"^key=(\d+) count=(\d+) seq=(\d+)$")


def app_task(name, image, port, jar, dirs, state="running", **job):
    job_spec = {"jar": jar, "entry_class": "org.flinkops.examples.StatefulCounter",
                "args": ["--rate", "20", "--keys", "4", "--out", "/out", "--checkpoint-interval-ms", "2000"],
                "savepoint_dir": "file:///savepoints"}
    job_spec.update(job)
    return {"name": "app", "register": "out", "flinkops.flink.flink_application": {
        "name": name, "image": image, "rest_port": port, "state": state, "wait_timeout": 240,
        "jobmanager": {"memory": "1024m"}, "taskmanager": {"memory": "1152m", "replicas": 1, "slots": 2},
        "mounts": [{"source": dirs["savepoints"], "target": "/savepoints"}, {"source": dirs["out"], "target": "/out"}],
        "job": job_spec}}


def run(collections_path, task, expect_ok=True, **kwargs):
    result = run_playbook(collections_path, tasks=[task], **kwargs)
    if expect_ok and result.rc != 0:
        pytest.fail("playbook failed: %s" % result.failures())
    return result.task("app") if result.results else {"msg": result.stdout[-3000:]}


def rest(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as response:
        return json.loads(response.read())


def output(out_dir):
    """Every output line of the job, as (key, count, seq)."""
    rows = []
    for path in glob.glob(os.path.join(out_dir, "part-*.txt")):
        with open(path) as handle:
            for line in handle:
                match = LINE.match(line.strip())
                if match:
                    rows.append(tuple(int(g) for g in match.groups()))
    return rows


def assert_counts_continuous(rows):
    """Per key: counts are exactly 1..N (no gap), 1 occurs once (no reset), a count never has two seqs."""
    by_key = collections.defaultdict(dict)
    for key, count, seq in rows:
        assert by_key[key].setdefault(count, seq) == seq, "key %d count %d seen with two seqs: state diverged" % (key, count)
    for key, counts in by_key.items():
        assert sorted(counts) == list(range(1, max(counts) + 1)), "key %d has gaps or a reset: %s" % (
            key, sorted(set(range(1, max(counts) + 1)) - set(counts))[:10])
    return dict((k, max(c)) for k, c in by_key.items())


def wait_for_more_output(out_dir, at_least, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(output(out_dir)) >= at_least:
            return
        time.sleep(1)
    pytest.fail("the job wrote only %d lines, expected %d" % (len(output(out_dir)), at_least))


def jar_versions(dirs, version):
    v1 = os.path.join(dirs["jars"], "counter-v1.jar")
    v2 = os.path.join(dirs["jars"], "counter-v2.jar")
    shutil.copy(examples_jar(version), v1)
    shutil.copy(examples_jar(version), v2)
    with zipfile.ZipFile(v2, "a") as archive:  # a new build: other bytes, same classes
        archive.writestr("META-INF/flinkops-build.txt", "v2\n")
    return v1, v2


def test_upgrades_and_suspend_lose_no_state(collections_path, docker_client, cluster_name, port, dirs):
    version = FLINK_DEFAULT
    image = flink_image(version)
    v1, v2 = jar_versions(dirs, version)

    deployed = run(collections_path, app_task(cluster_name, image, port, v1, dirs))
    assert deployed["changed"] and deployed["job_state"] == "RUNNING"
    first_job = deployed["job_id"]
    assert run(collections_path, app_task(cluster_name, image, port, v1, dirs))["changed"] is False
    wait_for_more_output(dirs["out"], 80)

    # Upgrade 1: a new jar. Check and diff mode predict it; the real run stops with a savepoint and resumes from it.
    predicted = run(collections_path, app_task(cluster_name, image, port, v2, dirs), check=True, diff=True)
    assert predicted["actions"][0]["action"] == "upgrade"
    assert predicted["diff"]["before"]["job"]["jar"] == v1 and predicted["diff"]["after"]["job"]["jar"] == v2
    assert predicted["diff"]["before"]["job"]["jar_sha256"] != predicted["diff"]["after"]["job"]["jar_sha256"]
    upgraded = run(collections_path, app_task(cluster_name, image, port, v2, dirs))
    assert upgraded["last_savepoint"].startswith("file:") and "/savepoints/" in upgraded["last_savepoint"]
    assert upgraded["savepoint"] == upgraded["last_savepoint"]
    assert upgraded["job_id"] != first_job and upgraded["job_state"] == "RUNNING"
    seen = len(output(dirs["out"]))
    wait_for_more_output(dirs["out"], seen + 60)

    # Upgrade 2: new parallelism.
    rescaled = run(collections_path, app_task(cluster_name, image, port, v2, dirs, parallelism=2))
    assert rescaled["last_savepoint"] != upgraded["last_savepoint"]
    vertices = rest(port, "/jobs/%s" % rescaled["job_id"])["vertices"]
    assert vertices and all(v["parallelism"] == 2 for v in vertices), vertices
    seen = len(output(dirs["out"]))
    wait_for_more_output(dirs["out"], seen + 60)

    # An on-demand savepoint of the unchanged application: predicted, taken through REST, the job keeps running;
    # with a state other than running the option is refused before anything is touched.
    snap_task = app_task(cluster_name, image, port, v2, dirs, parallelism=2)
    snap_task["flinkops.flink.flink_application"]["trigger_savepoint"] = True
    predicted = run(collections_path, snap_task, check=True)
    assert [a["action"] for a in predicted["actions"]] == ["savepoint"] and predicted["changed"], predicted
    snap = run(collections_path, snap_task)
    assert snap["changed"] and snap["job_id"] == rescaled["job_id"] and snap["job_state"] == "RUNNING", snap
    assert snap["savepoint"].startswith("file:/savepoints/savepoint-") and snap["savepoint"] != rescaled["last_savepoint"]
    assert os.path.isdir(os.path.join(dirs["savepoints"], os.path.basename(snap["savepoint"])))
    assert rest(port, "/jobs/%s" % rescaled["job_id"])["state"] == "RUNNING"
    refused = app_task(cluster_name, image, port, v2, dirs, state="suspended", parallelism=2)
    refused["flinkops.flink.flink_application"]["trigger_savepoint"] = True
    refused = run(collections_path, refused, expect_ok=False)
    assert "trigger_savepoint" in refused["msg"] and "state running" in refused["msg"], refused["msg"]
    assert rest(port, "/jobs/%s" % rescaled["job_id"])["state"] == "RUNNING"

    # A savepoint upgrade whose new job fails (its output directory cannot be made, no restarts): rolled back. The
    # replaced TaskManager starts again as it was; the replaced JobManager comes back as a copy of itself whose job
    # restarts from the savepoint this run took (not the older one its own command named), under a new job id. The
    # counts go on with no gap or reset (checked at the end), and the spec before the failed one changes nothing.
    seen = len(output(dirs["out"]))
    broken = app_task(cluster_name, image, port, v2, dirs, parallelism=2, args=[
        "--rate", "20", "--keys", "4", "--out", "/proc/flinkops-no-output", "--checkpoint-interval-ms", "2000"])
    broken["flinkops.flink.flink_application"]["flink_config"] = {"restart-strategy.type": "none"}
    failed = run(collections_path, broken, expect_ok=False)
    assert failed.get("rolled_back") is True, failed
    assert failed["restored"] == ["%s-jobmanager" % cluster_name, "%s-taskmanager-1" % cluster_name], failed
    assert "FAILED" in failed["failure"] and "rolled back to the last stable spec" in failed["msg"], failed
    assert failed["savepoint"].startswith("file:") and failed["savepoint"] != snap["savepoint"], failed
    assert failed["job_state"] == "RUNNING" and failed["job_id"] != rescaled["job_id"], failed
    jobmanager = docker_client.containers.get("%s-jobmanager" % cluster_name)
    command = jobmanager.attrs["Config"]["Cmd"]
    assert command[command.index("--fromSavepoint") + 1] == failed["savepoint"], command
    assert "/proc/flinkops-no-output" not in command and command[command.index("--job-id") + 1] == failed["job_id"]
    assert sorted(c.name for c in docker_client.containers.list(
        all=True, filters={"label": "org.flinkops.cluster=%s" % cluster_name})) == [
        "%s-jobmanager" % cluster_name, "%s-taskmanager-1" % cluster_name]  # no -prev, -next or -restore left
    assert run(collections_path, app_task(cluster_name, image, port, v2, dirs, parallelism=2))["changed"] is False
    wait_for_more_output(dirs["out"], seen + 60)

    # Suspend: savepoint, containers gone, the savepoint recorded.
    suspend = app_task(cluster_name, image, port, v2, dirs, state="suspended", parallelism=2)
    suspended = run(collections_path, suspend)
    assert suspended["savepoint"].startswith("file:")
    assert docker_client.containers.list(all=True, filters={"label": "org.flinkops.cluster=%s" % cluster_name}) == []
    record = docker_client.volumes.get("flinkops-%s-state" % cluster_name)
    assert record.attrs["Labels"]["org.flinkops.savepoint"] == suspended["savepoint"]
    assert run(collections_path, suspend)["changed"] is False
    stopped_at = len(output(dirs["out"]))
    time.sleep(3)
    assert len(output(dirs["out"])) == stopped_at  # nothing runs while suspended

    # Resume from the recorded savepoint.
    resumed = run(collections_path, app_task(cluster_name, image, port, v2, dirs, parallelism=2))
    assert resumed["savepoint"] == suspended["savepoint"] and resumed["job_state"] == "RUNNING"
    assert [a["action"] for a in resumed["actions"]][0] == "resume"
    wait_for_more_output(dirs["out"], stopped_at + 60)

    # The whole history: every key counted on through 2 upgrades and a suspend/resume.
    finals = assert_counts_continuous(output(dirs["out"]))
    assert len(finals) == 4 and min(finals.values()) > 50, finals

    removed = run(collections_path, {"name": "app", "register": "out", "flinkops.flink.flink_application": {
        "name": cluster_name, "state": "absent"}})
    assert removed["changed"]
    assert docker_client.volumes.list(filters={"name": "flinkops-%s-state" % cluster_name}) == []


def test_failed_savepoint_keeps_the_old_job_running(collections_path, cluster_name, port, dirs):
    image = flink_image(FLINK_DEFAULT)
    v1, v2 = jar_versions(dirs, FLINK_DEFAULT)
    deployed = run(collections_path, app_task(cluster_name, image, port, v1, dirs))
    # /proc is not writable: the savepoint cannot be written there.
    bad = app_task(cluster_name, image, port, v2, dirs, savepoint_dir="file:///proc/flinkops-no-savepoints")
    failed = run(collections_path, bad, expect_ok=False)
    assert failed["msg"].startswith("job.savepoint_dir:"), failed["msg"]
    assert "keeps running" in failed["msg"]
    jobs = rest(port, "/jobs/overview")["jobs"]
    assert [(j["jid"], j["state"]) for j in jobs] == [(deployed["job_id"], "RUNNING")]


CASES = {
    "missing jar": ({"jar": "/nonexistent/job.jar"}, "job.jar", "does not exist"),
    "jar without the class": ({"entry_class": "org.flinkops.examples.NoSuchJob"}, "job.entry_class", "has no class"),
    "unknown upgrade mode": ({"upgrade_mode": "yolo"}, "upgrade_mode must be one of: savepoint, last-state, stateless",
                             "found in job"),
    "resume with no savepoint": ({"restore": "required"}, "job.restore", "no savepoint to resume from"),
    "savepoint path that does not exist": ({"savepoint_path": "file:///savepoints/savepoint-nope"},
                                           "job.savepoint_path", "does not exist"),
    "malformed job id": ({"job_id": "not-a-job-id"}, "job.job_id", "32 lower-case hex digits"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_job_input_starts_nothing(case, collections_path, docker_client, cluster_name, port, dirs):
    overrides, option, words = CASES[case]
    image = flink_image(FLINK_DEFAULT)
    v1, _v2 = jar_versions(dirs, FLINK_DEFAULT)
    overrides = dict(overrides)
    jar = overrides.pop("jar", v1)
    failed = run(collections_path, app_task(cluster_name, image, port, jar, dirs, **overrides), expect_ok=False)
    assert option in failed["msg"] and words in failed["msg"], failed["msg"]
    assert docker_client.containers.list(all=True, filters={"label": "org.flinkops.cluster=%s" % cluster_name}) == []


def test_application_from_a_baked_image(collections_path, docker_client, cluster_name, port, dirs):
    """The job jar baked into the image's usrlib by flink_image; flink_application runs it without job.jar."""
    image = "%s-baked:%s-java17" % (cluster_name, FLINK_DEFAULT)
    v1, _v2 = jar_versions(dirs, FLINK_DEFAULT)
    build = {"name": "build", "register": "img", "flinkops.flink.flink_image": {
        "name": image, "base_image": flink_image(FLINK_DEFAULT), "usrlib": [v1]}}
    try:
        built = run_playbook(collections_path, tasks=[build])
        assert built.rc == 0, built
        task = app_task(cluster_name, image, port, None, dirs)
        del task["flinkops.flink.flink_application"]["job"]["jar"]
        deployed = run(collections_path, task)
        assert deployed["job_state"] == "RUNNING"
        assert not [m for m in docker_client.containers.get("%s-jobmanager" % cluster_name).attrs["Mounts"]
                    if m["Destination"].startswith("/opt/flink/usrlib")]
        assert run(collections_path, task)["changed"] is False
        wait_for_more_output(dirs["out"], 20)
    finally:
        for container in docker_client.containers.list(all=True, filters={"label": "org.flinkops.cluster=%s" % cluster_name}):
            container.remove(force=True)
        docker_client.images.remove(image, force=True)
