"""The module's Kubernetes user in the bad-input catalogue: credentials the API server refuses, a user who may only
read, one who may change the cluster but not its Secrets, one who may do nothing. Each run against a running native
session cluster fails before anything is touched, naming option kubeconfig and what is missing, and the cluster's
objects (uids, generations, pod restarts, labels, ConfigMap data) are exactly as before."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.integration.kubernetes.test_native_session import cluster_id, make_service_account, run, session_args

pytestmark = pytest.mark.kubernetes

# What a user who may change a native cluster needs (kubernetes/rbac.py USER_RIGHTS and the reads), without Secrets.
DEPLOYER_ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "deployer-no-secrets"},
    "rules": [{"apiGroups": ["apps"], "resources": ["deployments"],
               "verbs": ["get", "list", "watch", "create", "patch", "update", "delete"]},
              {"apiGroups": [""], "resources": ["services", "configmaps", "pods", "serviceaccounts"],
               "verbs": ["get", "list", "watch", "create", "patch", "update", "delete"]}]}


def user_kubeconfig(k8s, namespace, account, tmp_path, token=None):
    """A copy of the admin kubeconfig whose user is service account ``account`` (a token of an hour), or ``token``."""
    if token is None:
        token = k8s.kubectl("create", "token", account, "-n", namespace, "--duration=1h").stdout.strip()
    with open(k8s.kubeconfig) as handle:
        config = yaml.safe_load(handle)
    for user in config["users"]:
        user["user"] = {"token": token}
    path = tmp_path / ("%s.kubeconfig" % account)
    path.write_text(yaml.safe_dump(config))
    return str(path)


def cluster_state(k8s, namespace, name):
    """What must not change: every object of the cluster by uid, with its generation and labels, pods' restart
    counts, ConfigMaps' data."""
    state = {}
    for kind in ("deployments", "replicasets", "pods", "services", "configmaps", "secrets"):
        items = k8s.json("get", kind, "-n", namespace, "-l", "app=%s" % name)["items"]
        state[kind] = sorted(json.dumps({
            "uid": i["metadata"]["uid"], "generation": i["metadata"].get("generation"),
            "labels": i["metadata"].get("labels"), "data": i.get("data"),
            "restarts": [c.get("restartCount") for c in (i.get("status") or {}).get("containerStatuses") or []]},
            sort_keys=True) for i in items)
    return state


CASES = {
    # change: the spec the run applies (None: the cluster's own), words: in the message
    "credentials-refused": (None, None, ["does not accept the credentials", "Unauthorized"]),
    "no-rights-at-all": ("nobody", None, ["may not read cluster", "forbidden"]),
    "read-only-user": ("viewer", {"taskmanager": {"memory": "1300m"}},
                       ["may not create deployments.apps", "delete deployments.apps", "create services"]),
    "no-secret-rights": ("deployer", {"flink_config_secrets": {"flinkops.test.secret": "s3cr3t"}},
                         ["may not create secrets, update secrets, delete secrets"]),
}


def test_the_modules_user_without_credentials_or_rights_touches_nothing(k8s, namespace, flink_dist,
                                                                        collections_path, tmp_path):
    make_service_account(k8s, namespace)
    for account in ("nobody", "viewer", "deployer"):
        k8s.kubectl("create", "serviceaccount", account, "-n", namespace)
    k8s.kubectl("create", "rolebinding", "viewer", "--clusterrole=view", "--serviceaccount=%s:viewer" % namespace,
                "-n", namespace)
    k8s.apply(json.dumps(DEPLOYER_ROLE), namespace)
    k8s.kubectl("create", "rolebinding", "deployer", "--role=deployer-no-secrets",
                "--serviceaccount=%s:deployer" % namespace, "-n", namespace)
    name = cluster_id("rights")
    args = session_args(k8s, namespace, name, taskmanager={"replicas": 1})
    assert run(collections_path, args).task("session")["changed"]
    before = cluster_state(k8s, namespace, name)
    assert before["deployments"] and before["pods"], before

    for case, (account, change, words) in sorted(CASES.items()):
        kubeconfig = user_kubeconfig(k8s, namespace, account or "forged", tmp_path,
                                     token=None if account else "forged-token-of-nobody")
        overrides = dict(change or {})
        overrides["taskmanager"] = dict(overrides.get("taskmanager") or {}, replicas=1)
        res = run(collections_path, dict(session_args(k8s, namespace, name, **overrides), kubeconfig=kubeconfig),
                  expect_ok=False)
        out = res.task("session")
        assert res.status("session") == "failed" and out.get("option") == "kubeconfig", (case, out)
        for word in words:
            assert word in out["msg"], (case, word, out["msg"])
        assert cluster_state(k8s, namespace, name) == before, case

    # The cluster's own user still finds nothing to change.
    assert not run(collections_path, args).task("session")["changed"]
