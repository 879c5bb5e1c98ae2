"""The action plugins run the Flink modules inside Ansible's worker process when the task targets the controller
with the controller's Python (every other test here does), and as a module process otherwise. Both ways must give
the same results on the same cluster. Also: containers start Flink's own scripts (the module writes the whole
configuration, so the entrypoint's configuration step is skipped) and still run Flink as the flink user."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.integration.docker.test_session import SMALL, session_task
from tests.lib.ansible import ansible_env, run_playbook

pytestmark = [pytest.mark.docker]

IN_PROCESS = "runs in the worker process"
PAYLOAD = "AnsiballZ_flink_session.py"
COMPARED = ("changed", "actions", "rest_url", "flink_version", "taskmanagers", "slots_total", "containers",
            "network")


def run(collections_path, task, in_process, **kwargs):
    extra = ["-vvv"] + ([] if in_process else ["-e", '{"flinkops_flink_in_process": false}'])
    result = run_playbook(collections_path, tasks=[task], extra_args=extra, **kwargs)
    assert result.rc == 0, result
    if in_process:
        assert IN_PROCESS in result.stdout and PAYLOAD not in result.stdout, result.stdout[-3000:]
    else:
        assert "flinkops_flink_in_process is false" in result.stdout and PAYLOAD in result.stdout, \
            result.stdout[-3000:]
    return result.task("session")


# What the action plugin does in the worker process (run_module_main), in a fresh interpreter that reports which
# libraries the run imported.
UNCHANGED_RUN = r"""
import json, sys
from ansible_collections.flinkops.flink.plugins.modules import flink_session
from ansible_collections.flinkops.flink.plugins.plugin_utils.in_process import run_module_main
result = run_module_main(flink_session.main, "flinkops.flink.flink_session", json.loads(sys.argv[1]), False, False)
heavy = ("docker", "requests", "urllib3", "ansible.module_utils.urls")
print(json.dumps({"result": result, "imported": sorted(m for m in heavy if m in sys.modules)}))
"""


def unchanged_run_imports(collections_path, args):
    env = ansible_env(collections_path)
    env["PYTHONPATH"] = collections_path
    proc = subprocess.run([sys.executable, "-c", UNCHANGED_RUN, json.dumps(args)], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return report["result"], report["imported"]


def test_in_process_and_module_process_agree(collections_path, docker_client, cluster_name, default_image, port):
    task = session_task(cluster_name, default_image, port)

    # Deploy as a module process, the way it runs against a remote host.
    deployed = run(collections_path, task, in_process=False)
    assert deployed["changed"] is True and len(deployed["taskmanagers"]) == 2

    # Unchanged re-runs both ways: no change, the same facts.
    again_here = run(collections_path, task, in_process=True)
    again_there = run(collections_path, task, in_process=False)
    for key in COMPARED:
        assert again_here[key] == again_there[key], key
    assert again_here["changed"] is False and again_here["actions"] == []

    # An unchanged run reads through the small clients: neither the Docker SDK nor ansible.module_utils.urls
    # (with requests, urllib3, cryptography) is imported, and the facts are the same.
    result, imported = unchanged_run_imports(collections_path, task["flinkops.flink.flink_session"])
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is False and imported == []
    for key in ("rest_url", "flink_version", "taskmanagers", "slots_total", "containers"):
        assert result[key] == again_here[key], key

    # The same prediction for a change, in check and diff mode.
    scaled = session_task(cluster_name, default_image, port, taskmanager={"replicas": 3})
    plan_here = run(collections_path, scaled, in_process=True, check=True, diff=True)
    plan_there = run(collections_path, scaled, in_process=False, check=True, diff=True)
    assert plan_here["actions"] == plan_there["actions"] == [
        {"action": "create", "target": "%s-taskmanager-3" % cluster_name, "reason": "missing"}]
    assert plan_here["diff"] == plan_there["diff"]
    assert plan_here["diff"]["after"]["taskmanager"]["replicas"] == 3

    # A failure reads the same both ways, and touches nothing.
    bad = session_task(cluster_name, default_image, port, jobmanager={"memory": "lots"})
    for in_process in (True, False):
        extra = [] if in_process else ["-e", '{"flinkops_flink_in_process": false}']
        failed = run_playbook(collections_path, tasks=[bad], extra_args=extra)
        assert failed.rc != 0
        result = failed.task("session")
        assert result["option"] == "jobmanager.memory" and "'lots' is not a memory size" in result["msg"]
    assert len(docker_client.containers.list(filters={"label": "org.flinkops.cluster=%s" % cluster_name})) == 3

    # Containers start Flink's scripts through the entrypoint (config step skipped), as user flink.
    for name, script in (("%s-jobmanager" % cluster_name, "jobmanager.sh"),
                         ("%s-taskmanager-1" % cluster_name, "taskmanager.sh")):
        container = docker_client.containers.get(name)
        assert container.attrs["Config"]["Cmd"] == ["/opt/flink/bin/%s" % script, "start-foreground"]
        code, output = container.exec_run(["ps", "-o", "user=,args=", "-p", "1"])
        assert code == 0 and output.decode().split()[0] == "flink", output
        assert "Flink config:" not in container.logs().decode("utf-8", "replace")


def test_entrypoint_config_env_keeps_the_role_command(collections_path, docker_client, cluster_name,
                                                      default_image, port):
    """An entrypoint configuration variable in env (TASK_MANAGER_HOST here) keeps the image's role commands, so
    the entrypoint still applies it."""
    task = session_task(cluster_name, default_image, port, taskmanager={"replicas": 1},
                        env={"TASK_MANAGER_HOST": "%s-taskmanager-1" % cluster_name})
    deployed = run(collections_path, task, in_process=True)
    assert deployed["changed"] is True and len(deployed["taskmanagers"]) == 1
    container = docker_client.containers.get("%s-taskmanager-1" % cluster_name)
    assert container.attrs["Config"]["Cmd"] == ["taskmanager"]
    assert SMALL["taskmanager"]["slots"] == deployed["taskmanagers"][0]["slots"]
