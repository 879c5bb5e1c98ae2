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

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from tests.lib.ansible import ansible_env  # noqa: E402

CACHE = os.environ.get("FLINKOPS_CACHE", "/var/cache/flinkops")
VERSION = os.environ.get("FLINKOPS_FLINK_DEFAULT", "2.2.1")
IMAGE = os.environ.get("BENCH_IMAGE", "flinkops/flink:%s-java17" % VERSION)
PORT = int(os.environ.get("BENCH_PORT", "18081"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
COLLECTIONS = os.path.join(CACHE, "collections")
COMMUNITY = os.environ.get("BENCH_COMMUNITY_COLLECTIONS", "")
VENV_BIN = os.path.dirname(sys.executable)


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def registered(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/taskmanagers" % port, timeout=2) as response:
            return len(json.loads(response.read())["taskmanagers"])
    except (OSError, ValueError):
        return 0


def raw_deploy(name):
    start = time.monotonic()
    sh("docker", "network", "create", name + "-net")
    props = "jobmanager.rpc.address: %s-jm\ntaskmanager.numberOfTaskSlots: 2" % name
    sh("docker", "run", "-d", "--name", name + "-jm", "--network", name + "-net", "-p", "127.0.0.1:%d:8081" % PORT,
       "-e", "FLINK_PROPERTIES=" + props, IMAGE, "jobmanager")
    for i in (1, 2):
        sh("docker", "run", "-d", "--name", "%s-tm%d" % (name, i), "--network", name + "-net",
           "-e", "FLINK_PROPERTIES=" + props, IMAGE, "taskmanager")
    while registered(PORT) < 2:
        time.sleep(0.5)
    return time.monotonic() - start


def raw_remove(name):
    subprocess.run(["docker", "rm", "-f", name + "-jm", name + "-tm1", name + "-tm2"], capture_output=True, check=False)
    subprocess.run(["docker", "network", "rm", name + "-net"], capture_output=True, check=False)


def playbook(path, extra=()):
    env = ansible_env(COLLECTIONS + (os.pathsep + COMMUNITY if COMMUNITY else ""))
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    start = time.monotonic()
    result = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
                             "-e", "ansible_python_interpreter=" + sys.executable, path] + list(extra),
                            env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        raise SystemExit("playbook failed:\n" + result.stdout[-3000:])
    return seconds, "changed=0" in result.stdout


def write_playbooks(work, name):
    session = os.path.join(work, "session.yml")
    with open(session, "w") as handle:
        json.dump([{"hosts": "localhost", "gather_facts": False, "tasks": [{
            "flinkops.flink.flink_session": {"name": name, "image": IMAGE, "rest_port": PORT,
                                             "taskmanager": {"replicas": 2, "slots": 2}}}]}], handle)
    absent = os.path.join(work, "absent.yml")
    with open(absent, "w") as handle:
        json.dump([{"hosts": "localhost", "gather_facts": False, "tasks": [{
            "flinkops.flink.flink_session": {"name": name, "state": "absent"}}]}], handle)
    noop = os.path.join(work, "noop.yml")
    with open(noop, "w") as handle:
        json.dump([{"hosts": "localhost", "gather_facts": False, "tasks": [{"ansible.builtin.debug": {"msg": "hi"}}]}],
                  handle)
    return session, absent, noop


def write_community_playbook(work, name, port):
    """One network, three containers and a readiness poll with community.docker: what a user writes without us."""
    props = "jobmanager.rpc.address: %s-jm\ntaskmanager.numberOfTaskSlots: 2" % name
    path = os.path.join(work, "community.yml")
    with open(path, "w") as handle:
        json.dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
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
             "retries": 480, "delay": 0.5}]}], handle)
    return path


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
    playbook(absent)
    load_before = os.getloadavg()
    for round_ in range(ROUNDS):
        # Alternate which deployment goes first, so that neither always meets a warmer page cache.
        if round_ % 2 == 0:
            samples["raw"].append(raw_deploy("bench-raw"))
            raw_remove("bench-raw")
        samples["playbook"].append(playbook(session)[0])
        seconds, unchanged = playbook(session)
        assert unchanged, "the re-run reported a change"
        samples["rerun"].append(seconds)
        seconds, unchanged = playbook(session, ["-e", '{"flinkops_flink_in_process": false}'])
        assert unchanged, "the re-run as a module process reported a change"
        samples["rerun_module_process"].append(seconds)
        samples["noop"].append(playbook(noop)[0])
        playbook(absent)
        if round_ % 2 == 1:
            samples["raw"].append(raw_deploy("bench-raw"))
            raw_remove("bench-raw")
        print("round %d: raw %.2fs playbook %.2fs rerun %.2fs rerun (module process) %.2fs noop %.2fs" % (
            round_ + 1, samples["raw"][-1], samples["playbook"][-1], samples["rerun"][-1],
            samples["rerun_module_process"][-1], samples["noop"][-1]))
        if community:
            samples["community"].append(playbook(community)[0])
            seconds, unchanged = playbook(community)
            assert unchanged, "the community.docker re-run reported a change"
            samples["community_rerun"].append(seconds)
            raw_remove("bench-cd")
            print("         community.docker playbook %.2fs, its re-run %.2fs" % (
                samples["community"][-1], samples["community_rerun"][-1]))
    med = dict((k, statistics.median(v)) for k, v in samples.items())
    report = {
        "image": IMAGE, "rounds": ROUNDS, "cpus": os.cpu_count(),
        "load_average_before": load_before, "load_average_after": os.getloadavg(), "samples_seconds": samples, "median_seconds": med,
        "deploy_ratio_playbook_vs_raw": med["playbook"] / med["raw"],
        "rerun_seconds": med["rerun"], "rerun_ratio_vs_noop_playbook": med["rerun"] / med["noop"],
        "targets": {"deploy_ratio": 1.10, "rerun_seconds": 1.5},
    }
    if community:
        report["deploy_ratio_playbook_vs_community"] = med["playbook"] / med["community"]
        report["rerun_ratio_vs_community"] = med["rerun"] / med["community_rerun"]
    os.makedirs(os.path.join(REPO, "bench", "results"), exist_ok=True)
    with open(os.path.join(REPO, "bench", "results", "session_deploy.json"), "w") as handle:
        json.dump(report, handle, indent=2)
    print("\nmedian of %d rounds (%s), load average before %.1f, after %.1f" % (
        ROUNDS, IMAGE, load_before[0], report["load_average_after"][0]))
    print("  raw docker sequence to 2 TaskManagers : %.2f s" % med["raw"])
    print("  flink_session playbook, same condition: %.2f s  (ratio %.2fx, target <= 1.10x)" % (
        med["playbook"], report["deploy_ratio_playbook_vs_raw"]))
    print("  unchanged re-run of that playbook     : %.2f s  (target < 1.5 s)" % med["rerun"])
    print("  the same re-run as a module process   : %.2f s  (flinkops_flink_in_process=false)" % (
        med["rerun_module_process"]))
    print("  one-task debug playbook (reference)   : %.2f s  (re-run / no-op %.2fx)" % (
        med["noop"], report["rerun_ratio_vs_noop_playbook"]))
    if community:
        print("  community.docker playbook, deploy     : %.2f s  (flink_session / it %.2fx)" % (
            med["community"], report["deploy_ratio_playbook_vs_community"]))
        print("  community.docker playbook, re-run     : %.2f s  (flink_session re-run / it %.2fx)" % (
            med["community_rerun"], report["rerun_ratio_vs_community"]))


if __name__ == "__main__":
    main()
