"""Benchmark: flink_session platform=kubernetes (Flink's native mode) against the raw commands it replaces, measured
in the same run, alternating (not a test):

  raw       Flink's own `bin/kubernetes-session.sh` of the same distribution with the same settings as -D options
            (cluster id, namespace, service account, image, sizes, 2 TaskManagers kept by
            slotmanager.number-of-slots.min), then polling /taskmanagers through the API server's service proxy
            (`kubectl get --raw`) every 0.5 s until 2 are registered
  playbook  ansible-playbook with one flink_session task, from nothing to the same condition (the module's wait)
  rerun     the same playbook again, unchanged (changed=0 asserted)
  noop      a one-task playbook (ansible.builtin.debug)
Needs the Kubernetes test bed (`BENCH_NATIVE=1 bash bench/run.sh` brings it up). Writes
bench/results/native_session.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CACHE, NOOP_TASKS, ROUNDS, VERSION, playbook, report, write_playbook  # noqa: E402
import operator_application as k8s  # noqa: E402  (the test bed's settings and kubectl)
from scaling import prepare_kubernetes  # noqa: E402

from tests.integration.kubernetes.test_native_session import session_args  # noqa: E402

COLLECTIONS = os.environ.get("BENCH_COLLECTIONS", os.path.join(CACHE, "collections"))
FLINK_HOME = os.path.join(CACHE, "flink", VERSION)
TASKMANAGERS = 2


def spec(name):
    return session_args(k8s._K8S, k8s.NAMESPACE, name, VERSION, taskmanager={
        "memory": "1024m", "cpu": 0.1, "slots": 1, "replicas": TASKMANAGERS}, jobmanager={"memory": "1024m", "cpu": 0.25})


def registered(name):
    proc = k8s.kubectl("get", "--raw", "/api/v1/namespaces/%s/services/%s-rest:rest/proxy/taskmanagers" % (
        k8s.NAMESPACE, name), check=False)
    try:
        return len(json.loads(proc.stdout)["taskmanagers"]) if proc.returncode == 0 else 0
    except ValueError:
        return 0


def raw_deploy(name, args):
    """kubernetes-session.sh with the spec's settings, then poll until the TaskManagers are registered."""
    conf = dict(args["flink_config"])
    conf.update({
        "kubernetes.cluster-id": name, "kubernetes.namespace": k8s.NAMESPACE, "kubernetes.service-account": "flink",
        "kubernetes.container.image.ref": args["image"], "kubernetes.container.image.pull-policy": "Never",
        "kubernetes.rest-service.exposed.type": "ClusterIP", "kubernetes.config.file": k8s.ENV["KUBECONFIG"],
        "jobmanager.memory.process.size": "1024m", "taskmanager.memory.process.size": "1024m",
        "kubernetes.jobmanager.cpu.amount": 0.25, "kubernetes.taskmanager.cpu.amount": 0.1,
        "taskmanager.numberOfTaskSlots": 1, "slotmanager.number-of-slots.min": TASKMANAGERS})
    start = time.monotonic()
    subprocess.run([os.path.join(FLINK_HOME, "bin", "kubernetes-session.sh")] +
                   ["-D%s=%s" % item for item in sorted(conf.items())] + ["-Dexecution.attached=false"],
                   check=True, capture_output=True, text=True, env=k8s.ENV)
    while registered(name) < TASKMANAGERS:
        time.sleep(0.5)
    return time.monotonic() - start


def raw_remove(name):
    k8s.kubectl("delete", "deployment", name, "-n", k8s.NAMESPACE, "--ignore-not-found", "--wait=true",
                "--cascade=foreground", "--timeout=300s")
    while k8s.kubectl("get", "pods,services", "-n", k8s.NAMESPACE, "-l", "app=%s" % name, "-o", "name").stdout.strip():
        time.sleep(0.5)


def main():
    work = tempfile.mkdtemp(prefix="flinkops-bench-native-")
    prepare_kubernetes(work, with_operator=False)
    name = "bench-native"
    args = spec(name)
    session = write_playbook(work, "session", [{"flinkops.flink.flink_session": args}])
    absent = write_playbook(work, "absent", [{"flinkops.flink.flink_session": {
        "name": name, "platform": "kubernetes", "namespace": k8s.NAMESPACE, "kubeconfig": k8s.ENV["KUBECONFIG"],
        "state": "absent"}}])
    noop = write_playbook(work, "noop", NOOP_TASKS)
    playbook(COLLECTIONS, absent)
    raw_remove(name + "-raw")
    samples = {"raw": [], "playbook": [], "rerun": [], "noop": []}
    load_before = os.getloadavg()
    for round_ in range(ROUNDS):
        first_raw = round_ % 2 == 0
        if first_raw:
            samples["raw"].append(raw_deploy(name + "-raw", args))
            raw_remove(name + "-raw")
        samples["playbook"].append(playbook(COLLECTIONS, session)[0])
        for _ in range(2):
            seconds, unchanged = playbook(COLLECTIONS, session)
            assert unchanged, "the re-run reported a change"
            samples["rerun"].append(seconds)
            samples["noop"].append(playbook(COLLECTIONS, noop)[0])
        playbook(COLLECTIONS, absent)
        if not first_raw:
            samples["raw"].append(raw_deploy(name + "-raw", args))
            raw_remove(name + "-raw")
        print("round %d: raw %.2fs playbook %.2fs rerun %.2fs noop %.2fs" % (
            round_ + 1, samples["raw"][-1], samples["playbook"][-1], samples["rerun"][-1], samples["noop"][-1]),
            flush=True)
    out = report("native_session", args["image"], samples, load_before,
                 deploy_ratio_playbook_vs_raw=lambda m: m["playbook"] / m["raw"],
                 rerun_minus_noop_seconds=lambda m: m["rerun"] - m["noop"],
                 targets={"deploy_ratio": 1.0, "rerun_minus_noop_seconds": 0.2})
    print(json.dumps(dict((k, out[k]) for k in ("median_seconds", "deploy_ratio_playbook_vs_raw",
                                               "rerun_minus_noop_seconds")), indent=2))


if __name__ == "__main__":
    main()
