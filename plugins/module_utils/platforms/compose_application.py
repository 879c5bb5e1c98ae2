# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Flink application cluster as a Compose project: the ``jobmanager`` service runs ``standalone-job``.

The job jar is bind-mounted into ``/opt/flink/usrlib`` of both services, as the Flink docs show. The job id and the
restore point are part of the JobManager's command, and they change with every deployment; an unchanged run keeps
the ones the file has (so the file stays byte for byte), a change writes the new ones. Upgrades and suspend/resume
are the shared flow's (flows/application.py), as on Docker; a suspended application is remembered by the same
Docker volume record as on platform docker (``flinkops-<name>-state``), so an application suspended there resumes
here.
"""

from __future__ import annotations

import re

from ansible_collections.flinkops.flink.plugins.module_utils.application_job import ApplicationJob
from ansible_collections.flinkops.flink.plugins.module_utils.compose.render import service_sections
from ansible_collections.flinkops.flink.plugins.module_utils.compose.rollback import restart_file
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError
from ansible_collections.flinkops.flink.plugins.module_utils.platform import ApplicationPlatform
from ansible_collections.flinkops.flink.plugins.module_utils.platforms.compose import ComposeCluster
from ansible_collections.flinkops.flink.plugins.module_utils.platforms.docker_application import DockerApplication

# What the new JobManager restores from, in a plan's file before the state-saving step has run.
PENDING_RESTORE = "(the savepoint or checkpoint the upgrade takes)"


class ComposeApplication(ComposeCluster, ApplicationPlatform):
    kind = "application"

    def __init__(self, module, spec):
        super(ComposeApplication, self).__init__(module, spec)
        self.file_job = None  # (job id, restore point) the JobManager's command is rendered with
        if module.params.get("state") != "absent":
            local = (module.params.get("docker_host") or "unix://").startswith("unix://")
            self.job = ApplicationJob(module.params, spec, local)

    def roll_back(self):
        """An upgrade whose new spec did not get its job running: the file before it comes back (ComposeRollback),
        its JobManager's command restarting the job from the state this run saved (``restore_from``) under a new job
        id, not from the older state the old file names."""
        if self._previous is None:
            return []
        text, secrets, recreated = self._previous
        job_id = self.derive_job_id()
        patched = restart_file(text, job_id, self.restore_from)
        if patched is None:
            self._previous = None
            raise BackendError("the Compose file before this run has no JobManager command with a job id of this "
                               "collection's; the failed file is left in place", option="rollback")
        self._previous = (patched, secrets, recreated)
        self.job_id = job_id
        return super(ComposeApplication, self).roll_back()

    # What the services are made of ---------------------------------------------------------------
    def extra_mounts(self):
        mount = self.job.jar_mount() if self.job is not None else None
        return [mount] if mount else []

    def flink_settings(self, role):
        return self.job.flink_settings(role, super(ComposeApplication, self).flink_settings(role))

    def command(self, role):
        if role != "jobmanager":
            return ["taskmanager"]
        job_id, restore = self.file_job or (self.derive_job_id(), self.restore_from)
        return ["standalone-job"] + self.job.standalone_args(job_id, restore)

    def render_with(self, job_id, restore):
        self.file_job = (job_id, restore)
        self._rendered = None
        return self.rendered()

    # Planning ------------------------------------------------------------------------------------
    def plan(self, actual, state):
        if state != "absent" and self.job is not None:
            # First as the file has it: an unchanged spec gives the same file, byte for byte.
            self.render_with(*_file_job(actual["file"], self.derive_job_id()))
        actions = super(ComposeApplication, self).plan(actual, state)
        if state != "absent" and any(a.role == "jobmanager" and a.kind in ("create", "recreate") for a in actions):
            # A new JobManager: a new job id, and the restore point the flow sets (shown as pending until then).
            self.render_with(self.new_job_id(), self.restore_from or
                             (PENDING_RESTORE if self.has_jobmanager(actual) and self.job.upgrade_mode != "stateless"
                              else None))
        return actions

    def render_files(self, check_only):
        """state rendered: the job id of the file there (or a new one), job.savepoint_path to start from."""
        try:
            with open(self.file_path) as handle:
                text = handle.read()
        except (IOError, OSError):
            text = None
        job_id, restore = _file_job(text, self.derive_job_id())
        self.render_with(job_id, restore or self.job.savepoint_path)
        return super(ComposeApplication, self).render_files(check_only)

    def apply(self, actions):
        if any(a.role == "jobmanager" and a.kind in ("create", "recreate") for a in actions):
            self.render_with(self.new_job_id(), self.restore_from)
        return super(ComposeApplication, self).apply(actions)

    # The record of a suspended application: the Docker platform's volume -----------------------------
    record_name = DockerApplication.record_name
    read_record = DockerApplication.read_record
    write_record = DockerApplication.write_record
    delete_record = DockerApplication.delete_record
    check_path = DockerApplication.check_path


def _file_job(text, default_id):
    """(job id, restore point) of the JobManager's command in a file this module wrote."""
    lines = service_sections(text).get("jobmanager", ()) if text else ()
    job_id, restore, previous = default_id, None, None
    for line in lines:
        value = line.strip()[2:].strip('"') if line.strip().startswith("- ") else None
        if previous == "--job-id" and value and re.match(r"^[0-9a-f]{32}$", value):
            job_id = value
        elif previous == "--fromSavepoint" and value:
            restore = value.replace("$$", "$")
        previous = value
    return job_id, restore
