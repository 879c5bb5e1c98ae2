# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server-side apply of a list of Kubernetes objects, with a plan that check mode and diff mode share.

Each object is read, then applied with the API server's server-side apply (``dryRun=All`` in check mode, so
the server itself predicts the result: defaults, admission and validation included). An object is changed when
the applied result differs from what was there, leaving out the fields the server maintains itself.
"""

from __future__ import annotations

import copy

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import sdk_client
from ansible_collections.flinkops.flink.plugins.module_utils.wait import wait_for

try:
    # The dynamic client raises the SDK's own ApiException (its NotFoundError and the like derive from it).
    from kubernetes.client.rest import ApiException
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError
except ImportError:  # the module fails first through require_kubernetes
    DynamicClient = None

    class ApiException(Exception):  # type: ignore[no-redef]
        """Stand-in so that except clauses work when the SDK is missing."""

    class NotFoundError(Exception):  # type: ignore[no-redef]
        """Stand-in so that except clauses work when the SDK is missing."""

    class ResourceNotFoundError(Exception):  # type: ignore[no-redef]
        """Stand-in so that except clauses work when the SDK is missing."""

__all__ = ["Applier", "ReadinessWaiter", "object_key", "readiness", "validate_definitions"]

# Maintained by the server: never part of a comparison or a diff.
_SERVER_METADATA = ("resourceVersion", "managedFields", "generation", "creationTimestamp", "uid",
                    "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds")


def object_key(obj):
    meta = obj.get("metadata") or {}
    if meta.get("namespace"):
        return "%s %s/%s" % (obj["kind"], meta["namespace"], meta["name"])
    return "%s %s" % (obj["kind"], meta["name"])


def validate_definitions(definitions, option="definitions"):
    """Each definition needs apiVersion, kind and metadata.name: fail before anything is touched."""
    for index, obj in enumerate(definitions):
        where = "%s[%d]" % (option, index)
        if not isinstance(obj, dict):
            raise SpecError("must be a mapping (a Kubernetes object), got %s" % type(obj).__name__, option=where)
        for field in ("apiVersion", "kind"):
            if not isinstance(obj.get(field), str) or not obj.get(field):
                raise SpecError("%s is missing" % field, option=where, hint="Every object needs apiVersion and kind")
        meta = obj.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta.get("name"):
            raise SpecError("metadata.name is missing", option=where, hint="Every object needs metadata.name")


def _clean(obj):
    if obj is None:
        return None
    obj = copy.deepcopy(obj)
    meta = obj.get("metadata") or {}
    for key in _SERVER_METADATA:
        meta.pop(key, None)
    annotations = meta.get("annotations") or {}
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    if not annotations:
        meta.pop("annotations", None)
    obj.pop("status", None)
    return obj


class Applier(object):
    """Applies (or deletes) objects through one dynamic client."""

    def __init__(self, api_client, field_manager="flinkops", force_conflicts=True, check_mode=False):
        self.client = DynamicClient(sdk_client(api_client))
        self.field_manager = field_manager
        self.force_conflicts = force_conflicts
        self.check_mode = check_mode

    def _resource(self, obj):
        try:
            return self.client.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        except ResourceNotFoundError:
            raise SpecError("the API server has no resource %s of %s" % (obj["kind"], obj["apiVersion"]),
                            option="definitions", hint="Check apiVersion and kind (is the CRD installed?)")

    def _get(self, resource, obj):
        meta = obj["metadata"]
        try:
            return self.client.get(resource, name=meta["name"], namespace=meta.get("namespace")).to_dict()
        except NotFoundError:
            return None
        except ApiException as exc:
            raise BackendError("reading %s: %s" % (object_key(obj), _reason(exc)))

    def current(self, obj):
        """The object as the server has it now (status included), or None."""
        return self._get(self._resource(obj), obj)

    def apply(self, objects):
        """Apply every object in order; returns a list of results (key, action, before, after)."""
        results = []
        planned_namespaces = set()
        for obj in objects:
            resource = self._resource(obj)
            body = copy.deepcopy(obj)
            if resource.namespaced and not body["metadata"].get("namespace"):
                raise SpecError("%s is namespaced: metadata.namespace is missing" % object_key(body),
                                option="definitions")
            before = None if body["metadata"].get("namespace") in planned_namespaces else self._get(resource, body)
            if self.check_mode and before is None and (
                    body["metadata"].get("namespace") in planned_namespaces):
                # The namespace does not exist yet: the server cannot dry-run objects in it.
                after = body
            else:
                try:
                    after = self.client.server_side_apply(
                        resource, body=body, field_manager=self.field_manager,
                        force_conflicts=self.force_conflicts, dry_run="All" if self.check_mode else None).to_dict()
                except ApiException as exc:
                    raise BackendError("applying %s: %s" % (object_key(body), _reason(exc)),
                                       hint=_hint(exc))
            if before is None and self.check_mode and body["kind"] == "Namespace":
                planned_namespaces.add(body["metadata"]["name"])
            before_c, after_c = _clean(before), _clean(after)
            action = "created" if before is None else ("updated" if before_c != after_c else "unchanged")
            results.append({"key": object_key(body), "action": action, "before": before_c, "after": after_c})
        return results

    def delete(self, objects):
        """Delete the objects that exist, in reverse order (namespaced objects before their namespace)."""
        results = []
        for obj in reversed(list(objects)):
            resource = self._resource(obj)
            before = self._get(resource, obj)
            if before is None or (before.get("metadata") or {}).get("deletionTimestamp"):
                # Gone, or already on its way out (a terminating namespace): nothing to do.
                results.append({"key": object_key(obj), "action": "absent", "before": None, "after": None})
                continue
            if not self.check_mode:
                try:
                    self.client.delete(resource, name=obj["metadata"]["name"],
                                       namespace=obj["metadata"].get("namespace"))
                except NotFoundError:
                    pass
                except ApiException as exc:
                    raise BackendError("deleting %s: %s" % (object_key(obj), _reason(exc)), hint=_hint(exc))
            results.append({"key": object_key(obj), "action": "deleted", "before": _clean(before), "after": None})
        return results


def readiness(obj):
    """(ready, summary) of an applied object as the server has it now: a Deployment is ready when its controller
    has seen the new generation and every replica is updated and available (its pods' startup and readiness probes
    passed); a CustomResourceDefinition when it is Established; anything else at once."""
    kind = obj.get("kind")
    status = obj.get("status") or {}
    if kind == "Deployment":
        want = (obj.get("spec") or {}).get("replicas", 1)
        seen = status.get("observedGeneration", 0) >= (obj.get("metadata") or {}).get("generation", 0)
        updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
        ready = seen and updated == want and available == want and status.get("replicas", 0) == want
        return ready, "%s/%s replicas updated, %s available" % (updated, want, available)
    if kind == "CustomResourceDefinition":
        established = any(c.get("type") == "Established" and c.get("status") == "True"
                          for c in status.get("conditions") or [])
        return established, "established" if established else "not established yet"
    return True, "applied"


class ReadinessWaiter(object):
    """Waits until every applied Deployment and CRD is ready (see readiness())."""

    KINDS = ("Deployment", "CustomResourceDefinition")

    def __init__(self, applier):
        self.applier = applier

    def wait(self, objects, timeout, sleep):
        pending = [o for o in objects if o.get("kind") in self.KINDS]
        if not pending:
            return {}

        def probe():
            state = {}
            for obj in pending:
                current = self.applier.current(obj)
                ready, summary = readiness(current) if current else (False, "missing")
                state[object_key(obj)] = summary
                if not ready:
                    if current and obj.get("kind") == "Deployment":
                        self.fail_on_broken_pods(current, state)
                    return False, {"summary": "; ".join("%s: %s" % kv for kv in state.items()), "objects": state}
            return True, {"objects": state}

        return wait_for(probe, timeout, sleep, "the applied objects to be ready")["objects"]

    def fail_on_broken_pods(self, deployment, state):
        """Fail at once when a pod of the Deployment waits for something waiting does not cure (an image that
        cannot be pulled, a container that keeps crashing), with the container's last log lines."""
        meta = deployment.get("metadata") or {}
        labels = (((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})
        if not labels:
            return
        selector = ",".join("%s=%s" % kv for kv in sorted(labels.items()))
        resources = self.applier.client.resources
        # Only the pods of the Deployment's current revision: an old pod may still crash during a roll-out.
        revision = (meta.get("annotations") or {}).get("deployment.kubernetes.io/revision")
        sets = resources.get(api_version="apps/v1", kind="ReplicaSet").get(
            namespace=meta.get("namespace"), label_selector=selector).to_dict().get("items") or []
        current = [((r.get("metadata") or {}).get("labels") or {}).get("pod-template-hash") for r in sets
                   if ((r.get("metadata") or {}).get("annotations") or {}).get(
                       "deployment.kubernetes.io/revision") == revision]
        if not revision or not current:
            return  # the controller has not made the revision's ReplicaSet yet
        selector += ",pod-template-hash=%s" % current[0]
        pods = resources.get(api_version="v1", kind="Pod").get(
            namespace=meta.get("namespace"), label_selector=selector).to_dict().get("items") or []
        for pod in pods:
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                waiting = (status.get("state") or {}).get("waiting") or {}
                reason = waiting.get("reason")
                if reason not in BROKEN_POD_REASONS or (reason == "CrashLoopBackOff" and status.get("restartCount", 0) < 2):
                    continue
                tail = ""
                if reason == "CrashLoopBackOff":
                    try:
                        import kubernetes
                        tail = kubernetes.client.CoreV1Api(self.applier.client.client).read_namespaced_pod_log(
                            pod["metadata"]["name"], meta.get("namespace"), container=status.get("name"),
                            previous=True, tail_lines=20)
                    except ApiException:
                        tail = ""
                raise BackendError("pod %s of %s: container %s is %s: %s%s" % (
                    pod["metadata"]["name"], object_key(deployment), status.get("name"), reason,
                    waiting.get("message") or "", ("; its last log lines:\n" + tail) if tail else ""),
                    partial={"objects": state}, hint="Fix the cause and run again; the objects were left in place")


# Reasons a container waits for that waiting does not cure.
BROKEN_POD_REASONS = ("CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName",
                      "CreateContainerConfigError", "CreateContainerError")


def _reason(exc):
    body = getattr(exc, "body", None)
    summary = getattr(exc, "summary", None)
    if callable(summary):
        try:
            return summary()
        except (TypeError, ValueError, AttributeError):
            pass
    return "%s %s %s" % (getattr(exc, "status", ""), getattr(exc, "reason", ""), body or "")


def _hint(exc):
    if getattr(exc, "status", None) == 403:
        return "The user of the kubeconfig may not do this: it needs rights on these objects (RBAC)"
    if getattr(exc, "status", None) == 409:
        return "Another field manager owns these fields; set force_conflicts=true to take them over"
    return None
