# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs shared by the cluster modules (documented in the matching doc fragments)."""

from __future__ import annotations

from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import DOCKER_ARGUMENT_SPEC
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.options import NATIVE_ARGUMENT_SPEC

WAIT_ARGUMENT_SPEC = dict(
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=300),
    wait_sleep=dict(type="float", default=0.5),
)

CLUSTER_ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    platform=dict(type="str", default="docker", choices=["docker", "swarm", "compose", "kubernetes"]),
    project_dir=dict(type="path"),
    remove_volumes=dict(type="bool", default=False),
    flink_version=dict(type="str"),
    image=dict(type="str"),
    image_pull=dict(type="str", default="missing", choices=["missing", "always", "never"]),
    jobmanager=dict(type="dict", default={}, options=dict(
        memory=dict(type="str"),
        cpu=dict(type="float"),
        replicas=dict(type="int"),
        java_opts=dict(type="str"),
        constraints=dict(type="list", elements="str"),
        preferences=dict(type="list", elements="str"),
    )),
    taskmanager=dict(type="dict", default={}, options=dict(
        memory=dict(type="str"),
        cpu=dict(type="float"),
        replicas=dict(type="int"),
        slots=dict(type="int"),
        java_opts=dict(type="str"),
        constraints=dict(type="list", elements="str"),
        preferences=dict(type="list", elements="str"),
    )),
    java_opts=dict(type="str"),
    jemalloc=dict(type="bool"),
    entrypoint=dict(type="list", elements="str"),
    flink_config=dict(type="dict", default={}),
    flink_config_secrets=dict(type="dict", default={}, no_log=True),
    env=dict(type="dict", default={}),
    mounts=dict(type="list", elements="dict", default=[], options=dict(
        source=dict(type="str"),
        target=dict(type="str", required=True),
        type=dict(type="str", default="bind", choices=["bind", "volume", "tmpfs"]),
        read_only=dict(type="bool", default=False),
    )),
    conf_dir=dict(type="str"),
    plugins=dict(type="list", elements="str", default=[]),
    rest_port=dict(type="int"),
    endpoint_mode=dict(type="str", choices=["vip", "dnsrr"]),
    publish_mode=dict(type="str", choices=["ingress", "host"]),
    rest_bind_address=dict(type="str", default="127.0.0.1"),
    rest_url=dict(type="str"),
    network=dict(type="str"),
    labels=dict(type="dict", default={}),
    restart_policy=dict(type="str", default="unless-stopped", choices=["no", "on-failure", "always", "unless-stopped"]),
    disrupt_running_jobs=dict(type="bool", default=False),
)


def cluster_argument_spec(**extra):
    spec = dict(CLUSTER_ARGUMENT_SPEC)
    spec.update(WAIT_ARGUMENT_SPEC)
    spec.update(DOCKER_ARGUMENT_SPEC)
    spec.update(NATIVE_ARGUMENT_SPEC)
    spec.update(extra)
    return spec
