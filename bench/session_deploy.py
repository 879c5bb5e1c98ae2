"""Benchmark: deploy a session cluster with flink_session versus the raw Docker commands of the Flink docs.

Measured in the same run, alternating, on the same engine and image:
  raw       docker network create + docker run (JobManager, 2 TaskManagers) as in the Flink docs' Docker page,
            then polling /taskmanagers until 2 are registered (same 0.5 s poll as the module's wait_sleep)
  playbook  ansible-playbook with one flink_session task, from nothing to "2 TaskManagers registered"
  rerun     the same playbook again, unchanged (changed=0); the action plugin runs the module in process
  rerun_module_process  the same, with flinkops_flink_in_process=false (the module as a new Python process, as
            against a remote host)
  noop      a one-task playbook (ansible.builtin.debug): Ansible's own start-up cost, for reference
  community, community_rerun  (when BENCH_COMMUNITY_COLLECTIONS holds community.docker; bench/run.sh fetches it from
            the ansible package on PyPI) the same cluster with community.docker: docker_network, docker_container
            for the three containers, ansible.builtin.uri polling /taskmanagers every 0.5 s; from nothing, then again
            unchanged (changed=0 asserted)
Prints a table and writes bench/results/session_deploy.json. Not a test: run it by hand or from bench/run.sh.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CACHE, NOOP_TASKS, ROUNDS, VERSION, playbook, report, wait_registered, write_playbook  # noqa: E402

IMAGE = os.environ.get("BENCH_IMAGE", "flinkops/flink:%s-java17" % VERSION)
PORT = int(os.environ.get("BENCH_PORT", "18081"))
COMMUNITY = os.environ.get("BENCH_COMMUNITY_COLLECTIONS", "")
COLLECTIONS = os.path.join(CACHE, "collections") + (os.pathsep + COMMUNITY if COMMUNITY else "")


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def raw_deploy(name):
    start = time.monotonic()
    sh("docker", "network", "create", name + "-net")
    props = "jobmanager.rpc.address: %s-jm\ntaskmanager.numberOfTaskSlots: 2" % name
    sh("docker", "run", "-d", "--name", name + "-jm", "--network", name + "-net", "-p", "127.0.0.1:%d:8081" % PORT,
       "-e", "FLINK_PROPERTIES=" + props, IMAGE, "jobmanager")
    for i in (1, 2):
        sh("docker", "run", "-d", "--name", "%s-tm%d" % (name, i), "--network", name + "-net",
           "-e", "FLINK_PROPERTIES=" + props, IMAGE, "taskmanager")
    wait_registered("127.0.0.1", PORT, 2)
    return time.monotonic() - start


def raw_remove(name):
    subprocess.run(["docker", "rm", "-f", name + "-jm", name + "-tm1", name + "-tm2"], capture_output=True, check=False)
    subprocess.run(["docker", "network", "rm", name + "-net"], capture_output=True, check=False)


def run(path, extra=()):
    return playbook(COLLECTIONS, path, extra)


def write_playbooks(work, name):
    session = write_playbook(work, "session", [{"flinkops.flink.flink_session": {
        "name": name, "image": IMAGE, "rest_port": PORT, "taskmanager": {"replicas": 2, "slots": 2}}}])
    absent = write_playbook(work, "absent", [{"flinkops.flink.flink_session": {"name": name, "state": "absent"}}])
    return session, absent, write_playbook(work, "noop", NOOP_TASKS)


def write_community_playbook(work, name, port):
    """One network, three containers and a readiness poll with community.docker: what a user writes without us."""
    props = "jobmanager.rpc.address: %s-jm\ntaskmanager.numberOfTaskSlots: 2" % name
    return write_playbook(work, "community", [
            {"community.docker.docker_network": {"name": name + "-net"}},
            {"community.docker.docker_container": {
                "name": "{{ item.name }}", "image": IMAGE, "command": "{{ item.command }}",
                "networks": [{"name": name + "-net"}], "published_ports": "{{ item.ports }}",
                "env": {"FLINK_PROPERTIES": props}},
             "loop": [{"name": name + "-jm", "command": "jobmanager", "ports": ["127.0.0.1:%d:8081" % port]},
                      {"name": name + "-tm1", "command": "taskmanager", "ports": []},
                      {"name": name + "-tm2", "command": "taskmanager", "ports": []}]},
            {"ansible.builtin.uri": {"url": "http://127.0.0.1:%d/taskmanagers" % port}, "register": "tms",
             "until": "(tms.json.taskmanagers | default([])) | length == 2",
             "retries": 480, "delay": 0.5}])


def main():
    work = tempfile.mkdtemp(prefix="flinkops-bench-")
    name = "bench-session"
    session, absent, noop = write_playbooks(work, name)
    samples = {"raw": [], "playbook": [], "rerun": [], "rerun_module_process": [], "noop": []}
    community = None
    if COMMUNITY:
        community = write_community_playbook(work, "bench-cd", PORT + 1)
        samples.update({"community": [], "community_rerun": []})
        raw_remove("bench-cd")
    raw_remove("bench-raw")
    run(absent)
    load_before = os.getloadavg()
    for round_ in range(ROUNDS):
        # Alternate which deployment goes first, so that neither always meets a warmer page cache.
        if round_ % 2 == 0:
            samples["raw"].append(raw_deploy("bench-raw"))
            raw_remove("bench-raw")
        samples["playbook"].append(run(session)[0])
        seconds, unchanged = run(session)
        assert unchanged, "the re-run reported a change"
        samples["rerun"].append(seconds)
        seconds, unchanged = run(session, ["-e", '{"flinkops_flink_in_process": false}'])
        assert unchanged, "the re-run as a module process reported a change"
        samples["rerun_module_process"].append(seconds)
        samples["noop"].append(run(noop)[0])
        run(absent)
        if round_ % 2 == 1:
            samples["raw"].append(raw_deploy("bench-raw"))
            raw_remove("bench-raw")
        print("round %d: raw %.2fs playbook %.2fs rerun %.2fs rerun (module process) %.2fs noop %.2fs" % (
            round_ + 1, samples["raw"][-1], samples["playbook"][-1], samples["rerun"][-1],
            samples["rerun_module_process"][-1], samples["noop"][-1]))
        if community:
            samples["community"].append(run(community)[0])
            seconds, unchanged = run(community)
            assert unchanged, "the community.docker re-run reported a change"
            samples["community_rerun"].append(seconds)
            raw_remove("bench-cd")
            print("         community.docker playbook %.2fs, its re-run %.2fs" % (
                samples["community"][-1], samples["community_rerun"][-1]))
    figures = {"deploy_ratio_playbook_vs_raw": lambda m: m["playbook"] / m["raw"],
               "rerun_minus_noop_seconds": lambda m: m["rerun"] - m["noop"],
               "rerun_ratio_vs_noop_playbook": lambda m: m["rerun"] / m["noop"]}
    if community:
        figures.update(deploy_ratio_playbook_vs_community=lambda m: m["playbook"] / m["community"],
                       rerun_ratio_vs_community=lambda m: m["rerun"] / m["community_rerun"])
    out = report("session_deploy", IMAGE, samples, load_before, targets={
        "deploy_ratio": 1.0, "rerun_minus_noop_seconds": 0.1}, **figures)
    med = out["median_seconds"]
    print("  raw docker sequence to 2 TaskManagers : %.2f s" % med["raw"])
    print("  flink_session playbook, same condition: %.2f s  (ratio %.2fx, target <= 1.0x)" % (
        med["playbook"], out["deploy_ratio_playbook_vs_raw"]))
    print("  unchanged re-run of that playbook     : %.2f s" % med["rerun"])
    print("  the same re-run as a module process   : %.2f s  (flinkops_flink_in_process=false)" % (
        med["rerun_module_process"]))
    print("  one-task debug playbook (reference)   : %.2f s  (re-run - no-op %.2f s, target 0.1 s)" % (
        med["noop"], out["rerun_minus_noop_seconds"]))
    if community:
        print("  community.docker playbook, deploy     : %.2f s  (flink_session / it %.2fx)" % (
            med["community"], out["deploy_ratio_playbook_vs_community"]))
        print("  community.docker playbook, re-run     : %.2f s  (flink_session re-run / it %.2fx)" % (
            med["community_rerun"], out["rerun_ratio_vs_community"]))


if __name__ == "__main__":
    main()
