# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Flink session cluster run by the Flink Kubernetes Operator: the spec as a FlinkDeployment.

The module writes one FlinkDeployment ``<name>`` (server-side apply, field manager ``flinkops``); the operator
makes the JobManager Deployment ``<name>``, its Services ``<name>`` and ``<name>-rest`` and ConfigMaps, the same
objects as Flink's native mode (the operator runs native mode underneath), and TaskManager pods on demand. The
FlinkDeployment carries the spec's public view and hash as annotations, as the JobManager Deployment does in
native mode, so an unchanged run is recognised without asking the operator anything.

Reads, REST (through the API server's proxy) and the description of the pods are native mode's. What differs:
no Flink client on the module's host, check mode is a server-side dry run of the FlinkDeployment (the CRD's
schema validates every field, the flinkVersion enum included), a restart is the operator's ``restartNonce``, and
the wait follows the operator's status: ``jobManagerDeploymentStatus`` READY and ``lifecycleState`` STABLE for
the generation applied; FAILED, an ERROR deployment status or the operator's ``status.error`` for that
generation fail the wait at once, with the operator's message.
"""

from __future__ import annotations

import json

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.flink_config import _legacy_value, flatten
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes import config_secret
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import (
    ApiException, api_error, api_unreachable, read_error)
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.native_spec import PULL_POLICY
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.rbac import SECRET_RIGHTS
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.operator_resources import (
    API_VERSION, GROUP, OPERATOR_ROLLBACK_KEY, PLURALS, VERSION, operator_rolls_back, summary)
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.operator_wait import (
    ready_states, reconciled, reconciled_at, wait_failure)
from ansible_collections.flinkops.flink.plugins.module_utils.memory import format_memory
from ansible_collections.flinkops.flink.plugins.module_utils.plan import Action, changed_fields, digest
from ansible_collections.flinkops.flink.plugins.module_utils.platforms.k8s_native import (
    ANNOTATION_HASH, ANNOTATION_MANAGED, ANNOTATION_SPEC, MANAGED_BY, K8sNativeCluster)
from ansible_collections.flinkops.flink.plugins.module_utils.rest import RestUnavailable, with_slots
from ansible_collections.flinkops.flink.plugins.module_utils.wait import wait_for

CRD_NAME = "flinkdeployments.%s" % GROUP
# What the module's user must be allowed to do with mode operator (the operator makes everything else).
USER_RIGHTS = [("flinkdeployments", GROUP, v) for v in ("get", "create", "patch", "delete")]
# What describe() returns of the operator's status (option-independent names, see operator_resources.summary).
OPERATOR_FIELDS = ("lifecycle_state", "jobmanager_deployment_status", "error", "generation", "reconciled_generation")
# The operator 1.15 rolls back an upgrade only with the job's high-availability metadata, which a job stopped with a
# savepoint no longer has, or when the new JobManager Deployment "never started": its Available condition False since
# the second the Deployment was created. The Deployment controller often sets it a second later (seen on the test bed),
# and then the failed spec stays, its job not running, until wait_timeout.
SAVEPOINT_ROLLBACK_WARNING = (
    "the operator's own rollback (flink_config %s) of an upgrade with job.upgrade_mode savepoint is not reliable: the "
    "stopped job leaves no high-availability metadata, and the operator then rolls back only a JobManager it judges "
    "never started; job.upgrade_mode last-state keeps that metadata (or leave the operator's rollback off: the "
    "module rolls back itself)" % OPERATOR_ROLLBACK_KEY)
# Set from the FlinkDeployment's own fields (image, resources, service account, ...), never in flinkConfiguration.
SPEC_FIELD_KEYS = ("kubernetes.cluster-id", "kubernetes.namespace", "kubernetes.service-account",
                   "kubernetes.container.image.ref", "kubernetes.container.image.pull-policy",
                   "jobmanager.memory.process.size", "taskmanager.memory.process.size", "kubernetes.jobmanager.cpu.amount",
                   "kubernetes.taskmanager.cpu.amount", "kubernetes.jobmanager.replicas", "execution.attached")
# The log4j configuration a FlinkDeployment gets with log_level (the operator's default otherwise).
LOG4J_CONSOLE = """rootLogger.level = %s
rootLogger.appenderRef.console.ref = ConsoleAppender
appender.console.name = ConsoleAppender
appender.console.type = CONSOLE
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %%d{yyyy-MM-dd HH:mm:ss,SSS} %%-5p %%-60c %%x - %%m%%n
logger.pekko.name = org.apache.pekko
logger.pekko.level = INFO
logger.kafka.name = org.apache.kafka
logger.kafka.level = INFO
logger.hadoop.name = org.apache.hadoop
logger.hadoop.level = WARN
logger.zookeeper.name = org.apache.zookeeper
logger.zookeeper.level = INFO
monitorInterval = 30
"""


def flink_version_enum(version):
    """The FlinkDeployment's flinkVersion of a Flink version: v<major>_<minor>."""
    return "v%d_%d" % (version.major, version.minor)


def jobmanager_deployment(resource):
    """Whether the operator's JobManager Deployment exists, as the FlinkDeployment's status says: not once the
    operator reports it MISSING (suspended, deleted); before its first status (just created) it may be on its way,
    so it counts (asking its REST API then finds nothing, which describe and the running-jobs guard handle)."""
    return ((resource.get("status") or {}).get("jobManagerDeploymentStatus") or "") != "MISSING"


def rollback_utils():
    """kubernetes/operator_rollback.py, imported when a change needs it (an unchanged run never does)."""
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes import operator_rollback  # pylint: disable=import-outside-toplevel
    return operator_rollback


class K8sOperatorCluster(K8sNativeCluster):
    """A session cluster as a FlinkDeployment of the Flink Kubernetes Operator."""

    platform = "kubernetes"
    mode = "operator"
    kind = "session"
    needs_client = False
    # Actions that apply the FlinkDeployment (checked by preflight first)
    applying_kinds = ("create", "recreate", "restart")

    def __init__(self, module, spec):
        super(K8sOperatorCluster, self).__init__(module, spec)
        if module.params.get("state") != "absent" and spec.version is None:
            raise SpecError("the FlinkDeployment needs the Flink version", option="flink_version",
                            hint="Set flink_version, or use an image tag that starts with it (flink:2.2.1-java17)")
        if module.params.get("state") != "absent" and not self.native.ha and \
                operator_rolls_back(flatten(spec.flink_config)):
            # the operator's validation refuses it (after the apply): said here, before anything is touched
            raise SpecError("%s needs high availability" % OPERATOR_ROLLBACK_KEY, option="flink_config",
                            hint="Set high_availability.enabled=true with a storage_dir, or remove the key: the "
                                 "module rolls back itself (option rollback)")
        self.custom = self.api_client.custom
        self._read_resource = None  # the FlinkDeployment as read() saw it
        self.reconciled_before = None  # its reconciliationTimestamp at the run's first read (before any change)
        self._first_read = True
        self._kept = None  # the last stable FlinkDeployment before a change (operator_rollback.keep)
        self._operator_rolls_back = False  # the operator's own rollback follows a failed change (applications)
        self.rolled_back_by_operator = False  # the wait after it takes ROLLED_BACK for ready
        self.failed_pods = frozenset()  # uids of the pods of the spec a rollback replaced

    # Actual state -------------------------------------------------------------------------------
    def read(self):
        """The FlinkDeployment first. Without it, all that native mode reads (a foreign Deployment of the name is
        refused by plan); with it, not the JobManager Deployment and internal Service the operator owns: its status
        says whether the Deployment is there (has_jobmanager)."""
        try:
            resource = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURALS["FlinkDeployment"], self.cluster_id)
        except ApiException as exc:
            if exc.status != 404:
                raise read_error(exc, "FlinkDeployment %s/%s" % (self.namespace, self.cluster_id))
            resource = None
        if resource is None:
            actual = super(K8sOperatorCluster, self).read()
            self.require_crd()
        else:
            try:
                actual = self.read_beside(True)
            except ApiException as exc:
                raise read_error(exc, "cluster %s in namespace %s" % (self.cluster_id, self.namespace))
        actual["flinkdeployment"] = self._read_resource = self._unused_read["flinkdeployment"] = resource
        if self._first_read:
            self.reconciled_before, self._first_read = reconciled_at(resource), False
        return actual

    def require_crd(self):
        try:
            self.api_client.apiext.read_custom_resource_definition(CRD_NAME)
        except ApiException as exc:
            if exc.status == 404:
                raise SpecError("the Flink Kubernetes Operator's CRDs are not installed (no %s)" % CRD_NAME,
                                option="mode", hint="Install the operator first (role flinkops.flink.operator)")
            if exc.status != 403:  # a namespaced user may not read CRDs: the dry run tells later
                raise BackendError("reading CRD %s failed: %s" % (CRD_NAME, api_error(exc)))

    def exists(self, actual):
        return actual["flinkdeployment"] is not None or bool(actual["ha_configmaps"])

    def has_jobmanager(self, actual):
        if actual["flinkdeployment"] is None:
            return actual["deployment"] is not None
        return jobmanager_deployment(actual["flinkdeployment"])

    def _resource_annotations(self, actual):
        return ((actual.get("flinkdeployment") or {}).get("metadata") or {}).get("annotations") or {}

    def before_view(self, actual):
        if actual["flinkdeployment"] is None:
            return {}
        try:
            view = json.loads(self._resource_annotations(actual).get(ANNOTATION_SPEC) or "{}")
        except ValueError:
            view = {}
        return dict(view or {"name": self.cluster_id}, state="present")

    def extra_view(self):
        return {"mode": "operator"}

    def spec_hash(self):
        # log_level is part of the pods here: the operator redeploys for a new logConfiguration.
        if self.spec.secret_config:
            return digest({"view": self.desired_view(), "secrets": self.secrets_digest()})
        return digest({"view": self.desired_view()})

    # Desired state ------------------------------------------------------------------------------
    def flink_configuration(self):
        conf = dict((k, v) for k, v in self.flink_settings().items() if k not in SPEC_FIELD_KEYS)
        return dict((k, _legacy_value(k, v)) for k, v in conf.items())

    def pod_template(self):
        template = json.loads(json.dumps(self.native.pod_template)) if self.native.pod_template else None
        if self.native.pull_secrets:
            template = template or {"apiVersion": "v1", "kind": "Pod"}
            template.setdefault("spec", {})["imagePullSecrets"] = [{"name": n} for n in self.native.pull_secrets]
        if self.spec.secret_config:
            # flink_config_secrets live in a Secret the pods mount (see kubernetes/config_secret.py), never in the
            # FlinkDeployment's flinkConfiguration; the digest in the pods' template makes the operator redeploy
            # when they change.
            template = config_secret.with_secret_volume(template, self.cluster_id)
            template.setdefault("metadata", {}).setdefault("annotations", {})[
                config_secret.DIGEST_ANNOTATION] = self.secrets_digest()
        return template

    def resource(self, restart_nonce=None):
        spec, native = self.spec, self.native
        body = {
            "image": spec.image,
            "imagePullPolicy": PULL_POLICY[spec.image_pull],
            "flinkVersion": flink_version_enum(spec.version),
            "serviceAccount": native.service_account,
            "mode": "native",
            "flinkConfiguration": self.flink_configuration(),
            "jobManager": {"replicas": native.jm_replicas,
                           "resource": {"memory": format_memory(spec.jm_memory), "cpu": float(spec.jm_cpu or 1)}},
            "taskManager": {"resource": {"memory": format_memory(spec.tm_memory), "cpu": float(spec.tm_cpu or 1)}},
        }
        template = self.pod_template()
        if template:
            body["podTemplate"] = template
        if native.log_level:
            body["logConfiguration"] = {"log4j-console.properties": LOG4J_CONSOLE % native.log_level}
        if restart_nonce is not None:
            body["restartNonce"] = restart_nonce
        return {"apiVersion": API_VERSION, "kind": "FlinkDeployment",
                "metadata": {"name": self.cluster_id, "namespace": self.namespace,
                             "labels": dict(spec.labels, **{"app.kubernetes.io/managed-by": "flinkops"}),
                             "annotations": {ANNOTATION_HASH: self.spec_hash(), ANNOTATION_MANAGED: MANAGED_BY,
                                             ANNOTATION_SPEC: json.dumps(self.desired_view(), sort_keys=True)}},
                "spec": body}

    # Plan ---------------------------------------------------------------------------------------
    def own_resource(self, actual):
        """The FlinkDeployment when this collection made it, None when there is none; refuses a foreign one, or a
        native-mode Deployment of the same name."""
        resource = actual["flinkdeployment"]
        if resource is None:
            if actual["deployment"] is not None:
                raise SpecError("a Deployment %s that no FlinkDeployment owns exists in namespace %s" % (
                    self.cluster_id, self.namespace), option="name",
                    hint="A native-mode cluster of that name runs there: remove it first or choose another name")
            return None
        if self._resource_annotations(actual).get(ANNOTATION_MANAGED) != MANAGED_BY:
            raise SpecError("a FlinkDeployment %s that this collection did not create exists in namespace %s" % (
                self.cluster_id, self.namespace), option="name",
                hint="Choose another name, or remove that FlinkDeployment")
        return resource

    def plan(self, actual, state):
        resource = actual["flinkdeployment"]
        target = "flinkdeployment %s" % self.cluster_id
        if state == "absent":
            actions = []
            if resource is not None:
                actions.append(Action("remove", target, "state is absent", "jobmanager"))
            if actual["ha_configmaps"]:
                actions.append(Action("remove", "high-availability configmaps %s" % ", ".join(
                    sorted(c.metadata.name for c in actual["ha_configmaps"])), "state is absent", "ha"))
            return actions
        if self.own_resource(actual) is None:
            return [Action("create", target, "missing", "jobmanager")]
        annotations = self._resource_annotations(actual)
        if annotations.get(ANNOTATION_HASH) != self.spec_hash():
            fields = changed_fields(self.before_view(actual), self.desired_view())
            # The operator redeploys the session cluster for a new spec: jobs on it restart.
            return [Action("recreate", target, "changed: %s" % (", ".join(fields) or "spec"), "jobmanager")]
        if self.params.get("state") == "restarted":
            return [Action("restart", target, "state is restarted (restartNonce)", "jobmanager")]
        return []

    # Preflight ----------------------------------------------------------------------------------
    def preflight(self, actions, actual):
        """Before anything changes: the module's user may write FlinkDeployments, the service account exists with
        the rights the operator's Flink needs (the JobManager makes the TaskManager pods, as in native mode), and
        the API server accepts the FlinkDeployment (a server-side dry run: the CRD's schema checks every field, the
        operator's flinkVersion enum too)."""
        if not any(a.kind in self.applying_kinds for a in actions):
            return
        self.check_rights(USER_RIGHTS + (SECRET_RIGHTS if self.spec.secret_config else []))
        self.dry_run(actual)

    def applier(self, check_mode):
        from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.apply import Applier
        return Applier(self.api_client, field_manager="flinkops", force_conflicts=True, check_mode=check_mode)

    def current_nonce(self, actual):
        return ((actual.get("flinkdeployment") or {}).get("spec") or {}).get("restartNonce")

    def dry_run(self, actual):
        self._dry_run_body(self.resource(self.current_nonce(actual)))

    def _dry_run_body(self, body):
        try:
            self.applier(True).apply([body])
        except BackendError as exc:
            message = exc.message
            option = "flink_version" if "flinkVersion" in message else "mode"
            raise SpecError("the API server refuses the FlinkDeployment: %s" % message, option=option,
                            hint="flinkVersion %s: is it one this operator supports (its CRD lists them)? Are the "
                                 "operator's CRDs those of its version (role flinkops.flink.operator updates "
                                 "them)?" % body["spec"]["flinkVersion"])

    # Apply --------------------------------------------------------------------------------------
    def apply(self, actions):
        for action in actions:
            if action.kind == "remove" and action.role == "jobmanager":
                self.delete_resource(wait=self.params.get("wait"))
            elif action.kind == "remove" and action.role == "ha":
                self.delete_ha_configmaps()
            elif action.kind in ("create", "recreate"):
                if action.kind == "recreate":
                    self.keep_for_rollback()
                self.apply_resource(self.resource(self.read_nonce()))
            elif action.kind == "restart":
                self.apply_resource(self.resource((self.read_nonce() or 0) + 1))

    def apply_resource(self, body):
        """Apply the FlinkDeployment, with the Secret of flink_config_secrets written (or removed) first."""
        self.sync_config_secret()
        self.applier(False).apply([body])

    def cluster_pods(self):
        """The pods of the cluster (JobManager and TaskManagers), as the API server lists them now (as read() saw
        them for the first probe of an unchanged run)."""
        pods = self.seen_in_read("pods")
        if pods is not None:
            return pods
        try:
            return self.core.list_namespaced_pod(self.namespace, label_selector="app=%s" % self.cluster_id).items
        except ApiException as exc:
            raise BackendError("listing the pods of %s failed: %s" % (self.cluster_id, api_error(exc)))

    # Rollback (kubernetes/operator_rollback.py, imported when a change needs it) -------------------------
    def rollbacks(self):
        return rollback_utils().OperatorRollback(self.api_client, self.core, self.namespace,
                                                 config_secret.secret_name(self.cluster_id))

    def keep_for_rollback(self):
        """Before a change: keep the FlinkDeployment as read, when the operator reports it stable. Where
        flink_config turns the operator's own rollback on for an application, nothing is kept: the module waits
        for the operator's rollback instead (K8sOperatorApplication.await_operator_rollback). The operator 1.15
        does not roll back a session cluster (operator_rollback.py): the module does, whatever flink_config says."""
        if not self.params.get("rollback", True):
            return
        if self.kind == "application" and operator_rolls_back(self.flink_configuration()):
            # The operator rolls back to the last spec it recorded as stable (a ROLLED_BACK resource has one too).
            status = (self._read_resource or {}).get("status") or {}
            self._operator_rolls_back = bool((status.get("reconciliationStatus") or {}).get("lastStableSpec"))
            if self._operator_rolls_back and self.job.upgrade_mode == "savepoint":
                self.module.warn(SAVEPOINT_ROLLBACK_WARNING)
            return
        self._kept = self.rollbacks().keep(self._read_resource, self.kind == "application")

    def settle(self):
        super(K8sOperatorCluster, self).settle()
        self._kept, self._operator_rolls_back = None, False

    def roll_back(self):
        """The change did not get ready: apply the last stable FlinkDeployment again (the operator redeploys the
        session cluster with it). Nothing when nothing stable was kept."""
        kept, self._kept = self._kept, None
        if kept is None:
            return []
        return self.restore(kept, rollback_utils().restore_body(kept["body"], None, None))

    def ignore_failed_pods(self):
        """The pods running now are the failed spec's, which a rollback replaces (the operator deletes them): the
        waits that follow do not judge the restored spec by them."""
        self.failed_pods = frozenset(p.metadata.uid for p in self.cluster_pods())

    def restore(self, kept, body):
        """Apply ``body`` (the kept FlinkDeployment, as roll_back made it) with the kept config Secret; the wait
        that follows ignores the failed spec's pods and expects the kept spec's TaskManagers."""
        self.ignore_failed_pods()
        self.rollbacks().restore_secret(kept)
        self.applier(False).apply([body])
        self.expect_restored_view(body["metadata"]["annotations"])
        return ["flinkdeployment %s" % self.cluster_id]

    def read_nonce(self):
        try:
            resource = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURALS["FlinkDeployment"], self.cluster_id)
        except ApiException:
            return None
        return (resource.get("spec") or {}).get("restartNonce")

    def delete_resource(self, wait=True):
        try:
            self.custom.delete_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURALS["FlinkDeployment"], self.cluster_id)
        except ApiException as exc:
            if exc.status != 404:
                raise BackendError("deleting FlinkDeployment %s failed: %s" % (self.cluster_id, api_error(exc)))
        self.delete_config_secret()
        if not wait:
            return

        def probe():
            actual = self.read()
            left = [("flinkdeployment", self.cluster_id)] if actual["flinkdeployment"] is not None else []
            left += [("deployment", self.cluster_id)] if actual["deployment"] is not None else []
            left += [("pod", p.metadata.name) for p in actual["pods"]]
            left += [("service", n) for n, s in actual["services"].items() if s is not None]
            return not left, {"summary": "waiting for %s to go" % ", ".join("%s %s" % kv for kv in left)}
        wait_for(probe, self.params.get("wait_timeout") or 300, self.params.get("wait_sleep") or 0.5,
                 "the removal of FlinkDeployment %s (the operator deletes what it made)" % self.cluster_id)

    # Readiness ----------------------------------------------------------------------------------
    def status(self):
        try:
            return self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURALS["FlinkDeployment"], self.cluster_id)
        except ApiException as exc:
            raise BackendError("reading FlinkDeployment %s failed: %s" % (self.cluster_id, api_error(exc)))

    def wait_status(self):
        """status() for a wait's probe: (resource, None), or (None, the probe's not-ready answer) while the API
        server cannot be reached (it restarts): the wait goes on until wait_timeout."""
        resource = self.seen_in_read("flinkdeployment")
        if resource is not None:
            return resource, None
        try:
            return self.status(), None
        except BackendError as exc:  # status() turned an ApiException into it
            unreachable = api_unreachable(exc.__context__)
            if not unreachable:
                raise
        except Exception as exc:  # pylint: disable=broad-exception-caught
            unreachable = api_unreachable(exc)
            if not unreachable:
                raise
        return None, (False, {"summary": "the API server is not answering (%s)" % unreachable})

    def wait_ready(self, timeout, sleep):
        """The operator reconciled this generation, the JobManager Deployment is READY and the lifecycle STABLE,
        then REST answers through the API server with at least taskmanager.replicas TaskManagers registered."""
        minimum = self.native.tm_min
        errors = {}

        def probe():
            resource, waiting = self.wait_status()
            if waiting:
                return waiting
            seen = summary(resource)
            state = {"summary": "lifecycle %s, JobManager deployment %s" % (
                seen["lifecycle_state"], seen["jobmanager_deployment_status"]), "operator": seen}
            ready, failed = ready_states(self)
            wait_failure(self, resource, seen, state, errors, failed)
            if not reconciled(resource):
                state["summary"] += ", generation %s not reconciled yet" % seen["generation"]
                return False, state
            error = seen["error"]
            if error and seen["jobmanager_deployment_status"] != "READY":
                state["summary"] += ", operator error: %s" % error
            if seen["jobmanager_deployment_status"] != "READY" or seen["lifecycle_state"] not in ready:
                return False, state
            try:
                rest = self.rest()
                overview = rest.overview()
                tms = rest.taskmanagers()
            except RestUnavailable as exc:
                state["summary"] += ", REST API not answering (%s)" % exc.message
                return False, state
            self._seen = (overview, tms)
            ready = len(with_slots(tms))
            state["summary"] += ", %d TaskManager(s) registered with their slots, %d wanted" % (ready, minimum)
            return ready >= minimum, state

        self._operator = wait_for(probe, timeout, sleep, "FlinkDeployment %s to be STABLE%s" % (
            self.cluster_id, " with %d TaskManager(s)" % minimum if minimum else ""))["operator"]
        return self._operator

    def describe(self, actual=None):
        actual = actual or self.read()
        result = super(K8sOperatorCluster, self).describe(actual)
        resource = actual.get("flinkdeployment")
        if resource is not None:
            seen = summary(resource)
            result["operator"] = dict((k, seen[k]) for k in OPERATOR_FIELDS)
        return result
