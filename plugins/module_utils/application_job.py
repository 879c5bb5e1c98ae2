# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The job of an application cluster (option ``job``), validated before anything is touched; the same on every
platform except for where the jar may come from (each platform checks ``jar`` its own way)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.job import check_jar_class, file_sha256

CHECKPOINT_DIR_KEYS = ("execution.checkpointing.dir", "state.checkpoints.dir")
RETENTION_KEY = "execution.checkpointing.externalized-checkpoint-retention"
USRLIB = "/opt/flink/usrlib"
# The record of a suspended application, as labels (a Docker volume's, a swarm config's)
LABEL_SAVEPOINT = "org.flinkops.savepoint"
LABEL_JOB_ID = "org.flinkops.job-id"
LABEL_SUSPENDED_AT = "org.flinkops.suspended-at"


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

    # What every platform's application cluster adds to a session cluster ------------------------------
    def jar_mount(self):
        """The job jar bind-mounted into usrlib (TaskManagers load the job's classes from it too), or None."""
        if not self.jar:
            return None
        return {"type": "bind", "source": self.jar, "read_only": True,
                "target": "%s/%s" % (USRLIB, os.path.basename(self.jar))}

    def role_inputs(self, role):
        """What of the job defines a role's container or service (the TaskManagers only need the jar)."""
        return self.inputs() if role == "jobmanager" else {"jar": self.jar, "jar_sha256": self.jar_sha256}

    def flink_settings(self, role, config):
        """The application's additions to a role's Flink configuration (``config`` is changed and returned)."""
        # The JobManager stays up after the job ends: a stop-with-savepoint or a finished bounded job stays
        # observable, and no restart policy or orchestrator runs the job a second time from scratch.
        config.setdefault("execution.shutdown-on-application-finish", False)
        if role == "jobmanager" and self.parallelism:
            config["parallelism.default"] = self.parallelism
        if self.upgrade_mode == "last-state":
            config.setdefault(RETENTION_KEY, "RETAIN_ON_CANCELLATION")
        return config

    def standalone_args(self, job_id, restore_from):
        """The arguments of ``standalone-job`` (Docker, Swarm) after the command itself."""
        args = ["--job-classname", self.entry_class, "--job-id", job_id]
        if restore_from:
            args += ["--fromSavepoint", restore_from]
            if self.allow_non_restored_state:
                args.append("--allowNonRestoredState")
        return args + self.args


def record_labels(savepoint, job_id):
    """The labels of a suspended application's record."""
    return {LABEL_SAVEPOINT: savepoint or "", LABEL_JOB_ID: job_id or "", LABEL_SUSPENDED_AT: str(int(time.time()))}


def record_from_labels(labels):
    """A record (savepoint, job_id, suspended_at) from its labels."""
    labels = labels or {}
    return {"savepoint": labels.get(LABEL_SAVEPOINT) or None, "job_id": labels.get(LABEL_JOB_ID) or None,
            "suspended_at": labels.get(LABEL_SUSPENDED_AT)}
