# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which class runs a (platform, mode), and which options belong to which platform.

The imports are literal and inside the functions: AnsiballZ ships only the module_utils it sees imported, and a
Docker run must not import the Kubernetes SDK (most of a second on a 2-core machine). Nothing here imports an SDK.

Adding a platform: one file under ``platforms/``, one entry in PLATFORMS and in ``platform_class``, and the
options only it has in PLATFORM_OPTIONS.
"""

from __future__ import annotations

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError

# (platform, mode) -> what it is, for messages and docs. The first mode of a platform is its default.
PLATFORMS = {
    ("docker", None): "containers on one Docker host",
    ("swarm", None): "services on a Docker Swarm",
    ("compose", None): "a Docker Compose project on one Docker host",
    ("kubernetes", "native"): "Flink's native Kubernetes mode",
    ("kubernetes", "operator"): "a FlinkDeployment of the Flink Kubernetes Operator",
}
# The kinds of cluster a (platform, mode) runs, where not both session and application.
KINDS = {}

# Options that only some platforms have: option -> {platform: None (accepted) or what to use there instead}.
# An option missing here means the same on every platform. A platform missing from an entry refuses the option
# with the generic hint.
PLATFORM_OPTIONS = {
    "mounts": {"docker": None, "swarm": None, "compose": None,
               "kubernetes": "pod_template (volumes of the flink-main-container) or secrets"},
    "conf_dir": {"docker": None, "compose": None, "swarm": "flink_config (the nodes need no configuration directory)",
                 "kubernetes": "flink_config and log_level"},
    "network": {"docker": None, "swarm": None, "compose": None, "kubernetes": "nothing: pods use the cluster network"},
    "rest_port": {"docker": None, "swarm": None, "compose": None,
                  "kubernetes": "rest_exposure (NodePort or LoadBalancer)"},
    "project_dir": {"compose": None},
    "remove_volumes": {"compose": None},
    "endpoint_mode": {"swarm": None},
    "publish_mode": {"swarm": None},
    "jobmanager.constraints": {"swarm": None, "kubernetes": "node_selector or tolerations"},
    "jobmanager.preferences": {"swarm": None},
    "taskmanager.constraints": {"swarm": None, "kubernetes": "node_selector or tolerations"},
    "taskmanager.preferences": {"swarm": None},
    "jobmanager.replicas": {"kubernetes": None},
    "mode": {"kubernetes": None},
}
for _option in ("namespace", "service_account", "image_pull_secrets", "rest_exposure", "high_availability",
                "pod_template", "node_selector", "tolerations", "annotations", "secrets", "env_secrets", "log_level"):
    PLATFORM_OPTIONS[_option] = {"kubernetes": None}


def _value(params, option):
    if "." in option:
        parent, child = option.split(".", 1)
        return (params.get(parent) or {}).get(child)
    return params.get(option)


def platform_key(params):
    """(platform, mode) of the task, with the platform's default mode."""
    platform = params.get("platform") or "docker"
    mode = params.get("mode")
    modes = [m for (p, m) in PLATFORMS if p == platform]
    if not modes:
        raise SpecError("unknown platform %r" % platform, option="platform",
                        hint="Use one of %s" % ", ".join(sorted(set(p for p, _m in PLATFORMS))))
    if mode is None:
        mode = modes[0]
    if (platform, mode) not in PLATFORMS:
        raise SpecError("platform %s has no mode %r" % (platform, mode), option="mode",
                        hint="Use %s" % (" or ".join(str(m) for m in modes) if modes != [None] else
                                         "no mode with platform %s" % platform))
    return platform, mode


def check_options(params):
    """Options of another platform are refused, naming the option and what to use instead (nothing touched)."""
    platform, _mode = platform_key(params)
    for option in sorted(PLATFORM_OPTIONS):
        owners = PLATFORM_OPTIONS[option]
        value = _value(params, option)
        if option == "jobmanager.replicas" and value == 1:
            continue  # one JobManager: what every platform runs
        if not value or platform in owners and owners[platform] is None:
            continue
        instead = owners.get(platform)
        accepted = sorted(p for p, hint in owners.items() if hint is None)
        raise SpecError("applies to platform %s only, not %s" % (" and ".join(accepted), platform), option=option,
                        hint=("Remove it; on %s use %s" % (platform, instead)) if instead else
                        "Remove it, or set platform=%s" % accepted[0])


def platform_class(params, kind="session"):
    """The class that runs a cluster of ``kind`` (session, application) on the task's platform."""
    platform, mode = platform_key(params)
    if platform == "docker":
        if kind == "application":
            from ansible_collections.flinkops.flink.plugins.module_utils.platforms.docker_application import (
                DockerApplication)
            return DockerApplication
        from ansible_collections.flinkops.flink.plugins.module_utils.platforms.docker import DockerCluster
        return DockerCluster
    if platform == "swarm":
        if kind == "application":
            from ansible_collections.flinkops.flink.plugins.module_utils.platforms.swarm_application import (
                SwarmApplication)
            return SwarmApplication
        from ansible_collections.flinkops.flink.plugins.module_utils.platforms.swarm import SwarmCluster
        return SwarmCluster
    if platform == "compose":
        if kind == "application":
            from ansible_collections.flinkops.flink.plugins.module_utils.platforms.compose_application import (
                ComposeApplication)
            return ComposeApplication
        from ansible_collections.flinkops.flink.plugins.module_utils.platforms.compose import ComposeCluster
        return ComposeCluster
    if (platform, mode) == ("kubernetes", "native"):
        if kind == "application":
            from ansible_collections.flinkops.flink.plugins.module_utils.platforms.k8s_native_application import (
                K8sNativeApplication)
            return K8sNativeApplication
        from ansible_collections.flinkops.flink.plugins.module_utils.platforms.k8s_native import K8sNativeCluster
        return K8sNativeCluster
    if (platform, mode) == ("kubernetes", "operator"):
        if kind == "application":
            from ansible_collections.flinkops.flink.plugins.module_utils.platforms.k8s_operator_application import (
                K8sOperatorApplication)
            return K8sOperatorApplication
        from ansible_collections.flinkops.flink.plugins.module_utils.platforms.k8s_operator import K8sOperatorCluster
        return K8sOperatorCluster
    raise SpecError("platform %s mode %s has no %s clusters" % (platform, mode, kind), option="platform")


def require_sdk(module, params):
    """Fail the module (missing_required_lib) when the platform's SDK is not installed."""
    if params.get("platform") == "kubernetes":
        from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import require_kubernetes
        require_kubernetes(module)
    else:
        from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import require_docker
        require_docker(module)


def find_rest_client(params, name):
    """Flink's REST API of the cluster ``name`` that this collection deployed on the task's platform."""
    return platform_class(params, "session").rest_client(params, name)
