# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Flink cluster in Flink's native Kubernetes mode: read, plan, apply, wait.

Flink's own client (``bin/kubernetes-session.sh``, ``bin/flink run --target kubernetes-application``) creates
the JobManager Deployment ``<cluster id>``, its Services and ConfigMaps; the JobManager then starts TaskManager
pods itself when jobs need slots. Everything Flink creates is owned by the Deployment, except the high
availability ConfigMaps, which the module removes itself with ``state=absent``.

The module runs the client on the host that executes the module (``flink_home``), with a configuration
directory of its own. After a deployment it annotates the Deployment with a hash of the spec and the spec's
public view: a later run compares the hash to detect an unchanged spec, and diff mode shows the view.
The REST API is reached through the API server's service proxy, so the kubeconfig is all the module needs.
"""

from __future__ import annotations

import json

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.flink_config import FlinkVersion
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes import adopt, config_secret
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import (
    ApiException, api_error, k8s_api_client, read_error, through_restart)
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.flink_client import NativeClient, set_root_level
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.native_ready import NativeReadiness
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.native_rollback import NativeRollback
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.native_spec import (
    ANNOTATION_HASH, ANNOTATION_MANAGED, ANNOTATION_SPEC, MANAGED_BY, PULL_POLICY, NativeSpec, is_ha_configmap)
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.options import connection_params
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.rbac import SECRET_RIGHTS, USER_RIGHTS, RightsCheck
from ansible_collections.flinkops.flink.plugins.module_utils.memory import format_memory
from ansible_collections.flinkops.flink.plugins.module_utils.plan import Action, changed_fields, digest
from ansible_collections.flinkops.flink.plugins.module_utils.platform import ClusterPlatform
from ansible_collections.flinkops.flink.plugins.module_utils.wait import wait_for


class K8sNativeCluster(NativeClient, RightsCheck, NativeReadiness, NativeRollback, ClusterPlatform):
    """A session cluster in Flink's native Kubernetes mode."""

    platform = "kubernetes"
    mode = "native"
    kind = "session"
    # Flink's ResourceManager starts TaskManager pods for the jobs it runs: replicas is the number kept without jobs.
    default_taskmanagers = 0
    standby_jobmanagers = True
    needs_client = True  # runs Flink's client (flink_home)

    def __init__(self, module, spec):
        super(K8sNativeCluster, self).__init__(module, spec)
        self.native = NativeSpec(module.params, spec, module.params.get("state"), needs_client=self.needs_client)
        for warning in self.native.warnings:
            module.warn(warning)
        self.api_client = k8s_api_client(connection_params(module.params))
        self.core, self.apps, self.authz = self.api_client.core, self.api_client.apps, self.api_client.authz
        self._seen = None

    @property
    def k8s(self):
        """The kubernetes SDK, imported when a change needs its models (an unchanged run reads without it)."""
        import kubernetes
        return kubernetes

    # Names --------------------------------------------------------------------------------------
    @property
    def cluster_id(self):
        return self.spec.name

    @property
    def namespace(self):
        return self.native.namespace

    def selector(self, extra=None):
        return "app=%s,type=flink-native-kubernetes%s" % (self.cluster_id, ("," + extra) if extra else "")

    # Actual state -------------------------------------------------------------------------------
    def read(self):
        ns, cid = self.namespace, self.cluster_id
        try:
            deployment = self._get(self.apps.read_namespaced_deployment, cid)
            actual = self.read_beside(self._annotations(deployment).get(ANNOTATION_MANAGED) == MANAGED_BY)
            if deployment is None and not actual["configmaps"] and not actual["pods"] and \
                    not any(actual["services"].values()):
                # Nothing found: say so when the namespace itself is missing (a cluster found proves it exists).
                self.require_namespace()
        except ApiException as exc:
            raise read_error(exc, "cluster %s in namespace %s" % (cid, ns))
        actual["deployment"] = deployment
        return actual

    def read_beside(self, ours):
        """What a run reads besides the object that owns the cluster (the Deployment; the FlinkDeployment in operator
        mode): the REST Service (describe) and the pods (the wait, describe); the ConfigMaps for state absent (the
        HA ones it removes) or when ``ours`` is false, with the internal Service (adopting a foreign cluster, the name
        check of a new one). Raises ApiException."""
        ns, cid = self.namespace, self.cluster_id
        names = (cid + "-rest",) if ours else (cid, cid + "-rest")
        services = dict((name, self._get(self.core.read_namespaced_service, name)) for name in names)
        configmaps = [] if ours and self.params.get("state") != "absent" else \
            self.core.list_namespaced_config_map(ns, label_selector="app=%s" % cid).items
        pods = self.core.list_namespaced_pod(ns, label_selector="app=%s" % cid).items
        self._unused_read = {"pods": pods}
        return {"deployment": None, "services": services, "configmaps": configmaps, "pods": pods,
                "ha_configmaps": [c for c in configmaps if is_ha_configmap(c, cid)]}

    def seen_in_read(self, key):
        """What read() saw of ``key`` (pods; the operator's FlinkDeployment), once, when nothing was applied since
        (``read_holds``): the first probe of an unchanged run's wait does not ask again. None otherwise."""
        if not self.read_holds:
            return None
        return (getattr(self, "_unused_read", None) or {}).pop(key, None)

    def require_namespace(self):
        try:
            self.core.read_namespace(self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise SpecError("namespace %s does not exist" % self.namespace, option="namespace",
                                hint="Create it first (role flinkops.flink.k8s_namespace, or kubectl create "
                                     "namespace %s)" % self.namespace)
            if exc.status != 403:  # a namespaced user may not read namespaces: go on
                raise

    def _get(self, reader, name):
        try:
            return reader(name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    @staticmethod
    def _annotations(obj):
        return (obj.metadata.annotations or {}) if obj is not None else {}

    def exists(self, actual):
        return actual["deployment"] is not None or bool(actual["ha_configmaps"])

    def has_jobmanager(self, actual):
        return actual["deployment"] is not None

    def before_view(self, actual):
        deployment = actual["deployment"]
        if deployment is None:
            return {}
        try:
            view = json.loads(self._annotations(deployment).get(ANNOTATION_SPEC) or "{}")
        except ValueError:
            view = {}
        return dict(view or {"name": self.cluster_id}, state="present")

    # Desired state ------------------------------------------------------------------------------
    def desired_view(self):
        spec, native = self.spec, self.native
        view = {
            "name": spec.name,
            "platform": "kubernetes",
            "mode": "native",
            "namespace": native.namespace,
            "service_account": native.service_account,
            "flink_version": str(spec.version) if spec.version else None,
            "image": spec.image,
            "image_pull": spec.image_pull,
            "image_pull_secrets": list(native.pull_secrets),
            "jobmanager": {"memory": format_memory(spec.jm_memory), "cpu": spec.jm_cpu, "replicas": native.jm_replicas},
            "taskmanager": {"memory": format_memory(spec.tm_memory), "cpu": spec.tm_cpu, "replicas": native.tm_min,
                            "slots": spec.tm_slots},
            "flink_config": dict(spec.flink_config),
            "flink_config_secrets": dict((k, "********") for k in spec.secret_config),
            "env": dict(spec.env),
            "plugins": list(spec.plugins),
            "rest_exposure": native.exposure,
            "high_availability": {"enabled": native.ha, "storage_dir": native.ha_storage},
            "labels": dict(spec.labels),
            "annotations": dict(native.annotations),
            "node_selector": dict(native.node_selector),
            "tolerations": native.tolerations,
            "secrets": list(native.secrets),
            "env_secrets": list(native.env_secrets),
            "pod_template": native.pod_template,
            "log_level": native.log_level,
        }
        view.update(self.extra_view())
        return view

    def extra_view(self):
        return {}

    def spec_hash(self):
        """Hash of what the pods are made of. The log level is not in it: it changes on the running cluster."""
        view = dict(self.desired_view())
        view.pop("log_level", None)
        if not self.spec.secret_config:
            return digest({"view": view, "secrets": digest([])})  # as before flink_config_secrets had a digest
        return digest({"view": view, "secrets": self.secrets_digest()})

    def secrets_digest(self):
        """Digest of flink_config_secrets, memoised (it is slow on purpose: see config_secret.secrets_digest)."""
        if getattr(self, "_secrets_digest", None) is None:
            self._secrets_digest = config_secret.secrets_digest(
                self.spec.secret_config, "%s/%s" % (self.namespace, self.cluster_id))
        return self._secrets_digest

    def plugin_jars(self):
        jars = []
        for plugin in self.spec.plugins:
            jars.append(plugin if plugin.endswith(".jar") else "%s-%s.jar" % (plugin, self.spec.version))
        return jars

    def flink_settings(self):
        """The configuration the module gives Flink's client (shipped by Flink into the cluster's ConfigMap)."""
        spec, native = self.spec, self.native
        conf = {
            "kubernetes.cluster-id": spec.name,
            "kubernetes.namespace": native.namespace,
            "kubernetes.service-account": native.service_account,
            "kubernetes.container.image.ref": spec.image,
            "kubernetes.container.image.pull-policy": PULL_POLICY[spec.image_pull],
            "kubernetes.rest-service.exposed.type": native.exposure,
            "jobmanager.memory.process.size": "%db" % spec.jm_memory,
            "taskmanager.memory.process.size": "%db" % spec.tm_memory,
            "taskmanager.numberOfTaskSlots": spec.tm_slots,
            "execution.attached": False,
        }
        if native.pull_secrets:
            conf["kubernetes.container.image.pull-secrets"] = ";".join(native.pull_secrets)
        if self.user_entrypoint():
            conf["kubernetes.entry.path"] = self.user_entrypoint()
        if spec.secret_config:
            # The start script of the config Secret runs first and hands over to the user's entrypoint.
            conf["kubernetes.entry.path"] = config_secret.ENTRY_PATH
        if spec.jm_cpu:
            conf["kubernetes.jobmanager.cpu.amount"] = spec.jm_cpu
        if spec.tm_cpu:
            conf["kubernetes.taskmanager.cpu.amount"] = spec.tm_cpu
        if native.jm_replicas > 1:
            conf["kubernetes.jobmanager.replicas"] = native.jm_replicas
        if native.ha:
            conf["high-availability.type"] = "kubernetes"
            conf["high-availability.storageDir"] = native.ha_storage
        if native.tm_min:
            conf["slotmanager.number-of-slots.min"] = native.tm_min * spec.tm_slots
        for key, value in spec.env.items():
            conf["containerized.master.env.%s" % key] = value
            conf["containerized.taskmanager.env.%s" % key] = value
        if spec.plugins:
            conf["containerized.master.env.ENABLE_BUILT_IN_PLUGINS"] = ";".join(self.plugin_jars())
            conf["containerized.taskmanager.env.ENABLE_BUILT_IN_PLUGINS"] = ";".join(self.plugin_jars())
        for role in ("jobmanager", "taskmanager"):
            if spec.labels:
                conf["kubernetes.%s.labels" % role] = dict(spec.labels)
            if native.annotations:
                conf["kubernetes.%s.annotations" % role] = dict(native.annotations)
            if native.node_selector:
                conf["kubernetes.%s.node-selector" % role] = dict(native.node_selector)
            if native.tolerations:
                conf["kubernetes.%s.tolerations" % role] = native.tolerations
        if native.secrets:
            conf["kubernetes.secrets"] = ",".join("%s:%s" % (s["name"], s["mount_path"]) for s in native.secrets)
        if native.env_secrets:
            conf["kubernetes.env.secretKeyRef"] = ";".join(
                "env:%s,secret:%s,key:%s" % (s["env"], s["secret"], s["key"]) for s in native.env_secrets)
        conf.update(spec.flink_config)
        # Not spec.secret_config: Flink's client writes all it is given into a ConfigMap (see config_secret).
        return conf

    def user_entrypoint(self):
        """The user's entrypoint as kubernetes.entry.path takes it (one absolute path), or None."""
        entrypoint = self.spec.entrypoint
        if not entrypoint:
            return None
        if len(entrypoint) != 1 or not entrypoint[0].startswith("/"):
            raise SpecError("on Kubernetes Flink runs one executable before its own start command "
                            "(kubernetes.entry.path), got %r" % (entrypoint,), option="entrypoint",
                            hint="Give one absolute path in the image, e.g. ['/opt/custom/entrypoint.sh']")
        return entrypoint[0]

    def client_pod_template(self):
        """The pod template given to Flink's client: the user's, with the config Secret mounted when there is one."""
        if not self.spec.secret_config:
            return self.native.pod_template
        return config_secret.with_secret_volume(self.native.pod_template, self.cluster_id)

    def sync_config_secret(self):
        """Create or replace the Secret of flink_config_secrets before Flink's client runs; remove it when there
        are none (any more)."""
        name = config_secret.secret_name(self.cluster_id)
        if not self.spec.secret_config:
            self.delete_config_secret()
            return
        body = config_secret.secret_body(self.cluster_id, self.spec.secret_config,
                                         self.spec.version or FlinkVersion("2.0"), self.user_entrypoint(),
                                         labels={"app": self.cluster_id, "app.kubernetes.io/managed-by": MANAGED_BY})
        try:
            try:
                self.core.create_namespaced_secret(self.namespace, body)
            except ApiException as exc:
                if exc.status != 409:
                    raise
                self.core.replace_namespaced_secret(name, self.namespace, body)
        except ApiException as exc:
            raise BackendError("writing Secret %s failed: %s" % (name, api_error(exc)))

    def delete_config_secret(self):
        name = config_secret.secret_name(self.cluster_id)
        try:
            self.core.delete_namespaced_secret(name, self.namespace)
        except ApiException as exc:
            if exc.status not in (403, 404) or (exc.status == 403 and self.spec.secret_config):
                raise BackendError("deleting Secret %s failed: %s" % (name, api_error(exc)))

    # Plan ---------------------------------------------------------------------------------------
    def plan(self, actual, state):
        deployment = actual["deployment"]
        cid = self.cluster_id
        if state == "absent":
            actions = []
            if deployment is not None:
                actions.append(Action("remove", "deployment %s" % cid, "state is absent", "jobmanager"))
            if actual["ha_configmaps"]:
                actions.append(Action("remove", "high-availability configmaps %s" % ", ".join(
                    sorted(c.metadata.name for c in actual["ha_configmaps"])), "state is absent", "ha"))
            return actions
        if deployment is None:
            taken = [name for name, svc in actual["services"].items() if svc is not None]
            if taken:
                raise SpecError("Service(s) %s already exist in namespace %s without a Deployment %s" % (
                    ", ".join(taken), self.namespace, cid), option="name",
                    hint="Choose another cluster id, or remove what is left of the old cluster")
            return [Action("create", "deployment %s" % cid, "missing", "jobmanager")]
        annotations = self._annotations(deployment)
        if annotations.get(ANNOTATION_MANAGED) != MANAGED_BY:
            return self.plan_adoption(actual)
        if annotations.get(ANNOTATION_HASH) != self.spec_hash():
            before = self.before_view(actual)
            after = self.desired_view()
            fields = changed_fields(before, after)
            return [Action("recreate", "deployment %s" % cid, "changed: %s" % (", ".join(fields) or "spec"),
                           "jobmanager")]
        if self.params.get("state") == "restarted":
            return [Action("restart", "deployment %s" % cid, "state is restarted", "jobmanager")]
        live = self.before_view(actual).get("log_level")
        if live != self.native.log_level:
            return [Action("update", "log level of %s" % cid, "log_level %s -> %s" % (
                live or "default", self.native.log_level or "default"), "logging")]
        return []

    def plan_adoption(self, actual):
        """A session cluster Flink's client started without this collection (kubernetes-session.sh): adopted as
        it runs when the spec gives Flink exactly its settings, refused otherwise (see kubernetes/adopt.py)."""
        cid = self.cluster_id
        running = adopt.running_configuration(actual["configmaps"], cid)
        if self.kind != "session" or not adopt.is_flink_native(actual["deployment"]) or running is None:
            raise SpecError("a Deployment %s that this collection did not create exists in namespace %s" % (
                cid, self.namespace), option="name",
                hint="Cluster ids must be unique in a namespace: choose another name, or remove that Deployment "
                     "(a session cluster started with Flink's kubernetes-session.sh is adopted when the spec matches it)")
        found = adopt.differences(self.flink_settings(), running)
        if self.spec.secret_config:
            found.append(("flink_config_secrets", "(secret keys)", "in Flink's ConfigMap, if any", "in a Secret"))
        if self.native.pod_template is not None:
            found.append(("pod_template", "kubernetes.pod-template-file.default", "not comparable", "given"))
        if found:
            raise adopt.refusal(cid, self.namespace, found)
        actions = [Action("adopt", "deployment %s" % cid, "started by Flink's client without this collection; "
                          "the spec matches its configuration", "jobmanager")]
        if self.native.log_level and self.native.log_level != adopt.running_log_level(actual["configmaps"], cid):
            actions.append(Action("update", "log level of %s" % cid, "log_level -> %s" % self.native.log_level,
                                  "logging"))
        return actions

    # Preflight ----------------------------------------------------------------------------------
    def preflight(self, actions, actual):
        if not actions or all(a.kind == "remove" for a in actions):
            return
        self.flink_home_check()
        self.check_rights(USER_RIGHTS + (SECRET_RIGHTS if self.spec.secret_config else []))
        if any(a.kind in ("create", "recreate") for a in actions):
            self.check_memory_with_flink()

    # Apply --------------------------------------------------------------------------------------
    def apply(self, actions):
        for action in actions:
            if action.kind == "remove" and action.role == "jobmanager":
                self.delete_deployment(wait=self.params.get("wait"))
                self.delete_config_secret()
            elif action.kind == "remove" and action.role == "ha":
                self.delete_ha_configmaps()
            elif action.kind == "create":
                self.deploy()
            elif action.kind in ("recreate", "restart"):
                if action.kind == "recreate" and self.params.get("rollback", True):
                    self.take_snapshot()
                self.delete_deployment(wait=True)
                self.deploy()
            elif action.kind == "update" and action.role == "logging":
                self.update_log_level()
            elif action.kind == "adopt":
                self.mark()

    def update_log_level(self):
        """Set the root logger's level in the cluster's ConfigMap. Every pod mounts it; the kubelet refreshes
        the file, and log4j's monitorInterval (30 s in Flink's log4j-console.properties) reloads it: the level
        changes without a restart."""
        name = "flink-config-%s" % self.cluster_id
        key = "log4j-console.properties"
        try:
            cm = self.through_restart(lambda: self.core.read_namespaced_config_map(name, self.namespace))
        except ApiException as exc:
            raise BackendError("reading ConfigMap %s failed: %s" % (name, api_error(exc)))
        text = (cm.data or {}).get(key)
        if text is None:
            raise BackendError("ConfigMap %s has no %s (the cluster logs with logback?)" % (name, key),
                               option="log_level", hint="Remove log_level, or recreate the cluster")
        if "monitorInterval" not in text:
            self.module.warn("%s in ConfigMap %s has no monitorInterval: log4j reads the new level only when "
                             "the pods restart" % (key, name))
        body = {"data": {key: set_root_level(text, self.native.log_level or "INFO")}}
        try:  # a merge patch of the same body: sent again while the API server restarts, it changes nothing more
            self.through_restart(lambda: self.core.patch_namespaced_config_map(name, self.namespace, body))
        except ApiException as exc:
            raise BackendError("updating ConfigMap %s failed: %s" % (name, api_error(exc)))
        self.mark()

    def delete_deployment(self, wait=True):
        try:
            self.apps.delete_namespaced_deployment(
                self.cluster_id, self.namespace,
                body=self.k8s.client.V1DeleteOptions(propagation_policy="Foreground"))
        except ApiException as exc:
            if exc.status != 404:
                raise BackendError("deleting deployment %s failed: %s" % (self.cluster_id, api_error(exc)))
        if not wait:
            return

        def probe():
            actual = self.read()
            left = [("deployment", self.cluster_id)] if actual["deployment"] is not None else []
            left += [("pod", p.metadata.name) for p in actual["pods"]]
            left += [("service", n) for n, s in actual["services"].items() if s is not None]
            left += [("configmap", c.metadata.name) for c in actual["configmaps"] if c not in actual["ha_configmaps"]]
            return not left, {"summary": "waiting for %s to go" % ", ".join("%s %s" % kv for kv in left)}
        wait_for(probe, self.params.get("wait_timeout") or 300, self.params.get("wait_sleep") or 0.5,
                 "the removal of cluster %s" % self.cluster_id)

    def delete_ha_configmaps(self):
        try:
            found = self.core.list_namespaced_config_map(self.namespace, label_selector="app=%s" % self.cluster_id)
            for cm in found.items:
                if is_ha_configmap(cm, self.cluster_id):
                    try:
                        self.core.delete_namespaced_config_map(cm.metadata.name, self.namespace)
                    except ApiException as exc:
                        if exc.status != 404:
                            raise
        except ApiException as exc:
            raise BackendError("deleting the high-availability ConfigMaps of %s failed: %s" % (
                self.cluster_id, api_error(exc)))

    def deploy(self):
        self.sync_config_secret()
        self.run_client()
        self.mark()

    def through_restart(self, call):
        """common.through_restart within wait_timeout: for reads, and merge patches that change nothing the second
        time."""
        return through_restart(call, self.params.get("wait_timeout") or 300, min(self.params.get("wait_sleep") or 1, 2))

    def mark(self):
        """Annotate the Deployment with the spec hash and view (metadata only: the pods do not restart). A merge
        patch of the same body changes nothing the second time: it is sent again while the API server restarts
        (within wait_timeout), as the wait that follows would wait for it."""
        body = {"metadata": {"annotations": {ANNOTATION_HASH: self.spec_hash(),
                                             ANNOTATION_SPEC: json.dumps(self.desired_view(), sort_keys=True),
                                             ANNOTATION_MANAGED: MANAGED_BY}}}
        try:
            self.through_restart(lambda: self.apps.patch_namespaced_deployment(self.cluster_id, self.namespace, body))
        except ApiException as exc:
            raise BackendError("annotating deployment %s failed: %s" % (self.cluster_id, api_error(exc)),
                               hint="The cluster was created; the next run will recreate it to record its spec")

    def describe(self, actual=None):
        actual = actual or self.read()
        result = {"rest_url": self.rest_url(actual), "namespace": self.namespace, "cluster_id": self.cluster_id,
                  "pods": [{"name": p.metadata.name, "role": (p.metadata.labels or {}).get("component"),
                            "phase": p.status.phase, "node": p.spec.node_name,
                            "image": p.spec.containers[0].image if p.spec.containers else None}
                           for p in sorted(actual["pods"], key=lambda p: p.metadata.name)]}
        service = actual["services"].get(self.cluster_id + "-rest")
        if service is not None:
            result["rest_service"] = {"name": service.metadata.name, "type": service.spec.type,
                                      "port": service.spec.ports[0].port if service.spec.ports else None,
                                      "node_port": service.spec.ports[0].node_port if service.spec.ports else None}
        if not self.has_jobmanager(actual):
            result["taskmanagers"] = []
            return result
        result.update(self.flink_facts())
        return result
