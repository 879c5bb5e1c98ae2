"""flink_session platform=compose with the real `docker compose` (v2 plugin built by the test bed) and real Flink:
deploy, unchanged re-run (the file byte for byte), check mode equal to the applied actions, diff of the file, scale
up and down, a configuration change that recreates only the TaskManagers, flink_info and flink_job against the
project, removal; the rendered file run by hand gives the same cluster; bad input and a platform switch fail before
anything is touched."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from tests.conftest import CACHE, FLINK_DEFAULT, REPO, flink_image
from tests.integration.compose.conftest import compose, project_containers
from tests.integration.docker.test_session import jvm_command_line
from tests.lib.ansible import run_playbook
from tests.lib.bad_input import cases, catalogue_tasks, problems

pytestmark = [pytest.mark.docker, pytest.mark.compose]


def session_task(name, directory, image, port, state="present", **overrides):
    args = {"name": name, "platform": "compose", "project_dir": directory, "image": image, "rest_port": port,
            "state": state, "wait_timeout": 240, "jobmanager": {"memory": "1024m"},
            "taskmanager": {"memory": "1152m", "replicas": 2, "slots": 2},
            "flink_config": {"execution.checkpointing.interval": "7s"}}
    for key, value in overrides.items():
        args[key] = dict(args[key], **value) if isinstance(value, dict) and isinstance(args.get(key), dict) else value
    return {"name": "session", "flinkops.flink.flink_session": args, "register": "out"}


def run(collections_path, task, expect_ok=True, **kwargs):
    result = run_playbook(collections_path, tasks=[task], **kwargs)
    if expect_ok and result.rc != 0:
        failed = result.failures()
        pytest.fail("playbook failed: %s\n%s" % (failed, result.stdout[-3000:]))
    return result.task(task["name"]) if result.results else {"msg": result.stdout[-3000:]}


def rest(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as response:
        return json.loads(response.read())


def ids(docker_client, name):
    return dict((n, c.id) for n, c in project_containers(docker_client, name).items())


def read(path):
    with open(path) as handle:
        return handle.read()


def test_session_lifecycle(collections_path, docker_client, project, image, flink_version, port):
    name, directory = project
    path = os.path.join(directory, "compose.yaml")
    task = session_task(name, directory, image, port)

    # Check mode on nothing: the file, the network, a JobManager and 2 TaskManagers; nothing is made.
    predicted = run(collections_path, task, check=True, diff=True)
    assert [a["target"] for a in predicted["actions"]] == [
        "compose file %s" % path, "network %s_default" % name, "%s-jobmanager-1" % name,
        "%s-taskmanager-1" % name, "%s-taskmanager-2" % name], predicted["actions"]
    assert predicted["diff"]["before"] == "" and "services:\n  jobmanager:" in predicted["diff"]["after"]
    assert not os.path.exists(path) and project_containers(docker_client, name) == {}

    deployed = run(collections_path, task, diff=True)
    assert deployed["changed"] and deployed["actions"] == predicted["actions"]
    assert deployed["diff"]["after"] == read(path) == predicted["diff"]["after"]
    assert len(deployed["taskmanagers"]) == 2 and deployed["slots_total"] == 4
    assert deployed["flink_version"] == flink_version and deployed["rest_url"] == "http://127.0.0.1:%d" % port
    assert rest(port, "/overview")["taskmanagers"] == 2
    # A file a person would write, and Compose itself accepts it.
    text = read(path)
    assert "  jobmanager:\n" in text and "  taskmanager:\n" in text and "    scale: 2\n" in text
    assert "FLINK_PROPERTIES: |" in text and "org.flinkops" not in text
    assert '"127.0.0.1:%d:8081"' % port in text
    compose(directory, "config", "--quiet")
    assert sorted(project_containers(docker_client, name)) == [
        "%s-jobmanager-1" % name, "%s-taskmanager-1" % name, "%s-taskmanager-2" % name]

    # Unchanged: nothing planned, the file byte for byte (not even rewritten), no container touched.
    before_ids, mtime = ids(docker_client, name), os.stat(path).st_mtime_ns
    again = run(collections_path, task)
    assert again["changed"] is False and again["actions"] == []
    assert read(path) == text and os.stat(path).st_mtime_ns == mtime and ids(docker_client, name) == before_ids

    # Scale up: one more TaskManager, nothing recreated; check mode predicted exactly that.
    bigger = session_task(name, directory, image, port, taskmanager={"replicas": 3})
    predicted = run(collections_path, bigger, check=True)
    scaled = run(collections_path, bigger)
    assert scaled["actions"] == predicted["actions"]
    assert [a["action"] + " " + a["target"] for a in scaled["actions"]] == [
        "update compose file %s" % path, "create %s-taskmanager-3" % name]
    after_ids = ids(docker_client, name)
    assert all(after_ids[n] == i for n, i in before_ids.items()) and len(after_ids) == 4
    assert len(rest(port, "/taskmanagers")["taskmanagers"]) == 3

    # TaskManager memory: only the TaskManagers are recreated; the reason names the setting.
    resized = session_task(name, directory, image, port, taskmanager={"replicas": 3, "memory": "1280m"})
    predicted = run(collections_path, resized, check=True)
    applied = run(collections_path, resized)
    assert applied["actions"] == predicted["actions"]
    recreated = [a for a in applied["actions"] if a["action"] == "recreate"]
    assert sorted(a["target"] for a in recreated) == ["%s-taskmanager-%d" % (name, i) for i in (1, 2, 3)]
    assert "taskmanager.memory.process.size" in recreated[0]["reason"]
    resized_ids = ids(docker_client, name)
    assert resized_ids["%s-jobmanager-1" % name] == before_ids["%s-jobmanager-1" % name]
    assert all(resized_ids[n] != after_ids[n] for n in resized_ids if "-taskmanager-" in n)
    tms = rest(port, "/taskmanagers")["taskmanagers"]
    assert len(tms) == 3 and all(tm["slotsNumber"] == 2 for tm in tms)

    # A change that never gets ready (TaskManagers whose JVM cannot load their agent) is rolled back: the files
    # before it are written back and Compose recreates what they describe; the wait expects their 2 slots, not
    # the 3 asked, and the run fails with rolled_back=true. The spec before then changes nothing.
    before_text = read(path)
    broken = session_task(name, directory, image, port, taskmanager={
        "replicas": 3, "memory": "1280m", "slots": 3, "java_opts": "-javaagent:/opt/flinkops-no-such-agent.jar"})
    failed = run(collections_path, broken, expect_ok=False)
    assert failed.get("rolled_back") is True, failed
    assert failed["restored"] == ["%s-taskmanager-%d" % (name, i) for i in (1, 2, 3)], failed
    assert "flinkops-no-such-agent.jar" in failed["msg"] and "rolled back to the last stable spec" in failed["msg"]
    assert read(path) == before_text
    tms = rest(port, "/taskmanagers")["taskmanagers"]
    assert len(tms) == 3 and all(tm["slotsNumber"] == 2 for tm in tms), tms
    assert run(collections_path, resized)["changed"] is False

    # Scale down: the highest numbers go, as Compose does.
    smaller = session_task(name, directory, image, port, taskmanager={"replicas": 1, "memory": "1280m"})
    predicted = run(collections_path, smaller, check=True)
    down = run(collections_path, smaller)
    assert down["actions"] == predicted["actions"]
    assert [a["target"] for a in down["actions"] if a["action"] == "remove"] == [
        "%s-taskmanager-3" % name, "%s-taskmanager-2" % name]
    assert sorted(project_containers(docker_client, name)) == ["%s-jobmanager-1" % name, "%s-taskmanager-1" % name]
    assert len(rest(port, "/taskmanagers")["taskmanagers"]) == 1

    # flink_info finds the project by name.
    info = run(collections_path, {"name": "info", "register": "out", "flinkops.flink.flink_info": {
        "name": name, "platform": "compose"}})
    assert info["flink_version"] == flink_version and len(info["taskmanagers"]) == 1

    # Removal: check mode predicts it; containers, network and file go; a second removal changes nothing.
    gone = session_task(name, directory, image, port, state="absent")
    predicted = run(collections_path, gone, check=True)
    removed = run(collections_path, gone)
    assert removed["actions"] == predicted["actions"] and removed["changed"]
    assert project_containers(docker_client, name) == {} and not os.path.exists(path)
    assert docker_client.networks.list(names=["%s_default" % name]) == []
    assert run(collections_path, gone)["changed"] is False


def test_rendered_file_runs_by_hand(collections_path, docker_client, project, default_image, port):
    """state rendered writes only the file; `docker compose up -d` of it by hand gives the cluster the module would
    have made: the module then finds nothing to change."""
    name, directory = project
    path = os.path.join(directory, "compose.yaml")
    task = session_task(name, directory, default_image, port, state="rendered",
                        taskmanager={"replicas": 1, "slots": 3})
    checked = run(collections_path, task, check=True)
    assert checked["changed"] and not os.path.exists(path)
    rendered = run(collections_path, task)
    assert rendered["changed"] and rendered["compose_file"] == path and read(path) == rendered["compose_file_content"]
    assert project_containers(docker_client, name) == {}
    assert run(collections_path, task)["changed"] is False

    up = compose(directory, "up", "-d", check=False)
    assert up.returncode == 0, up.stderr
    present = session_task(name, directory, default_image, port, taskmanager={"replicas": 1, "slots": 3})
    adopted = run(collections_path, present)  # waits for readiness: REST and the one TaskManager with 3 slots
    assert adopted["changed"] is False and adopted["actions"] == [], adopted["actions"]
    assert [tm["slots"] for tm in adopted["taskmanagers"]] == [3]
    compose(directory, "down")


def test_bad_input_touches_nothing(collections_path, docker_client, project, default_image, port):
    name, directory = project
    task = session_task(name, directory, default_image, port, taskmanager={"replicas": 1})
    run(collections_path, task)
    path = os.path.join(directory, "compose.yaml")
    text, before = read(path), ids(docker_client, name)
    # The catalogue (tests/lib/bad_input.py), one playbook against the running project: every case names its
    # option; the file is byte for byte the same and no container was replaced.
    catalogue = run_playbook(collections_path, tasks=catalogue_tasks(
        "flinkops.flink.flink_session", task["flinkops.flink.flink_session"], "compose"))
    assert len(cases("compose")) >= 40
    assert problems(catalogue, "compose") == []
    assert read(path) == text and ids(docker_client, name) == before
    # A busy REST port for a new project of the same spec: refused before the file is written.
    other = session_task(name + "-b", directory + "-b", default_image, port)
    failed = run(collections_path, other, expect_ok=False)
    assert failed.get("option") == "rest_port" and "already published" in failed["msg"], failed["msg"]
    assert not os.path.exists(directory + "-b")
    # state rendered belongs to platform compose.
    failed = run(collections_path, {"name": "session", "register": "out", "flinkops.flink.flink_session": {
        "name": name, "image": default_image, "state": "rendered"}}, expect_ok=False)
    assert failed.get("option") == "state" and "platform compose" in failed["msg"], failed["msg"]


def test_platform_switch_is_refused(collections_path, docker_client, project, default_image, port):
    """A cluster of platform docker is not duplicated by platform compose, nor the other way round."""
    name, directory = project
    docker_task = {"name": "session", "register": "out", "flinkops.flink.flink_session": {
        "name": name, "image": default_image, "rest_port": port, "wait": False,
        "taskmanager": {"replicas": 1, "memory": "1152m"}, "jobmanager": {"memory": "1024m"}}}
    run(collections_path, docker_task)
    try:
        failed = run(collections_path, session_task(name, directory, default_image, port + 1), expect_ok=False)
        assert failed.get("option") == "platform" and "platform docker" in failed["msg"], failed["msg"]
        assert "state absent" in failed["msg"] and not os.path.exists(directory)
        assert project_containers(docker_client, name) == {}
    finally:
        docker_task["flinkops.flink.flink_session"]["state"] = "absent"
        run(collections_path, docker_task)
    run(collections_path, session_task(name, directory, default_image, port, taskmanager={"replicas": 1}, wait=False))
    docker_task["flinkops.flink.flink_session"]["state"] = "present"
    failed = run(collections_path, docker_task, expect_ok=False)
    assert failed.get("option") == "platform" and "platform compose" in failed["msg"], failed["msg"]
    assert not docker_client.containers.list(all=True, filters={"label": "org.flinkops.cluster=%s" % name})


def test_compose_playbook(collections_path, docker_client, project, port):
    """playbooks/session_compose.yml as shipped: the project and the example job submitted with flink_job (the
    cluster found by name with platform compose); unchanged on a second run; removed with flink_compose_state."""
    name, directory = project
    extra = {"flink_cluster_name": name, "flink_project_dir": directory, "flink_image": flink_image(FLINK_DEFAULT),
             "flink_rest_port": port,
             "flink_example_jar": os.path.join(CACHE, "jobs", FLINK_DEFAULT, "TopSpeedWindowing.jar")}
    playbook = os.path.join(REPO, "playbooks", "session_compose.yml")
    first = run_playbook(collections_path, playbook_path=playbook, extra_vars=extra)
    assert first.rc == 0, first
    assert first.task("Run the example job on the cluster")["job_state"] == "RUNNING"
    assert [j["state"] for j in rest(port, "/jobs/overview")["jobs"]] == ["RUNNING"]
    second = run_playbook(collections_path, playbook_path=playbook, extra_vars=extra)
    assert second.rc == 0 and second.changed == [], second.changed
    removed = run_playbook(collections_path, playbook_path=playbook, extra_vars=dict(extra, flink_compose_state="absent"))
    assert removed.rc == 0 and removed.changed == ["Deploy the session cluster with docker compose"], removed.changed
    assert project_containers(docker_client, name) == {}


def test_values_with_whitespace_survive_the_official_entrypoint(collections_path, docker_client, project, port):
    """The official entrypoint (the test bed's images run it byte for byte) strips every whitespace character from
    FLINK_PROPERTIES lines: JVM options and other values with spaces reach Flink another way (the JVM options'
    variables, dynamic properties of the command)."""
    name, directory = project
    image = flink_image(FLINK_DEFAULT)
    task = session_task(name, directory, image, port, java_opts="-Dflinkops.all=yes -XX:+UseG1GC",
                        jobmanager={"java_opts": "-Dflinkops.role=jm"}, taskmanager={"replicas": 1},
                        flink_config={"execution.checkpointing.interval": "7s", "pipeline.name": "My Job"})
    deployed = run(collections_path, task)
    assert deployed["changed"] and len(deployed["taskmanagers"]) == 1, deployed
    config = dict((e["key"], e["value"]) for e in rest(port, "/jobmanager/config"))
    assert config["pipeline.name"] == "My Job", config.get("pipeline.name")
    found = dict((c.labels["com.docker.compose.service"], c) for c in project_containers(docker_client, name).values())
    jm, tm = jvm_command_line(found["jobmanager"]), jvm_command_line(found["taskmanager"])
    for args in (jm, tm):
        assert "-Dflinkops.all=yes" in args and "-XX:+UseG1GC" in args, args
        assert "--add-opens=java.base/java.util=ALL-UNNAMED" in args, args
    assert "-Dflinkops.role=jm" in jm and "-Dflinkops.role=jm" not in tm
    assert run(collections_path, task)["changed"] is False

    # A secret with whitespace cannot travel in FLINK_PROPERTIES: refused, naming it, nothing touched.
    before = ids(docker_client, name)
    refused = run(collections_path, session_task(name, directory, image, port, taskmanager={"replicas": 1},
                                                 flink_config_secrets={"s3.secret-key": "two words"}), expect_ok=False)
    assert refused["msg"].startswith("flink_config_secrets.s3.secret-key:") and "two words" not in refused["msg"]
    assert ids(docker_client, name) == before
