"""The collection declares ansible-core 2.17+: its modules load, document themselves and plan for real on
the oldest supported releases and on the newest (2.20, 2.21, on Python 3.12+), each in its own virtual environment
(cached); on the newest a real deploy, an unchanged re-run and the removal run too, in process and as a module
process."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import CACHE, FLINK_DEFAULT, flink_image
from tests.lib.ansible import run_playbook

pytestmark = [pytest.mark.docker]


def python_312():
    """A Python 3.12+ for the ansible-core releases that need one (2.20, 2.21): on PATH or under pyenv."""
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python3")), reverse=True)
    candidates += [p for p in [shutil.which("python3.13"), shutil.which("python3.12")] if p]
    for path in candidates:  # a pyenv shim of a version that is not selected fails: try each
        if subprocess.run([path, "-c", "import sys, venv; assert sys.version_info >= (3, 12)"],
                          capture_output=True, check=False).returncode == 0:
            return path
    pytest.fail("no Python 3.12+ here (python3.12 on PATH or under ~/.pyenv): ansible-core 2.20+ needs one")


def venv_for(series):
    path = os.path.join(CACHE, "venv-ansible-%s" % series)
    python = os.path.join(path, "bin", "python")
    stamp = os.path.join(path, ".ready")
    if not os.path.exists(stamp):
        base = python_312() if series in NEEDS_312 else sys.executable
        subprocess.run([base, "-m", "venv", "--clear", path], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "ansible-core==%s.*" % series, "docker>=7,<8", "pyyaml"],
                       check=True, capture_output=True)
        open(stamp, "w").close()
    return path


# ansible-core releases whose controller needs Python 3.12+ (the suite itself runs on 2.19 with Python 3.11).
NEEDS_312 = ("2.20", "2.21")


@pytest.mark.parametrize("series", ["2.17", "2.18"] + list(NEEDS_312))
def test_modules_on_other_ansible_core(series, collections_path, cluster_name):
    venv = venv_for(series)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path)
    for module in ("flink_session", "flink_application", "flink_job", "flink_info", "flink_image"):
        doc = subprocess.run([os.path.join(venv, "bin", "ansible-doc"), "flinkops.flink.%s" % module], env=env,
                             capture_output=True, text=True, check=False)
        assert doc.returncode == 0 and "OPTIONS" in doc.stdout, doc.stderr[-2000:]
    tasks = [{"name": "plan", "register": "out", "flinkops.flink.flink_session": {
        "name": cluster_name, "image": flink_image(FLINK_DEFAULT), "taskmanager": {"replicas": 2}}}]
    result = run_playbook(collections_path, tasks=tasks, check=True, diff=True,
                          extra_args=["-e", "ansible_python_interpreter=%s" % os.path.join(venv, "bin", "python")],
                          ansible_bin=os.path.join(venv, "bin"))
    assert result.rc == 0, result
    version = subprocess.run([os.path.join(venv, "bin", "ansible"), "--version"], capture_output=True, text=True,
                             check=True).stdout
    assert "core %s." % series in version
    planned = result.task("plan")
    assert [a["action"] for a in planned["actions"]] == ["create"] * 4
    # The action plugin ran the module in the worker process there; as a module process it plans the same.
    module_process = run_playbook(collections_path, tasks=tasks, check=True, diff=True,
                                  extra_args=["-e", "ansible_python_interpreter=%s" % os.path.join(venv, "bin", "python"),
                                              "-e", '{"flinkops_flink_in_process": false}', "-vvv"],
                                  ansible_bin=os.path.join(venv, "bin"))
    assert module_process.rc == 0, module_process
    assert "AnsiballZ_flink_session.py" in module_process.stdout
    assert module_process.task("plan")["actions"] == planned["actions"]
    assert module_process.task("plan")["diff"] == planned["diff"]
    if series not in NEEDS_312:
        return
    # The newest releases: a real deploy, an unchanged re-run (in process), the same unchanged as a module process,
    # then the removal.
    python_var = "ansible_python_interpreter=%s" % os.path.join(venv, "bin", "python")
    real = [{"name": "plan", "register": "out", "flinkops.flink.flink_session": dict(
        tasks[0]["flinkops.flink.flink_session"], taskmanager={"replicas": 1})}]
    try:
        for attempt, extra in (("deploy", []), ("unchanged", []),
                               ("unchanged as a module process", ["-e", '{"flinkops_flink_in_process": false}'])):
            result = run_playbook(collections_path, tasks=real, extra_args=["-e", python_var] + extra,
                                  ansible_bin=os.path.join(venv, "bin"))
            assert result.rc == 0, (attempt, result.stdout[-3000:])
            out = result.task("plan")
            assert out["changed"] is (attempt == "deploy"), (attempt, out)
            assert len(out["taskmanagers"]) == 1 and out["rest_url"], out
            assert "WARNING" not in result.stdout, result.stdout[-3000:]
    finally:
        gone = run_playbook(collections_path, tasks=[{"name": "plan", "flinkops.flink.flink_session": {
            "name": cluster_name, "state": "absent"}}], extra_args=["-e", python_var],
            ansible_bin=os.path.join(venv, "bin"))
    assert gone.rc == 0 and gone.task("plan")["changed"], gone.stdout[-3000:]
