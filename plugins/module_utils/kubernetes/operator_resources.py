# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Flink Kubernetes Operator's custom resources as the API server has them: FlinkDeployments and
FlinkSessionJobs, each summed up by the status fields that say where it is (lifecycleState,
jobManagerDeploymentStatus, the job's state, the operator's error, the generation it reconciled)."""

from __future__ import annotations

import json

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import ApiException, api_error

GROUP = "flink.apache.org"
VERSION = "v1beta1"
API_VERSION = "%s/%s" % (GROUP, VERSION)
PLURALS = {"FlinkDeployment": "flinkdeployments", "FlinkSessionJob": "flinksessionjobs"}

# The operator's own rollback (it needs high availability): where flink_config turns it on for an application, the
# module waits for it and reports it instead of rolling back itself.
OPERATOR_ROLLBACK_KEY = "kubernetes.operator.deployment.rollback.enabled"

__all__ = ["API_VERSION", "GROUP", "OPERATOR_ROLLBACK_KEY", "PLURALS", "VERSION", "list_resources", "operator_error",
           "operator_rolls_back", "summary"]


def operator_rolls_back(flink_configuration):
    """Whether a FlinkDeployment's flinkConfiguration turns the operator's own rollback on."""
    return str((flink_configuration or {}).get(OPERATOR_ROLLBACK_KEY, "false")).strip().lower() == "true"


def operator_error(status):
    """The operator's error of a status as text (it stores a JSON document with type and message), or None."""
    error = (status or {}).get("error")
    if not error:
        return None
    try:
        parsed = json.loads(error)
    except (TypeError, ValueError):
        return str(error)
    if isinstance(parsed, dict):
        return parsed.get("message") or str(parsed)
    return str(parsed)


def summary(obj):
    """What a user and a wait need to know of one FlinkDeployment or FlinkSessionJob (a dict from the API)."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    job = status.get("jobStatus") or {}
    spec = obj.get("spec") or {}
    savepoint = ((job.get("savepointInfo") or {}).get("lastSavepoint") or {}).get("location") or \
        job.get("upgradeSavepointPath")
    out = {
        "kind": obj.get("kind"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "key": "%s %s/%s" % (obj.get("kind"), meta.get("namespace"), meta.get("name")),
        "ref": {"apiVersion": obj.get("apiVersion") or API_VERSION, "kind": obj.get("kind"),
                "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")}},
        "lifecycle_state": status.get("lifecycleState"),
        "job_state": job.get("state"),
        "job_id": job.get("jobId"),
        "last_savepoint": savepoint,
        "error": operator_error(status),
        "generation": meta.get("generation"),
        "reconciled_generation": status.get("observedGeneration"),
    }
    if obj.get("kind") == "FlinkDeployment":
        out["jobmanager_deployment_status"] = status.get("jobManagerDeploymentStatus")
        out["mode"] = "application" if spec.get("job") else "session"
    else:
        out["deployment_name"] = spec.get("deploymentName")
    return out


def list_resources(api_client, namespace=None, deployment=None):
    """{"crds_installed", "deployments", "session_jobs"} in ``namespace`` (every namespace when None); with
    ``deployment``, only that FlinkDeployment and the session jobs that run on it."""
    custom = api_client.custom
    found = {}
    for kind, plural in PLURALS.items():
        try:
            if namespace:
                items = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)["items"]
            else:
                items = custom.list_cluster_custom_object(GROUP, VERSION, plural)["items"]
        except ApiException as exc:
            if exc.status == 404:  # the CRD is not installed: there are none
                return {"crds_installed": False, "deployments": [], "session_jobs": []}
            raise BackendError("listing %ss failed: %s" % (kind, api_error(exc)), option="namespace")
        found[kind] = sorted((summary(dict(item, kind=kind)) for item in items),
                             key=lambda s: (s["namespace"] or "", s["name"] or ""))
    deployments, jobs = found["FlinkDeployment"], found["FlinkSessionJob"]
    if deployment:
        deployments = [d for d in deployments if d["name"] == deployment]
        jobs = [j for j in jobs if j.get("deployment_name") == deployment]
    return {"crds_installed": True, "deployments": deployments, "session_jobs": jobs}
