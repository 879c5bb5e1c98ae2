# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The desired state of one Docker Swarm service running Flink (flink_swarm_service's options, or what
platforms/swarm.py makes of a cluster's spec), validated and as plain data: what swarm/service.py hashes, shows in
diff mode and builds the service from.

flink_config goes in as FLINK_PROPERTIES (the keys the module sets itself are refused), JVM options as the image's
variables; a TaskManager gets a health check that asks the JobManager whether it registered, so a rolling update
replaces the next TaskManager only once the previous one is back.
"""

from __future__ import annotations

import hashlib
import json

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.flink_config import (
    FlinkVersion, check_keys, entrypoint_settings, render_properties, version_from_image)
from ansible_collections.flinkops.flink.plugins.module_utils.memory import parse_memory

RESERVED = "org.flinkops."
# Keys the module sets from its own options; given in flink_config they would fight with them.
MANAGED_KEYS = {"jobmanager.rpc.address": "jobmanager_address", "taskmanager.resource-id": "name"}

# A TaskManager is healthy once the JobManager lists a TaskManager registered from one of this container's
# addresses (its RPC path "pekko.tcp://flink@<address>:<port>/..."), asked through the REST API with bash alone
# (the image needs no curl). A rolling update waits for it before it replaces the next TaskManager.
TM_HEALTH_SCRIPT = (
    "exec 3<>/dev/tcp/%(host)s/%(port)s || exit 1; "
    "printf 'GET /taskmanagers HTTP/1.0\\r\\nHost: %(host)s\\r\\n\\r\\n' >&3; "
    "body=$(cat <&3); for a in $(hostname -I 2>/dev/null || hostname -i); do "
    "case $body in *\"@$a:\"*) exit 0;; esac; done; exit 1")
HEALTH_DEFAULTS = {"interval": 5, "timeout": 5, "retries": 24, "start_period": 300}


class ServiceSpec(object):
    """The validated desired state, as plain data (hashable, shown in diff)."""

    def __init__(self, params, system_labels=None, entrypoint=None, secrets=None, inputs_hash=None):
        """``params``: flink_swarm_service's options. The cluster platform (platforms/swarm.py) adds what users of
        the single service do not set: ``system_labels`` (org.flinkops.* on the service), an ``entrypoint``
        (the container's command; args follow it), ``secrets`` ([{name, target}], swarm secrets as files under
        /run/secrets) and ``inputs_hash``: the hash that decides whether the service is updated (default: of
        everything the service is made of)."""
        self.params = params
        self.name = params["name"]
        if len(self.name) > 50:
            raise SpecError("at most 50 characters (task names add a slot number)", option="name")
        self.state = params["state"]
        if self.state == "absent":
            return
        command = params["command"]
        self.version = None
        text = params.get("flink_version") or version_from_image(params["image"])
        if text:
            self.version = FlinkVersion(text)
        config = dict((str(k), v) for k, v in (params.get("flink_config") or {}).items())
        for key, option in MANAGED_KEYS.items():
            if key in config:
                raise SpecError("the module sets %s" % key, option="flink_config.%s" % key,
                                hint="Use the option %s instead" % option)
        self.warnings = check_keys(config, self.version) if self.version else []
        jm_address = params.get("jobmanager_address")
        if command == "taskmanager":
            if not jm_address:
                raise SpecError("a TaskManager service needs the JobManager's address", option="jobmanager_address",
                                hint="Give the JobManager service's name (the swarm's DNS resolves it)")
        else:
            jm_address = jm_address or self.name
            if params["replicas"] != 1:
                raise SpecError("a %s service runs exactly one replica" % command, option="replicas",
                                hint="Run more TaskManagers, not more JobManagers (high availability needs "
                                     "an HA service, which this module does not configure)")
        config["jobmanager.rpc.address"] = jm_address
        if params["replicas"] < 0:
            raise SpecError("must be 0 or more", option="replicas")
        properties, java_env, dynamic = entrypoint_settings(config)
        self.properties = render_properties(properties, self.version)
        if command == "taskmanager":
            # A swarm template, expanded per task before the container starts (to e.g. "orders-tm-2", a safe
            # value): TaskManagers register under stable, predictable ids.
            self.properties += "\ntaskmanager.resource-id: {{.Service.Name}}-{{.Task.Slot}}"
        env = dict((str(k), str(v)) for k, v in (params.get("env") or {}).items())
        if "FLINK_PROPERTIES" in env:
            raise SpecError("the module sets FLINK_PROPERTIES from flink_config", option="env.FLINK_PROPERTIES",
                            hint="Put the settings in flink_config")
        env["FLINK_PROPERTIES"] = self.properties
        for variable, value in java_env.items():
            if variable in env:
                raise SpecError("the module sets %s from flink_config" % variable, option="env.%s" % variable,
                                hint="Set the JVM options in flink_config (or java_opts of flink_session)")
            env[variable] = value
        for option in ("labels", "container_labels"):
            for key in params.get(option) or {}:
                if str(key).startswith(RESERVED):
                    raise SpecError("the label prefix %s is reserved" % RESERVED, option="%s.%s" % (option, key))
        resources = params.get("resources") or {}
        for key in ("limit_memory", "reserve_memory"):
            if resources.get(key):
                parse_memory(resources[key], "resources.%s" % key)
        for port in params.get("publish") or []:
            if params.get("endpoint_mode") == "dnsrr" and port.get("mode") != "host":
                raise SpecError("endpoint_mode=dnsrr publishes ports only in host mode", option="publish",
                                hint="Set mode: host on the published ports, or use endpoint_mode=vip")
        health = dict((k, v) for k, v in (params.get("healthcheck") or {}).items() if v is not None)
        for key, value in HEALTH_DEFAULTS.items():
            health.setdefault(key, value)
        if not health.get("test") and command == "taskmanager":
            port = str(config.get("rest.port", 8081))
            health["test"] = ["CMD", "bash", "-c", TM_HEALTH_SCRIPT % {"host": jm_address, "port": port}]
        if health.get("test") and health["test"][0] not in ("NONE", "CMD", "CMD-SHELL"):
            raise SpecError("the test starts with NONE, CMD or CMD-SHELL (Docker's form), not %r" % health["test"][0],
                            option="healthcheck.test", hint='For example ["CMD-SHELL", "my-check || exit 1"]')
        self.data = {
            "name": self.name,
            "healthcheck": health if health.get("test") else {},
            "image": params["image"],
            "command": command,
            "args": dynamic + [str(a) for a in params.get("args") or []],
            "replicas": params["replicas"],
            "env": env,
            "mounts": params.get("mounts") or [],
            "networks": [n["name"] for n in params.get("networks") or []],
            "publish": params.get("publish") or [],
            "endpoint_mode": params.get("endpoint_mode") or "vip",
            "constraints": list(params.get("constraints") or []),
            "preferences": list(params.get("preferences") or []),
            "resources": dict((k, v) for k, v in resources.items() if v is not None),
            "restart_policy": dict((k, v) for k, v in (params.get("restart_policy") or {}).items() if v is not None),
            "update_config": dict((k, v) for k, v in (params.get("update_config") or {}).items() if v is not None),
            "labels": dict((str(k), str(v)) for k, v in (params.get("labels") or {}).items()),
            "container_labels": dict((str(k), str(v)) for k, v in (params.get("container_labels") or {}).items()),
            "hostname": params.get("hostname") or "",
        }
        if entrypoint:
            self.data["entrypoint"] = list(entrypoint)
        if secrets:
            self.data["secrets"] = list(secrets)
        self.hash = inputs_hash or hashlib.sha256(json.dumps(self.data, sort_keys=True).encode("utf-8")).hexdigest()[:20]
        self.data["labels"].update(system_labels or {})

    def view(self):
        return json.loads(json.dumps(self.data))
