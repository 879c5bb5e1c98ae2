"""Benchmark: how an unchanged re-run's cost grows with the TaskManager count, on every platform. Not a test.

For each platform of BENCH_SCALING_PLATFORMS (default docker,compose,kubernetes,operator; swarm too when its test
bed is up: see bench/swarm_session.py), a session cluster of small TaskManagers (1 slot, 1 GB, a tenth of a CPU on
Kubernetes) is deployed with 1 TaskManager, then scaled to 2, 4 and 8 (BENCH_SCALING_COUNTS); at each count, after
the module's own wait for the TaskManagers, BENCH_SCALING_REPEATS times: the unchanged playbook (changed=0 asserted)
and a one-task debug playbook, alternating, in the same run. The figure is the re-run's median minus the no-op's
median at that count; flat means an unchanged run reads a constant number of objects whatever the cluster's size.
Writes bench/results/scaling.json (BENCH_SCALING_MERGE=1 keeps the platforms an earlier run measured there).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CACHE, NOOP_TASKS, REPO, VERSION, playbook, write_playbook  # noqa: E402

COLLECTIONS = os.environ.get("BENCH_COLLECTIONS", os.path.join(CACHE, "collections"))
PLATFORMS = os.environ.get("BENCH_SCALING_PLATFORMS", "docker,compose,kubernetes,operator").split(",")
COUNTS = [int(n) for n in os.environ.get("BENCH_SCALING_COUNTS", "1,2,4,8").split(",")]
REPEATS = int(os.environ.get("BENCH_SCALING_REPEATS", "5"))
IMAGE = "flinkops/flink:%s-java17" % VERSION
SMALL_TM = {"memory": "1024m", "slots": 1}
FLINK_CONFIG = {"taskmanager.memory.managed.fraction": 0.1, "heartbeat.timeout": 180000}


def docker_spec(name, count, work):
    return {"name": name, "image": IMAGE, "rest_port": 18191, "jobmanager": {"memory": "1024m"},
            "taskmanager": dict(SMALL_TM, replicas=count), "flink_config": dict(FLINK_CONFIG)}


def compose_spec(name, count, work):
    return dict(docker_spec(name, count, work), platform="compose", rest_port=18192,
                project_dir=os.path.join(work, "compose"))


def swarm_spec(name, count, work):
    import swarm_session  # the test bed's manager and registry (needs the swarm test bed's inventory)
    return {"name": name, "platform": "swarm", "docker_host": swarm_session.DOCKER_HOST,
            "image": swarm_session.IMAGE, "rest_port": 18193, "endpoint_mode": "dnsrr", "network": name + "-net",
            "jobmanager": {"memory": "1024m", "constraints": ["node.labels.flink.role==jobmanager"]},
            "taskmanager": dict(SMALL_TM, replicas=count, constraints=["node.labels.flink.role==taskmanager"]),
            "flink_config": dict(FLINK_CONFIG)}


def k8s_spec(mode):
    def spec(name, count, work):
        import operator_application as k8s  # the Kubernetes test bed's settings (cluster_env has run)
        from tests.integration.kubernetes import test_native_session, test_operator
        builder = test_native_session.session_args if mode == "native" else test_operator.session_args
        args = builder(k8s._K8S, k8s.NAMESPACE, name, VERSION, taskmanager=dict(SMALL_TM, replicas=count, cpu=0.1),
                       jobmanager={"memory": "1024m", "cpu": 0.25})
        args.pop("labels", None)
        return args
    return spec


SPECS = {"docker": docker_spec, "compose": compose_spec, "swarm": swarm_spec, "kubernetes": k8s_spec("native"),
         "operator": k8s_spec("operator")}


def prepare_kubernetes(work, with_operator):
    """The test bed's cluster, the namespace with Flink's service account and rights; the operator when asked.
    Returns the playbook that removes the operator (or None)."""
    import operator_application as k8s
    from tests.integration.kubernetes.test_native_session import FLINK_ROLE
    k8s.cluster_env()
    if k8s.kubectl("get", "namespace", k8s.NAMESPACE, check=False).returncode != 0:
        k8s.kubectl("create", "namespace", k8s.NAMESPACE)
    # Each on its own: removing the operator (its role) removes the service account it made in the namespace.
    if k8s.kubectl("get", "serviceaccount", "flink", "-n", k8s.NAMESPACE, check=False).returncode != 0:
        k8s.kubectl("create", "serviceaccount", "flink", "-n", k8s.NAMESPACE)
    k8s.sh("kubectl", "apply", "-n", k8s.NAMESPACE, "-f", "-", input=json.dumps(FLINK_ROLE))
    if k8s.kubectl("get", "rolebinding", "flink", "-n", k8s.NAMESPACE, check=False).returncode != 0:
        k8s.kubectl("create", "rolebinding", "flink", "--role=flink", "--serviceaccount=%s:flink" % k8s.NAMESPACE,
                    "-n", k8s.NAMESPACE)
    if not with_operator:
        return None
    k8s.sh("bash", os.path.join(REPO, "testbed/kubernetes/operator.sh"), "all")
    chart = k8s.sh("bash", os.path.join(REPO, "testbed/kubernetes/operator.sh"),
                   "chart").stdout.strip().splitlines()[-1]
    return k8s.install_operator(work, chart)


def measure(platform, work):
    """{count: {"deploy" or "scale": seconds, "rerun": [...], "noop": [...]}} for one platform."""
    name = "bsc-%s" % platform[:4]
    noop = write_playbook(work, "noop", NOOP_TASKS)
    rows = {}
    absent_args = dict(SPECS[platform](name, 1, work), state="absent")
    # (not "operator-absent": the removal playbook of the operator itself has that name in the same directory)
    absent = write_playbook(work, "scaling-%s-absent" % platform, [{"flinkops.flink.flink_session": absent_args}])
    playbook(COLLECTIONS, absent)
    try:
        for count in COUNTS:
            args = SPECS[platform](name, count, work)
            path = write_playbook(work, "scaling-%s-%d" % (platform, count), [{"flinkops.flink.flink_session": args}])
            seconds = playbook(COLLECTIONS, path)[0]
            row = {"deploy" if count == COUNTS[0] else "scale": seconds, "rerun": [], "noop": []}
            for _ in range(REPEATS):
                seconds, unchanged = playbook(COLLECTIONS, path)
                assert unchanged, "%s: the re-run with %d TaskManagers reported a change" % (platform, count)
                row["rerun"].append(seconds)
                row["noop"].append(playbook(COLLECTIONS, noop)[0])
            row["rerun_median"] = statistics.median(row["rerun"])
            row["noop_median"] = statistics.median(row["noop"])
            row["rerun_minus_noop"] = round(row["rerun_median"] - row["noop_median"], 3)
            rows[count] = row
            print("%s, %d TaskManager(s): re-run %.2f s, no-op %.2f s, difference %.2f s" % (
                platform, count, row["rerun_median"], row["noop_median"], row["rerun_minus_noop"]), flush=True)
    finally:
        playbook(COLLECTIONS, absent)
    return rows


def measure_platforms(platforms, measure_one, prefix):
    """``measure_one(platform, work)`` for each platform, in a new work directory; the Kubernetes test bed (and the
    operator) prepared first when a platform needs it, the operator removed after (BENCH_KEEP=1 keeps it).
    Returns (results by platform, the load average before)."""
    work = tempfile.mkdtemp(prefix=prefix)
    results = {}
    load_before = os.getloadavg()
    operator_absent = None
    if "kubernetes" in platforms or "operator" in platforms:
        operator_absent = prepare_kubernetes(work, "operator" in platforms)
    try:
        for platform in platforms:
            results[platform] = measure_one(platform, work)
    finally:
        if operator_absent and os.environ.get("BENCH_KEEP") != "1":
            playbook(COLLECTIONS, operator_absent)
    return results, load_before


def main():
    results, load_before = measure_platforms(PLATFORMS, measure, "flinkops-bench-scaling-")
    path = os.path.join(REPO, "bench", "results", "scaling.json")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for rows in results.values():
        for row in rows.values():
            row["when"] = when
    if os.environ.get("BENCH_SCALING_MERGE") == "1" and os.path.exists(path):
        # Platforms measured in an earlier run of the same session are kept (each row says when it was measured).
        with open(path) as handle:
            earlier = json.load(handle)["platforms"]
        earlier.update(results)
        results = earlier
    spread = dict((p, round(max(r["rerun_minus_noop"] for r in rows.values()) -
                            min(r["rerun_minus_noop"] for r in rows.values()), 3)) for p, rows in results.items())
    out = {"image": IMAGE, "cpus": os.cpu_count(), "counts": COUNTS, "repeats": REPEATS,
           "load_average_before": load_before, "load_average_after": os.getloadavg(), "platforms": results,
           "rerun_minus_noop_spread_seconds": spread, "when": when}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(out, handle, indent=2)
    print(json.dumps({"rerun_minus_noop_spread_seconds": spread}, indent=2))


if __name__ == "__main__":
    main()
