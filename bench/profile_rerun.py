"""Where an unchanged run's time goes: one platform's cluster deployed with the playbook, then the module run alone
on it, unchanged, as a process of its own under cProfile (the module's own time, without Ansible's start-up), and
the modules it imported. Not a test, not a benchmark: a profile to read.

    python bench/profile_rerun.py kubernetes      # or operator, docker, compose, swarm (as bench/scaling.py)
    python bench/profile_rerun.py compose deploy  # the deploying run instead, from nothing (once)

Prints the run's wall time, the functions with the most cumulative time, and whether the kubernetes and docker
SDKs were imported. BENCH_KEEP=1 keeps the cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import REPO, playbook, write_playbook  # noqa: E402
from scaling import COLLECTIONS, SPECS, prepare_kubernetes  # noqa: E402

MODULE = os.path.join(REPO, "plugins", "modules", "flink_session.py")

RUNNER = r"""
import cProfile, io, json, pstats, runpy, sys, time
top = sys.argv[2]
sys.argv = [sys.argv[0], sys.argv[1]]
profile = cProfile.Profile()
start = time.perf_counter()
profile.enable()
try:
    runpy.run_path(%r, run_name="__main__")
except SystemExit:
    pass
profile.disable()
wall = time.perf_counter() - start
out = io.StringIO()
pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(int(top))
sdks = dict((name, name in sys.modules) for name in ("kubernetes", "docker", "requests", "urllib3"))
sys.stderr.write(out.getvalue())
sys.stderr.write("\nWALL %%.3f %%s\n" %% (wall, json.dumps(sdks)))
""" % MODULE


def main():
    platform = sys.argv[1] if len(sys.argv) > 1 else "kubernetes"
    deploy = len(sys.argv) > 2 and sys.argv[2] == "deploy"
    work = tempfile.mkdtemp(prefix="flinkops-profile-")
    operator_absent = None
    if platform in ("kubernetes", "operator"):
        operator_absent = prepare_kubernetes(work, platform == "operator")
    args = SPECS[platform]("profile-%s" % platform[:4], 1, work)
    book = write_playbook(work, "deploy", [{"name": "session", "flinkops.flink.flink_session": args}])
    if not deploy:
        playbook(COLLECTIONS, book)
    try:
        argfile = os.path.join(work, "args.json")
        with open(argfile, "w") as handle:
            json.dump({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=False)}, handle)
        env = dict(os.environ, PYTHONPATH=COLLECTIONS)
        for attempt in (1,) if deploy else (1, 2, 3):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", RUNNER, argfile, "60" if deploy else "25"],
                                  capture_output=True, text=True, env=env, check=False)
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            assert result.get("changed") == deploy and not result.get("failed"), result
            print("run %d: process %.3f s; %s" % (attempt, time.perf_counter() - start,
                                                  proc.stderr.strip().splitlines()[-1]))
        print(proc.stderr)
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            absent = dict(args, state="absent")
            playbook(COLLECTIONS, write_playbook(work, "absent", [
                {"name": "session", "flinkops.flink.flink_session": absent}]))
            if operator_absent:
                playbook(COLLECTIONS, operator_absent)


if __name__ == "__main__":
    main()
