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

import hashlib
import json
import os
import time

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.rest import RestUnavailable
from ansible_collections.flinkops.flink.plugins.module_utils.wait import wait_for

ACTIVE = ("INITIALIZING", "CREATED", "RUNNING", "FAILING", "CANCELLING", "RESTARTING", "RECONCILING")
TERMINAL = ("FINISHED", "CANCELED", "FAILED", "SUSPENDED")
JAR_PREFIX = "flinkops-"


def name_prefix(name):
    return hashlib.sha256(("flinkops-job:" + name).encode("utf-8")).hexdigest()[:16]


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
        self.jar_sha256 = None
        if params.get("state") == "running":
            if not self.jar:
                raise SpecError("is required when state is running", option="jar")
            if not os.path.isfile(self.jar):
                raise SpecError("%s does not exist or is not a file" % self.jar, option="jar",
                                hint="Give the path of the job jar on the host that runs the module")
            self.jar_sha256 = file_sha256(self.jar)

    def spec_hash(self):
        data = {"jar": self.jar_sha256, "class": self.entry_class, "args": self.args,
                "parallelism": self.parallelism, "config": self.flink_config}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:8]

    def view(self):
        return {"name": self.name, "jar_sha256": self.jar_sha256, "entry_class": self.entry_class,
                "args": self.args, "parallelism": self.parallelism, "flink_config": self.flink_config,
                "spec_hash": self.spec_hash()}


class SessionJob(object):
    def __init__(self, module, rest, spec):
        self.module = module
        self.rest = rest
        self.spec = spec
        self.prefix = name_prefix(spec.name)

    def jobs(self):
        """This name's jobs, newest first."""
        mine = [j for j in self.rest.jobs() if str(j.get("jid", "")).startswith(self.prefix)]
        return sorted(mine, key=lambda j: j.get("start-time", 0), reverse=True)

    def current(self):
        jobs = self.jobs()
        return jobs[0] if jobs else None

    @staticmethod
    def running_hash(job):
        return job["jid"][16:24] if job else None

    def plan(self, state):
        """(action, reason) for the desired state: submit, upgrade, cancel, or None."""
        job = self.current()
        active = job is not None and job.get("state") in ACTIVE
        if state == "running":
            if not active:
                return ("submit", "no running job named %s" % self.spec.name), job
            if self.running_hash(job) != self.spec.spec_hash():
                return ("upgrade", "the job's jar, class, arguments, parallelism or configuration changed "
                                   "(upgrade_mode %s)" % self.spec.upgrade_mode), job
            return (None, None), job
        if state in ("cancelled", "absent") and active:
            return ("cancel", "state is %s" % state), job
        return (None, None), job

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
        jar_id, _uploaded = self.jar_id()
        job_id = "%s%s%s" % (self.prefix, self.spec.spec_hash(), "%08x" % (int(time.time() * 1000) & 0xFFFFFFFF))
        payload = {"jobId": job_id, "programArgsList": self.spec.args,
                   "allowNonRestoredState": self.spec.allow_non_restored_state}
        if self.spec.entry_class:
            payload["entryClass"] = self.spec.entry_class
        if self.spec.parallelism:
            payload["parallelism"] = self.spec.parallelism
        if self.spec.flink_config:
            payload["flinkConfiguration"] = self.spec.flink_config
        if savepoint_path:
            payload["savepointPath"] = savepoint_path
        try:
            return self.rest.run_jar(jar_id, payload)
        except RestUnavailable:
            raise
        except BackendError as exc:
            raise BackendError("submitting job %s failed: %s" % (self.spec.name, exc.message), option="jar",
                               hint="Check entry_class, args and the jar; the error above comes from Flink")

    def cancel(self, job, timeout, sleep):
        self.rest.cancel(job["jid"])
        return self.wait_state(job["jid"], ("CANCELED", "FINISHED", "FAILED"), timeout, sleep)

    def stop_with_savepoint(self, job, timeout, sleep):
        """Stop with a savepoint; on failure the job keeps running and the error says why."""
        request_id = self.rest.stop_with_savepoint(job["jid"], target_directory=self.spec.savepoint_dir)

        def probe():
            status = self.rest.savepoint_status(job["jid"], request_id)
            if (status.get("status") or {}).get("id") != "COMPLETED":
                return False, {"summary": "savepoint in progress"}
            operation = status.get("operation") or {}
            if operation.get("failure-cause"):
                cause = operation["failure-cause"]
                text = cause.get("stack-trace") or cause.get("class") or str(cause)
                lines = [line.strip() for line in str(text).splitlines() if line.strip()]
                reasons = [line for line in lines if "Caused by" in line] or lines[:1]
                raise BackendError("stop-with-savepoint of job %s failed, the job keeps running: %s" % (
                    job["jid"], reasons[-1] if reasons else "unknown reason"), option="savepoint_dir",
                    hint="Check that the savepoint directory exists and is writable by Flink")
            return True, {"location": operation.get("location")}

        state = wait_for(probe, timeout, sleep, "the savepoint of job %s" % job["jid"])
        self.wait_state(job["jid"], ("FINISHED", "CANCELED", "FAILED"), timeout, sleep)
        return state["location"]

    def wait_state(self, job_id, states, timeout, sleep):
        def probe():
            detail = self.rest.job(job_id)
            return detail.get("state") in states, {"summary": "job %s is %s" % (job_id, detail.get("state")),
                                                   "state": detail.get("state")}
        return wait_for(probe, timeout, sleep, "job %s to reach %s" % (job_id, "/".join(states)))["state"]

    def wait_running(self, job_id, timeout, sleep):
        """RUNNING with every task running (or FINISHED, for a bounded job); FAILED fails with the cause."""
        def probe():
            detail = self.rest.job(job_id)
            state = detail.get("state")
            if state == "FAILED" or state == "CANCELED":
                raise BackendError("job %s is %s: %s" % (job_id, state, self.root_cause(job_id)), option="jar")
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
