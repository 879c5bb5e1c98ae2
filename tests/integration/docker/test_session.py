"""flink_session on the real Docker engine with real Flink: deploy, idempotency, check/diff mode, scaling,
configuration through REST, a job from the real Flink client, removal."""

from __future__ import annotations

import json
import secrets
import time
import urllib.request

import pytest

from tests.integration.docker.conftest import examples_jar, flink_run
from tests.lib.ansible import run_playbook

pytestmark = [pytest.mark.docker]

SMALL = {"jobmanager": {"memory": "1024m"}, "taskmanager": {"memory": "1152m", "replicas": 2, "slots": 2}}


def session_task(name, image, port, **overrides):
    args = {"name": name, "image": image, "rest_port": port, "wait_timeout": 240,
            "flink_config": {"execution.checkpointing.interval": "7s", "pipeline.max-parallelism": 64}}
    args.update(json.loads(json.dumps(SMALL)))
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(args.get(key), dict):
            args[key] = dict(args[key], **value)
        else:
            args[key] = value
    return {"name": "session", "flinkops.flink.flink_session": args, "register": "out"}


def play(collections_path, task, **kwargs):
    result = run_playbook(collections_path, tasks=[task], **kwargs)
    return result


def ok(collections_path, task, **kwargs):
    result = play(collections_path, task, **kwargs)
    if result.rc != 0:
        failed = result.failures()
        pytest.fail("playbook failed: %s\n%s" % (failed, result.stderr[-2000:]))
    return result.task("session")


def rest(url, path):
    with urllib.request.urlopen(url + path, timeout=10) as response:
        return json.loads(response.read())


def containers(docker_client, name):
    found = docker_client.containers.list(all=True, filters={"label": "org.flinkops.cluster=%s" % name})
    return dict((c.name, c) for c in found)


def test_session_lifecycle(collections_path, docker_client, cluster_name, image, flink_version, port):
    task = session_task(cluster_name, image, port)

    # Check mode on nothing: predicts network + JobManager + 2 TaskManagers, creates nothing.
    predicted = ok(collections_path, task, check=True, diff=True)
    assert predicted["changed"] is True
    assert [(a["action"], a["target"]) for a in predicted["actions"]] == [
        ("create", "network flink-%s" % cluster_name), ("create", "%s-jobmanager" % cluster_name),
        ("create", "%s-taskmanager-1" % cluster_name), ("create", "%s-taskmanager-2" % cluster_name)]
    assert predicted["diff"]["before"] == {}
    assert predicted["diff"]["after"]["taskmanager"]["replicas"] == 2
    assert containers(docker_client, cluster_name) == {}

    # Real run applies exactly the prediction and waits for 2 TaskManagers with 2 slots each.
    deployed = ok(collections_path, task)
    assert deployed["changed"] is True
    assert deployed["actions"] == predicted["actions"]
    assert deployed["rest_url"] == "http://127.0.0.1:%d" % port
    assert deployed["flink_version"] == flink_version
    assert sorted(tm["id"] for tm in deployed["taskmanagers"]) == [
        "%s-taskmanager-1" % cluster_name, "%s-taskmanager-2" % cluster_name]
    assert all(tm["slots"] == 2 for tm in deployed["taskmanagers"])
    assert deployed["slots_total"] == 4
    overview = rest(deployed["rest_url"], "/overview")
    assert overview["taskmanagers"] == 2 and overview["slots-total"] == 4

    # The configuration is what Flink really runs with.
    config = dict((i["key"], i["value"]) for i in rest(deployed["rest_url"], "/jobmanager/config"))
    assert config["execution.checkpointing.interval"] == "7s"
    assert config["pipeline.max-parallelism"] == "64"
    assert config["jobmanager.memory.process.size"] in ("1073741824b", "1024m", "1 gb", "1073741824 bytes")
    jm_id = containers(docker_client, cluster_name)["%s-jobmanager" % cluster_name].id

    # Second run: nothing to do.
    again = ok(collections_path, task)
    assert again["changed"] is False and again["actions"] == []

    # Scale 2 -> 3: check mode predicts one new TaskManager, the real run does exactly that.
    task3 = session_task(cluster_name, image, port, taskmanager={"replicas": 3})
    predicted = ok(collections_path, task3, check=True)
    assert [(a["action"], a["target"]) for a in predicted["actions"]] == [("create", "%s-taskmanager-3" % cluster_name)]
    scaled = ok(collections_path, task3)
    assert scaled["actions"] == predicted["actions"]
    assert len(scaled["taskmanagers"]) == 3 and scaled["slots_total"] == 6
    assert containers(docker_client, cluster_name)["%s-jobmanager" % cluster_name].id == jm_id

    # Scale 3 -> 1: the two highest TaskManagers go, the JobManager stays, exactly 1 remains registered.
    task1 = session_task(cluster_name, image, port, taskmanager={"replicas": 1})
    predicted = ok(collections_path, task1, check=True)
    assert sorted((a["action"], a["target"]) for a in predicted["actions"]) == [
        ("remove", "%s-taskmanager-2" % cluster_name), ("remove", "%s-taskmanager-3" % cluster_name)]
    scaled = ok(collections_path, task1)
    assert [tm["id"] for tm in scaled["taskmanagers"]] == ["%s-taskmanager-1" % cluster_name]
    assert rest(scaled["rest_url"], "/overview")["taskmanagers"] == 1
    now = containers(docker_client, cluster_name)
    assert sorted(now) == ["%s-jobmanager" % cluster_name, "%s-taskmanager-1" % cluster_name]
    assert now["%s-jobmanager" % cluster_name].id == jm_id

    # A job submitted with the real Flink client runs on the cluster and finishes.
    submitted = flink_run(flink_version, port, "-c", "org.flinkops.examples.BoundedCounter", examples_jar(flink_version))
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    jobs = rest(scaled["rest_url"], "/jobs/overview")["jobs"]
    assert [j["state"] for j in jobs] == ["FINISHED"], jobs

    # Removal leaves no container and no network behind; a second removal changes nothing.
    absent = {"name": "session", "flinkops.flink.flink_session": {"name": cluster_name, "state": "absent"},
              "register": "out"}
    predicted = ok(collections_path, absent, check=True)
    assert predicted["changed"] is True
    assert len(containers(docker_client, cluster_name)) == 2
    removed = ok(collections_path, absent)
    assert removed["actions"] == predicted["actions"]
    assert containers(docker_client, cluster_name) == {}
    assert docker_client.networks.list(names=["flink-%s" % cluster_name]) == []
    assert ok(collections_path, absent)["changed"] is False


def test_streaming_job_and_running_job_guard(collections_path, docker_client, cluster_name, default_image, port):
    """A running job is not disrupted by a spec change unless the user says so; nothing is touched."""
    version = default_image.split(":")[1].split("-")[0]
    task = session_task(cluster_name, default_image, port, taskmanager={"replicas": 1})
    deployed = ok(collections_path, task)
    submitted = flink_run(version, port, "-d", "-c", "org.flinkops.examples.StatefulCounter", examples_jar(version),
                          "--rate", "5")
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        jobs = rest(deployed["rest_url"], "/jobs/overview")["jobs"]
        if jobs and jobs[0]["state"] == "RUNNING":
            break
        time.sleep(1)
    assert jobs[0]["state"] == "RUNNING", jobs
    before = dict((n, c.id) for n, c in containers(docker_client, cluster_name).items())

    changed = session_task(cluster_name, default_image, port, taskmanager={"replicas": 1},
                           flink_config={"execution.checkpointing.interval": "9s"})
    refused = play(collections_path, changed)
    assert refused.rc != 0
    out = refused.task("session")
    assert "disrupt_running_jobs" in out["msg"] and jobs[0]["jid"] in out["msg"], out["msg"]
    assert dict((n, c.id) for n, c in containers(docker_client, cluster_name).items()) == before
    assert rest(deployed["rest_url"], "/jobs/overview")["jobs"][0]["state"] == "RUNNING"

    # Scaling up disrupts nothing and is allowed while the job runs.
    up = ok(collections_path, session_task(cluster_name, default_image, port, taskmanager={"replicas": 2}))
    assert [a["action"] for a in up["actions"]] == ["create"]

    forced = dict(changed)
    forced["flinkops.flink.flink_session"] = dict(changed["flinkops.flink.flink_session"], disrupt_running_jobs=True)
    done = ok(collections_path, forced)
    assert sorted(a["action"] for a in done["actions"]) == ["recreate", "recreate", "remove"]
    config = dict((i["key"], i["value"]) for i in rest(done["rest_url"], "/jobmanager/config"))
    assert config["execution.checkpointing.interval"] == "9s"


def test_changes_recreate_only_what_they_touch(collections_path, docker_client, cluster_name, image,
                                               flink_version, port, tmp_path):
    """TaskManager memory touches only TaskManagers; a plugin and Flink config touch both; diff mode shows it;
    a read-only custom configuration directory works."""
    task = session_task(cluster_name, image, port, taskmanager={"replicas": 2})
    ok(collections_path, task)
    ids = dict((n, c.id) for n, c in containers(docker_client, cluster_name).items())
    jm = "%s-jobmanager" % cluster_name

    # Memory Flink's own model refuses (issue 16): checked with Flink's BashJavaUtils in the image before anything
    # is touched, in check mode too; the error names the option and quotes Flink; every container stays as it was.
    for role, size, words in (("taskmanager", "600m", "exceed configured Total Flink Memory"),
                              ("jobmanager", "200m", "exceed configured Total Process Memory")):
        overrides = {"taskmanager": {"replicas": 2}}
        overrides[role] = dict(overrides.get(role, {}), memory=size)
        bad = session_task(cluster_name, image, port, **overrides)
        for check in (True, False):
            result = play(collections_path, bad, check=check)
            failed = [r["result"] for r in result.results if r["status"] == "failed"]
            assert result.rc != 0 and failed, result.stdout[-2000:]
            assert failed[0]["msg"].startswith("%s.memory: Flink refuses" % role), failed[0]["msg"]
            assert words in failed[0]["msg"], failed[0]["msg"]
        assert dict((n, c.id) for n, c in containers(docker_client, cluster_name).items()) == ids
        assert all(c.attrs["RestartCount"] == 0 for c in containers(docker_client, cluster_name).values())

    tm_mem = session_task(cluster_name, image, port, taskmanager={"replicas": 2, "memory": "1200m"})
    predicted = ok(collections_path, tm_mem, check=True, diff=True)
    assert predicted["diff"]["before"]["taskmanager"]["memory"] == "1152m"
    assert predicted["diff"]["after"]["taskmanager"]["memory"] == "1200m"
    assert sorted(a["target"] for a in predicted["actions"]) == [
        "%s-taskmanager-1" % cluster_name, "%s-taskmanager-2" % cluster_name]
    assert all(a["action"] == "recreate" and "taskmanager.memory" in a["reason"] for a in predicted["actions"])
    done = ok(collections_path, tm_mem)
    assert done["actions"] == predicted["actions"]
    now = dict((n, c.id) for n, c in containers(docker_client, cluster_name).items())
    assert now[jm] == ids[jm] and all(now[n] != ids[n] for n in now if n != jm)
    assert ok(collections_path, tm_mem)["changed"] is False

    # A built-in plugin, checked against the image, lands in plugins/ of every container.
    s3 = session_task(cluster_name, image, port, taskmanager={"replicas": 2, "memory": "1200m"},
                      plugins=["flink-s3-fs-hadoop"])
    done = ok(collections_path, s3, diff=True)
    assert sorted(a["action"] for a in done["actions"]) == ["recreate"] * 3
    assert done["diff"]["after"]["plugins"] == ["flink-s3-fs-hadoop"] and done["diff"]["before"]["plugins"] == []
    for container in containers(docker_client, cluster_name).values():
        listing = container.exec_run(["ls", "/opt/flink/plugins/flink-s3-fs-hadoop-%s" % flink_version])
        assert listing.exit_code == 0 and b"flink-s3-fs-hadoop-%s.jar" % flink_version.encode() in listing.output

    # A custom configuration directory, mounted read-only; the module's settings arrive via FLINK_PROPERTIES.
    conf = tmp_path / "conf"
    conf.mkdir()
    source = "/var/cache/flinkops/flink/%s/conf" % flink_version
    for name in ("config.yaml", "log4j-console.properties", "logback-console.xml"):
        (conf / name).write_text(open("%s/%s" % (source, name)).read())
    with open(conf / "config.yaml", "a") as handle:
        handle.write("\nweb.timeout: 654321\n")
    conf.chmod(0o755)
    hidden = "cfg-%s" % secrets.token_hex(6)
    custom = session_task(cluster_name, image, port, taskmanager={"replicas": 1}, conf_dir=str(conf),
                          flink_config_secrets={"flinkops.test.credential": hidden})
    done = ok(collections_path, custom)
    config = dict((i["key"], i["value"]) for i in rest(done["rest_url"], "/jobmanager/config"))
    assert config["web.timeout"] == "654321"                       # from the user's file
    assert config["execution.checkpointing.interval"] == "7s"      # from flink_config, via FLINK_PROPERTIES
    # flink_config_secrets reach Flink from a file put into the container, never its inspect or the output.
    assert config["flinkops.test.credential"] == hidden
    assert_hidden(docker_client, cluster_name, hidden, done)
    assert len(done["taskmanagers"]) == 1
    assert ok(collections_path, custom)["changed"] is False


def test_restarted_and_info(collections_path, docker_client, cluster_name, default_image, port):
    """state=restarted restarts every container and waits for them to register again; flink_info reads
    the cluster by name and by URL without changing anything."""
    task = session_task(cluster_name, default_image, port, taskmanager={"replicas": 1})
    ok(collections_path, task)
    started = dict((n, c.attrs["State"]["StartedAt"]) for n, c in containers(docker_client, cluster_name).items())
    restart = dict(task)
    restart["flinkops.flink.flink_session"] = dict(task["flinkops.flink.flink_session"], state="restarted")
    predicted = ok(collections_path, restart, check=True)
    assert sorted(a["action"] for a in predicted["actions"]) == ["restart", "restart"]
    assert dict((n, c.attrs["State"]["StartedAt"]) for n, c in containers(docker_client, cluster_name).items()) == started
    done = ok(collections_path, restart)
    assert done["changed"] and len(done["taskmanagers"]) == 1
    now = dict((n, c.attrs["State"]["StartedAt"]) for n, c in containers(docker_client, cluster_name).items())
    assert all(now[n] > started[n] for n in started), (started, now)

    info_tasks = [{"name": "by name", "register": "a", "flinkops.flink.flink_info": {"name": cluster_name}},
                  {"name": "by url", "register": "b", "flinkops.flink.flink_info": {
                      "rest_url": "http://127.0.0.1:%d" % port, "include_config": False}},
                  {"name": "unknown", "register": "c", "ignore_errors": True,
                   "flinkops.flink.flink_info": {"name": cluster_name + "-nope"}}]
    result = run_playbook(collections_path, tasks=info_tasks, check=True)
    by_name, by_url, unknown = result.task("by name"), result.task("by url"), result.task("unknown")
    assert by_name["changed"] is False and by_name["rest_url"] == "http://127.0.0.1:%d" % port
    assert by_name["overview"]["taskmanagers"] == 1 and by_name["taskmanagers"][0]["id"] == "%s-taskmanager-1" % cluster_name
    assert by_name["config"]["execution.checkpointing.interval"] == "7s"
    assert "config" not in by_url and by_url["flink_version"] == by_name["flink_version"]
    assert unknown["msg"].startswith("name: no cluster named %s-nope" % cluster_name)


def assert_hidden(docker_client, name, value, *outputs):
    """A secret value shows in no `docker inspect` of the cluster's containers (environment, labels, command)
    and in none of the module's outputs."""
    found = containers(docker_client, name)
    assert found
    for container in found.values():
        assert value not in json.dumps(docker_client.api.inspect_container(container.id)), container.name
    for output in outputs:
        assert value not in json.dumps(output)


def flink_jvm(container):
    """(pid, command line) of the Flink JVM in a container, read from /proc the way an operator checks it."""
    listing = container.exec_run(["sh", "-c", "for p in /proc/[0-9]*; do printf '%s ' ${p#/proc/}; "
                                              "tr '\\0' ' ' < $p/cmdline; echo; done"])
    lines = [line for line in listing.output.decode("utf-8", "replace").splitlines()
             if "java" in line and "org.apache.flink" in line]
    assert len(lines) == 1, lines
    pid, args = lines[0].split(None, 1)
    return pid, args.split()


def jvm_command_line(container):
    return flink_jvm(container)[1]


def jvm_uses_jemalloc(container):
    """Whether libjemalloc is mapped into the Flink JVM (/proc/<pid>/maps), i.e. the allocator really in use."""
    pid = flink_jvm(container)[0]
    maps = container.exec_run(["cat", "/proc/%s/maps" % pid])
    assert maps.exit_code == 0 and b"libjvm.so" in maps.output, maps.output[-500:]
    return b"libjemalloc" in maps.output


def test_java_opts_and_jemalloc_reach_each_jvm(collections_path, docker_client, cluster_name,
                                               default_image, port):
    hidden = "cfg-%s" % secrets.token_hex(6)
    task = session_task(cluster_name, default_image, port, java_opts="-Dflinkops.all=yes -XX:+UseG1GC",
                        jobmanager={"java_opts": "-Dflinkops.role=jm"}, taskmanager={"replicas": 1},
                        flink_config={"blob.server.port": "6130"},
                        flink_config_secrets={"flinkops.test.credential": hidden})
    deployed = ok(collections_path, task)
    # The official entrypoint sets blob.server.port to 6124 on every start; the user's value still wins.
    config = dict((e["key"], e["value"]) for e in rest("http://127.0.0.1:%d" % port, "/jobmanager/config"))
    assert config["blob.server.port"] == "6130", config.get("blob.server.port")
    # flink_config_secrets: in the configuration file put into the container, not in its inspect.
    assert config["flinkops.test.credential"] == hidden
    assert_hidden(docker_client, cluster_name, hidden, deployed)
    found = containers(docker_client, cluster_name)
    jm = jvm_command_line(found["%s-jobmanager" % cluster_name])
    tm = jvm_command_line(found["%s-taskmanager-1" % cluster_name])
    for args in (jm, tm):
        assert "-Dflinkops.all=yes" in args and "-XX:+UseG1GC" in args, args
        # The image's env.java.opts.all (Java 17's --add-opens) is still there: added to, not replaced.
        assert "--add-opens=java.base/java.util=ALL-UNNAMED" in args, args
    assert "-Dflinkops.role=jm" in jm and "-Dflinkops.role=jm" not in tm
    assert ok(collections_path, task)["changed"] is False
    # The official image's entrypoint preloads jemalloc; jemalloc=false is its DISABLE_JEMALLOC switch.
    assert jvm_uses_jemalloc(found["%s-jobmanager" % cluster_name])
    assert jvm_uses_jemalloc(found["%s-taskmanager-1" % cluster_name])
    task["flinkops.flink.flink_session"]["jemalloc"] = False
    switched = ok(collections_path, task)
    assert switched["changed"] is True, switched
    found = containers(docker_client, cluster_name)
    assert not jvm_uses_jemalloc(found["%s-jobmanager" % cluster_name])
    assert not jvm_uses_jemalloc(found["%s-taskmanager-1" % cluster_name])
    assert ok(collections_path, task)["changed"] is False
    ok(collections_path, session_task(cluster_name, default_image, port, state="absent"))


def test_custom_entrypoint_runs_first_and_hands_over_to_the_images(collections_path, docker_client, cluster_name,
                                                                   default_image, port):
    """entrypoint replaces the image's, as `docker run --entrypoint` does: it gets the module's command as its
    arguments and hands over to /docker-entrypoint.sh; going back to the image's entrypoint recreates the
    containers."""
    script = 'echo "$@" > /tmp/flinkops-entrypoint-args; exec /docker-entrypoint.sh "$@"'
    entrypoint = ["bash", "-c", script, "custom-entrypoint"]
    task = session_task(cluster_name, default_image, port, entrypoint=entrypoint, taskmanager={"replicas": 1})
    predicted = ok(collections_path, task, check=True, diff=True)
    assert predicted["diff"]["after"]["entrypoint"] == entrypoint, predicted["diff"]["after"]
    deployed = ok(collections_path, task)
    assert deployed["changed"] is True and len(deployed["taskmanagers"]) == 1, deployed
    found = containers(docker_client, cluster_name)
    for name, script_name in (("jobmanager", "jobmanager.sh"), ("taskmanager-1", "taskmanager.sh")):
        container = found["%s-%s" % (cluster_name, name)]
        assert container.attrs["Config"]["Entrypoint"] == entrypoint
        seen = container.exec_run(["cat", "/tmp/flinkops-entrypoint-args"])
        assert seen.exit_code == 0 and script_name + " start-foreground" in seen.output.decode(), seen.output
    assert ok(collections_path, task)["changed"] is False

    del task["flinkops.flink.flink_session"]["entrypoint"]
    back = ok(collections_path, task, diff=True)
    assert back["changed"] is True and "entrypoint" not in back["diff"]["after"], back["diff"]
    found = containers(docker_client, cluster_name)
    assert found["%s-jobmanager" % cluster_name].attrs["Config"]["Entrypoint"] == ["/docker-entrypoint.sh"]
    assert ok(collections_path, task)["changed"] is False
    ok(collections_path, session_task(cluster_name, default_image, port, state="absent"))
