# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An on-demand savepoint of a job the Flink Kubernetes Operator runs: a FlinkStateSnapshot.

The module creates a FlinkStateSnapshot of its own name (``<resource>-savepoint-<UTC time>``) that references the
FlinkDeployment or FlinkSessionJob, and waits until the operator reports it COMPLETED; its ``status.path`` is the
savepoint. The snapshot carries the referenced resource's labels (an operator that selects resources by label then reconciles
it as it does the resource). It names the savepoint directory only when one is given (else the operator uses the job's
``execution.checkpointing.savepoint-dir``), and never disposes of the savepoint when the resource is deleted: it is
the record of the savepoint, left in place like the savepoints the operator takes for upgrades.
Asking for a savepoint by name rather than by ``savepointTriggerNonce`` tells this trigger's result apart from
every other savepoint of the job (periodic, upgrade) without comparing nonces in the status.
"""

from __future__ import annotations

import time

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import ApiException, api_error
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.operator_resources import GROUP, PLURALS, VERSION
from ansible_collections.flinkops.flink.plugins.module_utils.wait import wait_for

PLURAL = "flinkstatesnapshots"
# Seconds without a status after which the wait's summary asks whether the operator watches the snapshot.
UNSEEN_HINT = 30
FAILED = ("FAILED", "ABANDONED")


def snapshot_name(resource_name, now=None):
    """``<resource>-savepoint-<UTC time to the second>``, cut to a valid object name."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now if now is not None else time.time()))
    return "%s-savepoint-%s" % (resource_name[:253 - len("-savepoint-") - 15].rstrip("-"), stamp)


def snapshot_body(namespace, kind, resource_name, savepoint_dir=None, now=None, labels=None):
    """The FlinkStateSnapshot; ``labels`` are those of the referenced resource, so that an operator selecting
    resources by label (kubernetes.operator.label.selector) reconciles the snapshot as it does the resource."""
    savepoint = {"disposeOnDelete": False, "formatType": "CANONICAL", "alreadyExists": False}
    if savepoint_dir:
        savepoint["path"] = savepoint_dir
    return {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "FlinkStateSnapshot",
            "metadata": {"name": snapshot_name(resource_name, now), "namespace": namespace,
                         "labels": dict(labels or {}, **{"app.kubernetes.io/managed-by": "flinkops"})},
            "spec": {"jobReference": {"kind": kind, "name": resource_name}, "savepoint": savepoint}}


def take_savepoint(custom, namespace, kind, resource_name, savepoint_dir, timeout, sleep, option="trigger_savepoint"):
    """Create the FlinkStateSnapshot and wait for its path. FAILED or ABANDONED (the job was not running) fail with
    the operator's message; the snapshot resource is left for the user to read."""
    try:
        referenced = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURALS[kind], resource_name)
    except ApiException as exc:
        raise BackendError("reading %s %s/%s failed: %s" % (kind, namespace, resource_name, api_error(exc)))
    body = snapshot_body(namespace, kind, resource_name, savepoint_dir,
                         labels=(referenced.get("metadata") or {}).get("labels"))
    name = body["metadata"]["name"]
    started = time.monotonic()
    try:
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    except ApiException as exc:
        if exc.status == 404:
            raise SpecError("the operator's FlinkStateSnapshot CRD is not installed", option=option,
                            hint="Install or upgrade the operator with role flinkops.flink.operator (1.10 or newer "
                                 "has the CRD), or suspend the job (state suspended) for a savepoint")
        raise BackendError("creating FlinkStateSnapshot %s/%s failed: %s" % (namespace, name, api_error(exc)))

    def probe():
        try:
            snap = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        except ApiException as exc:
            raise BackendError("reading FlinkStateSnapshot %s/%s failed: %s" % (namespace, name, api_error(exc)))
        status = snap.get("status") or {}
        state = status.get("state") or "not seen by the operator yet"
        if not status.get("state") and time.monotonic() - started > UNSEEN_HINT:
            state += (" after %ds (does the operator watch namespace %s, and does its label selector select the "
                      "labels of %s %s?)" % (UNSEEN_HINT, namespace, kind, resource_name))
        if state in FAILED:
            raise BackendError("the savepoint of %s %s is %s: %s" % (
                kind, resource_name, state, status.get("error") or "no message"), option=option,
                hint="kubectl -n %s describe flinkstatesnapshot %s (ABANDONED: the job was not running)" % (
                    namespace, name))
        return state == "COMPLETED" and bool(status.get("path")), {
            "summary": "FlinkStateSnapshot %s %s" % (name, state), "path": status.get("path"), "name": name}

    seen = wait_for(probe, timeout, sleep, "FlinkStateSnapshot %s/%s to complete" % (namespace, name))
    return seen["path"], name
