# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Adopting a native-mode session cluster that Flink's client started without this collection
(``kubernetes-session.sh -Dkubernetes.cluster-id=<name> ...``).

Such a cluster has no spec of ours, only the configuration Flink's client wrote into its ConfigMap
``flink-config-<id>``. The module adopts it as it runs, by annotating its Deployment (no pod restarts), when every
setting the spec gives Flink equals the running one (Flink's default standing in for a key the client was not
given). Otherwise it refuses, naming the options that differ: a cluster somebody started by hand is never
redeployed, and its jobs never stopped, by a run that merely names it.
"""

from __future__ import annotations

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.flink_config import parse_config_file
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.native_spec import K8S_MANAGED_KEYS
from ansible_collections.flinkops.flink.plugins.module_utils.memory import parse_memory

# Flink's defaults of keys the module always sets (what a cluster started without them runs with).
FLINK_DEFAULTS = {
    "kubernetes.namespace": "default",
    "kubernetes.service-account": "default",
    "kubernetes.container.image.pull-policy": "IfNotPresent",
    "kubernetes.rest-service.exposed.type": "ClusterIP",
    "taskmanager.numberOfTaskSlots": "1",
}
# Keys that only steer the client, or that point at the client's own files: not part of what runs.
CLIENT_KEYS = ("execution.attached", "kubernetes.pod-template-file.default")
# Older spellings a hand-written command line may use.
ALIASES = {"kubernetes.container.image.ref": "kubernetes.container.image",
           "kubernetes.jobmanager.cpu.amount": "kubernetes.jobmanager.cpu",
           "kubernetes.taskmanager.cpu.amount": "kubernetes.taskmanager.cpu"}
OPTIONS = {"jobmanager.memory.process.size": "jobmanager.memory",
           "taskmanager.memory.process.size": "taskmanager.memory",
           "taskmanager.numberOfTaskSlots": "taskmanager.slots",
           "slotmanager.number-of-slots.min": "taskmanager.replicas"}


def is_flink_native(deployment):
    """Whether a Deployment is the JobManager of a native-mode cluster started by Flink's client."""
    labels = (deployment.metadata.labels or {}) if deployment is not None else {}
    return labels.get("type") == "flink-native-kubernetes" and labels.get("component") == "jobmanager"


def running_configuration(configmaps, cluster_id):
    """The configuration in the cluster's ConfigMap ``flink-config-<id>`` (flat), or None."""
    for cm in configmaps:
        if cm.metadata.name != "flink-config-%s" % cluster_id:
            continue
        data = cm.data or {}
        for name in ("config.yaml", "flink-conf.yaml"):
            if name in data:
                return parse_config_file(name, data[name])
    return None


def option_of(key):
    if key in OPTIONS:
        return OPTIONS[key]
    if key in K8S_MANAGED_KEYS:
        return K8S_MANAGED_KEYS[key]
    if key.startswith("containerized."):
        return "env"
    return "flink_config.%s" % key


def _normal(key, value):
    if value is None:
        return None
    if key.endswith("memory.process.size"):
        try:
            return parse_memory(value, key)
        except SpecError:
            return str(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return ",".join("%s:%s" % (k, value[k]) for k in sorted(value))
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    text = str(value).strip()
    try:
        return repr(float(text))
    except ValueError:
        return text


def differences(desired, running):
    """[(option, key, running value, desired value)] for every setting the spec gives Flink that the running
    cluster does not have."""
    found = []
    for key in sorted(desired):
        if key in CLIENT_KEYS:
            continue
        have = running.get(key)
        if have is None and key in ALIASES:
            have = running.get(ALIASES[key])
        if have is None:
            have = FLINK_DEFAULTS.get(key)
        if _normal(key, have) != _normal(key, desired[key]):
            found.append((option_of(key), key, have, desired[key]))
    return found


def refusal(cluster_id, namespace, found):
    """The SpecError for a cluster that cannot be adopted as it runs."""
    shown = "; ".join("%s (%s: running %s, spec %s)" % (option, key, "unset" if have is None else have, want)
                      for option, key, have, want in found[:6])
    more = " and %d more" % (len(found) - 6) if len(found) > 6 else ""
    return SpecError("a session cluster %s that Flink's client started without this collection runs in namespace %s "
                     "with other settings: %s%s" % (cluster_id, namespace, shown, more), option=found[0][0],
                     hint="To adopt it as it runs, give these options the running values (the module then only "
                          "annotates its Deployment); to replace it, remove it first (kubectl delete deployment %s)"
                          % cluster_id)


def running_log_level(configmaps, cluster_id):
    """The root logger's level in the cluster's log4j-console.properties, or None."""
    import re
    for cm in configmaps:
        if cm.metadata.name == "flink-config-%s" % cluster_id:
            text = (cm.data or {}).get("log4j-console.properties") or ""
            match = re.search(r"^\s*rootLogger\.level\s*=\s*(\S+)", text, re.M)
            return match.group(1).upper() if match else None
    return None
