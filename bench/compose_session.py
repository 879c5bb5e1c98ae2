"""flink_session platform=compose against the raw commands it replaces, measured in the same run (not a test):

- deploy: the module (playbook to 2 TaskManagers registered) against `docker compose up -d` of the equivalent file
  (the one `state: rendered` writes for the same spec) plus polling /taskmanagers until 2 are registered;
- unchanged re-run against a one-task debug playbook.
Run with `BENCH_DOCKER=0 BENCH_COMPOSE=1 bash bench/run.sh`; results in bench/results/compose_session.json."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

from common import CACHE, NOOP_TASKS, ROUNDS, VERSION, playbook, report, wait_registered, write_playbook

COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.path.join(CACHE, "collections")
IMAGE = "flinkops/flink:%s-java17" % VERSION
PORT = int(os.environ.get("BENCH_PORT", "18181"))


def compose(directory, *args):
    subprocess.run(["docker", "compose", "-f", os.path.join(directory, "compose.yaml")] + list(args),
                   check=True, capture_output=True, text=True)


def raw_deploy(directory):
    """`docker compose up -d` of the file, then poll until 2 TaskManagers are registered."""
    start = time.monotonic()
    compose(directory, "up", "-d")
    wait_registered("127.0.0.1", PORT, 2)
    return time.monotonic() - start


def main():
    work = tempfile.mkdtemp(prefix="flinkops-bench-compose-")
    name, raw_dir, mod_dir = "bench-compose", os.path.join(work, "raw"), os.path.join(work, "module")
    spec = {"name": name, "platform": "compose", "image": IMAGE, "rest_port": PORT,
            "taskmanager": {"replicas": 2, "slots": 2}}
    rendered = write_playbook(work, "rendered", [{"flinkops.flink.flink_session": dict(
        spec, project_dir=raw_dir, state="rendered")}])
    session = write_playbook(work, "session", [{"flinkops.flink.flink_session": dict(spec, project_dir=mod_dir)}])
    absent = write_playbook(work, "absent", [{"flinkops.flink.flink_session": dict(
        spec, project_dir=mod_dir, state="absent")}])
    noop = write_playbook(work, "noop", NOOP_TASKS)
    playbook(COLLECTIONS, rendered)  # the raw side's file: the same project, written once
    samples = {"raw": [], "playbook": [], "rerun": [], "noop": []}
    load_before = os.getloadavg()
    for round_ in range(ROUNDS):
        first_raw = round_ % 2 == 0
        if first_raw:
            samples["raw"].append(raw_deploy(raw_dir))
            compose(raw_dir, "down", "-t", "30")
        samples["playbook"].append(playbook(COLLECTIONS, session)[0])
        for _ in range(2):
            seconds, unchanged = playbook(COLLECTIONS, session)
            assert unchanged, "the re-run reported a change"
            samples["rerun"].append(seconds)
            samples["noop"].append(playbook(COLLECTIONS, noop)[0])
        playbook(COLLECTIONS, absent)
        if not first_raw:
            samples["raw"].append(raw_deploy(raw_dir))
            compose(raw_dir, "down", "-t", "30")
        print("round %d: raw %.2fs playbook %.2fs rerun %.2fs noop %.2fs" % (
            round_ + 1, samples["raw"][-1], samples["playbook"][-1], samples["rerun"][-1], samples["noop"][-1]))
    shutil.rmtree(work, ignore_errors=True)
    out = report("compose_session", IMAGE, samples, load_before,
                 deploy_ratio_playbook_vs_raw=lambda m: m["playbook"] / m["raw"],
                 rerun_minus_noop_seconds=lambda m: m["rerun"] - m["noop"],
                 targets={"deploy_ratio": 1.0, "rerun_minus_noop_seconds": 0.2})
    med = out["median_seconds"]
    print("  docker compose up -d + polling to 2 TaskManagers : %.2f s" % med["raw"])
    print("  flink_session platform=compose, same condition   : %.2f s  (ratio %.2fx)" % (
        med["playbook"], out["deploy_ratio_playbook_vs_raw"]))
    print("  unchanged re-run                                  : %.2f s" % med["rerun"])
    print("  one-task debug playbook (reference)               : %.2f s  (re-run - no-op %.2f s, target 0.2 s)" % (
        med["noop"], out["rerun_minus_noop_seconds"]))


if __name__ == "__main__":
    main()
