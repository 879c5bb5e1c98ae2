# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Flink application cluster on Docker: a JobManager in ``standalone-job`` mode plus TaskManagers.

The job is part of the cluster (flows/application.py runs upgrades and suspend/resume). A suspended application
is remembered by a small Docker volume of the cluster (labels only), from which ``running`` resumes.
"""

from __future__ import annotations

import os
import time

from ansible_collections.flinkops.flink.plugins.module_utils.application_job import ApplicationJob, RETENTION_KEY
from ansible_collections.flinkops.flink.plugins.module_utils.docker.api import DockerException, NotFound
from ansible_collections.flinkops.flink.plugins.module_utils.docker.image import LABEL_MANAGED, MANAGED_BY, short_error
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.platform import ApplicationPlatform
from ansible_collections.flinkops.flink.plugins.module_utils.platforms.docker import LABEL_CLUSTER, DockerCluster

USRLIB = "/opt/flink/usrlib"
LABEL_SAVEPOINT = "org.flinkops.savepoint"
LABEL_JOB_ID = "org.flinkops.job-id"
LABEL_SUSPENDED_AT = "org.flinkops.suspended-at"


class DockerApplication(DockerCluster, ApplicationPlatform):
    kind = "application"

    def __init__(self, module, spec):
        super(DockerApplication, self).__init__(module, spec)
        if module.params.get("state") != "absent":
            local = (module.params.get("docker_host") or "unix://").startswith("unix://")
            self.job = ApplicationJob(module.params, spec, local)
            if self.job.jar:
                # The job jar goes to usrlib on every container (TaskManagers load the job's classes from it).
                spec.mounts.append({"type": "bind", "source": self.job.jar, "read_only": True,
                                    "target": "%s/%s" % (USRLIB, os.path.basename(self.job.jar))})

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

    def desired_view(self):
        view = self.spec.public_view()
        if self.job is not None:
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
            raise BackendError("reading the state record of %s failed: %s" % (self.spec.name, short_error(exc)))
        labels = volume.get("Labels") or {}
        return {"savepoint": labels.get(LABEL_SAVEPOINT) or None, "job_id": labels.get(LABEL_JOB_ID) or None,
                "suspended_at": labels.get(LABEL_SUSPENDED_AT)}

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
            raise BackendError("checking %s failed: %s" % (path, short_error(exc)), option=option)
        if output.decode("utf-8", "replace").strip() != "yes":
            raise SpecError("savepoint %s does not exist as the containers see it" % path, option=option,
                            hint="Check the path and that its directory is mounted into the containers (mounts)")
