# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read, plan, check, apply, wait: the one flow every cluster module follows on every platform.

Check mode and diff mode come from the same plan that a real run applies.
"""

from __future__ import annotations

from ansible_collections.flinkops.flink.plugins.module_utils.errors import FlinkOpsError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.k8s_options import check_platform_options
from ansible_collections.flinkops.flink.plugins.module_utils.spec import ClusterSpec


def fail(module, exc, **result):
    result.update(exc.partial and {"partial": exc.partial} or {})
    if exc.option:
        result["option"] = exc.option
    module.fail_json(msg=str(exc), **result)


def run_cluster(module, platform_cls):
    params = module.params
    state = params["state"]
    result = {"changed": False, "actions": [], "changes": []}
    try:
        check_platform_options(params)
        spec = ClusterSpec.from_params(params, require_image=state != "absent")
        for warning in spec.warnings:
            module.warn(warning)
        cluster = platform_cls(module, spec)
        actual = cluster.read()
        if state != "absent":
            cluster.image_id(check_only=module.check_mode)
        actions = cluster.plan(actual, state)
        if state != "absent":
            cluster.preflight(actions, actual)
        disruptive = cluster.disruptive(actions)
        if disruptive and state == "present" and not params.get("disrupt_running_jobs"):
            jobs = cluster.running_jobs(actual)
            if jobs:
                raise SpecError(
                    "the change would restart %s while %d job(s) run: %s" % (
                        ", ".join(a.target for a in disruptive), len(jobs),
                        ", ".join("%s (%s, %s)" % (j.get("name"), j.get("jid"), j.get("state")) for j in jobs)),
                    option="disrupt_running_jobs",
                    hint="Stop the jobs with a savepoint first (flinkops.flink.flink_job state=suspended), "
                         "or set disrupt_running_jobs=true to restart anyway")
        before = cluster.before_view(actual)
        after = dict(cluster.desired_view(), state="present") if state != "absent" else {}
        result["actions"] = [a.as_dict() for a in actions]
        result["changes"] = [a.describe() for a in actions]
        result["changed"] = bool(actions)
        if module._diff:
            result["diff"] = {"before": before, "after": after}
        if not module.check_mode:
            cluster.apply(actions)
            if state != "absent" and params.get("wait"):
                cluster.wait_ready(params["wait_timeout"], params["wait_sleep"])
        if state != "absent":
            # What was read before still holds when nothing was applied: no second read.
            result.update(cluster.describe(actual if not actions or module.check_mode else None))
    except FlinkOpsError as exc:
        fail(module, exc, **result)
    module.exit_json(**result)
