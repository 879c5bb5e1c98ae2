# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only facts about a Flink cluster and its jobs, from the REST API."""

from __future__ import annotations

from ansible_collections.flinkops.flink.plugins.module_utils.errors import FlinkOpsError, SpecError, fail
from ansible_collections.flinkops.flink.plugins.module_utils.registry import find_rest_client, require_sdk
from ansible_collections.flinkops.flink.plugins.module_utils.rest import FlinkRest


def gather(rest, include_config=True, include_jobs=True):
    overview = rest.overview()
    facts = {
        "rest_url": rest.base_url,
        "flink_version": overview.get("flink-version"),
        "flink_commit": overview.get("flink-commit"),
        "overview": {
            "taskmanagers": overview.get("taskmanagers"),
            "slots_total": overview.get("slots-total"),
            "slots_available": overview.get("slots-available"),
            "jobs_running": overview.get("jobs-running"),
            "jobs_finished": overview.get("jobs-finished"),
            "jobs_cancelled": overview.get("jobs-cancelled"),
            "jobs_failed": overview.get("jobs-failed"),
        },
        "taskmanagers": [{
            "id": tm.get("id"),
            "slots": tm.get("slotsNumber"),
            "free_slots": tm.get("freeSlots"),
            "data_port": tm.get("dataPort"),
            "path": tm.get("path"),
            "physical_memory": (tm.get("hardware") or {}).get("physicalMemory"),
            "cpu_cores": (tm.get("hardware") or {}).get("cpuCores"),
        } for tm in rest.taskmanagers()],
    }
    if include_config:
        # Flink masks the values of sensitive keys (passwords, secrets) itself.
        facts["config"] = rest.jobmanager_config()
    if include_jobs:
        facts["jobs"] = [{
            "id": job.get("jid"),
            "name": job.get("name"),
            "state": job.get("state"),
            "start_time": job.get("start-time"),
            "end_time": job.get("end-time"),
            "duration": job.get("duration"),
            "tasks": job.get("tasks"),
        } for job in rest.jobs()]
    return facts


def kubernetes_facts(module):
    """flink_info on Kubernetes: REST through the API server's proxy to the cluster's ``<name>-rest`` Service
    (native and operator clusters have one), and in operator mode the FlinkDeployments and FlinkSessionJobs."""
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import k8s_api_client
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.options import connection_params
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.proxy_rest import K8sProxyRest
    params = module.params
    api_client = k8s_api_client(connection_params(params))
    facts = {}
    if params["mode"] == "operator":
        from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.operator_resources import (
            list_resources)
        facts.update(list_resources(api_client, params["namespace"], params["name"]))
    if params["name"] or params["rest_url"]:
        rest = FlinkRest(params["rest_url"], validate_certs=params["validate_certs"]) if params["rest_url"] else \
            K8sProxyRest(api_client, params["namespace"] or "default", params["name"] + "-rest")
        if params["wait"]:
            rest.wait_up(params["wait_timeout"], 0.5)
        facts.update(gather(rest, include_config=params["include_config"], include_jobs=params["include_jobs"]))
    return facts


def run_info(module):
    """flink_info: find the cluster's REST API on its platform and gather the facts (changes nothing)."""
    params = module.params
    try:
        if params["platform"] == "kubernetes":
            require_sdk(module, params)
            if not (params["name"] or params["rest_url"] or params["mode"] == "operator"):
                raise SpecError("name or rest_url is required", option="name",
                                hint="Give the cluster's name (or mode=operator to list the operator's resources)")
            module.exit_json(changed=False, **kubernetes_facts(module))
        if params["mode"] or params["namespace"]:
            raise SpecError("mode and namespace apply to platform kubernetes only", option="mode",
                            hint="Leave them out on platform %s" % params["platform"])
        if params["rest_url"]:
            rest = FlinkRest(params["rest_url"], validate_certs=params["validate_certs"])
        else:
            if not params["name"]:
                raise SpecError("name or rest_url is required", option="name", hint="Give the cluster's name")
            require_sdk(module, params)
            rest = find_rest_client(params, params["name"])
        if params["wait"]:
            rest.wait_up(params["wait_timeout"], 0.5)
        facts = gather(rest, include_config=params["include_config"], include_jobs=params["include_jobs"])
    except FlinkOpsError as exc:
        fail(module, exc)
    module.exit_json(changed=False, **facts)
