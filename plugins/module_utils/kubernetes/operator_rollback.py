# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The last stable spec of a FlinkDeployment, kept for a rollback on the operator platform.

The operator's own rollback (``kubernetes.operator.deployment.rollback.enabled``) is refused by the operator's
validation unless high availability is on, and even then 1.15 rolls back only when it finds high-availability
metadata it recognises (a per-job ConfigMap, not the ``-cluster-config-map`` that is all a session cluster has), or
an application's JobManager never started. So the module rolls back itself, with what the operator offers for it:

- Before a change is applied, the FlinkDeployment is kept as it ran, if the operator reports it STABLE for the
  generation it reconciled (an application's job RUNNING): its spec, labels and this collection's annotations, and
  the config Secret of ``flink_config_secrets`` (in memory only).
- A session cluster's rollback applies that FlinkDeployment again: the operator redeploys the session cluster with
  the old spec, as for any spec change.
- An application's rollback applies it again with ``job.initialSavepointPath`` the state the operator saved in this
  run's upgrade (``status.jobStatus.upgradeSavepointPath``: the savepoint, or the checkpoint of a last-state
  upgrade) and a new ``job.savepointRedeployNonce``: the operator's redeploy from a given savepoint, which cancels
  whatever the failed spec runs and starts the old spec's job from that state, whether the failed job is FAILED or
  its JobManager never started (an ordinary upgrade would wait for an upgradeable job). Without a state saved in
  this run (the operator had not suspended the job yet, or kept it in high-availability metadata only) nothing is
  rolled back: the operator still holds the state, and the run fails as it would without rollback.
  A stateless job's spec is applied again as it is.

The annotations come back with the spec, so the next run with the old spec finds nothing to change
(``initialSavepointPath`` and ``savepointRedeployNonce`` are not part of the spec's hash, and the operator ignores
the former except on a redeploy).
"""

from __future__ import annotations

import copy

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import ApiException, api_error
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.native_snapshot import (
    read_secret, restore_secret)

# This collection's annotations of a FlinkDeployment (the spec's hash and view, the managed-by mark).
OWN_ANNOTATION_PREFIX = "flinkops.org/"
# Returned by keep() for a Secret the module may not read: the rollback leaves it as the failed run wrote it.
UNREADABLE = "unreadable"


def stable(resource, application):
    """Whether the operator reports ``resource`` (a FlinkDeployment as read) as a spec that reached readiness: the
    generation reconciled, lifecycle STABLE, the JobManager deployment READY (an application's job RUNNING)."""
    meta = resource.get("metadata") or {}
    status = resource.get("status") or {}
    if status.get("observedGeneration") is None or status["observedGeneration"] < meta.get("generation", 0):
        return False
    if status.get("lifecycleState") != "STABLE" or status.get("jobManagerDeploymentStatus") != "READY":
        return False
    return not application or (status.get("jobStatus") or {}).get("state") == "RUNNING"


def saved_state(resource):
    """The state the operator restores an upgrade's job from: the savepoint (or the last-state checkpoint) it
    recorded when it stopped the job."""
    job = (resource.get("status") or {}).get("jobStatus") or {}
    return job.get("upgradeSavepointPath") or \
        ((job.get("savepointInfo") or {}).get("lastSavepoint") or {}).get("location")


def kept_body(resource):
    """The FlinkDeployment to apply again: its spec, labels and this collection's annotations, without what the
    server and the operator write."""
    meta = resource.get("metadata") or {}
    annotations = dict((k, v) for k, v in (meta.get("annotations") or {}).items()
                       if k.startswith(OWN_ANNOTATION_PREFIX))
    return {"apiVersion": resource.get("apiVersion"), "kind": resource.get("kind") or "FlinkDeployment",
            "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"),
                         "labels": dict(meta.get("labels") or {}), "annotations": annotations},
            "spec": copy.deepcopy(resource.get("spec") or {})}


def restore_body(kept, failed, savepoint):
    """The body that rolls ``failed`` (the FlinkDeployment as it is now) back to ``kept`` (kept_body of the stable
    one): kept as it was, an application's job redeployed from ``savepoint`` with a savepointRedeployNonce the
    failed spec does not have (None: the job's spec as it was, for a stateless job)."""
    body = copy.deepcopy(kept)
    job = body["spec"].get("job")
    if job is not None and savepoint:
        nonces = [(j or {}).get("savepointRedeployNonce") or 0
                  for j in (job, ((failed or {}).get("spec") or {}).get("job"))]
        job["initialSavepointPath"] = savepoint
        job["savepointRedeployNonce"] = max(nonces) + 1
    return body


def restorable_state(kept, before, failed):
    """What an application's rollback restarts its job from: (True, the state the operator saved in this run's
    upgrade), (True, None) for a stateless job, (False, None) when this run's upgrade saved nothing the module can
    name. ``before`` and ``failed``: the FlinkDeployment as read before the change and now."""
    job = (kept.get("spec") or {}).get("job") or {}
    if job.get("upgradeMode") == "stateless":
        return True, None
    now = saved_state(failed or {})
    if not now or now == saved_state(before or {}):
        return False, None
    return True, now


class OperatorRollback(object):
    """Keeps and restores the last stable FlinkDeployment ``name`` (and its config Secret ``secret_name``)."""

    def __init__(self, api_client, core, namespace, secret_name):
        self.api_client, self.core = api_client, core
        self.namespace, self.secret_name = namespace, secret_name

    def keep(self, resource, application):
        """{"resource", "body", "secret"} of the FlinkDeployment as read before the change, or None when the
        operator does not report it stable (there is nothing to go back to)."""
        if resource is None or not stable(resource, application):
            return None
        try:
            secret = read_secret(self.api_client, self.core, self.namespace, self.secret_name)
        except ApiException as exc:
            if exc.status != 403:
                raise BackendError("reading Secret %s, to roll back to it if the change fails, failed: %s" % (
                    self.secret_name, api_error(exc)), option="rollback",
                    hint="Set rollback false to change it without a way back")
            secret = UNREADABLE
        return {"resource": resource, "body": kept_body(resource), "secret": secret}

    def restore_secret(self, kept):
        if kept["secret"] == UNREADABLE:
            return
        try:
            restore_secret(self.core, self.namespace, self.secret_name, kept["secret"])
        except ApiException as exc:
            raise BackendError("rolling back Secret %s failed: %s" % (self.secret_name, api_error(exc)),
                               option="rollback", hint="Run the module again with the spec that ran before")
