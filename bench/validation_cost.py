"""Benchmark: what Flink's own memory check (docker/flink_validation.py) costs a changing run, and that an unchanged
run still costs about what a one-task playbook does.

Measured in the same run, on the same engine, image and session cluster (2 TaskManagers):
  change_cold   flink_session changing taskmanager.memory (both TaskManagers are replaced), with an empty verdict
                cache: Flink's BashJavaUtils runs in a short-lived container first
  change_warm   the same change to a value already checked (the verdict is cached): no check container
  check_cold    the check alone (flink_validation.check_memory for the TaskManager, empty cache), in this process
  check_warm    the check alone with the verdict cached
  rerun         the playbook unchanged (changed=0)
  noop          a one-task playbook (ansible.builtin.debug), for reference
Each round uses a new cache directory (XDG_CACHE_HOME) and two sizes never used before: change to A (cold), to B
(cold), to A (warm), to B (warm). Prints a table and writes bench/results/validation_cost.json. Not a test.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CACHE, NOOP_TASKS, ROUNDS, VERSION, playbook, report, write_playbook  # noqa: E402

sys.path.insert(0, os.path.join(CACHE, "dev-collections"))
import docker  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.flinkops.flink.plugins.module_utils.docker import flink_validation  # noqa: E402

IMAGE = os.environ.get("BENCH_IMAGE", "flinkops/flink:%s-java17" % VERSION)
PORT = int(os.environ.get("BENCH_PORT", "18083"))
COLLECTIONS = os.path.join(CACHE, "collections")
NAME = "bench-validation"


def session_playbook(work, label, tm_memory):
    return write_playbook(work, label, [{"flinkops.flink.flink_session": {
        "name": NAME, "image": IMAGE, "rest_port": PORT, "jobmanager": {"memory": "1024m"},
        "taskmanager": {"replicas": 2, "slots": 1, "memory": tm_memory}}}])


def timed_change(path, cache_dir):
    os.environ["XDG_CACHE_HOME"] = cache_dir  # the playbook's module reads its verdict cache from there
    seconds, unchanged = playbook(COLLECTIONS, path)
    assert not unchanged, "the change reported nothing changed"
    return seconds


def timed_check(client, image_id, memory):
    settings = {"taskmanager.memory.process.size": memory, "taskmanager.numberOfTaskSlots": 1}
    start = time.monotonic()
    flink_validation.check_memory(client, IMAGE, image_id, [("taskmanager", settings)])
    return time.monotonic() - start


def main():
    work = tempfile.mkdtemp(prefix="flinkops-bench-")
    base = session_playbook(work, "base", "1152m")
    absent = write_playbook(work, "absent", [{"flinkops.flink.flink_session": {"name": NAME, "state": "absent"}}])
    noop = write_playbook(work, "noop", NOOP_TASKS)
    client = docker.from_env()
    image_id = client.images.get(IMAGE).id
    samples = dict((k, []) for k in ("change_cold", "change_warm", "check_cold", "check_warm", "rerun", "noop"))
    playbook(COLLECTIONS, absent)
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="flinkops-bench-cache-")
    playbook(COLLECTIONS, base)
    load_before = os.getloadavg()
    for round_ in range(ROUNDS):
        cache_dir = tempfile.mkdtemp(prefix="flinkops-bench-cache-")
        sizes = ["%dm" % (1160 + 16 * (2 * round_)), "%dm" % (1160 + 16 * (2 * round_ + 1))]
        books = [session_playbook(work, "size-%s" % size, size) for size in sizes]
        for book in books:
            samples["change_cold"].append(timed_change(book, cache_dir))
        for book in books:
            samples["change_warm"].append(timed_change(book, cache_dir))
        seconds, unchanged = playbook(COLLECTIONS, books[-1])
        assert unchanged, "the unchanged re-run reported a change"
        samples["rerun"].append(seconds)
        samples["noop"].append(playbook(COLLECTIONS, noop)[0])
        os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="flinkops-bench-cache-")
        samples["check_cold"].append(timed_check(client, image_id, sizes[0]))
        samples["check_warm"].append(timed_check(client, image_id, sizes[0]))
        print("round %d: change cold %.2fs %.2fs, warm %.2fs %.2fs; check alone cold %.2fs warm %.3fs; "
              "re-run %.2fs, no-op %.2fs" % (round_ + 1, samples["change_cold"][-2], samples["change_cold"][-1],
                                             samples["change_warm"][-2], samples["change_warm"][-1],
                                             samples["check_cold"][-1], samples["check_warm"][-1],
                                             samples["rerun"][-1], samples["noop"][-1]))
    playbook(COLLECTIONS, absent)
    out = report("validation_cost", IMAGE, samples, load_before, targets={"rerun_minus_noop_seconds": 0.1},
                 validation_seconds_on_a_change=lambda m: m["change_cold"] - m["change_warm"],
                 change_ratio_cold_vs_warm=lambda m: m["change_cold"] / m["change_warm"],
                 rerun_minus_noop_seconds=lambda m: m["rerun"] - m["noop"])
    med = out["median_seconds"]
    print("  change with Flink's check (cold cache): %.2f s" % med["change_cold"])
    print("  same change, verdict cached            : %.2f s  (cold / cached %.2fx, check adds %.2f s)" % (
        med["change_warm"], out["change_ratio_cold_vs_warm"], out["validation_seconds_on_a_change"]))
    print("  the check alone, cold / cached         : %.2f s / %.3f s" % (med["check_cold"], med["check_warm"]))
    print("  unchanged re-run / one-task playbook   : %.2f s / %.2f s  (difference %.2f s, target 0.1 s)" % (
        med["rerun"], med["noop"], out["rerun_minus_noop_seconds"]))


if __name__ == "__main__":
    main()
