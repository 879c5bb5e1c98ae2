# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An application cluster in Flink's native Kubernetes mode (``--target kubernetes-application``).

It implements the application side of the platform contract (platform.ApplicationPlatform), so the application
flow of flows/application.py runs it with the same states, upgrade modes and state-saving steps as elsewhere. The job jar is ``local://`` (in the
image or a volume of the pod template), a remote URL Flink fetches (http(s), s3, ...), or a file on the host
that runs the module, uploaded by Flink's client (``kubernetes.artifacts.local-upload-enabled``) to the
``kubernetes.artifacts.local-upload-target`` of flink_config. A suspended application is remembered by a
ConfigMap ``flinkops-<name>-state`` (annotations only), from which ``running`` resumes. Every (re)deployment
first removes the high-availability ConfigMaps, so Flink never recovers an older job instead of the one
asked for.
"""

from __future__ import annotations

import os
import time

from ansible_collections.flinkops.flink.plugins.module_utils.application_job import ApplicationJob
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.job import check_jar_class, file_sha256
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import ApiException, api_error
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.native_snapshot import restart_config
from ansible_collections.flinkops.flink.plugins.module_utils.platform import ApplicationPlatform
from ansible_collections.flinkops.flink.plugins.module_utils.platforms.k8s_native import K8sNativeCluster

ANNOTATION_PREFIX = "flinkops.org/"
UPLOAD_TARGET = "kubernetes.artifacts.local-upload-target"


class K8sApplicationJob(ApplicationJob):
    """The job, with the jar locations of native Kubernetes."""

    fetches_artifacts = True

    def __init__(self, params, spec):
        job = dict(params.get("job") or {})
        jar = job.get("jar")
        super(K8sApplicationJob, self).__init__(dict(params, job=dict(job, jar=None)), spec, True)
        if not jar:
            raise SpecError("is required on platform kubernetes", option="job.jar",
                            hint="Give local:///opt/flink/usrlib/<job>.jar (in the image), an http(s) or "
                                 "filesystem URL, or a jar on the host that runs the module (uploaded)")
        self.jar = jar
        self.upload = "://" not in jar
        if self.upload:
            if not jar.startswith("/") or not jar.endswith(".jar"):
                raise SpecError("%r is neither a URL nor an absolute path to a .jar" % jar, option="job.jar",
                                hint="Use local:///path/in/the/image.jar, https://..., s3://..., or /path/on/the/"
                                     "controller.jar")
            if not os.path.exists(jar):
                raise SpecError("%s does not exist" % jar, option="job.jar",
                                hint="Give the path of the job jar on the host that runs the module")
            check_jar_class(jar, self.entry_class, "job.jar", "job.entry_class")
            self.jar_sha256 = file_sha256(jar)
            if not (spec.flink_config.get(UPLOAD_TARGET)):
                raise SpecError("a jar from the controller is uploaded by Flink's client, and flink_config sets no %s"
                                % UPLOAD_TARGET, option="flink_config.%s" % UPLOAD_TARGET,
                                hint="Set it to a directory every pod reads (s3://bucket/jars, or a shared volume), "
                                     "or give the jar as local:// or an http(s) URL")
        self.check_fetched(None if self.upload else jar, spec.flink_config, spec.version)


class K8sNativeApplication(K8sNativeCluster, ApplicationPlatform):
    kind = "application"

    def __init__(self, module, spec):
        super(K8sNativeApplication, self).__init__(module, spec)
        if module.params.get("state") != "absent":
            self.job = K8sApplicationJob(module.params, spec)

    def extra_view(self):
        return {"job": self.job.view()} if self.job is not None else {}

    def flink_settings(self):
        conf = self.job.flink_settings("jobmanager", super(K8sNativeApplication, self).flink_settings())
        self.job.artifact_settings(conf)
        conf["$internal.pipeline.job-id"] = self.new_job_id()
        if self.restore_from:
            conf["execution.savepoint.path"] = self.restore_from
            conf["execution.savepoint.ignore-unclaimed-state"] = bool(self.job.allow_non_restored_state)
        if self.job.upload:
            conf["kubernetes.artifacts.local-upload-enabled"] = True
        return conf

    def client_command(self, conf_dir, workdir):
        home = self.native.flink_home
        flink = os.path.join(home, "bin", "flink")
        if self.spec.version is not None and int(str(self.spec.version).split(".", maxsplit=1)[0]) < 2:
            cmd = [flink, "run-application", "--target", "kubernetes-application"]
        else:
            cmd = [flink, "run", "--target", "kubernetes-application"]
        return cmd + ["-c", self.job.entry_class]

    def deploy(self):
        self.delete_ha_configmaps()
        jar = self.job.jar
        if self.job.upload:
            # With kubernetes.artifacts.local-upload-enabled, Flink's client uploads a local:// jar of its own
            # host to the upload target, and the JobManager fetches it from there.
            jar = "local://" + jar
        self.sync_config_secret()
        self.run_client(extra_args=[jar] + list(self.job.args))
        self.mark()

    def apply(self, actions):
        for action in actions:
            if action.kind in ("create", "recreate", "restart") and action.role == "jobmanager":
                if action.kind == "recreate" and self.params.get("rollback", True):
                    self.take_snapshot()
                if action.kind != "create":
                    self.delete_deployment(wait=True)
                self.deploy()
            elif action.kind == "remove" and action.role == "jobmanager":
                self.delete_deployment(wait=True)
                self.delete_config_secret()
            elif action.kind == "remove" and action.role == "ha":
                self.delete_ha_configmaps()
            elif action.kind == "update" and action.role == "logging":
                self.update_log_level()

    def before_restore(self, snapshot):
        """An upgrade's rollback: the JobManager of the cluster before it restarts the job from the state this run
        saved (``restore_from``) under a new job id, not from the older state its configuration names; the
        high-availability ConfigMaps the failed job wrote go first, so that Flink does not recover that job."""
        name = "flink-config-%s" % self.cluster_id
        config = next((o for o in snapshot["owned"] if o["kind"] == "ConfigMap" and o["metadata"]["name"] == name),
                      None)
        files = [f for f in ("config.yaml", "flink-conf.yaml") if f in ((config or {}).get("data") or {})]
        if not files:
            raise BackendError("ConfigMap %s of the cluster before this run has no Flink configuration; it is not "
                               "restored" % name, option="rollback")
        job_id = self.derive_job_id()
        config["data"][files[0]] = restart_config(files[0], config["data"][files[0]], {
            "$internal.pipeline.job-id": job_id, "execution.savepoint.path": self.restore_from})
        self.delete_ha_configmaps()
        self.job_id = job_id

    def check_path(self, path, option):
        """Savepoint paths are read by the JobManager pod; Flink reports a missing one when the job starts."""
        return None

    # The record of a suspended application -----------------------------------------------------------
    def record_name(self):
        return "flinkops-%s-state" % self.spec.name

    def read_record(self):
        try:
            cm = self.core.read_namespaced_config_map(self.record_name(), self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise BackendError("reading the state record of %s failed: %s" % (self.spec.name, api_error(exc)))
        annotations = cm.metadata.annotations or {}
        return {"savepoint": annotations.get(ANNOTATION_PREFIX + "savepoint") or None,
                "job_id": annotations.get(ANNOTATION_PREFIX + "job-id") or None,
                "suspended_at": annotations.get(ANNOTATION_PREFIX + "suspended-at")}

    def write_record(self, savepoint, job_id):
        self.delete_record()
        body = self.k8s.client.V1ConfigMap(metadata=self.k8s.client.V1ObjectMeta(
            name=self.record_name(), labels={"flinkops.org/cluster": self.spec.name},
            annotations={ANNOTATION_PREFIX + "savepoint": savepoint or "", ANNOTATION_PREFIX + "job-id": job_id or "",
                         ANNOTATION_PREFIX + "suspended-at": str(int(time.time()))}))
        try:
            self.core.create_namespaced_config_map(self.namespace, body)
        except ApiException as exc:
            raise BackendError("writing the state record of %s failed: %s" % (self.spec.name, api_error(exc)),
                               hint="The savepoint is %s; resume with job.savepoint_path" % savepoint)

    def delete_record(self):
        try:
            self.core.delete_namespaced_config_map(self.record_name(), self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise BackendError("deleting the state record of %s failed: %s" % (self.spec.name, api_error(exc)))
