# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The last stable spec of a native Kubernetes cluster, kept in memory across a recreate, for a rollback.

Native mode cannot create before it removes: the JobManager Deployment, its Services and ConfigMaps are named after
the cluster id, so Flink's client can only create the new cluster once the old one is gone. What the old one was made
of is read before it is deleted: the Deployment (with this collection's spec annotations), the Services and
ConfigMaps it owns (Flink's configuration as the client shipped it, the pod templates) and the cluster's config
Secret (flink_config_secrets). A rollback deletes the failed cluster and creates those objects again, as they were:
the JobManager starts from the same configuration and starts its TaskManagers itself. The Deployment's annotations
come back too, so the next run with the old spec finds nothing to change.

Values stay in memory only (the Secret's included); nothing is written anywhere but back to the API server.
"""

from __future__ import annotations

import copy

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import ApiException, api_error

# Metadata the API server sets; a re-created object must not carry them.
SERVER_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink",
                   "deletionTimestamp", "deletionGracePeriodSeconds")
SERVER_ANNOTATIONS = ("deployment.kubernetes.io/revision",)


def owned_by(obj, uid):
    return any(ref.get("uid") == uid for ref in (obj.get("metadata") or {}).get("ownerReferences") or [])


def clean(obj, owner_uid=None):
    """A copy of a read object (a dict) that can be created again: server fields and status gone, owner references
    pointing at ``owner_uid`` (the re-created Deployment) instead of the deleted one."""
    obj = copy.deepcopy(obj)
    obj.pop("status", None)
    meta = obj.setdefault("metadata", {})
    for key in SERVER_METADATA:
        meta.pop(key, None)
    annotations = meta.get("annotations") or {}
    for key in SERVER_ANNOTATIONS:
        annotations.pop(key, None)
    refs = meta.get("ownerReferences")
    if refs and owner_uid:
        meta["ownerReferences"] = [dict(ref, uid=owner_uid) for ref in refs]
    if obj.get("kind") == "Service":
        spec = obj.get("spec") or {}
        if spec.get("clusterIP") != "None":  # a headless Service stays headless; others get a new address
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
    return obj


def _drop(node, key):
    """Remove Flink key ``key`` from a configuration read from YAML, flat or nested (``a.b: 1`` or ``a: {b: 1}``)."""
    if not isinstance(node, dict):
        return
    node.pop(key, None)
    for part in [k for k in node if isinstance(k, str) and key.startswith(k + ".")]:
        _drop(node[part], key[len(part) + 1:])
        if node[part] == {}:
            del node[part]


def restart_config(file_name, text, settings):
    """Flink's configuration file ``file_name`` (as Flink's client shipped it into the cluster's ConfigMap) with
    ``settings`` (key -> value, None removes the key) changed: the restored JobManager of an application restarting
    its job from other state. config.yaml is standard YAML, flat or nested (read and written with PyYAML, which the
    kubernetes SDK depends on); the legacy flink-conf.yaml is ``key: value`` lines, edited as lines."""
    if file_name == "flink-conf.yaml":
        keys = tuple(settings)
        lines = [line for line in text.splitlines() if not line.split(":", 1)[0].strip() in keys]
        lines += ["%s: %s" % (key, value) for key, value in settings.items() if value is not None]
        return "\n".join(lines) + "\n"
    import yaml  # pylint: disable=import-outside-toplevel
    data = yaml.safe_load(text) or {}
    for key, value in settings.items():
        _drop(data, key)
        if value is not None:
            data[key] = value
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=False)


def restored_summary(snapshot):
    """What a restore puts back, as the ``restored`` return value lists it."""
    return sorted(["deployment %s" % snapshot["deployment"]["metadata"]["name"]] +
                  ["%s %s" % (o["kind"].lower(), o["metadata"]["name"]) for o in snapshot["owned"]])


class NativeSnapshot(object):
    """Read and re-create the objects of native cluster ``cluster_id`` (CoreV1Api ``core``, AppsV1Api ``apps``)."""

    def __init__(self, api_client, core, apps, namespace, cluster_id, secret_name):
        self.api_client, self.core, self.apps = api_client, core, apps
        self.namespace, self.cluster_id, self.secret_name = namespace, cluster_id, secret_name

    def _dict(self, obj, kind, api_version):
        data = self.api_client.sanitize_for_serialization(obj)
        data.setdefault("kind", kind)
        data.setdefault("apiVersion", api_version)
        return data

    def take(self, deployment):
        """The objects of the running cluster whose Deployment is ``deployment`` (the model read by read())."""
        ns, cid = self.namespace, self.cluster_id
        uid = deployment.metadata.uid
        try:
            services = self.core.list_namespaced_service(ns, label_selector="app=%s" % cid).items
            configmaps = self.core.list_namespaced_config_map(ns, label_selector="app=%s" % cid).items
            secret = read_secret(self.api_client, self.core, ns, self.secret_name)
        except ApiException as exc:
            raise BackendError("reading what cluster %s is made of, to roll back to it if the change fails, failed: "
                               "%s" % (cid, api_error(exc)), option="rollback",
                               hint="Set rollback false to change it without a way back")
        owned = [self._dict(s, "Service", "v1") for s in services] + \
                [self._dict(c, "ConfigMap", "v1") for c in configmaps]
        return {"deployment": self._dict(deployment, "Deployment", "apps/v1"),
                "owned": [o for o in owned if owned_by(o, uid)], "secret": secret}

    def restore(self, snapshot):
        """Create the snapshot's objects again (the failed cluster must be gone). Returns what was restored."""
        ns = self.namespace
        done = []
        try:
            restore_secret(self.core, ns, self.secret_name, snapshot["secret"])
            created = self.apps.create_namespaced_deployment(ns, clean(snapshot["deployment"]))
            done.append("deployment %s" % created.metadata.name)
            for obj in snapshot["owned"]:
                body = clean(obj, created.metadata.uid)
                if obj["kind"] == "Service":
                    self.core.create_namespaced_service(ns, body)
                else:
                    self.core.create_namespaced_config_map(ns, body)
                done.append("%s %s" % (obj["kind"].lower(), obj["metadata"]["name"]))
        except ApiException as exc:
            raise BackendError("rolling back cluster %s failed after %s were created again: %s" % (
                self.cluster_id, ", ".join(done) or "none", api_error(exc)), option="rollback",
                hint="Run the module again with the spec that ran before (or fix the change)")
        return restored_summary(snapshot)


def read_secret(api_client, core, namespace, name):
    """Secret ``name`` as a dict for the API (None when there is none); raises the ApiException of any other
    error."""
    try:
        data = api_client.sanitize_for_serialization(core.read_namespaced_secret(name, namespace))
    except ApiException as exc:
        if exc.status != 404:
            raise
        return None
    data.setdefault("kind", "Secret")
    data.setdefault("apiVersion", "v1")
    return data


def restore_secret(core, namespace, name, secret):
    """Put Secret ``name`` back as ``secret`` (read by read_secret) was: created or replaced, or deleted when there
    was none. Raises the ApiException."""
    if secret is None:
        try:
            core.delete_namespaced_secret(name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
        return
    body = clean(secret)
    try:
        core.create_namespaced_secret(namespace, body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        core.replace_namespaced_secret(name, namespace, body)
