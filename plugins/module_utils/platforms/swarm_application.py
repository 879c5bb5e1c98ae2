# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Flink application cluster on a Docker Swarm: the JobManager service runs ``standalone-job``.

The job is part of the cluster (flows/application.py runs upgrades and suspend/resume). The job jar is in the
image (usrlib), or ``job.jar`` is a path that exists on every node that runs the cluster's tasks (bind-mounted into
usrlib). A suspended application is remembered by a swarm config ``flinkops-<name>-state`` whose labels hold the
savepoint: it lives in the swarm's own store, so any manager finds it.
"""

from __future__ import annotations

import json

from ansible_collections.flinkops.flink.plugins.module_utils.application_job import (
    ApplicationJob, record_from_labels, record_labels, restart_args)
from ansible_collections.flinkops.flink.plugins.module_utils.docker.api import APIError, NotFound
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError
from ansible_collections.flinkops.flink.plugins.module_utils.platform import ApplicationPlatform
from ansible_collections.flinkops.flink.plugins.module_utils.platforms.swarm import (
    LABEL_CLUSTER, LABEL_MANAGED, MANAGED_BY, SwarmCluster)


class SwarmApplication(SwarmCluster, ApplicationPlatform):
    kind = "application"

    def __init__(self, module, spec):
        super(SwarmApplication, self).__init__(module, spec)
        self._next_job_id = None
        if module.params.get("state") != "absent":
            self.job = ApplicationJob(module.params, spec, local_engine=False)
            if self.job.jar:
                spec.mounts.append(self.job.jar_mount())

    # What the services are made of -------------------------------------------------------------------
    def extra_inputs(self, role):
        if self.job is None:
            return None
        return self.job.role_inputs(role)

    def flink_settings(self, role):
        config = super(SwarmApplication, self).flink_settings(role)
        if self.job is None:
            config.setdefault("execution.shutdown-on-application-finish", False)
            return config
        return self.job.flink_settings(role, config)

    def command(self, role):
        if role != "jobmanager" or self.job is None:
            return super(SwarmApplication, self).command(role)
        if self._next_job_id is None:
            self._next_job_id = self.derive_job_id()
        # The JobManager's arguments are rendered while planning too; the id is the job's only once it is applied.
        return "standalone-job", self.job.standalone_args(self._next_job_id, self.restore_from)

    def _apply_service(self, action):
        if action.role == "jobmanager" and action.kind in ("create", "update"):
            self.job_id = self._next_job_id or self.derive_job_id()
        super(SwarmApplication, self)._apply_service(action)

    def restored_spec(self, role):
        """A rollback's JobManager: the spec before the failed upgrade, its job restarting from the state the upgrade
        saved (restore_from) under a new job id, not from the older state its own arguments name."""
        if role != "jobmanager" or self.job is None:
            return None
        job_id = self.derive_job_id()

        def change(spec):
            container = spec["TaskTemplate"]["ContainerSpec"]
            args = restart_args(container.get("Args") or [], job_id, self.restore_from)
            if args is None:
                raise BackendError("the JobManager service's spec before this run has no job id of this collection's; "
                                   "it is left as the failed run made it", option="rollback")
            container["Args"] = args
            return spec
        self.job_id = job_id
        return change

    def desired_view(self):
        view = super(SwarmApplication, self).desired_view()
        if self.job is not None:
            view["job"] = self.job.view()
        return view

    # The record of a suspended application (a swarm config) -----------------------------------------
    def record_name(self):
        return "flinkops-%s-state" % self.spec.name

    def _records(self):
        try:
            return [c for c in self.client.api.configs(filters={"name": self.record_name()})
                    if c["Spec"]["Name"] == self.record_name()]
        except APIError as exc:
            raise BackendError("reading the state record of %s failed: %s" % (self.spec.name, exc.explanation or exc))

    def read_record(self):
        found = self._records()
        if not found:
            return None
        return record_from_labels(found[0]["Spec"].get("Labels"))

    def write_record(self, savepoint, job_id):
        self.delete_record()
        labels = record_labels(savepoint, job_id)
        labels.update({LABEL_CLUSTER: self.spec.name, LABEL_MANAGED: MANAGED_BY})
        try:
            self.client.api.create_config(self.record_name(), json.dumps(labels).encode("utf-8"), labels=labels)
        except APIError as exc:
            raise BackendError("writing the state record of %s failed: %s" % (self.spec.name, exc.explanation or exc),
                               hint="The savepoint is %s; resume with job.savepoint_path" % savepoint)

    def delete_record(self):
        for config in self._records():
            try:
                self.client.api.remove_config(config["ID"])
            except NotFound:
                pass
            except APIError as exc:
                raise BackendError("deleting the state record of %s failed: %s" % (
                    self.spec.name, exc.explanation or exc))
