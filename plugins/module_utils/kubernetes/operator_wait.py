# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the operator's status of a FlinkDeployment means to a wait: ready, not yet, or a failure that waiting
cannot cure (platforms/k8s_operator.py and k8s_operator_application.py wait with these)."""

from __future__ import annotations

import time

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.operator_resources import operator_error

# Seconds a JobManager deployment status ERROR may last before the wait fails on it.
ERROR_GRACE = 60
# Seconds a validation error may be seen before the operator has read the applied generation.
VALIDATION_GRACE = 10
# The operator's option: how long a new spec may take to be ready before the operator rolls it back (when its rollback
# is on), and the operator's default.
READINESS_TIMEOUT_KEY = "kubernetes.operator.deployment.readiness.timeout"
READINESS_TIMEOUT_DEFAULT = "5 min, the operator's default"


def readiness_timeout(platform):
    """The readiness timeout the applied spec's flink_config sets (as given), or the operator's default."""
    value = platform.flink_configuration().get(READINESS_TIMEOUT_KEY)
    return str(value) if value not in (None, "") else READINESS_TIMEOUT_DEFAULT


def wait_failure(platform, resource, seen, state, errors, failed_states):
    """Raise when the operator's status says waiting will not help: a lifecycle state of ``failed_states``, a
    validation error of the applied spec (the operator keeps running the last valid one; webhook off) or a
    JobManager deployment ERROR lasting ERROR_GRACE seconds, a pod that cannot start. Adds unschedulable pods to the
    summary. ``errors`` keeps the times of the errors between probes."""
    status = resource.get("status") or {}
    error = operator_error(status)
    now = time.monotonic()
    current = reconciled(resource)
    lifecycle = seen["lifecycle_state"]
    # ROLLED_BACK is this run's only when the operator reconciled a spec since the run's first read (a new
    # reconciliationTimestamp): a rollback of an earlier run stays ROLLED_BACK until the operator takes up the
    # spec this run applied, and may show the new generation as observed before that.
    if lifecycle == "ROLLED_BACK" and reconciled_at(resource) == platform.reconciled_before:
        current = False
    # ERROR can pass (a pod started before its ConfigMap existed: the kubelet mounts it on a retry), and so can a
    # validation error of an earlier spec until the operator has read the new one.
    for key, present in (("deployment", seen["jobmanager_deployment_status"] == "ERROR"),
                         ("validation", "ValidationException" in (status.get("error") or "") and
                          not current)):
        if present:
            errors.setdefault(key, now)
        else:
            errors.pop(key, None)
    hint = "kubectl -n %s describe flinkdeployment %s; the operator's log" % (platform.namespace, platform.cluster_id)
    if "validation" in errors and now - errors["validation"] >= VALIDATION_GRACE:
        raise SpecError("the operator refuses the FlinkDeployment: %s" % error, option="flink_config",
                        hint="Fix the option behind it; the operator keeps running the last valid spec")
    lasting = "deployment" in errors and now - errors["deployment"] >= ERROR_GRACE
    if current and lifecycle == "ROLLED_BACK" and lifecycle in failed_states:
        # The operator's own rollback of the spec this run applied (the module awaits it: roll_back()).
        raise BackendError(
            "the operator rolled FlinkDeployment %s back to its last stable spec: the applied spec was not ready "
            "(JobManager deployment READY, the job RUNNING) within its %s (%s)%s" % (
                platform.cluster_id, READINESS_TIMEOUT_KEY, readiness_timeout(platform),
                ": " + error if error else ""), partial=state,
            hint="Fix what kept it from getting ready (%s), or raise %s in flink_config where it only starts slowly"
                 % (hint, READINESS_TIMEOUT_KEY))
    # A failed state of an earlier generation (the spec a rollback replaces) is not this generation's.
    if (current and lifecycle in failed_states) or lasting:
        raise BackendError("the operator reports FlinkDeployment %s %s: %s" % (
            platform.cluster_id, "JobManager deployment ERROR for %ds" % ERROR_GRACE if lasting else
            lifecycle, error or "no message"), partial=state, hint=hint)
    # The pods of the spec a rollback replaced: the operator deletes them.
    pods = [p for p in platform.cluster_pods() if p.metadata.uid not in platform.failed_pods]
    problem = platform.pod_problem(pods)
    if problem:
        raise BackendError(problem, partial=state, hint="Fix the cause; the FlinkDeployment was left in place")
    for pod in pods:  # a TaskManager the scheduler cannot place (too little CPU or memory, a taint)
        for condition in pod.status.conditions or []:
            if condition.type == "PodScheduled" and condition.status == "False" and condition.message:
                state["summary"] += ", pod %s not scheduled: %s" % (pod.metadata.name, condition.message)


def reconciled_at(resource):
    """When the operator last reconciled a spec of the resource (its reconciliationTimestamp, epoch ms), or None."""
    status = (resource or {}).get("status") or {}
    return (status.get("reconciliationStatus") or {}).get("reconciliationTimestamp")


def ready_states(platform):
    """The lifecycle states a wait accepts as ready, and those that fail it: after the operator's own rollback,
    ROLLED_BACK is the old spec running again."""
    if platform.rolled_back_by_operator:
        return ("STABLE", "ROLLED_BACK"), ("FAILED",)
    return ("STABLE",), ("FAILED", "ROLLED_BACK")


def reconciled(resource):
    """Whether the operator has reconciled the resource's current generation."""
    meta = resource.get("metadata") or {}
    status = resource.get("status") or {}
    return status.get("observedGeneration") is not None and status["observedGeneration"] >= meta.get("generation", 0)
