# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The session-job flow (flink_job): find the cluster's REST API on its platform, plan the job's action, apply it
with the state-saving step its upgrade mode asks for, wait until the job runs. A FlinkSessionJob of the operator
(platform kubernetes, mode operator) has a flow of its own: the operator does the job's work there."""

from __future__ import annotations

from ansible_collections.flinkops.flink.plugins.module_utils.errors import FlinkOpsError, SpecError, fail
from ansible_collections.flinkops.flink.plugins.module_utils.job import TERMINAL, JobSpec, SessionJob
from ansible_collections.flinkops.flink.plugins.module_utils.registry import find_rest_client, require_sdk
from ansible_collections.flinkops.flink.plugins.module_utils.rest import FlinkRest


def _state_word(job):
    if job is None:
        return "none"
    state = job.get("state")
    if state in ("RUNNING", "CREATED", "INITIALIZING", "RESTARTING", "RECONCILING"):
        return "running"
    return state.lower() if state else "none"


def run_operator_job(module):
    """A FlinkSessionJob on a session FlinkDeployment (platform kubernetes, mode operator): the operator fetches the
    jar, submits, upgrades and suspends the job; the module plans, applies the resource and waits on its status."""
    params = module.params
    state = params["state"]
    result = {"changed": False, "action": None}
    try:
        if params.get("job_id"):
            raise SpecError("does not apply with mode operator: a FlinkSessionJob is its own job", option="job_id",
                            hint="Remove it; to take over a job submitted otherwise, use mode native or rest_url")
        require_sdk(module, params)
        from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.operator_resources import summary
        from ansible_collections.flinkops.flink.plugins.module_utils.platforms.k8s_operator_job import (
            OperatorJobSpec, OperatorSessionJob)
        job = OperatorSessionJob(module, OperatorJobSpec(params))
        actual = job.read()
        actions = job.plan(actual, state)
        job.preflight(actions)
        if actions:
            result.update(action=actions[0].kind, reason=actions[0].reason, changed=True)
        if module._diff:
            before = job.before_view(actual)
            result["diff"] = {"before": before, "after": job.desired_view(state) if actions else before}
        if module.check_mode or state == "absent":
            if actions and not module.check_mode:
                job.apply(actions)
            module.exit_json(**result)
        job.apply(actions)
        if params["wait"]:
            seen = job.wait(state)
        else:
            seen = summary(job.read()["job"] or {})
        result.update(job_id=seen.get("job_id"), job_state=seen.get("job_state"),
                      operator=dict((k, seen.get(k)) for k in ("lifecycle_state", "job_state", "job_id",
                                                               "last_savepoint", "error", "generation",
                                                               "reconciled_generation")))
        if state == "suspended" or any(a.kind in ("upgrade", "resume") for a in actions):
            result["savepoint"] = seen.get("last_savepoint")
        if any(a.kind == "savepoint" for a in actions):
            result["savepoint"], result["snapshot"] = job.take_savepoint()
    except FlinkOpsError as exc:
        fail(module, exc, **result)
    module.exit_json(**result)


def _check_platform_options(params):
    kubernetes = params.get("platform") == "kubernetes"
    if params.get("labels"):
        raise SpecError("applies to platform kubernetes mode operator only", option="labels",
                        hint="Remove it, or set platform=kubernetes and mode=operator")
    for option in ("mode", "namespace"):
        if params.get(option) and not kubernetes:
            raise SpecError("applies to platform kubernetes only", option=option,
                            hint="Remove it, or set platform=kubernetes")


def run_job(module):
    params = module.params
    if params.get("platform") == "kubernetes" and params.get("mode") == "operator":
        run_operator_job(module)
        return
    result = {"changed": False, "action": None}
    try:
        _check_platform_options(params)
        spec = JobSpec(params)
        if params["rest_url"]:
            rest = FlinkRest(params["rest_url"], validate_certs=params["validate_certs"])
        else:
            require_sdk(module, params)
            rest = find_rest_client(params, params["cluster"])
        result["rest_url"] = rest.base_url
        timeout, sleep = params["wait_timeout"], params["wait_sleep"]
        rest.wait_up(timeout if params["wait"] else 0, sleep)

        job = SessionJob(module, rest, spec)
        control = job.control
        (action, reason), current, start_from = job.plan(params["state"])
        if params["state"] == "absent" and action is None and job.own_jars():
            action, reason = "delete-jars", "the job's uploaded jars are still on the cluster"
        result.update(action=action, reason=reason, changed=action is not None)
        if current:
            result.update(job_id=current["jid"], job_state=current.get("state"))
        if module._diff:
            before = {"state": "none"}
            if current and not job.is_own(current):
                before = {"job_id": current["jid"], "submitted_outside": True, "state": _state_word(current)}
            elif current:
                before = dict(job.running_view(current) or {"spec_hash": job.running_hash(current)},
                              state=_state_word(current))
            after = dict(spec.view(), state=params["state"]) if params["state"] == "running" else {"state": params["state"]}
            result["diff"] = {"before": before, "after": before if action is None else after}
        if params["state"] == "running":
            result["jar_id"] = job.jar_id(upload=False)[0]
        if module.check_mode or action is None:
            if action is None and params["state"] == "running" and params["wait"] and current:
                result["job_state"] = control.wait_running(current["jid"], timeout, sleep)
            module.exit_json(**result)

        if action == "cancel":
            result["job_state"] = control.cancel(current["jid"], timeout, sleep)
        elif action == "suspend":
            result["savepoint"] = control.stop_with_savepoint(current["jid"], spec.savepoint_dir, timeout, sleep)
            # The state the job ended in, as Flink reports it (FINISHED after a stop-with-savepoint, unless it
            # failed or was cancelled while stopping).
            result["job_state"] = control.wait_state(current["jid"], TERMINAL, timeout, sleep)
        elif action == "savepoint":
            result["savepoint"] = control.trigger_savepoint(current["jid"], spec.savepoint_dir, timeout, sleep)
        elif action in ("submit", "resume", "upgrade"):
            savepoint = start_from
            if action == "upgrade":
                if spec.upgrade_mode == "savepoint":
                    savepoint = control.stop_with_savepoint(current["jid"], spec.savepoint_dir, timeout, sleep)
                    result["last_savepoint"] = savepoint
                elif spec.upgrade_mode == "last-state":
                    savepoint = control.cancel_keeping_last_state(current["jid"], "upgrade_mode", timeout, sleep)
                else:
                    control.cancel(current["jid"], timeout, sleep)
            job_id, jar_id = job.submit(savepoint_path=savepoint)
            result.update(job_id=job_id, jar_id=jar_id, job_state="SUBMITTED", savepoint=savepoint)
            if params["wait"]:
                result["job_state"] = control.wait_running(job_id, timeout, sleep)
        if params["state"] == "absent":
            for jar in job.own_jars():
                rest.delete_jar(jar["id"])
    except FlinkOpsError as exc:
        fail(module, exc, **result)
    module.exit_json(**result)
