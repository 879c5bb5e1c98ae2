# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jobs on a session cluster, identified by a stable name.

Flink knows jobs by a 32-hex-digit id. We derive it: 16 digits from the job's name, 8 from the hash of
everything it was submitted with (jar content, class, arguments, parallelism, configuration) and 8 of
nonce, so that the same name finds its jobs again, a changed spec is recognised without any state kept
elsewhere, and a resubmission never reuses an id (Flink refuses ids it has seen).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
import zipfile

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.rest import RestUnavailable
from ansible_collections.flinkops.flink.plugins.module_utils.wait import wait_for

ACTIVE = ("INITIALIZING", "CREATED", "RUNNING", "FAILING", "CANCELLING", "RESTARTING", "RECONCILING")
TERMINAL = ("FINISHED", "CANCELED", "FAILED", "SUSPENDED")
JAR_PREFIX = "flinkops-"


GLOBAL_PARAMETERS = "pipeline.global-job-parameters"
SPEC_PARAMETER = "flinkops.job-spec"


def _parameters_text(value):
    """pipeline.global-job-parameters as Flink's map text (k1:v1,k2:v2), from a map or the text itself."""
    if not value:
        return ""
    if isinstance(value, dict):
        return ",".join("%s:%s" % (k, v) for k, v in sorted(value.items()))
    return str(value)


_DURATION_UNITS = {"": 0.001, "ms": 0.001, "milli": 0.001, "millis": 0.001, "millisecond": 0.001,
                   "milliseconds": 0.001, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "min": 60,
                   "m": 60, "minute": 60, "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600}


def flink_duration_seconds(value):
    """Seconds of a Flink duration (``3000``, ``3 s``, ``500ms``, ``1 min``; a bare number is milliseconds), or
    None when it is not one."""
    text = str(value if value is not None else "").strip().lower()
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz ").strip()
    unit = text[len(number):].strip()
    try:
        return float(number) * _DURATION_UNITS[unit]
    except (ValueError, KeyError):
        return None


def name_prefix(name):
    return hashlib.sha256(("flinkops-job:" + name).encode("utf-8")).hexdigest()[:16]


def check_jar_class(jar, entry_class, jar_option, class_option):
    """A jar is a zip that holds the entry class: checked before anything is stopped or submitted."""
    try:
        with zipfile.ZipFile(jar) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        raise SpecError("%s is not a jar (zip) file" % jar, option=jar_option)
    if entry_class and entry_class.replace(".", "/") + ".class" not in names:
        raise SpecError("%s has no class %s" % (jar, entry_class), option=class_option,
                        hint="Check the class name, or the jar that contains it")


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class JobSpec(object):
    def __init__(self, params):
        self.name = params["name"]
        if not self.name or len(self.name) > 200:
            raise SpecError("must be a non-empty name of at most 200 characters", option="name")
        self.jar = params.get("jar")
        self.entry_class = params.get("entry_class")
        self.args = [str(a) for a in (params.get("args") or [])]
        self.parallelism = params.get("parallelism")
        if self.parallelism is not None and self.parallelism < 1:
            raise SpecError("must be at least 1, got %d" % self.parallelism, option="parallelism")
        self.flink_config = dict((str(k), str(v) if not isinstance(v, bool) else str(v).lower())
                                 for k, v in (params.get("flink_config") or {}).items())
        self.savepoint_path = params.get("savepoint_path")
        self.allow_non_restored_state = bool(params.get("allow_non_restored_state"))
        self.upgrade_mode = params.get("upgrade_mode") or "savepoint"
        self.savepoint_dir = params.get("savepoint_dir")
        self.restore = params.get("restore") or "auto"
        self.trigger_savepoint = bool(params.get("trigger_savepoint"))
        self.job_id = params.get("job_id")
        if self.job_id is not None and not re.match(r"^[0-9a-f]{32}$", self.job_id):
            raise SpecError("%r is not a Flink job id" % self.job_id, option="job_id",
                            hint="Give the 32 lower-case hex digits that flink list or flink_info show")
        self.jar_sha256 = None
        if params.get("state") == "running":
            if not self.jar:
                raise SpecError("is required when state is running", option="jar")
            if not os.path.isfile(self.jar):
                raise SpecError("%s does not exist or is not a file" % self.jar, option="jar",
                                hint="Give the path of the job jar on the host that runs the module")
            check_jar_class(self.jar, self.entry_class, "jar", "entry_class")
            self.jar_sha256 = file_sha256(self.jar)

    def spec_hash(self):
        data = {"jar": self.jar_sha256, "class": self.entry_class, "args": self.args,
                "parallelism": self.parallelism, "config": self.flink_config}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:8]

    def view(self):
        return {"name": self.name, "jar": self.jar, "jar_sha256": self.jar_sha256, "entry_class": self.entry_class,
                "args": self.args, "parallelism": self.parallelism, "flink_config": self.flink_config,
                "spec_hash": self.spec_hash()}


class SessionJob(object):
    def __init__(self, module, rest, spec):
        self.module = module
        self.rest = rest
        self.spec = spec
        self.prefix = name_prefix(spec.name)
        self.control = JobControl(rest)

    def is_own(self, job):
        """True for a job submitted by this module under this name (its id starts with the name's prefix)."""
        return str(job.get("jid", "")).startswith(self.prefix)

    def jobs(self):
        """This name's jobs, newest first, with the job ``job_id`` names (one submitted otherwise, to adopt).

        Once adopted, the job submitted under this name is the newer one, so a task that keeps ``job_id`` finds
        its own job again and changes nothing. A ``job_id`` the cluster does not know fails, unless a job of this
        name exists (adopted earlier; the cluster forgets ended jobs after ``jobstore.expiration-time``)."""
        listed = self.rest.jobs()
        mine = [j for j in listed if self.is_own(j) or (self.spec.job_id and j.get("jid") == self.spec.job_id)]
        if self.spec.job_id and not mine and self.module.params.get("state") != "absent":
            raise SpecError("the cluster knows no job %s, and no job named %s" % (self.spec.job_id, self.spec.name),
                            option="job_id", hint="Check the id with flink_info (or flink list); a cluster forgets "
                                                  "ended jobs after jobstore.expiration-time and on restart")
        return sorted(mine, key=lambda j: j.get("start-time", 0), reverse=True)

    def current(self):
        jobs = self.jobs()
        return jobs[0] if jobs else None

    @staticmethod
    def running_hash(job):
        return job["jid"][16:24] if job else None

    def running_view(self, job):
        """The spec the running job was submitted with (its global job parameter), or None (submitted otherwise)."""
        try:
            config = self.rest.get("/jobs/%s/config" % job["jid"])
            encoded = ((config.get("execution-config") or {}).get("user-config") or {}).get(SPEC_PARAMETER)
            return json.loads(base64.b64decode(encoded).decode("utf-8")) if encoded else None
        except (BackendError, RestUnavailable, ValueError, TypeError):
            return None

    def plan(self, state):
        """((action, reason), current job, savepoint to start from) for the desired state.

        Actions: submit, resume (from the savepoint its last stop-with-savepoint left), upgrade, savepoint
        (trigger_savepoint on an unchanged job), suspend, cancel; None when nothing is to be done.
        """
        job = self.current()
        active = job is not None and job.get("state") in ACTIVE
        if state == "running":
            if active and not self.is_own(job):
                return ("upgrade", "job %s was submitted outside this module: taken over as %s (upgrade_mode %s)" % (
                    job["jid"], self.spec.name, self.spec.upgrade_mode)), job, None
            if active and self.running_hash(job) != self.spec.spec_hash():
                return ("upgrade", "the job's jar, class, arguments, parallelism or configuration changed "
                                   "(upgrade_mode %s)" % self.spec.upgrade_mode), job, None
            if active:
                if self.spec.trigger_savepoint:
                    return ("savepoint", "trigger_savepoint is true"), job, None
                return (None, None), job, None
            suspended_at = None
            if job is not None and job.get("state") == "FINISHED":
                suspended_at = self.control.latest_savepoint(job["jid"])
            if suspended_at:
                return ("resume", "job %s was stopped with savepoint %s" % (job["jid"], suspended_at)), job, suspended_at
            if job is not None and job.get("state") == "FINISHED" and self.running_hash(job) == self.spec.spec_hash():
                return (None, None), job, None  # a bounded job that ran to its end: done, not to be rerun
            if self.spec.restore == "required" and not self.spec.savepoint_path:
                raise SpecError("no savepoint to resume job %s from: the cluster knows no job of this name that was "
                                "stopped with a savepoint, and savepoint_path is not set" % self.spec.name,
                                option="restore", hint="Set savepoint_path, or restore: auto to start without state")
            return ("submit", "no running job named %s" % self.spec.name), job, self.spec.savepoint_path
        if state == "suspended" and active:
            return ("suspend", "state is suspended"), job, None
        if state in ("cancelled", "absent") and active:
            return ("cancel", "state is %s" % state), job, None
        return (None, None), job, None

    # Jar --------------------------------------------------------------------------------------------
    def jar_id(self, upload=True):
        """The id of the uploaded jar with this content; uploads it only when its content is new."""
        stored_name = "%s%s-%s-%s" % (JAR_PREFIX, self.prefix[:8], self.spec.jar_sha256[:16],
                                      os.path.basename(self.spec.jar))
        if not stored_name.endswith(".jar"):
            stored_name += ".jar"
        for jar in self.rest.jars():
            if jar.get("name") == stored_name:
                return jar["id"], False
        if not upload:
            return None, True
        return self.rest.upload_jar(self.spec.jar, filename=stored_name), True

    def own_jars(self):
        return [jar for jar in self.rest.jars() if str(jar.get("name", "")).startswith(
            "%s%s-" % (JAR_PREFIX, self.prefix[:8]))]

    # Actions ----------------------------------------------------------------------------------------
    def submit(self, savepoint_path=None):
        """Submit the job (uploading its jar if new); returns (job id, jar id)."""
        jar_id, _uploaded = self.jar_id()
        job_id = "%s%s%s" % (self.prefix, self.spec.spec_hash(), "%08x" % (int(time.time() * 1000) & 0xFFFFFFFF))
        payload = {"jobId": job_id, "programArgsList": self.spec.args,
                   "allowNonRestoredState": self.spec.allow_non_restored_state}
        if self.spec.entry_class:
            payload["entryClass"] = self.spec.entry_class
        if self.spec.parallelism:
            payload["parallelism"] = self.spec.parallelism
        config = dict(self.spec.flink_config)
        if self.spec.upgrade_mode == "last-state":
            # last-state upgrades cancel the job and start from its latest checkpoint: keep them on cancel.
            config.setdefault("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION")
        # The job's spec travels with it as a global job parameter (shown by GET /jobs/<id>/config), so that diff mode
        # can show the running job's fields, not only its hash.
        config[GLOBAL_PARAMETERS] = ",".join(p for p in (_parameters_text(config.get(GLOBAL_PARAMETERS)), "%s:%s" % (
            SPEC_PARAMETER, base64.b64encode(json.dumps(self.spec.view(), sort_keys=True).encode()).decode())) if p)
        payload["flinkConfiguration"] = config
        if savepoint_path:
            payload["savepointPath"] = savepoint_path
        try:
            return self.rest.run_jar(jar_id, payload), jar_id
        except RestUnavailable:
            raise
        except BackendError as exc:
            cause = exc.message.lower().split("root cause:")[-1]
            option = "savepoint_path" if savepoint_path and ("savepoint" in cause or "checkpoint" in cause) else "jar"
            raise BackendError("submitting job %s failed: %s" % (self.spec.name, exc.message), option=option,
                               hint="Check entry_class, args, the jar and the savepoint; the error comes from Flink")


class JobControl(object):
    """Operations on one cluster's jobs through REST, with waits: cancel, stop with savepoint, savepoints,
    checkpoints, readiness. Shared by session jobs and application clusters."""

    def __init__(self, rest):
        self.rest = rest

    def cancel(self, job_id, timeout, sleep):
        self.rest.cancel(job_id)
        return self.wait_state(job_id, ("CANCELED", "FINISHED", "FAILED"), timeout, sleep)

    def _savepoint_result(self, job_id, request_id, timeout, sleep, what, option):
        def probe():
            status = self.rest.savepoint_status(job_id, request_id)
            if (status.get("status") or {}).get("id") != "COMPLETED":
                return False, {"summary": "%s in progress" % what}
            operation = status.get("operation") or {}
            if operation.get("failure-cause"):
                raise BackendError("%s of job %s failed, the job keeps running: %s" % (
                    what, job_id, failure_reason(operation["failure-cause"])), option=option,
                    hint="Check that the savepoint directory exists and is writable by Flink")
            return True, {"location": operation.get("location")}
        return wait_for(probe, timeout, sleep, "the %s of job %s" % (what, job_id))["location"]

    def stop_with_savepoint(self, job_id, target_directory, timeout, sleep, option="savepoint_dir"):
        """Stop with a savepoint; on failure the job keeps running and the error says why."""
        request_id = self.rest.stop_with_savepoint(job_id, target_directory=target_directory)
        location = self._savepoint_result(job_id, request_id, timeout, sleep, "stop-with-savepoint", option)
        self.wait_state(job_id, ("FINISHED", "CANCELED", "FAILED"), timeout, sleep)
        return location

    def trigger_savepoint(self, job_id, target_directory, timeout, sleep, option="savepoint_dir"):
        request_id = self.rest.trigger_savepoint(job_id, target_directory=target_directory)
        return self._savepoint_result(job_id, request_id, timeout, sleep, "savepoint", option)

    def checkpoint_stats(self, job_id):
        """The job's checkpoint statistics; {} for a job without checkpointing (Flink answers 404 "Checkpointing
        has not been enabled", for example a bounded job in BATCH mode), which has no checkpoint or savepoint."""
        try:
            return self.rest.checkpoints(job_id)
        except BackendError as exc:
            if (exc.partial or {}).get("status") == 404 and "not been enabled" in str((exc.partial or {}).get("errors")):
                return {}
            raise

    def latest_checkpoint(self, job_id):
        """External path of the latest completed (retained) checkpoint, or None."""
        stats = self.checkpoint_stats(job_id)
        latest = (stats.get("latest") or {}).get("completed") or {}
        path = latest.get("external_path")
        return path if path and path != "<checkpoint-not-externally-addressable>" else None

    def last_state(self, job_id, option):
        """The latest retained checkpoint to start the upgraded job from; a SpecError (nothing changed yet)
        when there is none or when cancelling would delete it."""
        config = self.rest.get("/jobs/%s/checkpoints/config" % job_id)
        externalization = config.get("externalization") or {}
        if not externalization.get("enabled") or externalization.get("delete_on_cancellation", True):
            raise SpecError("job %s does not retain its checkpoints on cancellation, so a last-state upgrade would "
                            "lose its state; nothing was changed" % job_id, option=option,
                            hint="Upgrade this time with upgrade_mode savepoint; jobs started with last-state keep them")
        path = self.latest_checkpoint(job_id)
        if not path:
            raise SpecError("job %s has no completed checkpoint yet; nothing was changed" % job_id, option=option,
                            hint="Wait for a checkpoint (the cluster needs a checkpoint directory), or use savepoint")
        return path

    def stats_cache_seconds(self):
        """How long Flink's REST API may answer a job's checkpoint statistics from its cache:
        ``rest.cache.checkpoint-statistics.timeout``, which defaults to ``web.refresh-interval`` (3 s)."""
        try:
            config = self.rest.jobmanager_config()
        except (BackendError, RestUnavailable):
            config = {}
        for key in ("rest.cache.checkpoint-statistics.timeout", "web.refresh-interval"):
            seconds = flink_duration_seconds(config.get(key))
            if seconds is not None:
                return min(seconds, 60.0)
        return 3.0

    def cancel_keeping_last_state(self, job_id, option, timeout, sleep):
        """For a last-state upgrade: check that the job's state can be kept (SpecError, nothing touched, when it
        cannot), cancel it, and return its latest checkpoint as retained at cancellation.

        The path is read again once the job has stopped and Flink's REST cache of checkpoint statistics has
        expired: a path read earlier (or from the cache) can name a checkpoint that a newer one subsumed, and
        Flink deletes subsumed checkpoints; a job started from it fails with "Could not start the JobMaster"."""
        before = self.last_state(job_id, option)
        self.cancel(job_id, timeout, sleep)
        time.sleep(self.stats_cache_seconds() + 0.5)
        return self.latest_checkpoint(job_id) or before

    def latest_savepoint(self, job_id):
        stats = self.checkpoint_stats(job_id)
        latest = (stats.get("latest") or {}).get("savepoint") or {}
        return latest.get("external_path")

    def wait_state(self, job_id, states, timeout, sleep):
        def probe():
            detail = self.rest.job(job_id)
            return detail.get("state") in states, {"summary": "job %s is %s" % (job_id, detail.get("state")),
                                                   "state": detail.get("state")}
        return wait_for(probe, timeout, sleep, "job %s to reach %s" % (job_id, "/".join(states)))["state"]

    def wait_running(self, job_id, timeout, sleep, option="jar"):
        """RUNNING with every task running (or FINISHED, for a bounded job); FAILED fails with the cause."""
        def probe():
            try:
                detail = self.rest.job(job_id)
            except RestUnavailable as exc:
                return False, {"summary": exc.message}
            except BackendError as exc:
                if (exc.partial or {}).get("status") == 404:  # not submitted yet (application mode)
                    return False, {"summary": "job %s not known yet" % job_id}
                raise
            state = detail.get("state")
            if state in ("FAILED", "CANCELED"):
                raise BackendError("job %s is %s: %s" % (job_id, state, self.root_cause(job_id)), option=option)
            if state == "FINISHED":
                return True, {"state": state}
            vertices = detail.get("vertices") or []
            running = state == "RUNNING" and vertices and all(v.get("status") in ("RUNNING", "FINISHED") for v in vertices)
            return bool(running), {"state": state, "summary": "job %s is %s, tasks %s" % (
                job_id, state, sorted(set(v.get("status") for v in vertices)))}
        return wait_for(probe, timeout, sleep, "job %s to run" % job_id)["state"]

    def root_cause(self, job_id):
        try:
            exceptions = self.rest.get("/jobs/%s/exceptions" % job_id)
        except BackendError:
            return "unknown"
        text = exceptions.get("root-exception") or ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[0] if lines else "unknown"


def failure_reason(cause):
    """The most telling line of a Flink failure cause (the last 'Caused by', else the first line)."""
    text = cause.get("stack-trace") or cause.get("class") or str(cause) if isinstance(cause, dict) else str(cause)
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    reasons = [line for line in lines if "Caused by" in line] or lines[:1]
    return reasons[-1] if reasons else "unknown reason"
