# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read, plan, save state, apply, wait: the application-cluster flow, the same on every platform.

A change that touches the running job follows its upgrade mode, and the state-saving step (stop with a savepoint,
or finding the latest retained checkpoint) happens before the cluster is touched, so that a failure leaves the old
job running. ``suspended`` stops the job with a savepoint, removes the cluster and keeps a record of the savepoint
(the platform's ``write_record``), from which ``running`` resumes.
"""

from __future__ import annotations

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, FlinkOpsError, SpecError, fail
from ansible_collections.flinkops.flink.plugins.module_utils.flows.cluster import desired_spec
from ansible_collections.flinkops.flink.plugins.module_utils.job import ACTIVE, JobControl
from ansible_collections.flinkops.flink.plugins.module_utils.plan import Action, report_plan
from ansible_collections.flinkops.flink.plugins.module_utils.registry import platform_class


def plan_application(app, actual, record, state, check_mode):
    """(actions, after) for ``state``; sets ``app.restore_from`` for a new JobManager."""
    spec = app.spec
    if state == "absent":
        actions = app.plan(actual, "absent")
        if record is not None:
            actions.append(Action("remove", "state record %s" % app.record_name(), "state is absent", "record"))
        return actions, {}
    if state == "suspended":
        actions = []
        if app.exists(actual):
            actions.append(Action("savepoint", "job of %s" % spec.name, "state is suspended", "job"))
            # the network stays, so that a resume is quick and attached tools keep working
            actions.extend(a for a in app.plan(actual, "absent") if a.role != "network")
        return actions, {"state": "suspended"}
    app.prepare(check_only=check_mode)
    actions = app.plan(actual, "present")
    app.preflight(actions, actual)
    # A new JobManager: recreated (Docker, Kubernetes) or its service updated (Swarm) restarts the job.
    jm_change = next((a for a in actions if a.role == "jobmanager" and a.kind in ("create", "recreate", "update")),
                     None)
    if jm_change is not None and jm_change.kind != "create":
        actions.insert(0, Action("upgrade", "job of %s" % spec.name,
                                 "%s (upgrade_mode %s)" % (jm_change.reason, app.job.upgrade_mode), "job"))
    elif jm_change is not None and record is not None:
        app.restore_from = record.get("savepoint") or None
        actions.insert(0, Action("resume", "job of %s" % spec.name, "from %s" % (app.restore_from or "nothing"), "job"))
    if jm_change is not None and app.restore_from is None and jm_change.kind == "create":
        app.restore_from = app.job.savepoint_path
        if app.job.restore == "required" and not app.restore_from:
            raise SpecError("no savepoint to resume from: the application was not suspended and "
                            "job.savepoint_path is not set", option="job.restore",
                            hint="Set job.savepoint_path, or restore: auto to start without state")
        app.check_path(app.restore_from, "job.savepoint_path" if record is None else "state record")
    if app.params.get("trigger_savepoint"):
        actions.append(savepoint_action(spec.name))
    return actions, dict(app.desired_view(), state="running")


def savepoint_action(name):
    """The on-demand savepoint of trigger_savepoint, taken once the job runs (role ``snapshot``: no platform
    applies it)."""
    return Action("savepoint", "job of %s" % name, "trigger_savepoint is true", "snapshot")


def take_savepoint(app, job_id, timeout, sleep, result):
    if not job_id:
        raise SpecError("the application has no running job to take a savepoint of", option="trigger_savepoint",
                        hint="Set wait true, or run again once the job runs")
    result["savepoint"] = result["last_savepoint"] = app.take_savepoint(job_id, timeout, sleep)


def save_state(app, action, actual, control, timeout, sleep, result):
    """The state-saving step of a job action (savepoint for suspend, the upgrade mode's for an upgrade)."""
    job = app.active_job(actual)
    mode = "savepoint" if action.kind == "savepoint" else app.job.upgrade_mode
    if job is None or job.get("state") not in ACTIVE:
        if action.kind == "savepoint":
            raise SpecError("the application's job is %s, so no savepoint can be taken" % (
                job.get("state") if job else "not running"), option="state",
                hint="Use state absent to remove it, or running to restart it")
        return  # nothing runs: the new JobManager starts fresh (or from job.savepoint_path)
    savepoint_dir = app.job.savepoint_dir if app.job else None
    if mode == "savepoint":
        app.restore_from = control.stop_with_savepoint(job["jid"], savepoint_dir, timeout, sleep,
                                                       option="job.savepoint_dir")
        result["last_savepoint"] = app.restore_from
    elif mode == "last-state":
        app.restore_from = control.cancel_keeping_last_state(job["jid"], "job.upgrade_mode", timeout, sleep)
    if action.kind == "savepoint":
        app.write_record(app.restore_from, job["jid"])


def run_managed(module, app, actual, result):
    """The flow of a platform that runs upgrades and suspend/resume itself (the operator): the platform plans every
    state, applies the new spec and waits until its own controller is done; it keeps the record of a suspended
    application itself (the FlinkDeployment)."""
    params = module.params
    state = params["state"]
    if state != "absent":
        app.prepare(check_only=module.check_mode)
    actions = app.plan(actual, "present" if state == "running" else state)
    app.preflight(actions, actual)
    if state == "running" and params.get("trigger_savepoint"):
        actions.append(savepoint_action(app.spec.name))
    after = {} if state == "absent" else dict(app.desired_view(), state=state)
    report_plan(result, actions, app.before_view(actual), after, module._diff)
    if module.check_mode or state == "absent" and not actions:
        module.exit_json(**result)
    app.apply([a for a in actions if a.role != "snapshot"])
    if state == "absent":
        module.exit_json(**result)
    if params.get("wait") or params.get("trigger_savepoint"):
        try:
            app.read_holds = not actions
            app.wait_ready(params["wait_timeout"], params["wait_sleep"])
        except FlinkOpsError as exc:
            app.read_holds = False
            upgrade = any(a.kind == "upgrade" for a in actions)
            restored = app.roll_back() if upgrade and params.get("rollback", True) else []
            if not restored:
                raise
            roll_back_failed_upgrade(app, exc, restored, result)
        app.settle()
    # What was read before still holds when nothing was applied: no second read.
    described = app.describe(actual if not actions else None)
    result.update(described)
    operator = described.get("operator") or {}
    result["job_id"] = operator.get("job_id")
    result["job_state"] = operator.get("job_state")
    result["savepoint"] = result["last_savepoint"] = operator.get("last_savepoint")
    if params.get("trigger_savepoint"):
        take_savepoint(app, result["job_id"], params["wait_timeout"], params["wait_sleep"], result)
    module.exit_json(**result)


def start(app, actions, record, result):
    """Apply the plan of state running and wait (with ``wait``) until the cluster and its job run."""
    params = app.params
    timeout, sleep = params["wait_timeout"], params["wait_sleep"]
    app.apply([a for a in actions if a.role not in ("job", "record", "snapshot")])
    if record is not None and any(a.role == "jobmanager" for a in actions):
        app.delete_record()
    result["savepoint"] = app.restore_from
    if params.get("wait"):
        app.read_holds = not actions
        try:
            app.wait_ready(timeout, sleep)
        finally:
            app.read_holds = False
    described = app.describe()
    result.update(described)
    jobs = described.get("jobs") or []
    job_id = app.job_id or (jobs[0]["id"] if jobs else None)
    result["job_id"] = job_id
    if job_id and (params.get("wait") or params.get("trigger_savepoint")):
        result["job_state"] = JobControl(app.rest()).wait_running(job_id, timeout, sleep, option="job")
    elif jobs:
        result["job_state"] = jobs[0]["state"]


def roll_back_failed_upgrade(app, exc, restored, result):
    """The upgrade's new spec did not get its job running; the platform has put back the last stable spec with the
    job restarting from the state this run saved (``app.restore_from``). Wait for it and fail, saying both."""
    params = app.params
    result.update(changed=True, rolled_back=True, restored=restored, failure=str(exc), savepoint=app.restore_from)
    try:
        if params.get("wait"):
            app.wait_ready(params["wait_timeout"], params["wait_sleep"])
            result["job_state"] = JobControl(app.rest()).wait_running(
                app.job_id, params["wait_timeout"], params["wait_sleep"], option="job")
        result["job_id"] = app.job_id
    except FlinkOpsError as again:
        raise BackendError("%s; rolled back to the last stable spec (%s) from %s, which did not run either: %s" % (
            exc.message, ", ".join(restored), app.restore_from or "no saved state", again), option=exc.option,
            partial=exc.partial)
    raise BackendError("%s; rolled back to the last stable spec: %s run again, the job from %s" % (
        exc.message, ", ".join(restored), app.restore_from or "no saved state"), option=exc.option, hint=exc.hint,
        partial=exc.partial)


def run_application(module):
    params = module.params
    state = params["state"]
    result = {"changed": False, "actions": [], "changes": []}
    try:
        if params.get("trigger_savepoint") and state != "running":
            raise SpecError("applies to state running (state %s %s)" % (
                state, "takes its own savepoint" if state == "suspended" else "removes the job"),
                option="trigger_savepoint", hint="Remove trigger_savepoint, or use state running")
        platform_cls = platform_class(params, "application")
        spec = desired_spec(module, platform_cls, require_image=state != "absent")
        app = platform_cls(module, spec)
        if state == "rendered":
            result["changed"], result["compose_file_content"] = app.render_files(module.check_mode)
            result["compose_file"] = app.file_path
            module.exit_json(**result)
        actual = app.read()
        if app.manages_upgrades:
            run_managed(module, app, actual, result)
        record = app.read_record()
        timeout, sleep = params["wait_timeout"], params["wait_sleep"]
        before = app.before_view(actual)
        if before and app.has_jobmanager(actual):
            before["state"] = "running"
        elif record is not None:
            before = {"state": "suspended", "savepoint": record.get("savepoint")}

        actions, after = plan_application(app, actual, record, state, module.check_mode)
        report_plan(result, actions, before, after, module._diff,
                    module._diff and app.text_diff(actual, state == "absent"))
        if module.check_mode or not actions and state != "running":
            module.exit_json(**result)

        for action in actions:
            if action.role == "job" and action.kind in ("savepoint", "upgrade") and not app.manages_upgrades:
                save_state(app, action, actual, JobControl(app.rest()), timeout, sleep, result)
        if state != "running":
            try:
                app.apply([a for a in actions if a.role not in ("job", "record", "snapshot")])
            finally:
                app.settle()
            if state == "absent":
                app.delete_record()
            else:
                result["savepoint"] = app.restore_from
            module.exit_json(**result)
        upgrade = any(a.role == "job" and a.kind == "upgrade" for a in actions)
        try:
            start(app, actions, record, result)
        except FlinkOpsError as exc:
            restored = app.roll_back() if upgrade and params.get("rollback", True) else []
            if not restored:
                app.settle()
                raise
            roll_back_failed_upgrade(app, exc, restored, result)
        app.settle()
        if params.get("trigger_savepoint"):
            take_savepoint(app, result["job_id"], timeout, sleep, result)
    except FlinkOpsError as exc:
        fail(module, exc, **result)
    module.exit_json(**result)
