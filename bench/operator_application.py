"""Benchmark: applications on Kubernetes through the Flink Kubernetes Operator, and a savepoint upgrade's downtime on
the operator, native Kubernetes and Docker. Not a test.

Needs the Kubernetes test bed with the operator image loaded (`bash bench/run.sh` with BENCH_OPERATOR=1 sets it up:
testbed/kubernetes/cluster.sh up, operator.sh all). The operator is installed with the collection's role (not
timed) into its own namespace, watching BENCH_NAMESPACE, and removed at the end (BENCH_KEEP=1 keeps it).
Measured in the same run, alternating, for the stateful counter of the test bed (a jar on a hostPath volume):
  raw       `kubectl apply -f` of the very FlinkDeployment the module wrote (its spec, another name), then polling
            `kubectl get flinkdeployment` every 0.5 s (the module's wait_sleep) until lifecycleState STABLE with the
            job RUNNING
  playbook  ansible-playbook with one flink_application task (mode operator), from nothing to the same state
  rerun     the same playbook again, unchanged (changed=0 asserted)
  noop      a one-task playbook (ansible.builtin.debug): Ansible's own start-up, the reference of the re-run
Then, per platform of BENCH_DOWNTIME_PLATFORMS (operator, native, docker, compose; BENCH_DOWNTIME_ROUNDS times): the
counter deployed with flink_application, then a
savepoint upgrade to a new build of its jar; downtime is the gap between the last output record before the upgrade
and the first one after it (the job flushes every record; the output directory is sampled every 20 ms).
Writes bench/results/operator_application.json.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CACHE, NOOP_TASKS, REPO, ROUNDS, VERSION, playbook, report, write_playbook  # noqa: E402

from tests.integration.compose.test_compose_application import compose_app  # noqa: E402
from tests.integration.docker.test_application import app_task, jar_versions  # noqa: E402
from tests.integration.kubernetes.conftest import OPERATOR_IMAGE, flink_image  # noqa: E402
from tests.integration.kubernetes.test_native_application import app_args as native_app_args  # noqa: E402
from tests.integration.kubernetes.test_operator_application import app_args  # noqa: E402

COLLECTIONS = os.environ.get("BENCH_COLLECTIONS", os.path.join(CACHE, "collections"))
NAMESPACE = os.environ.get("BENCH_NAMESPACE", "bench-flink")
OPERATOR_NS = NAMESPACE + "-operator"
DOWNTIME_ROUNDS = int(os.environ.get("BENCH_DOWNTIME_ROUNDS", "2"))
DOCKER_PORT = int(os.environ.get("BENCH_PORT", "18093"))
# The savepoint upgrade's downtime, the operator's first (the others' ratios are to it). Swarm is not among them:
# its job jar and output would have to be on every node.
DOWNTIME_PLATFORMS = os.environ.get("BENCH_DOWNTIME_PLATFORMS", "operator,native,docker,compose").split(",")
ENV = dict(os.environ)


def sh(*cmd, check=True, **kwargs):
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True, env=ENV, **kwargs)


def kubectl(*args, check=True, **kwargs):
    return sh("kubectl", *args, check=check, **kwargs)


def cluster_env():
    """KUBECONFIG and PATH of the test bed (cluster.sh env)."""
    out = sh("bash", os.path.join(REPO, "testbed/kubernetes/cluster.sh"), "env").stdout
    for line in out.splitlines():
        if line.startswith("export "):
            for part in line[len("export "):].split():
                key, value = part.split("=", 1) if "=" in part else (part, "")
                ENV[key] = os.path.expandvars(value.strip("'\""))


def tasks_playbook(work, name, module, args):
    return write_playbook(work, name, [{"name": "app", module: args}])


def install_operator(work, chart):
    role = [{"name": "operator", "ansible.builtin.include_role": {"name": "flinkops.flink.operator"},
             "vars": {"operator_namespace": OPERATOR_NS, "operator_name": "bench-operator",
                      "operator_watch_namespaces": [NAMESPACE], "operator_kubeconfig": ENV["KUBECONFIG"],
                      "operator_image": OPERATOR_IMAGE, "operator_image_pull_policy": "Never",
                      "operator_chart_path": chart, "operator_delete_deployments": True,
                      "operator_config": {"kubernetes.operator.reconcile.interval": "15 s"}}}]
    playbook(COLLECTIONS, write_playbook(work, "operator", role))
    role[0]["vars"]["operator_state"] = "absent"
    return write_playbook(work, "operator-absent", role)


def fd_state(name):
    proc = kubectl("get", "flinkdeployment", name, "-n", NAMESPACE, "-o",
                   "jsonpath={.status.lifecycleState}/{.status.jobStatus.state}", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def raw_manifest(module_name, name, work):
    """The FlinkDeployment the module wrote, as a user's file: its spec under another name."""
    written = json.loads(kubectl("get", "flinkdeployment", module_name, "-n", NAMESPACE, "-o", "json").stdout)
    body = {"apiVersion": written["apiVersion"], "kind": "FlinkDeployment",
            "metadata": {"name": name, "namespace": NAMESPACE}, "spec": written["spec"]}
    path = os.path.join(work, "raw-flinkdeployment.json")
    with open(path, "w") as handle:
        json.dump(body, handle)
    return path


def raw_deploy(manifest, name):
    start = time.monotonic()
    kubectl("apply", "-f", manifest)
    while fd_state(name) != "STABLE/RUNNING":
        time.sleep(0.5)
    return time.monotonic() - start


def delete(name):
    kubectl("delete", "flinkdeployment", name, "-n", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=300s")
    deadline = time.monotonic() + 300
    while kubectl("get", "pods", "-n", NAMESPACE, "-l", "app=%s" % name, "-o", "name").stdout.strip():
        if time.monotonic() > deadline:
            raise SystemExit("pods of %s did not go" % name)
        time.sleep(1)


class OutputWatch(object):
    """Samples the total size of the job's part files; the longest stall between two growths is the downtime."""

    def __init__(self, out_dir, period=0.02):
        self.out_dir, self.period = out_dir, period
        self.growths = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def size(self):
        total = 0
        for entry in os.listdir(self.out_dir):
            if entry.startswith("part-"):
                try:
                    total += os.path.getsize(os.path.join(self.out_dir, entry))
                except OSError:
                    pass
        return total

    def _run(self):
        last = self.size()
        while not self._stop.is_set():
            now = self.size()
            if now > last:
                self.growths.append(time.monotonic())
                last = now
            time.sleep(self.period)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def wait_growth(self, after, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(t > after for t in self.growths):
                return
            time.sleep(0.1)
        raise SystemExit("the job wrote nothing for %ds after the upgrade" % timeout)

    def downtime(self, start):
        """Seconds from the last record before ``start`` (the upgrade's start) to the first after it, through the
        longest stall after ``start``."""
        before = [t for t in self.growths if t <= start]
        points = ([before[-1]] if before else []) + [t for t in self.growths if t > start]
        return max(b - a for a, b in zip(points, points[1:]))


def dirs_in(root):
    made = {}
    for name in ("savepoints", "out", "jars"):
        path = os.path.join(root, name)
        os.makedirs(path)
        os.chmod(path, 0o777)
        made[name] = path
    os.chmod(root, 0o755)
    return made


def upgrade_downtime(work, platform):
    """(deploy seconds, upgrade seconds, downtime seconds) of a savepoint upgrade of the counter on ``platform``."""
    root = tempfile.mkdtemp(prefix="bench-%s-" % platform, dir="/var/tmp")
    dirs = dirs_in(root)
    v1, v2 = jar_versions(dirs, VERSION)
    for jar in (v1, v2):
        os.chmod(jar, 0o644)
    name = "bd-%s-%s" % (platform[:3], secrets.token_hex(2))
    if platform in ("docker", "compose"):
        def task(jar, state="running"):
            made = app_task(name, flink_image(VERSION), DOCKER_PORT, jar, dirs, state) if platform == "docker" else \
                compose_app(name, os.path.join(root, "project"), flink_image(VERSION), DOCKER_PORT, jar, dirs, state)
            return tasks_playbook(work, "%s-%s" % (name, state + os.path.basename(jar)),
                                  "flinkops.flink.flink_application", made["flinkops.flink.flink_application"])
    else:
        def task(jar, state="running"):
            if platform == "native":  # the native test's own arguments: the same counter, checkpoints, volumes
                args = native_app_args(_K8S, NAMESPACE, name, dirs, jar, state=state, version=VERSION)
            else:
                args = app_args(_K8S, NAMESPACE, name, dirs, jar, VERSION, state=state)
                args.pop("labels", None)
            return tasks_playbook(work, "%s-%s" % (name, state + os.path.basename(jar)), "flinkops.flink.flink_application",
                                  args)
    absent = task(v1, "absent")
    try:
        deploy = playbook(COLLECTIONS, task(v1))[0]
        with OutputWatch(dirs["out"]) as watch:
            watch.wait_growth(time.monotonic() - 1, timeout=120)
            time.sleep(5)
            start = time.monotonic()
            upgrade = playbook(COLLECTIONS, task(v2))[0]
            watch.wait_growth(start + upgrade)
            time.sleep(2)
        return deploy, upgrade, watch.downtime(start)
    finally:
        playbook(COLLECTIONS, absent)
        shutil.rmtree(root, ignore_errors=True)


class _K8sSettings(object):
    """What app_args needs of the tests' K8s fixture."""

    @property
    def kubeconfig(self):
        return ENV["KUBECONFIG"]


_K8S = _K8sSettings()


def main():
    cluster_env()
    sh("bash", os.path.join(REPO, "testbed/kubernetes/operator.sh"), "all")
    chart = sh("bash", os.path.join(REPO, "testbed/kubernetes/operator.sh"), "chart").stdout.strip().splitlines()[-1]
    work = tempfile.mkdtemp(prefix="bench-operator-")
    if kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0:
        kubectl("create", "namespace", NAMESPACE)
    operator_absent = install_operator(work, chart)
    root = tempfile.mkdtemp(prefix="bench-op-", dir="/var/tmp")
    dirs = dirs_in(root)
    v1 = jar_versions(dirs, VERSION)[0]
    os.chmod(v1, 0o644)
    samples = {"raw": [], "playbook": [], "rerun": [], "noop": []}
    load_before = os.getloadavg()
    noop = write_playbook(work, "noop", NOOP_TASKS)
    try:
        for rnd in range(ROUNDS):
            name = "bo-%d-%s" % (rnd, secrets.token_hex(2))
            args = app_args(_K8S, NAMESPACE, name, dirs, v1, VERSION)
            args.pop("labels", None)
            deploy = tasks_playbook(work, name, "flinkops.flink.flink_application", args)
            seconds = playbook(COLLECTIONS, deploy)[0]
            assert fd_state(name) == "STABLE/RUNNING", fd_state(name)
            samples["playbook"].append(seconds)
            seconds, unchanged = playbook(COLLECTIONS, deploy)
            assert unchanged, "the re-run changed something"
            samples["rerun"].append(seconds)
            samples["noop"].append(playbook(COLLECTIONS, noop)[0])
            manifest = raw_manifest(name, name + "-raw", work)
            delete(name)
            samples["raw"].append(raw_deploy(manifest, name + "-raw"))
            delete(name + "-raw")
            print("round %d: raw %.1fs playbook %.1fs rerun %.2fs noop %.2fs" % (
                rnd + 1, samples["raw"][-1], samples["playbook"][-1], samples["rerun"][-1], samples["noop"][-1]))
        downtime = {}
        for platform in DOWNTIME_PLATFORMS:
            downtime[platform] = []
            for _round in range(DOWNTIME_ROUNDS):
                deploy_s, upgrade_s, down = upgrade_downtime(work, platform)
                downtime[platform].append({"deploy": deploy_s, "upgrade": upgrade_s, "downtime": down})
                print("%s: deploy %.1fs, savepoint upgrade %.1fs, downtime %.1fs" % (platform, deploy_s, upgrade_s,
                                                                                    down))
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            playbook(COLLECTIONS, operator_absent)
        shutil.rmtree(root, ignore_errors=True)
    medians = dict((p, statistics.median(r["downtime"] for r in rows)) for p, rows in downtime.items())
    out = report("operator_application", flink_image(VERSION), samples, load_before,
                 deploy_ratio=lambda m: round(m["playbook"] / m["raw"], 3),
                 rerun_over_noop_seconds=lambda m: round(m["rerun"] - m["noop"], 3),
                 savepoint_upgrade=lambda m: downtime,
                 downtime_median_seconds=lambda m: medians,
                 downtime_ratio_to_operator=lambda m: dict((p, round(v / medians["operator"], 3))
                                                           for p, v in medians.items()),
                 targets={"deploy_ratio": 1.0, "rerun_over_noop_seconds": 0.2})
    print(json.dumps(dict((k, out[k]) for k in ("median_seconds", "deploy_ratio", "rerun_over_noop_seconds",
                                               "downtime_median_seconds", "downtime_ratio_to_operator")), indent=2))


if __name__ == "__main__":
    main()
