"""Run real playbooks against the installed collection and return their task results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)


class PlayResult(object):
    def __init__(self, rc, stdout, stderr, results, seconds):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.results = results
        self.seconds = seconds

    def task(self, name):
        """The result of the (last) task with that name."""
        found = [r for r in self.results if r["task"] == name]
        assert found, "no task %r ran; tasks: %s\n%s" % (name, [r["task"] for r in self.results], self.stdout[-4000:])
        return found[-1]["result"]

    def status(self, name):
        return [r for r in self.results if r["task"] == name][-1]["status"]

    def failures(self):
        """What the failed tasks said: their messages, each with the traceback of an exception that escaped the
        module (``MODULE FAILURE``), so that a failing test shows where it came from."""
        found = []
        for r in self.results:
            if r["status"] == "failed":
                msg = r["result"].get("msg")
                trace = r["result"].get("exception")
                found.append("%s\n%s" % (msg, trace) if trace else msg)
        return found

    @property
    def changed(self):
        return [r["task"] for r in self.results if r["result"].get("changed")]

    def __repr__(self):
        return "PlayResult(rc=%s)\n%s\n%s" % (self.rc, self.stdout[-6000:], self.stderr[-3000:])


def ansible_env(collections_path):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": collections_path,
        "ANSIBLE_CALLBACK_PLUGINS": os.path.join(REPO, "tests", "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "flinkops_results",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "PATH": VENV_BIN + os.pathsep + env.get("PATH", ""),
    })
    return env


def run_playbook(collections_path, plays=None, tasks=None, extra_vars=None, check=False, diff=False,
                 playbook_path=None, inventory=None, timeout=1200, extra_args=(), ansible_bin=None):
    """Run a playbook (a file, a list of plays, or tasks for localhost) and collect the task results."""
    workdir = tempfile.mkdtemp(prefix="flinkops-play-")
    if playbook_path is None:
        if plays is None:
            plays = [{"name": "test", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]
        playbook_path = os.path.join(workdir, "play.yml")
        with open(playbook_path, "w") as handle:
            yaml.safe_dump(plays, handle, sort_keys=False)
    results_file = os.path.join(workdir, "results.json")
    env = ansible_env(collections_path)
    env["FLINKOPS_RESULTS_FILE"] = results_file
    if inventory is None:
        inventory = os.path.join(workdir, "inventory.yml")
        with open(inventory, "w") as handle:
            yaml.safe_dump({"all": {"hosts": {"localhost": {
                "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}, handle)
    cmd = [os.path.join(ansible_bin or VENV_BIN, "ansible-playbook"), "-i", inventory, playbook_path]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    cmd += list(extra_args)
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    seconds = time.monotonic() - start
    results = []
    if os.path.exists(results_file):
        with open(results_file) as handle:
            results = json.load(handle)
    return PlayResult(proc.returncode, proc.stdout, proc.stderr, results, seconds)
