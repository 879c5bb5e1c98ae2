"""The k8s_namespace role on the real test cluster: namespace, service account and least-privilege RBAC,
idempotent, predicted by check mode, and checked with `kubectl auth can-i` as the service account: allowed what
a native-mode Flink JobManager does, denied the rest; the Flink docs' cluster-wide `edit` binding as an option."""

from __future__ import annotations

import secrets

import pytest

from tests.lib.ansible import run_playbook

pytestmark = pytest.mark.kubernetes

# What Flink's native Kubernetes integration does with the API (JobManager and TaskManagers).
FLINK_NEEDS = [("create", "pods"), ("delete", "pods"), ("watch", "pods"), ("patch", "pods"),
               ("create", "configmaps"), ("update", "configmaps"), ("delete", "configmaps"),
               ("create", "leases.coordination.k8s.io"), ("update", "leases.coordination.k8s.io"),
               ("get", "deployments.apps"), ("delete", "deployments.apps"), ("list", "services"),
               ("create", "events")]
# What it does not need, and a least-privilege Role must refuse.
NOT_NEEDED = [("get", "secrets"), ("list", "secrets"), ("create", "deployments.apps"), ("create", "roles.rbac.authorization.k8s.io"),
              ("create", "rolebindings.rbac.authorization.k8s.io"), ("delete", "namespaces")]


def can_i(k8s, namespace, sa, verb, resource, in_namespace=None):
    args = ["auth", "can-i", verb, resource, "--as=system:serviceaccount:%s:%s" % (namespace, sa)]
    args += ["-n", in_namespace or namespace] if in_namespace != "" else []
    proc = k8s.kubectl(*args, check=False)
    answer = proc.stdout.strip()
    assert answer in ("yes", "no"), proc.stderr
    return answer == "yes"


def play(collections_path, k8s, check=False, diff=False, **variables):
    includes = variables.pop("includes", None) or [variables]
    tasks = [{"name": "namespace role %d" % i, "ansible.builtin.include_role": {"name": "flinkops.flink.k8s_namespace"},
              "vars": dict(v, k8s_namespace_kubeconfig=k8s.kubeconfig)} for i, v in enumerate(includes)]
    return run_playbook(collections_path, tasks=tasks, check=check, diff=diff)


def task(result, name):
    """The last result of the role task with that name (Ansible prefixes the role's name)."""
    found = [r["result"] for r in result.results if r["task"].split(" : ")[-1] == name]
    assert found, "no task %r ran:\n%s" % (name, result.stdout[-4000:])
    return found[-1]


def role_changes(result):
    return [r["task"] for r in result.results if r["result"].get("changed") and "k8s_namespace" in r["task"]]


def test_least_privilege_rbac(k8s, collections_path):
    ns = "t-rbac-%s" % secrets.token_hex(3)
    other = "t-rbac-other-%s" % secrets.token_hex(3)
    try:
        predicted = play(collections_path, k8s, check=True, diff=True, k8s_namespace_name=ns)
        assert predicted.rc == 0, predicted
        applied = task(predicted, "Apply namespace, service account and RBAC")
        assert applied["changed"] is True
        assert applied["actions"] == ["created: Namespace %s" % ns, "created: ServiceAccount %s/flink" % ns,
                                      "created: Role %s/flink-native" % ns, "created: RoleBinding %s/flink-native" % ns]
        # Check mode touched nothing.
        assert k8s.kubectl("get", "namespace", ns, check=False).returncode != 0

        first = play(collections_path, k8s, k8s_namespace_name=ns)
        assert first.rc == 0, first
        assert task(first, "Apply namespace, service account and RBAC")["changed"] is True
        assert k8s.json("get", "serviceaccount", "flink", "-n", ns)["metadata"]["name"] == "flink"
        again = play(collections_path, k8s, k8s_namespace_name=ns)
        assert again.rc == 0, again
        assert role_changes(again) == [], again.results
        checked = play(collections_path, k8s, check=True, k8s_namespace_name=ns)
        assert checked.rc == 0 and role_changes(checked) == [], checked

        for verb, resource in FLINK_NEEDS:
            assert can_i(k8s, ns, "flink", verb, resource), "flink may not %s %s" % (verb, resource)
        for verb, resource in NOT_NEEDED:
            assert not can_i(k8s, ns, "flink", verb, resource), "flink may %s %s" % (verb, resource)
        k8s.kubectl("create", "namespace", other)
        assert not can_i(k8s, ns, "flink", "create", "pods", in_namespace=other)
        assert not can_i(k8s, ns, "flink", "create", "clusterroles.rbac.authorization.k8s.io", in_namespace="")

        # A drift is repaired: a verb removed by hand comes back, and the run says so.
        k8s.kubectl("patch", "role", "flink-native", "-n", ns, "--type=json",
                    "-p", '[{"op": "remove", "path": "/rules/0"}]')
        assert not can_i(k8s, ns, "flink", "create", "pods")
        repaired = play(collections_path, k8s, k8s_namespace_name=ns)
        assert task(repaired, "Apply namespace, service account and RBAC")["actions"] == [
            "updated: Role %s/flink-native" % ns]
        assert can_i(k8s, ns, "flink", "create", "pods")

        # The Flink docs' binding: the cluster-wide edit role, in place of the Role.
        edit = play(collections_path, k8s, k8s_namespace_name=ns, k8s_namespace_rbac="cluster_edit")
        assert edit.rc == 0, edit
        assert task(edit, "Remove the bindings (or everything) not wanted")["actions"] == [
            "deleted: RoleBinding %s/flink-native" % ns, "deleted: Role %s/flink-native" % ns]
        assert can_i(k8s, ns, "flink", "get", "secrets")
        assert can_i(k8s, ns, "flink", "create", "pods", in_namespace=other)
        assert can_i(k8s, ns, "flink", "create", "deployments.apps", in_namespace=other)
        assert k8s.kubectl("get", "role", "flink-native", "-n", ns, check=False).returncode != 0
        assert role_changes(play(collections_path, k8s, k8s_namespace_name=ns, k8s_namespace_rbac="cluster_edit")) == []

        removed = play(collections_path, k8s, k8s_namespace_name=ns, k8s_namespace_state="absent")
        assert removed.rc == 0, removed
        assert not can_i(k8s, ns, "flink", "create", "pods", in_namespace=other)
        assert k8s.kubectl("get", "clusterrolebinding", "%s-flink-native-edit" % ns, check=False).returncode != 0
        assert role_changes(play(collections_path, k8s, k8s_namespace_name=ns, k8s_namespace_state="absent")) == []
    finally:
        for name in (ns, other):
            k8s.kubectl("delete", "namespace", name, "--wait=false", check=False)
        k8s.kubectl("delete", "clusterrolebinding", "%s-flink-native-edit" % ns, check=False)


def test_twice_in_one_play_and_bad_input(k8s, collections_path):
    ns_a, ns_b = "t-rbac-a-%s" % secrets.token_hex(3), "t-rbac-b-%s" % secrets.token_hex(3)
    try:
        result = play(collections_path, k8s, includes=[
            {"k8s_namespace_name": ns_a},
            {"k8s_namespace_name": ns_b, "k8s_namespace_service_account": "jobs", "k8s_namespace_ha": False}])
        assert result.rc == 0, result
        assert can_i(k8s, ns_a, "flink", "create", "leases.coordination.k8s.io")
        assert can_i(k8s, ns_b, "jobs", "create", "pods")
        assert not can_i(k8s, ns_b, "jobs", "create", "leases.coordination.k8s.io")
        assert not can_i(k8s, ns_b, "jobs", "create", "pods", in_namespace=ns_a)
        assert k8s.kubectl("get", "serviceaccount", "jobs", "-n", ns_a, check=False).returncode != 0

        bad = play(collections_path, k8s, k8s_namespace_name=ns_a, k8s_namespace_rbac="admin")
        assert bad.rc != 0 and "k8s_namespace_rbac" in bad.stdout, bad
        bad = play(collections_path, k8s, k8s_namespace_name="Not_A_Label")
        assert bad.rc != 0 and "k8s_namespace_name" in bad.stdout, bad
    finally:
        for name in (ns_a, ns_b):
            k8s.kubectl("delete", "namespace", name, "--wait=false", check=False)
