"""Benchmark: what an unchanged run costs beyond Ansible's own start-up, per platform, with and without the bytecode
of the installed collection. Not a test.

For each platform of BENCH_RERUN_PLATFORMS (default docker,compose,kubernetes,operator; swarm too when its test bed
is up, see bench/swarm_session.py), a session cluster with 2 small TaskManagers is deployed (the module's own wait)
and left BENCH_RERUN_SETTLE seconds (default 10). Then BENCH_RERUN_ROUNDS rounds (default 15) of three playbooks, in
an order that rotates from round to round:

  cached    the unchanged flink_session playbook (changed=0 asserted), the installed collection's bytecode in
            __pycache__ (plugins/plugin_utils/source_cache.py reads it; scripts/bootstrap.sh writes it)
  compiled  the same with that bytecode removed and PYTHONDONTWRITEBYTECODE=1: every file of the collection
            compiled from source, as Ansible's collection loader did on every run before source_cache.py
  noop      a one-task ansible.builtin.debug playbook: Ansible's own start-up, the reference

The figure is the median of the per-round differences (cached - noop, compiled - noop): a round's three runs are
a few seconds apart, so the machine's load drifting between rounds cancels out of each difference. Their quartiles
and the medians of each kind are reported too. Writes bench/results/rerun_cost.json (BENCH_RERUN_MERGE=1 keeps
platforms an earlier run measured there).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import NOOP_TASKS, REPO, VENV_BIN, write_playbook  # noqa: E402
from scaling import COLLECTIONS, SPECS, measure_platforms  # noqa: E402
from tests.lib.ansible import ansible_env  # noqa: E402  pylint: disable=wrong-import-position

PLATFORMS = os.environ.get("BENCH_RERUN_PLATFORMS", "docker,compose,kubernetes,operator").split(",")
ROUNDS = int(os.environ.get("BENCH_RERUN_ROUNDS", "15"))
SETTLE = float(os.environ.get("BENCH_RERUN_SETTLE", "10"))
PLUGINS = os.path.join(COLLECTIONS, "ansible_collections", "flinkops", "flink", "plugins")
KINDS = ("cached", "compiled", "noop")


def bytecode(present):
    """Write (compileall, as scripts/bootstrap.sh does) or remove the installed collection's bytecode."""
    for cache in glob.glob(os.path.join(PLUGINS, "**", "__pycache__"), recursive=True):
        shutil.rmtree(cache)
    if present:
        subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(PLUGINS, "modules"),
                        os.path.join(PLUGINS, "module_utils")], check=True, capture_output=True)


def timed(path):
    """(seconds, unchanged) of one ansible-playbook run, Python writing no bytecode."""
    env = dict(ansible_env(COLLECTIONS), PYTHONDONTWRITEBYTECODE="1")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    start = time.monotonic()
    result = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
                             "-e", "ansible_python_interpreter=" + sys.executable, path],
                            env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        raise SystemExit("playbook failed:\n" + result.stdout[-3000:])
    return seconds, "changed=0" in result.stdout


def quartiles(values):
    q = statistics.quantiles(values, n=4)
    return [round(q[0], 3), round(q[2], 3)]


def measure(platform, work):
    name = "brc-%s" % platform[:4]
    noop = write_playbook(work, "noop", NOOP_TASKS)
    args = SPECS[platform](name, 2, work)
    path = write_playbook(work, "rerun-%s" % platform, [{"flinkops.flink.flink_session": args}])
    absent = write_playbook(work, "rerun-%s-absent" % platform,
                            [{"flinkops.flink.flink_session": dict(args, state="absent")}])
    bytecode(True)
    timed(absent)
    samples = dict((kind, []) for kind in KINDS)
    try:
        deploy = timed(path)[0]
        time.sleep(SETTLE)
        for round_no in range(ROUNDS):
            order = KINDS[round_no % 3:] + KINDS[:round_no % 3]
            for kind in order:
                if kind == "noop":
                    samples["noop"].append(timed(noop)[0])
                    continue
                bytecode(kind == "cached")
                seconds, unchanged = timed(path)
                assert unchanged, "%s: the unchanged run reported a change" % platform
                samples[kind].append(seconds)
    finally:
        bytecode(True)
        timed(absent)
    row = {"deploy_seconds": round(deploy, 2), "samples_seconds": samples,
           "median_seconds": dict((k, round(statistics.median(v), 3)) for k, v in samples.items())}
    for kind in ("cached", "compiled"):
        diffs = [a - b for a, b in zip(samples[kind], samples["noop"])]
        row["%s_minus_noop" % kind] = round(statistics.median(diffs), 3)
        row["%s_minus_noop_quartiles" % kind] = quartiles(diffs)
    saved = [a - b for a, b in zip(samples["compiled"], samples["cached"])]
    row["bytecode_saves"] = round(statistics.median(saved), 3)
    print("%s: cached %.3f s, compiled %.3f s, noop %.3f s (medians); per round: cached - noop %+.3f s "
          "(quartiles %+.3f..%+.3f), compiled - noop %+.3f s, the bytecode saves %.3f s" % (
              platform, row["median_seconds"]["cached"], row["median_seconds"]["compiled"],
              row["median_seconds"]["noop"], row["cached_minus_noop"], row["cached_minus_noop_quartiles"][0],
              row["cached_minus_noop_quartiles"][1], row["compiled_minus_noop"], row["bytecode_saves"]), flush=True)
    return row


def main():
    results, load_before = measure_platforms(
        PLATFORMS, lambda platform, work: dict(measure(platform, work), load_average=os.getloadavg()),
        "flinkops-bench-rerun-")
    path = os.path.join(REPO, "bench", "results", "rerun_cost.json")
    if os.environ.get("BENCH_RERUN_MERGE") == "1" and os.path.exists(path):
        with open(path) as handle:
            earlier = json.load(handle)["platforms"]
        earlier.update(results)
        results = earlier
    out = {"rounds": ROUNDS, "cpus": os.cpu_count(), "load_average_before": load_before,
           "load_average_after": os.getloadavg(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "platforms": results}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(out, handle, indent=2)


if __name__ == "__main__":
    main()
