"""flink_session, flink_application, flink_job and flink_info with platform swarm, on the real 3-host swarm.

Session: three TaskManagers spread over the hosts from the same spec as on Docker; check mode predicts exactly
the actions a real run applies, an unchanged run changes nothing, diff shows fields, scaling touches only the
TaskManager service, flink_config_secrets reach Flink and no service spec; a job runs through flink_job against
the cluster by name. Application: the stateful counter through a savepoint upgrade, a last-state upgrade and a
suspend/resume, its output proving every key counted on with no reset and no gap.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.conftest import CACHE, FLINK_DEFAULT, FLINK_VERSIONS, flink_image
from tests.integration.docker.test_application import assert_counts_continuous
from tests.integration.swarm.conftest import build_image, push_image
from tests.integration.swarm.test_session import rest
from tests.lib.ansible import run_playbook
from tests.lib.bad_input import cases, catalogue_tasks, problems

pytestmark = [pytest.mark.swarm]

SESSION_PORT = 18085
APP_PORT = 18086


def session_task(swarm, prefix, **overrides):
    args = {"name": prefix, "platform": "swarm", "image": swarm.image(), "docker_host": swarm.manager_docker_host,
            "network": "%s-net" % prefix, "endpoint_mode": "dnsrr", "rest_port": SESSION_PORT,
            "jobmanager": {"memory": "1024m", "constraints": ["node.labels.flink.role==jobmanager"]},
            "taskmanager": {"memory": "1152m", "replicas": 3, "slots": 2, "preferences": ["node.hostname"]},
            "flink_config": {"execution.checkpointing.interval": "10s"}, "wait_timeout": 300}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(args.get(key), dict):
            args[key] = dict(args[key], **value)
        else:
            args[key] = value
    return {"name": "session", "register": "out", "flinkops.flink.flink_session": args}


def run(collections_path, task, expect_ok=True, **kwargs):
    result = run_playbook(collections_path, tasks=[task], **kwargs)
    out = result.task(task["name"]) if result.results else {"msg": result.stdout[-3000:]}
    if expect_ok:
        assert result.rc == 0, out.get("msg")
    return out


def service(client, name):
    return client.api.inspect_service(name)


def test_session_cluster_from_the_docker_spec(swarm, prefix, collections_path):
    client = swarm.client()
    # Values with spaces: the official image's entrypoint would strip them from FLINK_PROPERTIES, so they travel
    # as the JVM options' variable and as a dynamic property of the command.
    spaced = {"java_opts": "-Dflinkops.all=yes -XX:+UseG1GC", "flink_config": {"pipeline.name": "My Job"}}
    task = session_task(swarm, prefix, flink_config_secrets={"s3.secret-key": "swarm-secret-value-42"}, **spaced)

    predicted = run(collections_path, task, check=True, diff=True)
    assert predicted["changed"] and predicted["diff"]["before"] == {}
    assert predicted["diff"]["after"]["taskmanager"]["replicas"] == 3
    applied = run(collections_path, task)
    assert applied["actions"] == predicted["actions"], (applied["actions"], predicted["actions"])
    assert [a["target"] for a in applied["actions"]] == [
        "network %s-net" % prefix, "secret %s" % applied["actions"][1]["target"].split(" ", 1)[1],
        "service %s-jobmanager" % prefix, "service %s-taskmanager" % prefix]

    # Readiness: exactly the three TaskManagers, with two slots each, spread over the hosts.
    ids = sorted(t["id"] for t in applied["taskmanagers"])
    assert ids == ["%s-taskmanager-%d" % (prefix, i) for i in (1, 2, 3)], ids
    assert all(t["slots"] == 2 for t in applied["taskmanagers"]) and applied["slots_total"] == 6
    url = applied["rest_url"]
    assert url == "http://%s:%d" % (swarm.address(swarm.manager), SESSION_PORT)
    assert rest(url, "/overview")["taskmanagers"] == 3
    nodes = set()
    for t in client.api.tasks(filters={"service": "%s-taskmanager" % prefix, "desired-state": "running"}):
        nodes.add(t["NodeID"])
    assert len(nodes) == 3, "TaskManagers not spread over the hosts: %s" % nodes

    # The secret reached Flink (masked by its REST API) and is in no service spec or label.
    config = dict((c["key"], c["value"]) for c in rest(url, "/jobmanager/config"))
    assert "s3.secret-key" in config and config["s3.secret-key"] != "swarm-secret-value-42"
    for role in ("jobmanager", "taskmanager"):
        assert "swarm-secret-value-42" not in json.dumps(service(client, "%s-%s" % (prefix, role)))
    assert config["pipeline.name"] == "My Job", config.get("pipeline.name")
    container = service(client, "%s-jobmanager" % prefix)["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert container["Args"][:3] == ["jobmanager", "-D", "pipeline.name=My Job"], container["Args"]
    assert "FLINK_ENV_JAVA_OPTS_JM=-Dflinkops.all=yes -XX:+UseG1GC" in container["Env"], container["Env"]

    # Unchanged: nothing to do, in check mode and for real.
    assert run(collections_path, task, check=True)["changed"] is False
    again = run(collections_path, task)
    assert again["changed"] is False and again["actions"] == []

    # The bad-input catalogue, one playbook against the running cluster: every case names its option, and the
    # services (ids, versions), their tasks and the secrets are exactly as before.
    before = swarm_snapshot(client, prefix)
    catalogue = run_playbook(collections_path, tasks=catalogue_tasks(
        "flinkops.flink.flink_session", task["flinkops.flink.flink_session"], "swarm"))
    assert len(cases("swarm")) >= 40
    assert problems(catalogue, "swarm") == []
    assert swarm_snapshot(client, prefix) == before
    # A plugin the image has passes the same check (the image has flink-s3-fs-hadoop of 2.2.0 and of 2.2.1: its
    # own version's is taken): check mode predicts the update of both services.
    with_plugin = dict(task, **{"flinkops.flink.flink_session": dict(task["flinkops.flink.flink_session"],
                                                                     plugins=["flink-s3-fs-hadoop"])})
    with_plugin = run(collections_path, with_plugin, check=True)
    assert with_plugin["changed"] and [a["target"] for a in with_plugin["actions"]] == [
        "service %s-jobmanager" % prefix, "service %s-taskmanager" % prefix], with_plugin
    assert swarm_snapshot(client, prefix) == before

    # A configuration change and a scale-down: diff shows fields; check mode predicts exactly what the real run
    # applies; only the TaskManager service changes, exactly two TaskManagers with the new slots stay registered.
    changed = session_task(swarm, prefix, flink_config_secrets={"s3.secret-key": "swarm-secret-value-42"},
                           taskmanager={"slots": 3, "replicas": 2}, **spaced)
    jm_version = service(client, "%s-jobmanager" % prefix)["Version"]["Index"]
    predicted = run(collections_path, changed, check=True, diff=True)
    assert (predicted["diff"]["before"]["taskmanager"]["slots"], predicted["diff"]["before"]["taskmanager"]["replicas"]) \
        == (2, 3)
    assert (predicted["diff"]["after"]["taskmanager"]["slots"], predicted["diff"]["after"]["taskmanager"]["replicas"]) \
        == (3, 2)
    assert [a["target"] for a in predicted["actions"]] == ["service %s-taskmanager" % prefix]
    assert "taskmanager.replicas" in predicted["actions"][0]["reason"]
    assert "taskmanager.slots" in predicted["actions"][0]["reason"]
    applied = run(collections_path, changed)
    assert applied["actions"] == predicted["actions"]
    assert sorted(t["id"] for t in applied["taskmanagers"]) == ["%s-taskmanager-%d" % (prefix, i) for i in (1, 2)]
    assert all(t["slots"] == 3 for t in applied["taskmanagers"])
    assert service(client, "%s-jobmanager" % prefix)["Version"]["Index"] == jm_version  # JobManager untouched

    # A change that never gets ready (TaskManagers whose JVM cannot load their agent) is rolled back: the swarm puts
    # the TaskManager service back on its spec before, the module waits for the restored TaskManagers (their 3
    # slots, not the 4 asked) and fails with rolled_back=true, saying why.
    tm_before = service(client, "%s-taskmanager" % prefix)["Spec"]
    broken = session_task(swarm, prefix, flink_config_secrets={"s3.secret-key": "swarm-secret-value-42"},
                          taskmanager={"slots": 4, "replicas": 2,
                                       "java_opts": "-javaagent:/opt/flinkops-no-such-agent.jar"}, **spaced)
    failed = run(collections_path, broken, expect_ok=False)
    assert failed.get("rolled_back") is True, failed
    assert failed["restored"] == ["%s-taskmanager" % prefix], failed
    assert "flinkops-no-such-agent.jar" in failed["msg"], failed["msg"]  # the TaskManagers' log says why
    assert "rolled back to the last stable spec" in failed["msg"], failed["msg"]
    assert service(client, "%s-taskmanager" % prefix)["Spec"] == tm_before
    assert service(client, "%s-jobmanager" % prefix)["Version"]["Index"] == jm_version
    tms = rest(url, "/taskmanagers")["taskmanagers"]
    assert sorted((t["id"], t["slotsNumber"]) for t in tms) == [("%s-taskmanager-%d" % (prefix, i), 3) for i in (1, 2)]
    assert run(collections_path, changed)["changed"] is False

    # flink_job and flink_info find the cluster by name on the swarm.
    jar = os.path.join(CACHE, "jobs", FLINK_DEFAULT, "flinkops-examples.jar")
    job = {"name": "job", "register": "out", "flinkops.flink.flink_job": {
        "name": "%s-counter" % prefix, "cluster": prefix, "platform": "swarm", "docker_host": swarm.manager_docker_host,
        "jar": jar, "entry_class": "org.flinkops.examples.BoundedCounter", "args": ["--n", "200000", "--keys", "3"],
        "parallelism": 2, "upgrade_mode": "stateless"}}
    submitted = run(collections_path, job)
    assert submitted["rest_url"] == url and submitted["job_state"] in ("RUNNING", "FINISHED"), submitted
    info = run(collections_path, {"name": "info", "register": "out", "flinkops.flink.flink_info": {
        "name": prefix, "platform": "swarm", "docker_host": swarm.manager_docker_host}})
    assert info["rest_url"] == url and len(info["taskmanagers"]) == 2
    assert submitted["job_id"] in [j["id"] for j in info["jobs"]]

    # Removal: services, network and secret gone.
    removed = run(collections_path, {"name": "session", "register": "out", "flinkops.flink.flink_session": {
        "name": prefix, "platform": "swarm", "state": "absent", "docker_host": swarm.manager_docker_host,
        "network": "%s-net" % prefix}})
    assert removed["changed"]
    assert not [s for s in client.services.list() if s.name.startswith(prefix)]
    assert not client.networks.list(names=["%s-net" % prefix])
    assert not client.api.secrets(filters={"label": "org.flinkops.cluster=%s" % prefix})
    client.close()


def swarm_snapshot(client, prefix):
    services = [s for s in client.api.services() if s["Spec"]["Name"].startswith(prefix)]
    tasks = client.api.tasks(filters={"desired-state": "running"})
    return (sorted((s["ID"], s["Version"]["Index"]) for s in services),
            sorted(t["ID"] for t in tasks if t["ServiceID"] in set(s["ID"] for s in services)),
            sorted(s["ID"] for s in client.api.secrets(filters={"label": "org.flinkops.cluster=%s" % prefix})))


# The application test runs every task on one worker: the savepoints, checkpoints and the job's output are local
# volumes of that node (a real setup uses a file system every node reaches, e.g. S3 or NFS).
def app_task(swarm, prefix, image, node, state="running", **job):
    spec = {"entry_class": "org.flinkops.examples.StatefulCounter",
            "args": ["--rate", "20", "--keys", "4", "--out", "/out", "--checkpoint-interval-ms", "2000"],
            "savepoint_dir": "file:///savepoints"}
    spec.update(job)
    pin = ["node.hostname==%s" % node]
    return {"name": "app", "register": "out", "flinkops.flink.flink_application": {
        "name": prefix, "platform": "swarm", "image": image, "docker_host": swarm.manager_docker_host,
        "state": state, "network": "%s-net" % prefix, "endpoint_mode": "dnsrr", "rest_port": APP_PORT,
        # 480 s: in the full suite the Kubernetes worker's operator tests share the two cores, and a JobManager
        # restoring from a checkpoint was seen not to answer within 300 s there (it took 199 s alone).
        "wait_timeout": 480, "jobmanager": {"memory": "1024m", "constraints": pin},
        "taskmanager": {"memory": "1152m", "replicas": 1, "slots": 2, "constraints": pin},
        # Checkpoints retained on cancellation from the start, so that a later last-state upgrade has one.
        # A few retained checkpoints, as a setup without high availability should keep for last-state upgrades.
        "flink_config": {"execution.checkpointing.dir": "file:///savepoints/checkpoints",
                         "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
                         "execution.checkpointing.num-retained": 3},
        "mounts": [{"type": "volume", "source": "%s-savepoints" % prefix, "target": "/savepoints"},
                   {"type": "volume", "source": "%s-out" % prefix, "target": "/out"}],
        "job": spec}}


def node_output(swarm, node, prefix, image):
    """The job's output lines, read from the volume on the node that runs the tasks."""
    client = swarm.client(node)
    try:
        raw = client.containers.run(image, entrypoint=["sh", "-c", "cat /out/part-* 2>/dev/null || true"],
                                    remove=True, network_mode="none",
                                    volumes={"%s-out" % prefix: {"bind": "/out", "mode": "ro"}})
    finally:
        client.close()
    rows = []
    for line in raw.decode("utf-8", "replace").splitlines():
        parts = dict(p.split("=", 1) for p in line.strip().split() if "=" in p)
        if set(parts) == {"key", "count", "seq"}:
            rows.append((int(parts["key"]), int(parts["count"]), int(parts["seq"])))
    return rows


def wait_rows(swarm, node, prefix, image, at_least, timeout=90):
    deadline = time.monotonic() + timeout
    rows = []
    while time.monotonic() < deadline:
        rows = node_output(swarm, node, prefix, image)
        if len(rows) >= at_least:
            return rows
        time.sleep(2)
    pytest.fail("the job wrote only %d lines, expected %d" % (len(rows), at_least))


@pytest.mark.parametrize("version", FLINK_VERSIONS, ids=lambda v: "flink-%s" % v)
def test_application_upgrades_and_suspend_lose_no_state(version, swarm, prefix, collections_path):
    node = swarm.workers[0]
    jar = os.path.join(CACHE, "jobs", version, "flinkops-examples.jar")
    local = "flinkops-test/%s:%s" % (prefix, version)
    # /out and /savepoints exist in the image, owned by flink: the node's new volumes take that ownership.
    # The official 2.x image runs as user flink, 1.x as root (its entrypoint drops to flink): RUN as root, then back.
    user = "root" if version.startswith("1.") else "flink"
    build_image(local, "FROM %s\nCOPY --chown=9999:9999 job.jar /opt/flink/usrlib/job.jar\nUSER root\n"
                "RUN mkdir -p /out /savepoints && chown 9999:9999 /out /savepoints\nUSER %s\n"
                % (flink_image(version), user), {"job.jar": jar})
    image, _digest = push_image(swarm, local, "flinkops/%s:%s-java17" % (prefix, version))
    client = swarm.client()
    try:
        deployed = run(collections_path, app_task(swarm, prefix, image, node))
        assert deployed["job_state"] == "RUNNING", deployed
        assert deployed["rest_url"] == "http://%s:%d" % (swarm.address(node), APP_PORT)
        assert run(collections_path, app_task(swarm, prefix, image, node))["changed"] is False
        rows = wait_rows(swarm, node, prefix, image, 60)

        # Savepoint upgrade (new parallelism): check mode predicts it, the job resumes from the savepoint.
        task = app_task(swarm, prefix, image, node, parallelism=2)
        predicted = run(collections_path, task, check=True, diff=True)
        assert [a["action"] for a in predicted["actions"]] == ["upgrade", "update"]
        assert predicted["diff"]["before"]["job"]["parallelism"] is None
        assert predicted["diff"]["after"]["job"]["parallelism"] == 2
        upgraded = run(collections_path, task)
        assert upgraded["actions"] == predicted["actions"]
        assert upgraded["last_savepoint"].startswith("file:") and upgraded["job_state"] == "RUNNING"
        assert upgraded["job_id"] != deployed["job_id"]
        args = service(client, "%s-jobmanager" % prefix)["Spec"]["TaskTemplate"]["ContainerSpec"]["Args"]
        assert args[args.index("--fromSavepoint") + 1] == upgraded["last_savepoint"]
        rows = wait_rows(swarm, node, prefix, image, len(rows) + 60)

        if version == FLINK_DEFAULT:
            # A savepoint upgrade whose new job fails (its output directory cannot be made, no restarts): rolled
            # back. The TaskManager service goes back to its spec before; the JobManager service too, its job
            # restarting from the savepoint this run took (not the older one its own arguments named). The counts
            # go on with no gap or reset, and the spec before the failed one is what runs: it changes nothing.
            broken = app_task(swarm, prefix, image, node, parallelism=2, args=[
                "--rate", "20", "--keys", "4", "--out", "/proc/flinkops-no-output", "--checkpoint-interval-ms", "2000"])
            broken["flinkops.flink.flink_application"]["flink_config"]["restart-strategy.type"] = "none"
            failed = run(collections_path, broken, expect_ok=False)
            assert failed.get("rolled_back") is True, failed
            assert failed["restored"] == ["%s-jobmanager" % prefix, "%s-taskmanager" % prefix], failed
            assert "FAILED" in failed["failure"] and "rolled back to the last stable spec" in failed["msg"], failed
            assert failed["savepoint"].startswith("file:") and failed["savepoint"] != upgraded["last_savepoint"]
            assert failed["job_state"] == "RUNNING" and failed["job_id"] != upgraded["job_id"], failed
            args = service(client, "%s-jobmanager" % prefix)["Spec"]["TaskTemplate"]["ContainerSpec"]["Args"]
            assert args[args.index("--fromSavepoint") + 1] == failed["savepoint"], args
            assert "/proc/flinkops-no-output" not in args and args[args.index("--job-id") + 1] == failed["job_id"]
            assert run(collections_path, task)["changed"] is False
            rows = wait_rows(swarm, node, prefix, image, len(rows) + 60)

        # Last-state upgrade (new arguments): from the latest retained checkpoint.
        task = app_task(swarm, prefix, image, node, parallelism=2, upgrade_mode="last-state",
                        args=["--rate", "20", "--keys", "4", "--out", "/out", "--checkpoint-interval-ms", "1000"])
        last_state = run(collections_path, task)
        assert last_state["job_state"] == "RUNNING" and "/checkpoints/" in last_state["savepoint"], last_state
        rows = wait_rows(swarm, node, prefix, image, len(rows) + 60)

        # Suspend: a savepoint, the services gone, the savepoint recorded in a swarm config; then resume.
        suspended = run(collections_path, app_task(swarm, prefix, image, node, state="suspended", parallelism=2,
                                                   upgrade_mode="last-state", args=task[
                                                       "flinkops.flink.flink_application"]["job"]["args"]))
        assert suspended["savepoint"].startswith("file:")
        assert not [s for s in client.services.list() if s.name.startswith(prefix)]
        record = [c for c in client.api.configs() if c["Spec"]["Name"] == "flinkops-%s-state" % prefix]
        assert record and record[0]["Spec"]["Labels"]["org.flinkops.savepoint"] == suspended["savepoint"]
        stopped = len(node_output(swarm, node, prefix, image))
        resumed = run(collections_path, task)
        assert resumed["actions"][0]["action"] == "resume" and resumed["job_state"] == "RUNNING"
        assert resumed["savepoint"] == suspended["savepoint"]
        rows = wait_rows(swarm, node, prefix, image, stopped + 60)

        finals = assert_counts_continuous(rows)
        assert len(finals) == 4 and min(finals.values()) > 40, finals

        removed = run(collections_path, {"name": "app", "register": "out", "flinkops.flink.flink_application": {
            "name": prefix, "platform": "swarm", "state": "absent", "docker_host": swarm.manager_docker_host,
            "network": "%s-net" % prefix}})
        assert removed["changed"]
        assert not [c for c in client.api.configs() if c["Spec"]["Name"] == "flinkops-%s-state" % prefix]
    finally:
        client.close()


def test_a_jobmanager_that_cannot_start_fails_the_wait_with_its_log(swarm, prefix, collections_path):
    """An application whose class is in no jar: the JobManager exits, the swarm restarts it again and again. The
    module fails well before wait_timeout, quoting what the JobManager's log says."""
    node = swarm.workers[0]
    task = app_task(swarm, prefix, swarm.image(), node, entry_class="org.flinkops.examples.NoSuchJob")
    task["flinkops.flink.flink_application"]["wait_timeout"] = 300
    started = time.monotonic()
    failed = run(collections_path, task, expect_ok=False)
    elapsed = time.monotonic() - started
    print("failed after %.0fs: %s" % (elapsed, failed["msg"]))
    try:
        assert "keep failing" in failed["msg"] or "exited" in failed["msg"], failed["msg"]
        assert "NoSuchJob" in failed["msg"], failed["msg"]
        assert elapsed < 240, "failed only after %.0fs: %s" % (elapsed, failed["msg"])
    finally:
        run(collections_path, {"name": "app", "register": "out", "flinkops.flink.flink_application": {
            "name": prefix, "platform": "swarm", "state": "absent", "docker_host": swarm.manager_docker_host,
            "network": "%s-net" % prefix}})
