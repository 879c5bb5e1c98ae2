"""What the benchmarks share: running a playbook and timing it, writing playbooks, polling TaskManagers, the
report. Not a test."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from tests.lib.ansible import ansible_env  # noqa: E402  pylint: disable=wrong-import-position

CACHE = os.environ.get("FLINKOPS_CACHE", "/var/cache/flinkops")
VERSION = os.environ.get("FLINKOPS_FLINK_DEFAULT", "2.2.1")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
VENV_BIN = os.path.dirname(sys.executable)
NOOP_TASKS = [{"ansible.builtin.debug": {"msg": "hi"}}]


def registered(host, port):
    """How many TaskManagers the JobManager at host:port lists (0 while it does not answer)."""
    try:
        with urllib.request.urlopen("http://%s:%d/taskmanagers" % (host, port), timeout=2) as response:
            return len(json.loads(response.read())["taskmanagers"])
    except (OSError, ValueError):
        return 0


def wait_registered(host, port, count, poll=0.5):
    """Until ``count`` TaskManagers are registered, polling like the modules' default wait_sleep."""
    while registered(host, port) < count:
        time.sleep(poll)


def write_playbook(work, name, tasks):
    path = os.path.join(work, name + ".yml")
    with open(path, "w") as handle:
        json.dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}], handle)
    return path


def playbook(collections, path, extra=()):
    """(seconds, unchanged) of one ansible-playbook run on localhost; exits on a failed run."""
    env = ansible_env(collections)
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    start = time.monotonic()
    result = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
                             "-e", "ansible_python_interpreter=" + sys.executable, path] + list(extra),
                            env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        raise SystemExit("playbook failed:\n" + result.stdout[-3000:])
    return seconds, "changed=0" in result.stdout


def report(name, image, samples, load_before, **figures):
    """Medians of every sample, the figures given (callables of the medians), written to
    bench/results/<name>.json and returned."""
    med = dict((k, statistics.median(v)) for k, v in samples.items() if v)
    out = {"image": image, "rounds": ROUNDS, "cpus": os.cpu_count(), "load_average_before": load_before,
           "load_average_after": os.getloadavg(), "samples_seconds": samples, "median_seconds": med}
    targets = figures.pop("targets", {})
    out.update((key, value(med)) for key, value in figures.items())
    out["targets"] = targets
    os.makedirs(os.path.join(REPO, "bench", "results"), exist_ok=True)
    with open(os.path.join(REPO, "bench", "results", name + ".json"), "w") as handle:
        json.dump(out, handle, indent=2)
    print("\nmedian of %d rounds (%s), load average before %.1f, after %.1f" % (
        ROUNDS, image, load_before[0], out["load_average_after"][0]))
    return out
