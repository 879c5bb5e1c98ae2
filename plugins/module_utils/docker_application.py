# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Flink application cluster on Docker: a JobManager in ``standalone-job`` mode plus TaskManagers.

The job is part of the cluster. A change that touches the running job follows its upgrade mode, and the
state-saving step (stop with a savepoint, or finding the latest retained checkpoint) happens before any
container is touched, so that a failure leaves the old job running. ``suspended`` stops the job with a
savepoint, removes the containers and records where the savepoint is in a small Docker volume of the
cluster (labels only), from which ``running`` resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time

from ansible_collections.flinkops.flink.plugins.module_utils.docker_cluster import (
    LABEL_CLUSTER, LABEL_MANAGED, MANAGED_BY, Action, DockerCluster, _short)
from ansible_collections.flinkops.flink.plugins.module_utils.docker_api import DockerException, NotFound
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.job import (
    ACTIVE, JobControl, check_jar_class, file_sha256, name_prefix)
from ansible_collections.flinkops.flink.plugins.module_utils.rest import RestUnavailable

USRLIB = "/opt/flink/usrlib"
LABEL_SAVEPOINT = "org.flinkops.savepoint"
LABEL_JOB_ID = "org.flinkops.job-id"
LABEL_SUSPENDED_AT = "org.flinkops.suspended-at"
CHECKPOINT_DIR_KEYS = ("execution.checkpointing.dir", "state.checkpoints.dir")
RETENTION_KEY = "execution.checkpointing.externalized-checkpoint-retention"


class ApplicationJob(object):
    """The job of an application cluster, validated before anything is touched."""

    def __init__(self, params, spec, local_engine):
        job = params.get("job") or {}
        self.jar = job.get("jar")
        self.entry_class = job.get("entry_class")
        self.args = [str(a) for a in (job.get("args") or [])]
        self.parallelism = job.get("parallelism")
        self.savepoint_path = job.get("savepoint_path")
        self.allow_non_restored_state = bool(job.get("allow_non_restored_state"))
        self.upgrade_mode = job.get("upgrade_mode") or "savepoint"
        self.savepoint_dir = job.get("savepoint_dir")
        self.restore = job.get("restore") or "auto"
        self.job_id = job.get("job_id")
        if self.job_id is not None and not re.match(r"^[0-9a-f]{32}$", self.job_id):
            raise SpecError("%r is not a Flink job id" % self.job_id, option="job.job_id",
                            hint="Give 32 lower-case hex digits, or leave it out to have one derived from the name")
        self.jar_sha256 = None
        if not self.entry_class:
            raise SpecError("is required", option="job.entry_class", hint="Give the job's main class")
        if self.parallelism is not None and self.parallelism < 1:
            raise SpecError("must be at least 1, got %d" % self.parallelism, option="job.parallelism")
        if self.jar:
            if not self.jar.startswith("/") or not self.jar.endswith(".jar"):
                raise SpecError("%r must be an absolute path to a .jar on the Docker host" % self.jar, option="job.jar")
            if os.path.exists(self.jar):
                check_jar_class(self.jar, self.entry_class, "job.jar", "job.entry_class")
                self.jar_sha256 = file_sha256(self.jar)
            elif local_engine:
                raise SpecError("%s does not exist" % self.jar, option="job.jar",
                                hint="Give the path of the job jar on the Docker host")
        if self.upgrade_mode == "last-state":
            config = dict(spec.flink_config)
            if not any(config.get(k) for k in CHECKPOINT_DIR_KEYS):
                raise SpecError("last-state needs retained checkpoints, and flink_config sets no checkpoint directory",
                                option="job.upgrade_mode",
                                hint="Set execution.checkpointing.dir (and an interval) in flink_config, or use savepoint")

    def inputs(self):
        """What defines the job (its hash is part of the JobManager's; ids and savepoints are not)."""
        return {"jar": self.jar, "jar_sha256": self.jar_sha256, "class": self.entry_class, "args": self.args,
                "parallelism": self.parallelism, "allow_non_restored_state": self.allow_non_restored_state,
                "job_id": self.job_id}

    def digest(self):
        return hashlib.sha256(json.dumps(self.inputs(), sort_keys=True).encode("utf-8")).hexdigest()[:8]

    def view(self):
        view = dict(self.inputs())
        view.update(upgrade_mode=self.upgrade_mode, savepoint_dir=self.savepoint_dir)
        return view


class DockerApplication(DockerCluster):
    kind = "application"

    def __init__(self, module, spec):
        local = (module.params.get("docker_host") or "unix://").startswith("unix://")
        self.job = ApplicationJob(module.params, spec, local)
        if self.job.jar:
            # The job jar goes to usrlib on every container (TaskManagers load the job's classes from it).
            spec.mounts.append({"type": "bind", "source": self.job.jar, "read_only": True,
                                "target": "%s/%s" % (USRLIB, os.path.basename(self.job.jar))})
        super(DockerApplication, self).__init__(module, spec)
        self.job_id = None
        self.restore_from = None

    # What the containers are made of ---------------------------------------------------------------
    def extra_inputs(self, role):
        return self.job.inputs() if role == "jobmanager" else {"jar": self.job.jar, "jar_sha256": self.job.jar_sha256}

    def flink_settings(self, role, index=None):
        config = super(DockerApplication, self).flink_settings(role, index)
        # The JobManager stays up after the job ends: a stop-with-savepoint or a finished bounded job stays
        # observable, and a restart policy never runs the job a second time from scratch.
        config.setdefault("execution.shutdown-on-application-finish", False)
        if role == "jobmanager" and self.job.parallelism:
            config["parallelism.default"] = self.job.parallelism
        if self.job.upgrade_mode == "last-state":
            config.setdefault(RETENTION_KEY, "RETAIN_ON_CANCELLATION")
        return config

    def command(self, role):
        if role != "jobmanager":
            return ["taskmanager"]
        command = ["standalone-job", "--job-classname", self.job.entry_class, "--job-id", self.new_job_id()]
        if self.restore_from:
            command += ["--fromSavepoint", self.restore_from]
            if self.job.allow_non_restored_state:
                command.append("--allowNonRestoredState")
        return command + self.job.args

    def new_job_id(self):
        if self.job_id is None and self.job.job_id:
            self.job_id = self.job.job_id
        if self.job_id is None:
            self.job_id = "%s%s%08x" % (name_prefix(self.spec.name), self.job.digest(),
                                        int(time.time() * 1000) & 0xFFFFFFFF)
        return self.job_id

    def desired_view(self):
        view = self.spec.public_view()
        view["job"] = self.job.view()
        return view

    # The record of a suspended application ---------------------------------------------------------
    def record_name(self):
        return "flinkops-%s-state" % self.spec.name

    def read_record(self):
        try:
            volume = self.api.inspect_volume(self.record_name())
        except NotFound:
            return None
        except DockerException as exc:
            raise BackendError("reading the state record of %s failed: %s" % (self.spec.name, _short(exc)))
        return volume.get("Labels") or {}

    def write_record(self, savepoint, job_id):
        self.delete_record()
        self.api.create_volume(self.record_name(), labels={
            LABEL_CLUSTER: self.spec.name, LABEL_MANAGED: MANAGED_BY, LABEL_SAVEPOINT: savepoint or "",
            LABEL_JOB_ID: job_id or "", LABEL_SUSPENDED_AT: str(int(time.time()))})

    def delete_record(self):
        try:
            self.api.remove_volume(self.record_name())
        except NotFound:
            pass

    # Jobs ------------------------------------------------------------------------------------------
    def active_job(self, actual):
        """The running job of the JobManager, or None (no JobManager, REST down, job ended)."""
        jm = actual["jobmanager"]
        if jm is None or jm.get("State") != "running":
            return None
        try:
            jobs = self.rest().jobs()
        except RestUnavailable:
            return None
        active = [j for j in jobs if j.get("state") in ACTIVE]
        return active[0] if active else (jobs[0] if jobs else None)

    def check_path(self, path, option):
        """A file:// (or absolute) savepoint path must exist as the containers see it; checked with the
        cluster's own image and mounts in a throwaway container, before anything is stopped."""
        if not path:
            return
        local = path[len("file://"):] if path.startswith("file://") else path
        if "://" in local or not local.startswith("/"):
            return  # an object store or another filesystem: Flink checks it when it starts
        mounts = [{"Type": m["type"], "Source": m["source"], "Target": m["target"], "ReadOnly": True}
                  for m in self.spec.mounts if m["type"] != "tmpfs"]
        try:
            output = self.api.client.containers.run(
                self.spec.image, entrypoint=["sh", "-c", 'test -e "$1" && echo yes || echo no', "sh", local.rstrip("/")],
                remove=True, network_mode="none", labels={LABEL_MANAGED: MANAGED_BY},
                mounts=[self.api.types.Mount(m["Target"], m["Source"], type=m["Type"], read_only=m["ReadOnly"])
                        for m in mounts])
        except DockerException as exc:
            raise BackendError("checking %s failed: %s" % (path, _short(exc)), option=option)
        if output.decode("utf-8", "replace").strip() != "yes":
            raise SpecError("savepoint %s does not exist as the containers see it" % path, option=option,
                            hint="Check the path and that its directory is mounted into the containers (mounts)")


def run_application(module):
    """Read, plan, save state, apply, wait: the application-cluster flow."""
    from ansible_collections.flinkops.flink.plugins.module_utils.errors import FlinkOpsError
    from ansible_collections.flinkops.flink.plugins.module_utils.runner import fail
    from ansible_collections.flinkops.flink.plugins.module_utils.spec import ClusterSpec

    params = module.params
    state = params["state"]
    result = {"changed": False, "actions": [], "changes": []}
    try:
        from ansible_collections.flinkops.flink.plugins.module_utils.k8s_options import check_platform_options
        check_platform_options(params)
        spec = ClusterSpec.from_params(params, require_image=state != "absent")
        for warning in spec.warnings:
            module.warn(warning)
        if params.get("platform") == "kubernetes":
            from ansible_collections.flinkops.flink.plugins.module_utils.k8s_application import K8sNativeApplication
            app = K8sNativeApplication(module, spec)
        elif state == "absent":
            app = DockerApplication.__new__(DockerApplication)
            DockerCluster.__init__(app, module, spec)
            app.job = None
        else:
            app = DockerApplication(module, spec)
        actual = app.read()
        record = app.read_record()
        timeout, sleep = params["wait_timeout"], params["wait_sleep"]
        before = app.before_view(actual)
        if before and actual["jobmanager"] is not None:
            before["state"] = "running"
        elif record is not None:
            before = {"state": "suspended", "savepoint": record.get(LABEL_SAVEPOINT)}

        if state == "absent":
            actions = app.plan(actual, "absent")
            if record is not None:
                actions.append(Action("remove", "state record %s" % app.record_name(), "state is absent", "record"))
            after = {}
        elif state == "suspended":
            actions = []
            if actual["jobmanager"] is not None or actual["taskmanagers"]:
                actions.append(Action("savepoint", "job of %s" % spec.name, "state is suspended", "job"))
                actions.extend(app.plan(actual, "absent"))
                # the network stays, so that a resume is quick and attached tools keep working
                actions = [a for a in actions if a.role != "network"]
            after = {"state": "suspended"}
        else:
            app.image_id(check_only=module.check_mode)
            actions = app.plan(actual, "present")
            app.preflight(actions, actual)
            jm_change = next((a for a in actions if a.role == "jobmanager" and a.kind in ("create", "recreate")), None)
            if jm_change is not None and jm_change.kind == "recreate":
                actions.insert(0, Action("upgrade", "job of %s" % spec.name,
                                         "%s (upgrade_mode %s)" % (jm_change.reason, app.job.upgrade_mode), "job"))
            elif jm_change is not None and record is not None:
                app.restore_from = record.get(LABEL_SAVEPOINT) or None
                actions.insert(0, Action("resume", "job of %s" % spec.name, "from %s" % (app.restore_from or "nothing"),
                                         "job"))
            if jm_change is not None and app.restore_from is None and jm_change.kind == "create":
                app.restore_from = app.job.savepoint_path
                if app.job.restore == "required" and not app.restore_from:
                    raise SpecError("no savepoint to resume from: the application was not suspended and "
                                    "job.savepoint_path is not set", option="job.restore",
                                    hint="Set job.savepoint_path, or restore: auto to start without state")
                app.check_path(app.restore_from, "job.savepoint_path" if record is None else "state record")
            after = dict(app.desired_view(), state="running")
        result["actions"] = [a.as_dict() for a in actions]
        result["changes"] = [a.describe() for a in actions]
        result["changed"] = bool(actions)
        if module._diff:
            result["diff"] = {"before": before, "after": after}
        if module.check_mode or not actions and state != "running":
            module.exit_json(**result)

        control = JobControl(app.rest()) if actual["jobmanager"] is not None else None
        job_actions = [a for a in actions if a.role == "job"]
        container_actions = [a for a in actions if a.role != "job"]
        for action in job_actions:
            if action.kind in ("savepoint", "upgrade"):
                job = app.active_job(actual)
                mode = "savepoint" if action.kind == "savepoint" else app.job.upgrade_mode
                if job is None or job.get("state") not in ACTIVE:
                    if action.kind == "savepoint":
                        raise SpecError("the application's job is %s, so no savepoint can be taken" % (
                            job.get("state") if job else "not running"), option="state",
                            hint="Use state absent to remove it, or running to restart it")
                    continue  # nothing runs: the new JobManager starts fresh (or from job.savepoint_path)
                savepoint_dir = app.job.savepoint_dir if app.job else None
                if mode == "savepoint":
                    app.restore_from = control.stop_with_savepoint(job["jid"], savepoint_dir, timeout, sleep,
                                                                   option="job.savepoint_dir")
                    result["last_savepoint"] = app.restore_from
                elif mode == "last-state":
                    app.restore_from = control.cancel_keeping_last_state(job["jid"], "job.upgrade_mode", timeout,
                                                                         sleep)
                if action.kind == "savepoint":
                    app.write_record(app.restore_from, job["jid"])
        app.apply([a for a in container_actions if a.role != "record"])
        if state == "absent":
            app.delete_record()
            module.exit_json(**result)
        if state == "suspended":
            result["savepoint"] = app.restore_from
            module.exit_json(**result)
        if record is not None and any(a.role == "jobmanager" for a in container_actions):
            app.delete_record()
        result["savepoint"] = app.restore_from
        if params.get("wait"):
            app.wait_ready(timeout, sleep)
        described = app.describe()
        result.update(described)
        jobs = described.get("jobs") or []
        job_id = app.job_id or (jobs[0]["id"] if jobs else None)
        result["job_id"] = job_id
        if job_id and params.get("wait"):
            result["job_state"] = JobControl(app.rest()).wait_running(job_id, timeout, sleep, option="job")
        elif jobs:
            result["job_state"] = jobs[0]["state"]
    except FlinkOpsError as exc:
        fail(module, exc, **result)
    module.exit_json(**result)
