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
# URL schemes the JobManager of Flink's Kubernetes application mode fetches a jar from (ArtifactFetchManager): a
# file in the image or a volume, http(s), or a file system Flink has a plugin for.
JAR_SCHEMES = ("local", "http", "https", "s3", "s3a", "s3p", "hdfs", "oss", "gs", "abfs", "abfss", "wasb", "wasbs",
               "file")
ARTIFACT_LIST_KEY = "user.artifacts.artifact-list"
RAW_HTTP_KEY = "user.artifacts.raw-http-enabled"


class ApplicationJob(object):
    """The job of an application cluster, validated before anything is touched."""

    # Whether the platform's JobManager fetches job.artifacts itself (Flink's Kubernetes application mode).
    fetches_artifacts = False

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
        self.artifacts = [str(a) for a in (job.get("artifacts") or [])]
        if self.artifacts and not self.fetches_artifacts:
            raise SpecError("only Flink's Kubernetes application mode fetches artifacts (user.artifacts.artifact-list)",
                            option="job.artifacts",
                            hint="On this platform put the jars into /opt/flink/usrlib: in the image (flink_image), "
                                 "or mounted (mounts, or the artifacts role's volume)")
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
        inputs = {"jar": self.jar, "jar_sha256": self.jar_sha256, "class": self.entry_class, "args": self.args,
                  "parallelism": self.parallelism, "allow_non_restored_state": self.allow_non_restored_state,
                  "job_id": self.job_id}
        if self.artifacts:  # only when given: the hash of every existing job stays what it was
            inputs["artifacts"] = list(self.artifacts)
        return inputs

    def check_fetched(self, jar, config, version=None):
        """Flink's rules for what the Kubernetes application entrypoint fetches (the jar when it is a URL, and
        job.artifacts), checked before anything is touched: a URL scheme it reads, plain http only with
        user.artifacts.raw-http-enabled (Flink's default refuses it when the JobManager starts), and one file name
        per fetched artifact (each is saved under its file name in one directory, a later one over an earlier one;
        local:// ones are used where they are)."""
        if self.artifacts and config.get(ARTIFACT_LIST_KEY):
            raise SpecError("both job.artifacts and flink_config's %s are set" % ARTIFACT_LIST_KEY,
                            option="job.artifacts", hint="Give the list once, as job.artifacts")
        if self.artifacts and version is not None and (version.major, version.minor) < (1, 19):
            raise SpecError("Flink %s does not fetch artifacts; user.artifacts.artifact-list came with 1.19" % (
                version.series), option="job.artifacts", hint="Use Flink 1.19 or later, or put the jars in the image")
        urls = [("job.jar", jar)] if jar else []
        urls += [("job.artifacts", a) for a in self.artifacts]
        names = {}
        for option, url in urls:
            scheme = url.split("://", 1)[0] if "://" in url else None
            if (scheme not in JAR_SCHEMES or not url.split("://", 1)[1].strip("/")
                    or (scheme == "local" and not url.startswith("local:///"))):
                raise SpecError("%r is not a URL Flink's JobManager fetches" % url, option=option,
                                hint="Use local:///path/in/the/image.jar, https://..., or a file system Flink has a "
                                     "plugin for (s3://, hdfs://)")
            if scheme == "http" and str(config.get(RAW_HTTP_KEY, "false")).lower() != "true":
                raise SpecError("%s is plain http, which Flink fetches only with %s: true" % (url, RAW_HTTP_KEY),
                                option=option, hint="Use https, or set %s: true in flink_config if plain http "
                                                    "is what you mean" % RAW_HTTP_KEY)
            name = url.rstrip("/").rsplit("/", 1)[-1]
            if scheme == "local":
                continue  # used where it is, not copied
            if name in names:
                raise SpecError("%s and %s have the same file name %s; Flink saves each fetched artifact under its file "
                                "name in one directory" % (names[name], url, name), option=option,
                                hint="Give each artifact a distinct file name")
            names[name] = url

    def artifact_settings(self, config):
        """user.artifacts.artifact-list from job.artifacts (``config`` is changed and returned)."""
        if self.artifacts:
            config[ARTIFACT_LIST_KEY] = ";".join(self.artifacts)
        return config

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


def restart_args(args, job_id, restore_from):
    """A JobManager's arguments, in which standalone_args are (after the command and its dynamic properties, which
    are single ``key=value`` words), with another job id and restore point: the last stable spec's JobManager, restarting its job from the state an
    upgrade has just saved instead of the older one it was started from. None when ``args`` has no job id of
    ours."""
    args = [str(a) for a in args]
    if "--job-id" not in args:
        return None
    at = args.index("--job-id") + 2
    args[at - 1] = job_id
    while at < len(args) and args[at] in ("--fromSavepoint", "--allowNonRestoredState"):
        del args[at:at + (2 if args[at] == "--fromSavepoint" else 1)]
    if restore_from:
        args[at:at] = ["--fromSavepoint", restore_from]
    return args


def record_labels(savepoint, job_id):
    """The labels of a suspended application's record."""
    return {LABEL_SAVEPOINT: savepoint or "", LABEL_JOB_ID: job_id or "", LABEL_SUSPENDED_AT: str(int(time.time()))}


def record_from_labels(labels):
    """A record (savepoint, job_id, suspended_at) from its labels."""
    labels = labels or {}
    return {"savepoint": labels.get(LABEL_SAVEPOINT) or None, "job_id": labels.get(LABEL_JOB_ID) or None,
            "suspended_at": labels.get(LABEL_SUSPENDED_AT)}
