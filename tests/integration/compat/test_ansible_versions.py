"""The collection declares ansible-core 2.17+: its modules load, document themselves and plan for real on
the oldest supported releases too, each in its own virtual environment (cached)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import CACHE, FLINK_DEFAULT, flink_image
from tests.lib.ansible import run_playbook

pytestmark = [pytest.mark.docker]


def venv_for(series):
    path = os.path.join(CACHE, "venv-ansible-%s" % series)
    python = os.path.join(path, "bin", "python")
    stamp = os.path.join(path, ".ready")
    if not os.path.exists(stamp):
        subprocess.run([sys.executable, "-m", "venv", "--clear", path], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "ansible-core==%s.*" % series, "docker>=7,<8", "pyyaml"],
                       check=True, capture_output=True)
        open(stamp, "w").close()
    return path


@pytest.mark.parametrize("series", ["2.17", "2.18"])
def test_modules_on_older_ansible_core(series, collections_path, cluster_name):
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
