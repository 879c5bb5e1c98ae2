# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes part of the spec (native mode), validated from the module parameters without touching anything; the
annotations a cluster carries, and which of its ConfigMaps are high-availability ones."""

from __future__ import annotations

import os
import re

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.spec import NAME_RE

# The annotations of the JobManager Deployment (native mode) or FlinkDeployment (operator) the module made: a hash of
# the spec (an unchanged run compares it), the spec's public view (diff mode, rollback) and who manages it.
ANNOTATION_HASH = "flinkops.org/spec-hash"
ANNOTATION_SPEC = "flinkops.org/spec"
ANNOTATION_MANAGED = "flinkops.org/managed-by"
MANAGED_BY = "flinkops.flink"

EXPOSURES = ("ClusterIP", "NodePort", "LoadBalancer")
PULL_POLICY = {"missing": "IfNotPresent", "always": "Always", "never": "Never"}

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
    "kubernetes.entry.path": "entrypoint",
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

    def __init__(self, params, spec, state, needs_client=True):
        """``needs_client``: the module runs Flink's client (native mode), which needs ``flink_home``; the
        operator's mode has the operator do it."""
        self.params = params
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
        # Parsed once, by ClusterSpec (with this platform's default of 0 TaskManagers kept without jobs).
        self.jm_replicas = spec.jm_replicas
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
        # Native mode starts TaskManagers on demand: replicas is the number kept even without jobs.
        self.tm_min = spec.tm_replicas
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
        if needs_client and state != "absent" and not self.flink_home:
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
