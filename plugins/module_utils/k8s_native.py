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

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile


from ansible_collections.flinkops.flink.plugins.module_utils.docker_cluster import Action
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.flink_config import (
    FlinkVersion, parse_config_file, render)
from ansible_collections.flinkops.flink.plugins.module_utils.k8s_common import (
    K8S_ARGUMENT_SPEC, ApiException, k8s_api_client)
from ansible_collections.flinkops.flink.plugins.module_utils.k8s_options import _ALIAS_NAME, DOCKER_ONLY
from ansible_collections.flinkops.flink.plugins.module_utils.memory import format_memory
from ansible_collections.flinkops.flink.plugins.module_utils.rest import FlinkRest, RestUnavailable
from ansible_collections.flinkops.flink.plugins.module_utils.spec import NAME_RE
from ansible_collections.flinkops.flink.plugins.module_utils.wait import wait_for

ANNOTATION_HASH = "flinkops.org/spec-hash"
ANNOTATION_SPEC = "flinkops.org/spec"
ANNOTATION_MANAGED = "flinkops.org/managed-by"
MANAGED_BY = "flinkops.flink"
ACTIVE_JOB_STATES = ("CREATED", "RUNNING", "FAILING", "CANCELLING", "RESTARTING", "SUSPENDED", "RECONCILING",
                     "INITIALIZING")
EXPOSURES = ("ClusterIP", "NodePort", "LoadBalancer")
PULL_POLICY = {"missing": "IfNotPresent", "always": "Always", "never": "Never"}
# Reasons a container waits for that do not resolve by waiting.
FATAL_WAITING = ("CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName",
                 "CreateContainerConfigError", "CreateContainerError")

# Flink keys the module sets from its own options.
K8S_MANAGED_KEYS = {
    "kubernetes.cluster-id": "name",
    "kubernetes.namespace": "namespace",
    "kubernetes.service-account": "service_account",
    "kubernetes.jobmanager.service-account": "service_account",
    "kubernetes.taskmanager.service-account": "service_account",
    "kubernetes.container.image": "image",
    "kubernetes.container.image.ref": "image",
    "kubernetes.container.image.pull-policy": "image_pull",
    "kubernetes.container.image.pull-secrets": "image_pull_secrets",
    "kubernetes.rest-service.exposed.type": "rest_exposure",
    "kubernetes.jobmanager.replicas": "jobmanager.replicas",
    "kubernetes.jobmanager.cpu": "jobmanager.cpu",
    "kubernetes.jobmanager.cpu.amount": "jobmanager.cpu",
    "kubernetes.taskmanager.cpu": "taskmanager.cpu",
    "kubernetes.taskmanager.cpu.amount": "taskmanager.cpu",
    "high-availability": "high_availability",
    "high-availability.type": "high_availability",
    "high-availability.storageDir": "high_availability.storage_dir",
    "kubernetes.config.file": "kubeconfig",
    "kubernetes.context": "context",
    "kubernetes.pod-template-file": "pod_template",
    "kubernetes.pod-template-file.default": "pod_template",
    "kubernetes.jobmanager.labels": "labels",
    "kubernetes.taskmanager.labels": "labels",
    "kubernetes.jobmanager.annotations": "annotations",
    "kubernetes.taskmanager.annotations": "annotations",
    "kubernetes.jobmanager.node-selector": "node_selector",
    "kubernetes.taskmanager.node-selector": "node_selector",
    "kubernetes.jobmanager.tolerations": "tolerations",
    "kubernetes.taskmanager.tolerations": "tolerations",
    "kubernetes.secrets": "secrets",
    "kubernetes.env.secretKeyRef": "env_secrets",
    "slotmanager.number-of-slots.min": "taskmanager.replicas",
}
# What the JobManager's service account must be allowed to do (Flink docs, "Native Kubernetes", RBAC).
SA_RIGHTS = [("pods", "", v) for v in ("get", "list", "watch", "create", "delete")] + [
    ("deployments", "apps", "get")]
SA_HA_RIGHTS = [("configmaps", "", v) for v in ("get", "list", "watch", "create", "update", "delete")]
# What the module's own user must be allowed to do.
USER_RIGHTS = [("deployments", "apps", v) for v in ("create", "get", "patch", "delete")] + [
    ("services", "", "create"), ("configmaps", "", "create"), ("configmaps", "", "list"),
    ("configmaps", "", "delete"), ("pods", "", "list")]


def connection_params(params):
    """Our option names mapped to k8s_common's (kubernetes.core's primary names)."""
    return dict((name, params.get(_ALIAS_NAME.get(name, name))) for name in K8S_ARGUMENT_SPEC)


def _hash(data):
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:32]


def api_error(exc):
    try:
        body = json.loads(exc.body or "{}")
        if body.get("message"):
            return "%s (HTTP %s)" % (body["message"], exc.status)
    except (ValueError, TypeError, AttributeError):
        pass
    return "HTTP %s %s" % (getattr(exc, "status", "?"), getattr(exc, "reason", "") or "")


def _toleration_text(items, option):
    parts = []
    for index, item in enumerate(items):
        allowed = ("key", "operator", "value", "effect", "tolerationSeconds")
        unknown = [k for k in item if k not in allowed]
        if unknown:
            raise SpecError("unknown field(s) %s" % unknown, option="%s[%d]" % (option, index),
                            hint="A toleration has key, operator, value, effect and tolerationSeconds")
        parts.append(",".join("%s:%s" % (k, item[k]) for k in allowed if item.get(k) is not None))
    return ";".join(parts)


class NativeSpec(object):
    """The Kubernetes part of the spec, validated from the module parameters without touching anything."""

    def __init__(self, params, spec, state):
        self.params = params
        for option, instead in DOCKER_ONLY.items():
            if params.get(option):
                raise SpecError("is a Docker option and does not apply to platform kubernetes", option=option,
                                hint="Remove it; on Kubernetes use %s" % instead)
        self.namespace = params.get("namespace") or "default"
        if not NAME_RE.match(self.namespace) or len(self.namespace) > 63:
            raise SpecError("%r is not a valid namespace name" % self.namespace, option="namespace",
                            hint="Use a DNS-1123 label (lower-case letters, digits, '-')")
        self.service_account = params.get("service_account") or "default"
        self.exposure = params.get("rest_exposure") or "ClusterIP"
        if self.exposure not in EXPOSURES:
            raise SpecError("unknown REST exposure %r" % self.exposure, option="rest_exposure",
                            hint="Use one of %s" % ", ".join(EXPOSURES))
        self.warnings = []
        if self.exposure == "LoadBalancer":
            self.warnings.append(
                "rest_exposure=LoadBalancer exposes the Flink REST API, which runs any uploaded code, on the load "
                "balancer's address (often a public one): restrict it (loadBalancerSourceRanges in a pod template "
                "cannot do this; use a firewall or an authenticating proxy)")
        jm = params.get("jobmanager") or {}
        self.jm_replicas = int(jm.get("replicas") or 1)
        if self.jm_replicas < 1:
            raise SpecError("must be at least 1, got %d" % self.jm_replicas, option="jobmanager.replicas")
        ha = params.get("high_availability") or {}
        self.ha = bool(ha.get("enabled"))
        self.ha_storage = ha.get("storage_dir")
        for key in K8S_MANAGED_KEYS:
            for option in ("flink_config", "flink_config_secrets"):
                if key in (params.get(option) or {}):
                    raise SpecError("key %r conflicts with the option %s" % (key, K8S_MANAGED_KEYS[key]),
                                    option="%s.%s" % (option, key),
                                    hint="Remove it from %s and set %s" % (option, K8S_MANAGED_KEYS[key]))
        if self.ha and not self.ha_storage:
            raise SpecError("is required when high availability is enabled", option="high_availability.storage_dir",
                            hint="Give a filesystem path every JobManager reaches, e.g. s3://flink/ha or a shared "
                                 "volume's file:///flink-ha")
        if self.jm_replicas > 1 and not self.ha:
            raise SpecError("is %d, but standby JobManagers need high availability" % self.jm_replicas,
                            option="jobmanager.replicas",
                            hint="Set high_availability.enabled=true with a storage_dir, or jobmanager.replicas=1")
        tm = params.get("taskmanager") or {}
        # Native mode starts TaskManagers on demand: replicas is the number kept even without jobs.
        self.tm_min = int(tm.get("replicas") or 0)
        self.pull_secrets = list(params.get("image_pull_secrets") or [])
        self.node_selector = dict((str(k), str(v)) for k, v in (params.get("node_selector") or {}).items())
        self.tolerations = _toleration_text(params.get("tolerations") or [], "tolerations")
        self.annotations = dict((str(k), str(v)) for k, v in (params.get("annotations") or {}).items())
        for key in self.annotations:
            if key.startswith("flinkops.org/"):
                raise SpecError("annotation %r uses the prefix reserved for the module" % key, option="annotations",
                                hint="Choose another prefix than flinkops.org/")
        self.secrets = []
        for index, item in enumerate(params.get("secrets") or []):
            if not str(item["mount_path"]).startswith("/"):
                raise SpecError("must be an absolute path, got %r" % item["mount_path"],
                                option="secrets[%d].mount_path" % index)
            self.secrets.append({"name": item["name"], "mount_path": item["mount_path"]})
        self.env_secrets = []
        for index, item in enumerate(params.get("env_secrets") or []):
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", item["env"]):
                raise SpecError("%r is not an environment variable name" % item["env"],
                                option="env_secrets[%d].env" % index)
            self.env_secrets.append({"env": item["env"], "secret": item["secret"], "key": item["key"]})
        self.pod_template = None
        template = params.get("pod_template")
        if isinstance(template, dict):
            self.pod_template = template
        elif isinstance(template, str) and template.strip():
            if template.lstrip().startswith(("{", "apiVersion", "kind", "metadata", "spec")):
                self.pod_template = self._yaml(template, "pod_template")
            else:
                path = os.path.expanduser(template)
                if not os.path.isfile(path):
                    raise SpecError("%s is not a file" % template, option="pod_template",
                                    hint="Give a pod template file on the host that runs the module, or the "
                                         "template inline as a dict")
                with open(path) as handle:
                    self.pod_template = self._yaml(handle.read(), "pod_template")
        elif template is not None:
            raise SpecError("must be a dict (inline template) or a file path", option="pod_template")
        if self.pod_template is not None:
            if not isinstance(self.pod_template, dict) or self.pod_template.get("kind", "Pod") != "Pod":
                raise SpecError("is not a Pod", option="pod_template",
                                hint="Give a Pod (apiVersion v1, kind Pod); the main container is "
                                     "flink-main-container")
            self.pod_template.setdefault("apiVersion", "v1")
            self.pod_template.setdefault("kind", "Pod")
        self.log_level = params.get("log_level")
        self.flink_home = params.get("flink_home")
        if state != "absent" and not self.flink_home:
            raise SpecError("is required on platform kubernetes", option="flink_home",
                            hint="Give the Flink distribution whose bin/kubernetes-session.sh the module runs "
                                 "(or set FLINK_HOME); its version must match the image's")

    @staticmethod
    def _yaml(text, option):
        import yaml
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecError("is not valid YAML: %s" % exc, option=option)


class K8sProxyRest(FlinkRest):
    """Flink's REST API through the API server's service proxy (authenticated with the kubeconfig)."""

    def __init__(self, api_client, namespace, service, port="rest", timeout=10):
        super(K8sProxyRest, self).__init__("%s/api/v1/namespaces/%s/services/%s:%s/proxy" % (
            api_client.configuration.host, namespace, service, port), timeout=timeout)
        self.api_client = api_client
        self.path_prefix = "/api/v1/namespaces/%s/services/%s:%s/proxy" % (namespace, service, port)

    def _request(self, method, path, body=None, content_type=None, timeout=None):
        """One request with the API client's TLS settings and credentials (urllib3 pool of the SDK)."""
        import urllib3
        conf = self.api_client.configuration
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        if getattr(conf, "refresh_api_key_hook", None):
            conf.refresh_api_key_hook(conf)
        for setting in (conf.auth_settings() or {}).values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        url = self.base_url + path
        try:
            response = self.api_client.rest_client.pool_manager.request(
                method, url, body=body, headers=headers, timeout=urllib3.Timeout(total=timeout or self.timeout),
                retries=False)
        except Exception as exc:  # urllib3 connection errors and time-outs: not ready (yet)
            raise RestUnavailable("%s %s failed: %s" % (method, url, exc))
        raw = response.data
        if response.status >= 400:
            detail = ""
            try:
                payload = json.loads(raw or b"{}")
                detail = "; ".join(" ".join(str(e).strip().splitlines()[:3]) for e in payload.get("errors") or []
                                   if str(e).strip())
                if not detail and payload.get("message"):
                    detail = payload["message"]
                flink = "errors" in payload
            except (ValueError, AttributeError, TypeError):
                flink = False
            # From the API server (not Flink): 503 no endpoint yet, 404 no Service yet, 502/504 proxy errors.
            unavailable = response.status in (502, 503, 504) or (response.status == 404 and not flink)
            error_class = RestUnavailable if unavailable else BackendError
            raise error_class("%s %s answered HTTP %s%s" % (
                method, url, response.status, (": " + detail) if detail else ""),
                partial={"status": response.status, "errors": detail})
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise BackendError("%s %s did not answer JSON (is this a Flink REST endpoint?)" % (method, url))


class K8sNativeCluster(object):
    """A session cluster in Flink's native Kubernetes mode."""

    kind = "session"

    def __init__(self, module, spec):
        self.module = module
        self.params = module.params
        self.spec = spec
        self.native = NativeSpec(module.params, spec, module.params.get("state"))
        for warning in self.native.warnings:
            module.warn(warning)
        self.api_client = k8s_api_client(connection_params(module.params))
        import kubernetes
        self.k8s = kubernetes
        self.core = kubernetes.client.CoreV1Api(self.api_client)
        self.apps = kubernetes.client.AppsV1Api(self.api_client)
        self.authz = kubernetes.client.AuthorizationV1Api(self.api_client)
        self._seen = None

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
            try:
                self.core.read_namespace(ns)
            except ApiException as exc:
                if exc.status == 404:
                    raise SpecError("namespace %s does not exist" % ns, option="namespace",
                                    hint="Create it first (role flinkops.flink.k8s_namespace, or kubectl create "
                                         "namespace %s)" % ns)
                if exc.status != 403:  # a namespaced user may not read namespaces: go on
                    raise
            deployment = self._get(self.apps.read_namespaced_deployment, cid)
            services = dict((name, self._get(self.core.read_namespaced_service, name)) for name in (cid, cid + "-rest"))
            configmaps = self.core.list_namespaced_config_map(ns, label_selector="app=%s" % cid).items
            pods = self.core.list_namespaced_pod(ns, label_selector="app=%s" % cid).items
        except ApiException as exc:
            raise BackendError("reading cluster %s in namespace %s failed: %s" % (cid, ns, api_error(exc)))
        ha = [c for c in configmaps if is_ha_configmap(c, cid)]
        return {"deployment": deployment, "services": services, "configmaps": configmaps, "ha_configmaps": ha,
                "pods": pods}

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

    def before_view(self, actual):
        deployment = actual["deployment"]
        if deployment is None:
            return {}
        try:
            view = json.loads(self._annotations(deployment).get(ANNOTATION_SPEC) or "{}")
        except ValueError:
            view = {}
        return dict(view or {"name": self.cluster_id}, state="present")

    def image_id(self, check_only=False):
        """Kubernetes nodes pull images themselves: nothing to check from here."""
        return None

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
        secrets = _hash(sorted((k, str(v)) for k, v in self.spec.secret_config.items()))
        view = dict(self.desired_view())
        view.pop("log_level", None)
        return _hash({"view": view, "secrets": secrets})

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
        conf.update(spec.secret_config)
        return conf

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
            raise SpecError("a Deployment %s that this collection did not create exists in namespace %s" % (
                cid, self.namespace), option="name",
                hint="Cluster ids must be unique in a namespace: choose another name, or remove that Deployment")
        if annotations.get(ANNOTATION_HASH) != self.spec_hash():
            before = self.before_view(actual)
            after = self.desired_view()
            fields = sorted(k for k in set(before) | set(after) if k != "state" and before.get(k) != after.get(k))
            return [Action("recreate", "deployment %s" % cid, "changed: %s" % (", ".join(fields) or "spec"),
                           "jobmanager")]
        if self.params.get("state") == "restarted":
            return [Action("restart", "deployment %s" % cid, "state is restarted", "jobmanager")]
        live = self.before_view(actual).get("log_level")
        if live != self.native.log_level:
            return [Action("update", "log level of %s" % cid, "log_level %s -> %s" % (
                live or "default", self.native.log_level or "default"), "logging")]
        return []

    # Preflight ----------------------------------------------------------------------------------
    def flink_home_check(self):
        home = self.native.flink_home
        script = os.path.join(home, "bin", "kubernetes-session.sh")
        if not os.path.isfile(script):
            raise SpecError("%s has no bin/kubernetes-session.sh" % home, option="flink_home",
                            hint="Give the directory of a Flink distribution (the Flink client runs on the host "
                                 "that runs the module)")
        dists = glob.glob(os.path.join(home, "lib", "flink-dist*.jar"))
        match = re.search(r"flink-dist[_0-9.a-z]*?-(\d+\.\d+(\.\d+)?)", os.path.basename(dists[0])) if dists else None
        if match and self.spec.version is not None and not self.spec.version.same_series(match.group(1)):
            raise SpecError("is Flink %s, the image is Flink %s" % (match.group(1), self.spec.version),
                            option="flink_home", hint="Use a Flink distribution of the image's version")
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise SpecError("no Java on the host that runs the module (Flink's client needs it)", option="flink_home",
                            hint="Install a JRE 11 or 17, or set JAVA_HOME")
        return match.group(1) if match else None

    def can_i(self, verb, resource, group="", user=None, groups=None):
        client = self.k8s.client
        attrs = client.V1ResourceAttributes(namespace=self.namespace, verb=verb, resource=resource, group=group)
        try:
            if user is None:
                answer = self.authz.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
                    spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attrs)))
            else:
                answer = self.authz.create_subject_access_review(client.V1SubjectAccessReview(
                    spec=client.V1SubjectAccessReviewSpec(resource_attributes=attrs, user=user, groups=groups)))
        except ApiException as exc:
            if exc.status in (401, 403, 404):
                return None
            raise BackendError("asking the API server whether %s may %s %s failed: %s" % (
                user or "the module's user", verb, resource, api_error(exc)))
        return bool(answer.status.allowed)

    def check_rights(self):
        missing = []
        for resource, group, verb in USER_RIGHTS:
            if self.can_i(verb, resource, group) is False:
                missing.append("%s %s" % (verb, resource + ("." + group if group else "")))
        if missing:
            raise SpecError("the module's Kubernetes user may not %s in namespace %s" % (
                ", ".join(missing), self.namespace), option="kubeconfig",
                hint="Use credentials with these rights (for example the namespace's edit ClusterRole)")
        try:
            self.core.read_namespaced_service_account(self.native.service_account, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise SpecError("service account %s does not exist in namespace %s" % (
                    self.native.service_account, self.namespace), option="service_account",
                    hint="Create it with the rights Flink needs (role flinkops.flink.k8s_namespace)")
            if exc.status != 403:
                raise BackendError("reading service account %s failed: %s" % (
                    self.native.service_account, api_error(exc)))
        user = "system:serviceaccount:%s:%s" % (self.namespace, self.native.service_account)
        groups = ["system:serviceaccounts", "system:serviceaccounts:%s" % self.namespace, "system:authenticated"]
        needed = SA_RIGHTS + (SA_HA_RIGHTS if self.native.ha else [])
        missing = []
        for resource, group, verb in needed:
            answer = self.can_i(verb, resource, group, user=user, groups=groups)
            if answer is None:
                self.module.warn("could not check the rights of service account %s (the module's user may not "
                                 "create SubjectAccessReviews)" % self.native.service_account)
                return
            if not answer:
                missing.append("%s %s" % (verb, resource + ("." + group if group else "")))
        if missing:
            raise SpecError("service account %s may not %s in namespace %s; the JobManager needs these to run "
                            "TaskManager pods%s" % (self.native.service_account, ", ".join(missing), self.namespace,
                                                    " and for high availability" if self.native.ha else ""),
                            option="service_account",
                            hint="Grant them with a Role and RoleBinding (role flinkops.flink.k8s_namespace), or "
                                 "bind the ClusterRole edit to the service account")

    def preflight(self, actions, actual):
        if not actions or all(a.kind == "remove" for a in actions):
            return
        self.flink_home_check()
        self.check_rights()

    def disruptive(self, actions):
        return [a for a in actions if a.kind in ("recreate", "remove", "restart") and a.role == "jobmanager"]

    def running_jobs(self, actual):
        if actual["deployment"] is None:
            return []
        try:
            return [j for j in self.rest().jobs() if j.get("state") in ACTIVE_JOB_STATES]
        except RestUnavailable:
            return []

    # Apply --------------------------------------------------------------------------------------
    def apply(self, actions):
        for action in actions:
            if action.kind == "remove" and action.role == "jobmanager":
                self.delete_deployment(wait=self.params.get("wait"))
            elif action.kind == "remove" and action.role == "ha":
                self.delete_ha_configmaps()
            elif action.kind == "create":
                self.deploy()
            elif action.kind in ("recreate", "restart"):
                self.delete_deployment(wait=True)
                self.deploy()
            elif action.kind == "update" and action.role == "logging":
                self.update_log_level()

    def update_log_level(self):
        """Set the root logger's level in the cluster's ConfigMap. Every pod mounts it; the kubelet refreshes
        the file, and log4j's monitorInterval (30 s in Flink's log4j-console.properties) reloads it: the level
        changes without a restart."""
        name = "flink-config-%s" % self.cluster_id
        key = "log4j-console.properties"
        try:
            cm = self.core.read_namespaced_config_map(name, self.namespace)
        except ApiException as exc:
            raise BackendError("reading ConfigMap %s failed: %s" % (name, api_error(exc)))
        text = (cm.data or {}).get(key)
        if text is None:
            raise BackendError("ConfigMap %s has no %s (the cluster logs with logback?)" % (name, key),
                               option="log_level", hint="Remove log_level, or recreate the cluster")
        if "monitorInterval" not in text:
            self.module.warn("%s in ConfigMap %s has no monitorInterval: log4j reads the new level only when "
                             "the pods restart" % (key, name))
        try:
            self.core.patch_namespaced_config_map(name, self.namespace, {"data": {
                key: set_root_level(text, self.native.log_level or "INFO")}})
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

    def client_conf_dir(self, workdir):
        """A Flink configuration directory for the client: the distribution's defaults, the module's settings,
        the distribution's logging configuration (with log_level applied)."""
        home = self.native.flink_home
        conf_dir = os.path.join(workdir, "conf")
        os.makedirs(conf_dir)
        version = self.spec.version or FlinkVersion("2.0")
        src = os.path.join(home, "conf")
        defaults = {}
        for name in ("config.yaml", "flink-conf.yaml"):
            path = os.path.join(src, name)
            if os.path.exists(path):
                with open(path) as handle:
                    defaults = parse_config_file(name, handle.read())
                break
        conf = dict(defaults)
        conf.update(self.flink_settings())
        for name in ("log4j-console.properties", "logback-console.xml"):
            path = os.path.join(src, name)
            if os.path.exists(path):
                with open(path) as handle:
                    text = handle.read()
                if name.startswith("log4j") and self.native.log_level:
                    text = set_root_level(text, self.native.log_level)
                with open(os.path.join(conf_dir, name), "w") as handle:
                    handle.write(text)
        if self.native.pod_template is not None:
            path = os.path.join(workdir, "pod-template.yaml")
            with open(path, "w") as handle:
                json.dump(self.native.pod_template, handle)
            conf["kubernetes.pod-template-file.default"] = path
        with open(os.path.join(conf_dir, version.config_file), "w") as handle:
            handle.write(render(conf, version.standard_yaml))
        return conf_dir

    def client_command(self, conf_dir, workdir):
        home = self.native.flink_home
        return [os.path.join(home, "bin", "kubernetes-session.sh")]

    def run_client(self, extra_args=(), timeout=600):
        """Run Flink's client with the module's configuration; returns its output."""
        workdir = tempfile.mkdtemp(prefix="flinkops-k8s-")
        try:
            conf_dir = self.client_conf_dir(workdir)
            kubeconfig, context = self.client_kubeconfig(workdir)
            cmd = self.client_command(conf_dir, workdir) + ["-Dkubernetes.config.file=%s" % kubeconfig]
            if context:
                cmd.append("-Dkubernetes.context=%s" % context)
            cmd.extend(extra_args)
            env = dict(os.environ, FLINK_HOME=self.native.flink_home, FLINK_CONF_DIR=conf_dir,
                       FLINK_LOG_DIR=os.path.join(workdir, "log"))
            os.makedirs(env["FLINK_LOG_DIR"])
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=workdir,
                                      check=False)
            except subprocess.TimeoutExpired:
                raise BackendError("Flink's client %s did not finish within %ds" % (cmd[0], timeout))
            if proc.returncode != 0:
                logs = ""
                for path in glob.glob(os.path.join(env["FLINK_LOG_DIR"], "*.log")):
                    with open(path, errors="replace") as handle:
                        logs += handle.read()[-3000:]
                raise BackendError("Flink's client failed (exit %d): %s" % (
                    proc.returncode, _client_error(proc.stdout + proc.stderr + logs)),
                    partial={"stdout": proc.stdout[-4000:], "stderr": proc.stderr[-4000:]})
            return proc.stdout
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def client_kubeconfig(self, workdir):
        """(path, context) of a kubeconfig for Flink's Java client, which reads only kubeconfig files.

        The user's file is used as it is, unless options override it (then an equivalent file is written)."""
        params = self.params
        explicit = any(params.get(k) is not None for k in
                       ("host", "api_key", "verify_ssl", "ssl_ca_cert", "cert_file", "key_file"))
        kubeconfig = params.get("kubeconfig") or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or \
            os.path.expanduser("~/.kube/config")
        if os.path.exists(kubeconfig) and not explicit:
            return kubeconfig, params.get("context")
        conf = self.api_client.configuration
        cluster = {"server": conf.host}
        if conf.ssl_ca_cert:
            cluster["certificate-authority"] = conf.ssl_ca_cert
        if not conf.verify_ssl:
            cluster["insecure-skip-tls-verify"] = True
        user = {}
        token = (conf.api_key or {}).get("authorization") or (conf.api_key or {}).get("BearerToken")
        if token:
            user["token"] = token.split(" ", 1)[1] if token.startswith("Bearer ") else token
        if conf.cert_file:
            user["client-certificate"] = conf.cert_file
        if conf.key_file:
            user["client-key"] = conf.key_file
        data = {"apiVersion": "v1", "kind": "Config", "current-context": "flinkops",
                "clusters": [{"name": "flinkops", "cluster": cluster}],
                "users": [{"name": "flinkops", "user": user}],
                "contexts": [{"name": "flinkops", "context": {"cluster": "flinkops", "user": "flinkops"}}]}
        path = os.path.join(workdir, "kubeconfig")
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
            json.dump(data, handle)  # JSON is YAML
        return path, "flinkops"

    def deploy(self):
        self.run_client()
        self.mark()

    def mark(self):
        """Annotate the Deployment with the spec hash and view (metadata only: the pods do not restart)."""
        body = {"metadata": {"annotations": {ANNOTATION_HASH: self.spec_hash(),
                                             ANNOTATION_SPEC: json.dumps(self.desired_view(), sort_keys=True),
                                             ANNOTATION_MANAGED: MANAGED_BY}}}
        try:
            self.apps.patch_namespaced_deployment(self.cluster_id, self.namespace, body)
        except ApiException as exc:
            raise BackendError("annotating deployment %s failed: %s" % (self.cluster_id, api_error(exc)),
                               hint="The cluster was created; the next run will recreate it to record its spec")

    # Readiness ----------------------------------------------------------------------------------
    def rest(self):
        if self.params.get("rest_url"):
            return FlinkRest(self.params["rest_url"], timeout=10)
        return K8sProxyRest(self.api_client, self.namespace, self.cluster_id + "-rest", timeout=10)

    def rest_url(self, actual=None):
        if self.params.get("rest_url"):
            return self.params["rest_url"]
        service = (actual or {}).get("services", {}).get(self.cluster_id + "-rest") if actual else \
            self._get(self.core.read_namespaced_service, self.cluster_id + "-rest")
        if service is not None and service.spec.type == "NodePort":
            port = service.spec.ports[0].node_port
            host = self.node_address()
            if host and port:
                return "http://%s:%d" % (host, port)
        if service is not None and service.spec.type == "LoadBalancer":
            ingress = (service.status.load_balancer.ingress or []) if service.status.load_balancer else []
            if ingress:
                return "http://%s:%d" % (ingress[0].ip or ingress[0].hostname, service.spec.ports[0].port)
        return "%s/api/v1/namespaces/%s/services/%s-rest:rest/proxy" % (
            self.api_client.configuration.host, self.namespace, self.cluster_id)

    def node_address(self):
        try:
            nodes = self.core.list_node().items
        except ApiException:
            return None
        for node in nodes:
            for address in node.status.addresses or []:
                if address.type == "InternalIP":
                    return address.address
        return None

    def pod_problem(self, pods):
        """A reason that waiting cannot cure, with the container's log tail."""
        for pod in pods:
            for status in (pod.status.container_statuses or []) + (pod.status.init_container_statuses or []):
                waiting = status.state.waiting if status.state else None
                if waiting and waiting.reason in FATAL_WAITING:
                    tail = ""
                    if waiting.reason in ("CrashLoopBackOff",):
                        try:
                            tail = self.core.read_namespaced_pod_log(pod.metadata.name, self.namespace,
                                                                     container=status.name, previous=True,
                                                                     tail_lines=25)
                        except ApiException:
                            tail = ""
                    return "pod %s: container %s is %s: %s%s" % (
                        pod.metadata.name, status.name, waiting.reason, waiting.message or "",
                        ("; its last log lines:\n" + tail) if tail else "")
        return None

    def wait_ready(self, timeout, sleep):
        """REST answers through the API server, every JobManager pod is ready and at least
        taskmanager.replicas TaskManagers are registered."""
        expected_jm = self.native.jm_replicas
        minimum = self.native.tm_min

        def probe():
            try:
                pods = self.core.list_namespaced_pod(self.namespace, label_selector="app=%s" % self.cluster_id).items
            except ApiException as exc:
                raise BackendError("listing the pods of %s failed: %s" % (self.cluster_id, api_error(exc)))
            problem = self.pod_problem(pods)
            if problem:
                raise BackendError(problem, hint="Fix the cause; the cluster was left in place for inspection")
            jms = [p for p in pods if (p.metadata.labels or {}).get("component") == "jobmanager"]
            ready = [p for p in jms if p.status.phase == "Running" and all(
                c.ready for c in (p.status.container_statuses or []))]
            state = {"summary": "%d of %d JobManager pod(s) ready" % (len(ready), expected_jm),
                     "pods": sorted("%s %s" % (p.metadata.name, p.status.phase) for p in pods)}
            if len(ready) < expected_jm:
                return False, state
            try:
                rest = self.rest()
                overview = rest.overview()
                tms = rest.taskmanagers()
            except RestUnavailable as exc:
                state["summary"] += ", REST API not answering (%s)" % exc.message
                return False, state
            except BackendError as exc:
                # HTTP 500 while the JobManager is still starting its dispatcher (seen in application mode)
                if (exc.partial or {}).get("status") != 500:
                    raise
                state["summary"] += ", REST API not ready (%s)" % exc.message
                return False, state
            self._seen = (overview, tms)
            state["summary"] += ", %d TaskManager(s) registered, %d wanted" % (len(tms), minimum)
            return len(tms) >= minimum, state

        return wait_for(probe, timeout, sleep, "the JobManager's REST API%s" % (
            " and %d TaskManager(s)" % minimum if minimum else ""))

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
        if actual["deployment"] is None:
            result["taskmanagers"] = []
            return result
        try:
            rest = self.rest()
            overview, tms = self._seen or (rest.overview(), rest.taskmanagers())
            result["flink_version"] = overview.get("flink-version")
            result["slots_total"] = sum(tm.get("slotsNumber") or 0 for tm in tms)
            result["slots_available"] = sum(tm.get("freeSlots") or 0 for tm in tms)
            result["taskmanagers"] = [{"id": tm.get("id"), "slots": tm.get("slotsNumber"),
                                       "free_slots": tm.get("freeSlots")} for tm in tms]
            result["jobs"] = [{"id": j.get("jid"), "name": j.get("name"), "state": j.get("state")} for j in rest.jobs()]
        except RestUnavailable:
            result["taskmanagers"] = []
        return result


def is_ha_configmap(cm, cluster_id):
    """A high-availability ConfigMap of the cluster: Flink 1.x labels it configmap-type=high-availability;
    Flink 2.x only app/type, and names it <id>-cluster-config-map (<id>-<job>-config-map per job). Nothing owns
    them, so they outlive the Deployment."""
    labels = cm.metadata.labels or {}
    if labels.get("app") != cluster_id:
        return False
    if labels.get("configmap-type") == "high-availability":
        return True
    name = cm.metadata.name
    return name.startswith(cluster_id + "-") and name.endswith("-config-map") and not cm.metadata.owner_references


def set_root_level(text, level):
    """log4j2 properties with the root logger's level set to ``level``."""
    lines = text.splitlines()
    out = []
    done = False
    for line in lines:
        if re.match(r"^\s*rootLogger\.level\s*=", line):
            out.append("rootLogger.level = %s" % level)
            done = True
        else:
            out.append(line)
    if not done:
        out.append("rootLogger.level = %s" % level)
    return "\n".join(out) + "\n"


def _client_error(text):
    """The most telling line of the Flink client's output."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    causes = [line for line in lines if line.startswith("Caused by:")]
    errors = [line for line in lines if "Exception" in line or "ERROR" in line]
    if causes:
        return causes[-1][len("Caused by:"):].strip()
    if errors:
        return errors[0]
    return lines[-1] if lines else "no output"
