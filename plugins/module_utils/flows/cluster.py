# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read, plan, check, apply, wait: the session-cluster flow, the same on every platform.

Check mode and diff mode come from the same plan that a real run applies.
"""

from __future__ import annotations

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, FlinkOpsError, SpecError, fail
from ansible_collections.flinkops.flink.plugins.module_utils.plan import report_plan
from ansible_collections.flinkops.flink.plugins.module_utils.registry import check_options, platform_class
from ansible_collections.flinkops.flink.plugins.module_utils.spec import ClusterSpec


def desired_spec(module, platform_cls, require_image):
    """The one desired state of the task: options parsed once, with the platform's defaults; warnings shown."""
    check_options(module.params)
    spec = ClusterSpec.from_params(module.params, require_image=require_image,
                                   default_taskmanagers=platform_cls.default_taskmanagers,
                                   standby_jobmanagers=platform_cls.standby_jobmanagers)
    for warning in spec.warnings:
        module.warn(warning)
    return spec


def guard_running_jobs(cluster, actions, actual):
    """A change that restarts the cluster is refused while jobs run, unless disrupt_running_jobs."""
    disruptive = cluster.disruptive(actions)
    if not disruptive or cluster.params.get("disrupt_running_jobs"):
        return
    jobs = cluster.running_jobs(actual)
    if jobs:
        raise SpecError(
            "the change would restart %s while %d job(s) run: %s" % (
                ", ".join(a.target for a in disruptive), len(jobs),
                ", ".join("%s (%s, %s)" % (j.get("name"), j.get("jid"), j.get("state")) for j in jobs)),
            option="disrupt_running_jobs",
            hint="Stop the jobs with a savepoint first (flinkops.flink.flink_job state=suspended), "
                 "or set disrupt_running_jobs=true to restart anyway")


def apply_or_roll_back(module, cluster, actions, result):
    """Apply the plan and wait for readiness. When either fails and ``rollback`` is on, the platform restores the
    containers of the last spec that was ready (platform docker keeps them, stopped, until the new ones are ready),
    waits for them, and the run fails with rolled_back=true and the reason."""
    params = module.params
    present = params["state"] != "absent"
    try:
        cluster.apply(actions)
        if present and params.get("wait"):
            cluster.read_holds = not actions
            cluster.wait_ready(params["wait_timeout"], params["wait_sleep"])
    except FlinkOpsError as exc:
        cluster.read_holds = False
        restored = cluster.roll_back() if present and params.get("rollback", True) else []
        if not restored:
            raise
        result.update(changed=True, rolled_back=True, restored=restored, failure=str(exc))
        try:
            if params.get("wait"):
                cluster.wait_ready(params["wait_timeout"], params["wait_sleep"])
        except FlinkOpsError as again:
            raise BackendError("%s; rolled back to the last stable spec (%s), which did not become ready either: %s"
                               % (exc.message, ", ".join(restored), again), option=exc.option,
                               partial=exc.partial)
        raise BackendError("%s; rolled back to the last stable spec: %s are running again" % (
            exc.message, ", ".join(restored)), option=exc.option, hint=exc.hint, partial=exc.partial)
    cluster.settle()


def run_cluster(module):
    params = module.params
    state = params["state"]
    result = {"changed": False, "actions": [], "changes": []}
    try:
        platform_cls = platform_class(params, "session")
        spec = desired_spec(module, platform_cls, require_image=state != "absent")
        cluster = platform_cls(module, spec)
        if state == "rendered":
            result["changed"], result["compose_file_content"] = cluster.render_files(module.check_mode)
            result["compose_file"] = cluster.file_path
            module.exit_json(**result)
        actual = cluster.read()
        if state != "absent":
            cluster.prepare(check_only=module.check_mode)
        actions = cluster.plan(actual, state)
        if state != "absent":
            cluster.preflight(actions, actual)
        if state == "present":
            guard_running_jobs(cluster, actions, actual)
        before = cluster.before_view(actual)
        after = dict(cluster.desired_view(), state="present") if state != "absent" else {}
        report_plan(result, actions, before, after, module._diff,
                    module._diff and cluster.text_diff(actual, state == "absent"))
        if not module.check_mode:
            apply_or_roll_back(module, cluster, actions, result)
        if state != "absent":
            # What was read before still holds when nothing was applied: no second read.
            result.update(cluster.describe(actual if not actions or module.check_mode else None))
    except FlinkOpsError as exc:
        fail(module, exc, **result)
    module.exit_json(**result)
