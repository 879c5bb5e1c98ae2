# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A job on a session cluster of the Flink Kubernetes Operator (flink_job mode=operator): a FlinkSessionJob.

The FlinkSessionJob ``<name>`` runs on the session FlinkDeployment ``cluster`` (its ``deploymentName``). The
operator fetches ``jarURI`` itself and submits the job; each job is upgraded (the operator stops it as
``upgradeMode`` says and starts the new spec from that state), suspended (``job.state: suspended``, with a savepoint)
or removed on its own, the other jobs of the session untouched. The resource carries the job's view and hash as
annotations, so an unchanged run asks the operator nothing. The wait follows the operator's status, as for a
FlinkDeployment: the generation reconciled, lifecycle STABLE with the job RUNNING, or SUSPENDED; FAILED and a
validation error (a ``jarURI`` whose scheme or host the operator's artifact rules refuse, among others) fail it
with the operator's message.
"""

from __future__ import annotations

import json
import re
import time

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import (
    ApiException, api_error, k8s_api_client)
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.operator_resources import (
    API_VERSION, GROUP, PLURALS, VERSION, operator_error, summary)
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.options import connection_params
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.state_snapshot import take_savepoint
from ansible_collections.flinkops.flink.plugins.module_utils.plan import Action, changed_fields, digest
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.native_spec import (
    ANNOTATION_HASH, ANNOTATION_MANAGED, ANNOTATION_SPEC, MANAGED_BY)
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.operator_wait import VALIDATION_GRACE, reconciled
from ansible_collections.flinkops.flink.plugins.module_utils.wait import wait_for

NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
SCHEMES_KEY = "kubernetes.operator.user.artifacts.allowed-schemes"
HOSTS_KEY = "kubernetes.operator.user.artifacts.disallow-restricted-hosts"
# Options of flink_job that a FlinkSessionJob has no field for.
NOT_HERE = {"rest_url": "cluster (the session FlinkDeployment's name)",
            "restore": "savepoint_path (the FlinkSessionJob's initialSavepointPath)"}


class OperatorJobSpec(object):
    """The job of a FlinkSessionJob, validated before anything is touched."""

    def __init__(self, params):
        self.name = params["name"]
        if not NAME.match(self.name or ""):
            raise SpecError("%r is not a Kubernetes object name" % self.name, option="name",
                            hint="With mode operator the name is the FlinkSessionJob's: lower-case letters, digits "
                                 "and '-', at most 63")
        for option, instead in sorted(NOT_HERE.items()):
            value = params.get(option)
            if value and not (option == "restore" and value == "auto"):
                raise SpecError("does not apply with mode operator", option=option, hint="Use %s" % instead)
        if params.get("state") == "cancelled":
            raise SpecError("a FlinkSessionJob is running, suspended or absent", option="state",
                            hint="Use suspended (a savepoint, the resource stays) or absent")
        self.cluster = params.get("cluster")
        if not self.cluster:
            raise SpecError("is required with mode operator", option="cluster",
                            hint="Give the name of the session FlinkDeployment (flink_session mode=operator)")
        self.jar = params.get("jar")
        self.entry_class = params.get("entry_class")
        self.args = [str(a) for a in (params.get("args") or [])]
        self.parallelism = params.get("parallelism")
        self.upgrade_mode = params.get("upgrade_mode") or "savepoint"
        self.savepoint_dir = params.get("savepoint_dir")
        self.savepoint_path = params.get("savepoint_path")
        self.trigger_savepoint = bool(params.get("trigger_savepoint"))
        self.allow_non_restored_state = bool(params.get("allow_non_restored_state"))
        self.labels = dict((str(k), str(v)) for k, v in (params.get("labels") or {}).items())
        self.flink_config = dict((str(k), str(v).lower() if isinstance(v, bool) else str(v))
                                 for k, v in (params.get("flink_config") or {}).items())
        if self.savepoint_dir:
            self.flink_config["execution.checkpointing.savepoint-dir"] = self.savepoint_dir
        if self.parallelism is not None and self.parallelism < 1:
            raise SpecError("must be at least 1, got %d" % self.parallelism, option="parallelism")
        if params.get("state") == "running":
            if not self.jar or "://" not in self.jar:
                raise SpecError("%s: the operator fetches the jar itself" % (
                    "is required" if not self.jar else "%r is not a URL" % self.jar), option="jar",
                    hint="Give an https:// URL (the only scheme the operator allows by default; others need %s in "
                         "the operator's configuration), or a file system Flink has a plugin for" % SCHEMES_KEY)

    def view(self):
        return {"name": self.name, "cluster": self.cluster, "jar": self.jar, "entry_class": self.entry_class,
                "args": self.args, "parallelism": self.parallelism, "flink_config": self.flink_config,
                "upgrade_mode": self.upgrade_mode, "allow_non_restored_state": self.allow_non_restored_state,
                "labels": self.labels}

    def spec_hash(self):
        return digest(self.view(), 16)


class OperatorSessionJob(object):
    """Read, plan, apply and wait for one FlinkSessionJob. Actions are named as flink_job's on the other platforms
    (submit, upgrade, suspend, resume, remove)."""

    def __init__(self, module, spec):
        self.module = module
        self.params = module.params
        self.spec = spec
        self.namespace = self.params.get("namespace") or "default"
        self.api_client = k8s_api_client(connection_params(self.params))
        self.custom = self.api_client.custom

    def _get(self, kind, name):
        try:
            return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise BackendError("reading %s %s/%s failed: %s" % (kind, self.namespace, name, api_error(exc)))

    def read(self):
        return {"job": self._get("FlinkSessionJob", self.spec.name),
                "deployment": self._get("FlinkDeployment", self.spec.cluster) if self.spec.cluster else None}

    # Views ----------------------------------------------------------------------------------------
    @staticmethod
    def job_state(resource):
        return (((resource or {}).get("spec") or {}).get("job") or {}).get("state")

    def before_view(self, actual):
        resource = actual["job"]
        if resource is None:
            return {"state": "absent"}
        annotations = (resource.get("metadata") or {}).get("annotations") or {}
        try:
            view = json.loads(annotations.get(ANNOTATION_SPEC) or "{}")
        except ValueError:
            view = {}
        return dict(view or {"name": self.spec.name},
                    state="suspended" if self.job_state(resource) == "suspended" else "running")

    def desired_view(self, state):
        return dict(self.spec.view(), state=state) if state != "absent" else {"state": "absent"}

    def resource(self, job_state="running"):
        spec = self.spec
        job = {"jarURI": spec.jar, "args": list(spec.args),
               "parallelism": spec.parallelism or int(spec.flink_config.get("parallelism.default") or 1),
               "upgradeMode": "savepoint" if job_state == "suspended" else spec.upgrade_mode,
               "state": job_state, "allowNonRestoredState": spec.allow_non_restored_state}
        if spec.entry_class:  # else the jar's Main-Class, as Flink's jar run takes it
            job["entryClass"] = spec.entry_class
        if spec.savepoint_path:
            job["initialSavepointPath"] = spec.savepoint_path
        body = {"deploymentName": spec.cluster, "job": job}
        if spec.flink_config:
            body["flinkConfiguration"] = dict(spec.flink_config)
        return {"apiVersion": API_VERSION, "kind": "FlinkSessionJob",
                "metadata": {"name": spec.name, "namespace": self.namespace,
                             "labels": dict(spec.labels, **{"app.kubernetes.io/managed-by": "flinkops"}),
                             "annotations": {ANNOTATION_HASH: spec.spec_hash(), ANNOTATION_MANAGED: MANAGED_BY,
                                             ANNOTATION_SPEC: json.dumps(spec.view(), sort_keys=True)}},
                "spec": body}

    # Plan ---------------------------------------------------------------------------------------
    def plan(self, actual, state):
        resource = actual["job"]
        target = "flinksessionjob %s" % self.spec.name
        if state == "absent":
            return [Action("remove", target, "state is absent", "job")] if resource is not None else []
        if resource is not None:
            annotations = (resource.get("metadata") or {}).get("annotations") or {}
            if annotations.get(ANNOTATION_MANAGED) != MANAGED_BY:
                raise SpecError("a FlinkSessionJob %s that this collection did not create exists in namespace %s" % (
                    self.spec.name, self.namespace), option="name", hint="Choose another name, or remove it")
            if (resource.get("spec") or {}).get("deploymentName") != self.spec.cluster:
                raise SpecError("FlinkSessionJob %s runs on %s, not %s" % (
                    self.spec.name, resource["spec"].get("deploymentName"), self.spec.cluster), option="cluster",
                    hint="A job cannot move between session clusters: remove it first (state absent)")
        if state == "suspended":
            if resource is None or self.job_state(resource) == "suspended":
                return []
            return [Action("suspend", target, "state is suspended: the operator stops the job with a savepoint",
                           "job")]
        if actual["deployment"] is None:
            raise SpecError("no FlinkDeployment %s in namespace %s" % (self.spec.cluster, self.namespace),
                            option="cluster", hint="Deploy the session first (flink_session mode=operator)")
        if (actual["deployment"].get("spec") or {}).get("job"):
            raise SpecError("FlinkDeployment %s is an application cluster" % self.spec.cluster, option="cluster",
                            hint="Session jobs run on a session FlinkDeployment (flink_session mode=operator)")
        if resource is None:
            return [Action("submit", target, "missing", "job")]
        fields = changed_fields(self.before_view(actual), self.desired_view(state))
        if self.job_state(resource) == "suspended":
            reason = "from %s" % (summary(resource)["last_savepoint"] or "the operator's last savepoint")
            return [Action("resume", target, reason + (", changed: %s" % ", ".join(fields) if fields else ""), "job")]
        annotations = resource["metadata"].get("annotations") or {}
        if annotations.get(ANNOTATION_HASH) != self.spec.spec_hash():
            return [Action("upgrade", target, "changed: %s (upgrade_mode %s, run by the operator)" % (
                ", ".join(fields) or "spec", self.spec.upgrade_mode), "job")]
        if self.spec.trigger_savepoint:
            return [Action("savepoint", target, "trigger_savepoint is true (a FlinkStateSnapshot)", "job")]
        return []

    # Apply --------------------------------------------------------------------------------------
    def applier(self, check_mode):
        from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.apply import Applier
        return Applier(self.api_client, field_manager="flinkops", force_conflicts=True, check_mode=check_mode)

    def preflight(self, actions):
        """A server-side dry run of the resource (the CRD's schema checks every field)."""
        if any(a.kind in ("submit", "upgrade", "resume") for a in actions):
            try:
                self.applier(True).apply([self.resource()])
            except BackendError as exc:
                raise SpecError("the API server refuses the FlinkSessionJob: %s" % exc.message, option="name",
                                hint="Are the operator's CRDs installed and of its version (role "
                                     "flinkops.flink.operator)?")

    def apply(self, actions):
        for action in actions:
            if action.kind == "remove":
                self.delete()
            elif action.kind == "suspend":
                self.applier(False).apply([self.resource("suspended")])
            elif action.kind in ("submit", "upgrade", "resume"):
                self.applier(False).apply([self.resource()])

    def take_savepoint(self):
        """The on-demand savepoint (trigger_savepoint): a FlinkStateSnapshot of the FlinkSessionJob."""
        return take_savepoint(self.custom, self.namespace, "FlinkSessionJob", self.spec.name, self.spec.savepoint_dir,
                              self.params["wait_timeout"], self.params["wait_sleep"])

    def delete(self):
        try:
            self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS["FlinkSessionJob"],
                                                        self.spec.name)
        except ApiException as exc:
            if exc.status != 404:
                raise BackendError("deleting FlinkSessionJob %s failed: %s" % (self.spec.name, api_error(exc)))
        if self.params.get("wait"):
            wait_for(lambda: (self._get("FlinkSessionJob", self.spec.name) is None,
                              {"summary": "the operator cancels the job and removes its finalizer"}),
                     self.params["wait_timeout"], self.params["wait_sleep"],
                     "the removal of FlinkSessionJob %s" % self.spec.name)

    # Readiness ----------------------------------------------------------------------------------
    def wait(self, state):
        """The operator reconciled the applied generation: STABLE with the job RUNNING, or SUSPENDED."""
        errors = {}

        def probe():
            resource = self._get("FlinkSessionJob", self.spec.name)
            if resource is None:
                raise BackendError("FlinkSessionJob %s disappeared" % self.spec.name)
            seen = summary(resource)
            status = resource.get("status") or {}
            out = {"summary": "lifecycle %s, job %s" % (seen["lifecycle_state"], seen["job_state"]), "operator": seen}
            error = operator_error(status)
            if "ValidationException" in (status.get("error") or "") and not reconciled(resource):
                errors.setdefault("validation", time.monotonic())
                # FAILED: the operator has refused this generation; else it may still be an older one's error
                if seen["lifecycle_state"] == "FAILED" or time.monotonic() - errors["validation"] >= VALIDATION_GRACE:
                    raise SpecError("the operator refuses FlinkSessionJob %s: %s" % (self.spec.name, error),
                                    option="jar" if "jarURI" in (error or "") or "scheme" in (error or "") else "name",
                                    hint="A jarURI's scheme must be in the operator's %s (default https) and its "
                                         "host must not be private or loopback unless %s is false: set them with "
                                         "the operator role's operator_config" % (SCHEMES_KEY, HOSTS_KEY))
            else:
                errors.pop("validation", None)
            if seen["lifecycle_state"] == "FAILED" or seen["job_state"] == "FAILED":
                raise BackendError("the operator reports FlinkSessionJob %s FAILED: %s" % (
                    self.spec.name, error or "no message"), partial=out,
                    hint="kubectl -n %s describe flinksessionjob %s; the operator's log" % (
                        self.namespace, self.spec.name))
            if error:
                out["summary"] += ", operator error: %s" % error
            if not reconciled(resource):
                return False, out
            if state == "suspended":
                return seen["lifecycle_state"] == "SUSPENDED", out
            return seen["lifecycle_state"] == "STABLE" and seen["job_state"] == "RUNNING", out

        return wait_for(probe, self.params["wait_timeout"], self.params["wait_sleep"],
                        "FlinkSessionJob %s to be %s" % (self.spec.name, "SUSPENDED" if state == "suspended" else
                                                         "STABLE with its job RUNNING"))["operator"]
