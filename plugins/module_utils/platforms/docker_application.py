# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Flink application cluster on Docker: a JobManager in ``standalone-job`` mode plus TaskManagers.

The job is part of the cluster (flows/application.py runs upgrades and suspend/resume). A suspended application
is remembered by a small Docker volume of the cluster (labels only), from which ``running`` resumes.
"""

from __future__ import annotations

from ansible_collections.flinkops.flink.plugins.module_utils.application_job import (
    ApplicationJob, record_from_labels, record_labels, restart_args)
from ansible_collections.flinkops.flink.plugins.module_utils.docker.api import DockerException, NotFound
from ansible_collections.flinkops.flink.plugins.module_utils.docker.image import LABEL_MANAGED, MANAGED_BY, short_error
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.platform import ApplicationPlatform
from ansible_collections.flinkops.flink.plugins.module_utils.platforms.docker import LABEL_CLUSTER, DockerCluster


class DockerApplication(DockerCluster, ApplicationPlatform):
    kind = "application"

    def __init__(self, module, spec):
        super(DockerApplication, self).__init__(module, spec)
        if module.params.get("state") != "absent":
            local = (module.params.get("docker_host") or "unix://").startswith("unix://")
            self.job = ApplicationJob(module.params, spec, local)
            if self.job.jar:
                spec.mounts.append(self.job.jar_mount())

    # What the containers are made of ---------------------------------------------------------------
    def extra_inputs(self, role):
        return self.job.role_inputs(role)

    def flink_settings(self, role, index=None):
        return self.job.flink_settings(role, super(DockerApplication, self).flink_settings(role, index))

    def command(self, role):
        if role != "jobmanager":
            return ["taskmanager"]
        return ["standalone-job"] + self.job.standalone_args(self.new_job_id(), self.restore_from)

    def roll_back(self):
        """An upgrade whose new spec did not get its job running: back to the containers before it. The replaced
        JobManager container's own command names the older state it was started from, and a container's command
        cannot change: it comes back as a copy of itself (docker/replace._clone) whose job restarts from the state
        this run saved (``restore_from``) under a new job id. Replaced TaskManagers start again as they were."""
        jobmanager = self.jm_name()
        for at, (name, old_id, new_id) in enumerate(self._kept):
            if name != jobmanager:
                continue
            try:
                info = self.api.inspect_container(old_id)
                job_id = self.derive_job_id()
                args = restart_args(info["Config"].get("Cmd") or [], job_id, self.restore_from)
                if args is None:
                    raise BackendError("the JobManager container before this run has no job id of this collection's;"
                                       " it is left, stopped, as %s-prev" % jobmanager, option="rollback")
                copy = self._clone(info, "%s-restore" % jobmanager, args)
                self._remove(old_id)
            except DockerException as exc:
                raise BackendError("rolling back %s failed: %s" % (jobmanager, short_error(exc)), option="rollback",
                                   hint="The JobManager container of the last stable spec is %s-prev" % jobmanager)
            self._kept[at] = (name, copy, new_id)
            self.job_id = job_id
        return super(DockerApplication, self).roll_back()

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
        return record_from_labels(volume.get("Labels"))

    def write_record(self, savepoint, job_id):
        self.delete_record()
        labels = record_labels(savepoint, job_id)
        labels.update({LABEL_CLUSTER: self.spec.name, LABEL_MANAGED: MANAGED_BY})
        self.api.create_volume(self.record_name(), labels=labels)

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
