# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An application cluster run by the Flink Kubernetes Operator: the spec as a FlinkDeployment with a ``job``.

The operator runs the upgrades itself (``manages_upgrades``): a changed spec is applied as it is, and the operator
stops the job the way ``job.upgrade_mode`` says (savepoint: stop with a savepoint; last-state: from the latest
checkpoint, through the high-availability metadata when there is some, else by cancelling the job and taking the
checkpoint it last saw; stateless: cancel), deploys the new spec and starts the job from that state. ``suspended``
is ``job.state: suspended`` with upgradeMode savepoint (the operator stops the job with a savepoint; the
FlinkDeployment stays as the record of the savepoint, and in native mode the operator 1.15 keeps the JobManager,
idle with its job FINISHED and no TaskManagers, until the resume redeploys); ``running`` resumes from it. The waits follow
the operator's status: lifecycle STABLE with the job RUNNING, or SUSPENDED; FAILED, ROLLED_BACK, a validation error
or a lasting JobManager deployment ERROR fail them with the operator's message.
"""

from __future__ import annotations

from ansible_collections.flinkops.flink.plugins.module_utils.application_job import JAR_SCHEMES, RETENTION_KEY, ApplicationJob
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError, WaitTimeout
from ansible_collections.flinkops.flink.plugins.module_utils.job import ACTIVE
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.operator_resources import (
    OPERATOR_ROLLBACK_KEY, summary)
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.state_snapshot import take_savepoint
from ansible_collections.flinkops.flink.plugins.module_utils.plan import Action, changed_fields
from ansible_collections.flinkops.flink.plugins.module_utils.platform import ApplicationPlatform
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.operator_wait import (
    READINESS_TIMEOUT_KEY, ready_states, reconciled, reconciled_at, wait_failure)
from ansible_collections.flinkops.flink.plugins.module_utils.platforms.k8s_operator import (
    ANNOTATION_HASH, OPERATOR_FIELDS, K8sOperatorCluster, rollback_utils)
from ansible_collections.flinkops.flink.plugins.module_utils.wait import wait_for

SAVEPOINT_DIR_KEYS = ("execution.checkpointing.savepoint-dir", "state.savepoints.dir")


class OperatorApplicationJob(ApplicationJob):
    """The job, with the jar locations and the upgrade rules of the operator."""

    fetches_artifacts = True

    def __init__(self, params, spec):
        job = dict(params.get("job") or {})
        jar = job.get("jar")
        super(OperatorApplicationJob, self).__init__(dict(params, job=dict(job, jar=None)), spec, True)
        scheme = jar.split("://", 1)[0] if jar and "://" in jar else None
        if not jar or scheme not in JAR_SCHEMES:
            raise SpecError("%s: the operator's JobManager fetches the jar itself" % (
                "is required with mode operator" if not jar else "%r is not a URL it can read" % jar),
                option="job.jar",
                hint="Give local:///opt/flink/usrlib/<job>.jar (in the image or a volume of pod_template), an "
                     "http(s) URL, or a file system Flink has a plugin for (s3://, hdfs://); a jar on the controller "
                     "needs mode native, which uploads it")
        if job.get("job_id"):
            raise SpecError("the operator chooses the job ids of a FlinkDeployment", option="job.job_id",
                            hint="Remove it: the result's job_id is the id the operator gave the job")
        self.jar = jar
        self.check_fetched(jar, spec.flink_config, spec.version)
        config = dict(spec.flink_config)
        if self.upgrade_mode == "savepoint" and not self.savepoint_dir and not any(
                config.get(k) for k in SAVEPOINT_DIR_KEYS):
            raise SpecError("the operator stops the job with a savepoint for every upgrade and for suspend, and no "
                            "savepoint directory is set", option="job.savepoint_dir",
                            hint="Set job.savepoint_dir (a directory every JobManager pod writes: s3://..., a shared "
                                 "volume), or upgrade_mode stateless")
        if self.upgrade_mode != "stateless" and not any(config.get(k) for k in ("execution.checkpointing.dir",
                                                                                "state.checkpoints.dir")):
            raise SpecError("the operator refuses upgrade_mode %s without a checkpoint directory" % self.upgrade_mode,
                            option="job.upgrade_mode",
                            hint="Set execution.checkpointing.dir in flink_config, or upgrade_mode stateless")


class K8sOperatorApplication(K8sOperatorCluster, ApplicationPlatform):
    """An application cluster as a FlinkDeployment with a job."""

    kind = "application"
    manages_upgrades = True
    applying_kinds = ("create", "upgrade", "resume", "savepoint")

    def __init__(self, module, spec):
        super(K8sOperatorApplication, self).__init__(module, spec)
        self._retry = False  # the plan tries a spec the operator rolled back again
        if module.params.get("state") != "absent":
            self.job = OperatorApplicationJob(module.params, spec)

    def extra_view(self):
        view = super(K8sOperatorApplication, self).extra_view()
        if self.job is not None:
            view["job"] = self.job.view()
        return view

    # Actual state -------------------------------------------------------------------------------
    @staticmethod
    def job_state(actual):
        """The job's state in the FlinkDeployment's spec (running, suspended), None without one."""
        resource = actual.get("flinkdeployment")
        return (((resource or {}).get("spec") or {}).get("job") or {}).get("state")

    def before_view(self, actual):
        view = super(K8sOperatorApplication, self).before_view(actual)
        if view:
            view["state"] = "suspended" if self.job_state(actual) == "suspended" else "running"
        return view

    # Desired state ------------------------------------------------------------------------------
    def flink_settings(self):
        conf = self.job.flink_settings("jobmanager", super(K8sOperatorApplication, self).flink_settings())
        self.job.artifact_settings(conf)
        conf.pop("parallelism.default", None)  # the job's parallelism is the FlinkDeployment's job.parallelism
        if self.job.savepoint_dir:
            conf["execution.checkpointing.savepoint-dir"] = self.job.savepoint_dir
        if self.job.upgrade_mode != "stateless":
            # Without high availability the operator runs a last-state upgrade by cancelling the job and starting
            # from its latest checkpoint: that checkpoint must outlive the cancel, whatever mode the job started in.
            conf.setdefault(RETENTION_KEY, "RETAIN_ON_CANCELLATION")
        return conf

    def resource(self, restart_nonce=None, job_state="running"):
        body = super(K8sOperatorApplication, self).resource(restart_nonce)
        job = self.job
        spec = {"jarURI": job.jar, "entryClass": job.entry_class, "args": list(job.args),
                # suspend is always with a savepoint (as on every platform); the resume then starts from it
                "upgradeMode": "savepoint" if job_state == "suspended" else job.upgrade_mode,
                "state": job_state, "allowNonRestoredState": job.allow_non_restored_state}
        # The operator needs a parallelism; Flink's own default is parallelism.default, 1 when not set.
        spec["parallelism"] = job.parallelism or int(self.spec.flink_config.get("parallelism.default") or 1)
        if job.savepoint_path:
            spec["initialSavepointPath"] = job.savepoint_path
        body["spec"]["job"] = spec
        return body

    # Plan ---------------------------------------------------------------------------------------
    def plan(self, actual, state):
        if state == "absent":
            return super(K8sOperatorApplication, self).plan(actual, "absent")
        target = "flinkdeployment %s" % self.cluster_id
        if state == "suspended" and actual["flinkdeployment"] is None:
            return []
        resource = self.own_resource(actual)
        if resource is None:
            return [Action("create", target, "missing", "jobmanager")]
        annotations = self._resource_annotations(actual)
        if not (resource.get("spec") or {}).get("job"):
            raise SpecError("FlinkDeployment %s is a session cluster" % self.cluster_id, option="name",
                            hint="Remove it with flink_session state=absent, or choose another name")
        current = self.job_state(actual)
        fields = changed_fields(self.before_view(actual), self.desired_view())
        if state == "suspended":
            if current == "suspended":
                return []
            return [Action("savepoint", target, "state is suspended: the operator stops the job with a savepoint",
                           "jobmanager")]
        if current == "suspended":
            savepoint = summary(resource)["last_savepoint"]
            reason = "from %s" % (savepoint or "the operator's last savepoint")
            if fields:
                reason += ", changed: %s" % ", ".join(fields)
            return [Action("resume", target, reason, "jobmanager")]
        if annotations.get(ANNOTATION_HASH) != self.spec_hash():
            return [Action("upgrade", target, "changed: %s (upgrade_mode %s, run by the operator)" % (
                ", ".join(fields) or "spec", self.job.upgrade_mode), "jobmanager")]
        if summary(resource)["lifecycle_state"] == "ROLLED_BACK":
            # The operator's own rollback put its last stable spec back and keeps this one unapplied: the same
            # spec is tried again (a new restartNonce), as a re-run after the module's own rollback would.
            self._retry = True
            return [Action("upgrade", target, "the operator rolled this spec back to its last stable one: tried "
                                              "again (restartNonce)", "jobmanager")]
        return []

    # Apply --------------------------------------------------------------------------------------
    def dry_run(self, actual):
        self._dry_run_body(self.resource(self.current_nonce(actual)))

    def apply(self, actions):
        for action in actions:
            if action.kind == "remove" and action.role == "jobmanager":
                self.delete_resource(wait=self.params.get("wait"))
            elif action.kind == "remove" and action.role == "ha":
                self.delete_ha_configmaps()
            elif action.kind in ("create", "upgrade", "resume"):
                if action.kind == "upgrade":
                    self.keep_for_rollback()
                nonce = self.read_nonce()
                self.apply_resource(self.resource((nonce or 0) + 1 if self._retry else nonce))
            elif action.kind == "savepoint":
                self.apply_resource(self.resource(self.read_nonce(), "suspended"))

    # Readiness ----------------------------------------------------------------------------------
    def wait_ready(self, timeout, sleep):
        """The operator reconciled what was applied: STABLE with the job RUNNING, or SUSPENDED with a savepoint."""
        suspended = self.params.get("state") == "suspended"
        errors = {}

        def probe():
            resource, waiting = self.wait_status()
            if waiting:
                return waiting
            seen = summary(resource)
            state = {"summary": "lifecycle %s, JobManager deployment %s, job %s" % (
                seen["lifecycle_state"], seen["jobmanager_deployment_status"], seen["job_state"]), "operator": seen}
            ready, failed = ready_states(self)
            wait_failure(self, resource, seen, state, errors, failed)
            if not reconciled(resource):
                state["summary"] += ", generation %s not reconciled yet" % seen["generation"]
                return False, state
            if seen["error"] and seen["lifecycle_state"] != "STABLE":
                state["summary"] += ", operator error: %s" % seen["error"]
            if suspended:
                # The job stopped with its savepoint. In native mode the operator keeps the JobManager (its job
                # FINISHED, no TaskManagers) until the resume redeploys; it is not waited away.
                return seen["lifecycle_state"] == "SUSPENDED" and seen["job_state"] not in ACTIVE, state
            if seen["lifecycle_state"] not in ready or seen["job_state"] != "RUNNING":
                return False, state
            return True, state

        what = "FlinkDeployment %s to be %s" % (self.cluster_id, "SUSPENDED" if suspended else
                                                "STABLE with its job RUNNING")
        self._operator = wait_for(probe, timeout, sleep, what)["operator"]
        self.job_id = self._operator["job_id"]
        return self._operator

    def roll_back(self):
        """The upgrade's new spec did not get its job running: apply the last stable FlinkDeployment again, its job
        redeployed by the operator from the state the operator saved in this upgrade (kubernetes/operator_rollback.py).
        Nothing when nothing stable was kept or this upgrade saved no state the module can name."""
        if self._operator_rolls_back:
            self._operator_rolls_back = False
            return self.await_operator_rollback()
        kept, self._kept = self._kept, None
        if kept is None:
            return []
        utils = rollback_utils()
        failed = self.status()
        possible, savepoint = utils.restorable_state(kept["body"], kept["resource"], failed)
        if not possible:
            self.module.warn("not rolled back: the operator recorded no state saved by this upgrade (it had not "
                             "stopped the job yet, or keeps its state in high-availability metadata only); the "
                             "FlinkDeployment is left as the failed run made it")
            return []
        self.restore_from, self.job_id = savepoint, None
        return self.restore(kept, utils.restore_body(kept["body"], failed, savepoint))

    def await_operator_rollback(self):
        """flink_config turned the operator's own rollback on: once the failed spec has not been ready for the
        operator's kubernetes.operator.deployment.readiness.timeout, the operator redeploys its last stable spec
        (lifecycle ROLLING_BACK, then ROLLED_BACK), its job from the state it saved in this upgrade. Wait for that
        within wait_timeout; nothing (and a warning) when it does not come."""
        self.ignore_failed_pods()
        timeout = self.params.get("wait_timeout") or 300

        def probe():
            resource, waiting = self.wait_status()
            if waiting:
                return waiting
            seen = summary(resource)
            done = seen["lifecycle_state"] == "ROLLED_BACK" and reconciled_at(resource) != self.reconciled_before
            return done, {"summary": "lifecycle %s, JobManager deployment %s" % (
                seen["lifecycle_state"], seen["jobmanager_deployment_status"]), "resource": resource}
        try:
            resource = wait_for(probe, timeout, self.params.get("wait_sleep") or 0.5,
                                "the operator's rollback of FlinkDeployment %s" % self.cluster_id)["resource"]
        except WaitTimeout as exc:
            self.module.warn("not rolled back: the operator's own rollback (flink_config %s) did not come within "
                             "wait_timeout (%s); it starts once the failed spec has not been ready for its "
                             "%s, and needs the job's high-availability metadata or a JobManager that never "
                             "started" % (OPERATOR_ROLLBACK_KEY, exc.message, READINESS_TIMEOUT_KEY))
            return []
        self.rolled_back_by_operator = True
        self.restore_from, self.job_id = rollback_utils().saved_state(resource), None
        return ["flinkdeployment %s (the operator's rollback)" % self.cluster_id]

    def take_savepoint(self, job_id, timeout, sleep):
        """A FlinkStateSnapshot of the FlinkDeployment, completed by the operator: its path."""
        return take_savepoint(self.custom, self.namespace, "FlinkDeployment", self.cluster_id,
                              self.job.savepoint_dir, timeout, sleep)[0]

    def describe(self, actual=None):
        actual = actual or self.read()
        if self.params.get("state") == "suspended":  # no JobManager to ask
            result = {"operator": None}
        else:
            result = super(K8sOperatorApplication, self).describe(actual)
        resource = actual.get("flinkdeployment")
        if resource is not None:
            seen = summary(resource)
            result["operator"] = dict((k, seen[k]) for k in OPERATOR_FIELDS + ("job_state", "job_id", "last_savepoint"))
            self.job_id = seen["job_id"]
        return result

    # The record of a suspended application: the FlinkDeployment itself ------------------------------
    def record_name(self):
        return "FlinkDeployment %s" % self.cluster_id

    def read_record(self):
        return None  # kept in the FlinkDeployment: job.state suspended, the savepoint in its status

    def write_record(self, savepoint, job_id):
        raise BackendError("the operator keeps the record of a suspended application in its FlinkDeployment")

    def delete_record(self):
        return None
