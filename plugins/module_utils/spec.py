# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster spec: one vocabulary for every platform, validated before anything is touched."""

from __future__ import annotations

import re

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.flink_config import (
    JAVA_OPTS_KEYS, FlinkVersion, check_keys, version_from_image)
from ansible_collections.flinkops.flink.plugins.module_utils.flink_ports import check_ports
from ansible_collections.flinkops.flink.plugins.module_utils.memory import format_memory, parse_memory

# A cluster id must be a DNS-1123 label; Flink's native Kubernetes mode derives longer names from
# it and limits it to 45 characters, so every platform does, and a spec moves between platforms.
NAME_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
NAME_MAX = 45
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VOLUME_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
LABEL_PREFIX = "org.flinkops."

# Keys the module sets itself from dedicated options: setting them in flink_config conflicts.
MANAGED_KEYS = {
    "jobmanager.memory.process.size": "jobmanager.memory",
    "taskmanager.memory.process.size": "taskmanager.memory",
    "taskmanager.numberOfTaskSlots": "taskmanager.slots",
    "jobmanager.rpc.address": "name (the JobManager's address is derived from it)",
    "rest.address": "name (the JobManager's address is derived from it)",
    "taskmanager.resource-id": "name (each TaskManager's id is derived from it)",
    "taskmanager.host": "name (TaskManagers advertise their own container address)",
}
# Environment variables that the module sets from dedicated options.
MANAGED_ENV = {
    "FLINK_PROPERTIES": "flink_config",
    "ENABLE_BUILT_IN_PLUGINS": "plugins",
    "JOB_MANAGER_RPC_ADDRESS": "name",
    "FLINK_ENV_JAVA_OPTS_JM": "jobmanager.java_opts",
    "FLINK_ENV_JAVA_OPTS_TM": "taskmanager.java_opts",
    "DISABLE_JEMALLOC": "jemalloc",
}

REPLACING_JAVA_OPTS = ("env.java.opts.all", "env.java.opts")

DEFAULTS = {
    "jobmanager": {"memory": "1600m", "cpu": None},
    "taskmanager": {"memory": "1728m", "cpu": None, "slots": 1},
}


def validate_name(name, option="name"):
    if not isinstance(name, str) or not NAME_RE.match(name) or len(name) > NAME_MAX:
        raise SpecError("%r is not a valid cluster name" % (name,), option=option,
                        hint="Use at most %d lower-case letters, digits and '-', starting with a letter "
                             "and ending with a letter or digit (a DNS-1123 label), e.g. orders-dev" % NAME_MAX)
    return name


def _positive_number(value, option, allow_none=True):
    if value is None and allow_none:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SpecError("%r is not a number" % (value,), option=option, hint="Give a positive number such as 0.5 or 2")
    if number <= 0:
        raise SpecError("must be positive, got %r" % (value,), option=option, hint="Give a positive number such as 0.5 or 2")
    return number


class ClusterSpec(object):
    """Desired state of a Flink cluster, normalised. Built from module parameters by ``from_params``."""

    def __init__(self):
        self.name = None
        self.version = None
        self.image = None
        self.image_pull = "missing"
        self.jm_memory = None
        self.jm_cpu = None
        self.tm_memory = None
        self.tm_cpu = None
        self.jm_replicas = 1
        self.tm_replicas = 1
        self.tm_slots = 1
        self.flink_config = {}
        self.secret_config = {}
        self.env = {}
        self.mounts = []
        self.conf_dir = None
        self.entrypoint = None
        self.plugins = []
        self.rest_port = None
        self.rest_bind_address = "127.0.0.1"
        self.network = None
        self.labels = {}
        self.restart_policy = "unless-stopped"
        self.warnings = []

    @classmethod
    def from_params(cls, params, require_image=True, default_taskmanagers=1, standby_jobmanagers=False):
        """``default_taskmanagers``: taskmanager.replicas when not given (the platform's; see the docs);
        ``standby_jobmanagers``: whether jobmanager.replicas may exceed 1 on the platform."""
        spec = cls()
        spec.name = validate_name(params.get("name"))
        spec.image = params.get("image")
        spec.image_pull = params.get("image_pull") or "missing"
        if require_image and not spec.image:
            raise SpecError("is required when state is present", option="image",
                            hint="Give a Flink image such as flink:2.2.1-java17")

        tag_version = version_from_image(spec.image)
        given = params.get("flink_version")
        if given:
            spec.version = FlinkVersion(given)
            if tag_version and not spec.version.same_series(tag_version):
                raise SpecError("flink_version %s conflicts with the image tag %s (Flink %s)" % (
                    given, spec.image, tag_version), option="flink_version",
                    hint="Make them agree, or drop flink_version to use the image tag's version")
        elif tag_version:
            spec.version = FlinkVersion(tag_version, option="image")
        elif require_image:
            raise SpecError("cannot tell the Flink version from the image tag %r" % spec.image,
                            option="flink_version", hint="Set flink_version, for example 2.2.1")

        jm = dict(DEFAULTS["jobmanager"], **dict((k, v) for k, v in (params.get("jobmanager") or {}).items()
                                                 if v is not None))
        tm = dict(DEFAULTS["taskmanager"], **dict((k, v) for k, v in (params.get("taskmanager") or {}).items()
                                                  if v is not None))
        spec.jm_memory = parse_memory(jm["memory"], "jobmanager.memory")
        spec.tm_memory = parse_memory(tm["memory"], "taskmanager.memory")
        spec.jm_cpu = _positive_number(jm.get("cpu"), "jobmanager.cpu")
        spec.tm_cpu = _positive_number(tm.get("cpu"), "taskmanager.cpu")
        tm.setdefault("replicas", default_taskmanagers)
        try:
            spec.tm_replicas = int(tm["replicas"])
            spec.tm_slots = int(tm["slots"])
            spec.jm_replicas = int(jm.get("replicas") or 1)
        except (TypeError, ValueError):
            raise SpecError("replicas and slots must be whole numbers", option="taskmanager")
        if spec.jm_replicas < 1:
            raise SpecError("must be at least 1, got %d" % spec.jm_replicas, option="jobmanager.replicas")
        if spec.jm_replicas > 1 and not standby_jobmanagers:
            raise SpecError("standby JobManagers are supported on platform kubernetes only",
                            option="jobmanager.replicas", hint="Remove it, or set platform=kubernetes")
        if spec.tm_replicas < 0:
            raise SpecError("must not be negative, got %d" % spec.tm_replicas, option="taskmanager.replicas",
                            hint="Give 0 or more TaskManagers")
        if spec.tm_slots < 1:
            raise SpecError("must be at least 1, got %d" % spec.tm_slots, option="taskmanager.slots",
                            hint="Each TaskManager needs one or more task slots")

        spec.flink_config = dict(params.get("flink_config") or {})
        spec.secret_config = dict(params.get("flink_config_secrets") or {})
        for option, config in (("flink_config", spec.flink_config), ("flink_config_secrets", spec.secret_config)):
            if spec.version is not None:
                spec.warnings.extend(check_keys(config, spec.version, option=option))
            for key in config:
                if key in MANAGED_KEYS:
                    raise SpecError("key %r conflicts with the option %s" % (key, MANAGED_KEYS[key]),
                                    option="%s.%s" % (option, key),
                                    hint="Remove it from %s and set %s" % (option, MANAGED_KEYS[key]))
        check_ports(spec.flink_config)
        spec._java_opts(params)
        both = set(spec.flink_config) & set(spec.secret_config)
        if both:
            raise SpecError("keys %s are in both flink_config and flink_config_secrets" % sorted(both),
                            option="flink_config_secrets", hint="Set each key in one of them")

        env = params.get("env") or {}
        for key, value in env.items():
            if not ENV_NAME_RE.match(str(key)):
                raise SpecError("%r is not a valid environment variable name" % (key,), option="env")
            if key in MANAGED_ENV:
                raise SpecError("%s is set by the module" % key, option="env.%s" % key,
                                hint="Use the option %s instead" % MANAGED_ENV[key])
            spec.env[str(key)] = "" if value is None else str(value)
        if params.get("jemalloc") is False:
            # The official image's own switch; only written when jemalloc is turned off, so a spec without the
            # option renders (and hashes) as before.
            spec.env["DISABLE_JEMALLOC"] = "true"

        entrypoint = params.get("entrypoint")
        if entrypoint is not None:
            if isinstance(entrypoint, str):
                entrypoint = [entrypoint]
            if not entrypoint or any(not str(part).strip() for part in entrypoint):
                raise SpecError("must be a non-empty list of non-empty strings, got %r" % (entrypoint,),
                                option="entrypoint", hint="Give the command, e.g. ['/opt/custom/entrypoint.sh']")
            spec.entrypoint = [str(part) for part in entrypoint]
        spec.conf_dir = params.get("conf_dir")
        if spec.conf_dir is not None and not str(spec.conf_dir).startswith("/"):
            raise SpecError("must be an absolute path on the Docker host, got %r" % spec.conf_dir, option="conf_dir")
        targets = {}
        for index, mount in enumerate(params.get("mounts") or []):
            target = mount.get("target")
            option = "mounts[%d]" % index
            if not target or not str(target).startswith("/"):
                raise SpecError("target must be an absolute path in the container, got %r" % target,
                                option=option + ".target")
            mtype = mount.get("type") or "bind"
            if mtype != "tmpfs" and not mount.get("source"):
                raise SpecError("source is required for a %s mount" % mtype, option=option + ".source")
            source = mount.get("source")
            if mtype == "bind" and not str(source).startswith("/"):
                raise SpecError("source of a bind mount must be an absolute path on the host, got %r" % source,
                                option=option + ".source",
                                hint="Give the full path (a relative path means nothing to the Docker host or kubelet)")
            if mtype == "volume" and not VOLUME_NAME_RE.match(str(source)):
                raise SpecError("%r is not a volume name" % (source,), option=option + ".source",
                                hint="A volume name starts with a letter or digit and holds letters, digits, "
                                     "'_', '.' and '-'; for a host path use type bind")
            if target.rstrip("/") in targets:
                raise SpecError("target %s is also the target of mounts[%d]" % (target, targets[target.rstrip("/")]),
                                option=option + ".target", hint="Mount each path in the container once")
            targets[target.rstrip("/")] = index
            if spec.conf_dir and target.rstrip("/") == "/opt/flink/conf":
                raise SpecError("mounts /opt/flink/conf while conf_dir is set", option=option + ".target",
                                hint="Use conf_dir alone to provide a configuration directory")
            spec.mounts.append({"type": mtype, "source": mount.get("source"), "target": target,
                                "read_only": bool(mount.get("read_only"))})

        spec.plugins = []
        for index, plugin in enumerate(params.get("plugins") or []):
            if not plugin or "/" in plugin:
                raise SpecError("%r is not a plugin name" % (plugin,), option="plugins[%d]" % index,
                                hint="Give the name of a jar in the image's opt/ directory, e.g. flink-s3-fs-hadoop")
            spec.plugins.append(plugin)

        port = params.get("rest_port")
        if port is not None:
            if not 1 <= int(port) <= 65535:
                raise SpecError("%r is not a TCP port" % (port,), option="rest_port", hint="Give 1 to 65535")
            spec.rest_port = int(port)
        spec.rest_bind_address = params.get("rest_bind_address") or "127.0.0.1"
        spec.network = params.get("network") or ("flink-%s" % spec.name)
        for key in (params.get("labels") or {}):
            if str(key).startswith(LABEL_PREFIX):
                raise SpecError("label %r uses the prefix reserved for the module" % key, option="labels",
                                hint="Choose another prefix than %s" % LABEL_PREFIX)
        spec.labels = dict((str(k), str(v)) for k, v in (params.get("labels") or {}).items())
        spec.restart_policy = params.get("restart_policy") or "unless-stopped"
        return spec

    def _java_opts(self, params):
        """java_opts (every role) and <role>.java_opts as the roles' env.java.opts.<role> keys, which Flink adds to
        the image's env.java.opts.all instead of replacing it; only keys that are set are written, so a spec without
        them renders exactly as before."""
        common = (params.get("java_opts") or "").strip()
        for role, key in sorted(JAVA_OPTS_KEYS.items()):
            own = ((params.get(role) or {}).get("java_opts") or "").strip()
            value = " ".join(v for v in (common, own) if v)
            if not value:
                continue
            if key in self.flink_config:
                raise SpecError("key %r conflicts with the option %s.java_opts" % (key, role),
                                option="flink_config.%s" % key,
                                hint="Remove it from flink_config and set %s.java_opts (or java_opts)" % role)
            self.flink_config[key] = value
        for key in REPLACING_JAVA_OPTS:
            if key in self.flink_config:
                self.warnings.append(
                    "flink_config.%s replaces the image's env.java.opts.all, which holds the --add-opens and "
                    "--add-exports Flink needs on Java 17; use java_opts (added to them) unless you mean to "
                    "replace them" % key)

    @property
    def rest_container_port(self):
        return int(self.flink_config.get("rest.port", 8081))

    def public_view(self):
        """What the spec says, for diff and return values; secret values are masked."""
        view = {
            "name": self.name,
            "flink_version": str(self.version) if self.version else None,
            "image": self.image,
            "jobmanager": {"memory": format_memory(self.jm_memory), "cpu": self.jm_cpu},
            "taskmanager": {"memory": format_memory(self.tm_memory), "cpu": self.tm_cpu,
                            "replicas": self.tm_replicas, "slots": self.tm_slots},
            "flink_config": dict(self.flink_config),
            "flink_config_secrets": dict((k, "********") for k in self.secret_config),
            "env": dict(self.env),
            "mounts": list(self.mounts),
            "conf_dir": self.conf_dir,
            "plugins": list(self.plugins),
            "rest_port": self.rest_port,
            "rest_bind_address": self.rest_bind_address,
            "network": self.network,
            "labels": dict(self.labels),
            "restart_policy": self.restart_policy,
        }
        if self.entrypoint:  # only when set: a spec without it has the view it always had
            view["entrypoint"] = list(self.entrypoint)
        return view
