"""Benchmark: a session cluster on the test bed's swarm with flink_session platform=swarm versus the raw commands.

Needs the swarm test bed up and formed (testbed/swarm/nodes.sh up, then playbooks/swarm.yml with
playbooks/inventory/swarm-testbed.yml; or a swarm test run with FLINKOPS_SWARM_KEEP=1) and the Flink image in its
registry. Measured in the same run, alternating, against the manager's daemon:
  raw       docker network create (overlay, attachable) + docker service create of the JobManager and of 2
            TaskManagers, then polling /taskmanagers until 2 are registered (0.5 s, the module's wait_sleep)
  playbook  ansible-playbook with one flink_session task (platform swarm), from nothing to 2 TaskManagers registered
            with their slots
  rerun     the same playbook again, unchanged (changed=0 asserted)
  noop      a one-task playbook (ansible.builtin.debug): Ansible's own start-up, the reference of the re-run
Prints a table and writes bench/results/swarm_session.json. Not a test.
"""

from __future__ import annotations

import os
import sys
import subprocess
import tempfile
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    CACHE, NOOP_TASKS, REPO, ROUNDS, VERSION, playbook, registered, report, wait_registered, write_playbook)

PORT = int(os.environ.get("BENCH_PORT", "18091"))
COLLECTIONS = os.environ.get("BENCH_COLLECTIONS", os.path.join(CACHE, "collections"))
INVENTORY = os.path.join(REPO, "playbooks", "inventory", "swarm-testbed.yml")

with open(INVENTORY) as _handle:
    _inv = yaml.safe_load(_handle)
_manager = list(_inv["all"]["children"]["swarm_managers"]["hosts"].values())[0]
DOCKER_HOST = _manager["docker_host"]
ADDRESS = _manager["swarm_advertise_addr"]
IMAGE = os.environ.get("BENCH_IMAGE", "%s/flinkops/flink:%s-java17" % (_inv["all"]["vars"]["registry"], VERSION))


def docker(*args, check=True):
    return subprocess.run(["docker", "--host", DOCKER_HOST] + list(args), check=check, capture_output=True, text=True)


def raw_deploy(name):
    start = time.monotonic()
    docker("network", "create", "--driver", "overlay", "--attachable", name + "-net")
    props = "jobmanager.rpc.address: %s-jobmanager\ntaskmanager.numberOfTaskSlots: 2" % name
    docker("service", "create", "--detach", "--name", name + "-jobmanager", "--network", name + "-net",
           "--endpoint-mode", "dnsrr", "--publish", "mode=host,published=%d,target=8081" % PORT,
           "--constraint", "node.labels.flink.role==jobmanager", "-e", "FLINK_PROPERTIES=" + props, IMAGE, "jobmanager")
    docker("service", "create", "--detach", "--name", name + "-taskmanager", "--replicas", "2", "--network",
           name + "-net", "--endpoint-mode", "dnsrr", "--constraint", "node.labels.flink.role==taskmanager",
           "-e", "FLINK_PROPERTIES=" + props, IMAGE, "taskmanager")
    wait_registered(ADDRESS, PORT, 2)
    return time.monotonic() - start


def raw_remove(name):
    docker("service", "rm", name + "-jobmanager", name + "-taskmanager", check=False)
    deadline = time.monotonic() + 60
    # The manager lists a removed overlay network until its allocator let go of it; a new one of the same name
    # is refused until then, so "removed" means no longer listed.
    while time.monotonic() < deadline:
        docker("network", "rm", name + "-net", check=False)
        listed = docker("network", "ls", "-q", "--filter", "name=^%s-net$" % name, check=False).stdout.strip()
        if not listed:
            break
        time.sleep(0.5)
    while registered(ADDRESS, PORT) and time.monotonic() < deadline:  # the old JobManager's port is free again
        time.sleep(0.5)


def run(path, extra=()):
    return playbook(COLLECTIONS, path, extra)


def main():
    work = tempfile.mkdtemp(prefix="flinkops-bench-swarm-")
    name = "bench-swarm"
    common = {"name": name, "platform": "swarm", "docker_host": DOCKER_HOST}
    session = write_playbook(work, "session", [{"flinkops.flink.flink_session": dict(
        common, image=IMAGE, rest_port=PORT, endpoint_mode="dnsrr", network=name + "-net",
        jobmanager={"constraints": ["node.labels.flink.role==jobmanager"]},
        taskmanager={"replicas": 2, "slots": 2, "constraints": ["node.labels.flink.role==taskmanager"]})}])
    absent = write_playbook(work, "absent", [{"flinkops.flink.flink_session": dict(
        common, state="absent", network=name + "-net")}])
    noop = write_playbook(work, "noop", NOOP_TASKS)
    samples = {"raw": [], "playbook": [], "rerun": [], "noop": []}
    raw_remove("bench-raw")
    run(absent)
    load_before = os.getloadavg()
    for round_ in range(ROUNDS):
        if round_ % 2 == 0:
            samples["raw"].append(raw_deploy("bench-raw"))
            raw_remove("bench-raw")
        samples["playbook"].append(run(session)[0])
        for _ in range(2):  # two unchanged re-runs and no-ops per round, alternating
            seconds, unchanged = run(session)
            assert unchanged, "the re-run reported a change"
            samples["rerun"].append(seconds)
            samples["noop"].append(run(noop)[0])
        run(absent)
        raw_remove(name)  # waits until the port is free
        if round_ % 2 == 1:
            samples["raw"].append(raw_deploy("bench-raw"))
            raw_remove("bench-raw")
        print("round %d: raw %.2fs playbook %.2fs rerun %.2fs noop %.2fs" % (
            round_ + 1, samples["raw"][-1], samples["playbook"][-1], samples["rerun"][-1], samples["noop"][-1]))
    out = report("swarm_session", IMAGE, samples, load_before,
                 deploy_ratio_playbook_vs_raw=lambda m: m["playbook"] / m["raw"],
                 rerun_minus_noop_seconds=lambda m: m["rerun"] - m["noop"],
                 targets={"deploy_ratio": 1.0, "rerun_minus_noop_seconds": 0.2})
    med = out["median_seconds"]
    print("  raw network + 2 service creates to 2 TaskManagers: %.2f s" % med["raw"])
    print("  flink_session platform=swarm, same condition      : %.2f s  (ratio %.2fx)" % (
        med["playbook"], out["deploy_ratio_playbook_vs_raw"]))
    print("  unchanged re-run                                   : %.2f s" % med["rerun"])
    print("  one-task debug playbook (reference)                : %.2f s  (re-run - no-op %.2f s, target 0.2 s)" % (
        med["noop"], out["rerun_minus_noop_seconds"]))


if __name__ == "__main__":
    main()
