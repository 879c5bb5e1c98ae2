# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a Flink container on Docker is made of, and how it is created.

``DockerContainers`` is a mixin of the Docker platforms (platforms/docker.py, platforms/docker_application.py): the
Flink configuration of each role, the inputs whose hash decides whether a container is recreated, the start command,
and the creation itself (the configuration file put into the created container before it starts). It needs
``self.spec``, ``self.api`` (docker.api.DockerApi), ``self.image`` (docker.image.DockerImage), ``jm_name()``,
``tm_name()`` and ``desired_view()``.
"""

from __future__ import annotations

import json
import threading

from ansible_collections.flinkops.flink.plugins.module_utils.docker.api import DockerException
from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import single_file_tar
from ansible_collections.flinkops.flink.plugins.module_utils.docker.image import (
    FLINK_HOME, LABEL_MANAGED, MANAGED_BY, short_error)
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError
from ansible_collections.flinkops.flink.plugins.module_utils.flink_config import (
    entrypoint_settings, render, render_properties, role_config)
from ansible_collections.flinkops.flink.plugins.module_utils.image_entrypoint import CONF_SOURCE, wrapper_entrypoint
from ansible_collections.flinkops.flink.plugins.module_utils.plan import digest

LABEL_CLUSTER = "org.flinkops.cluster"
LABEL_ROLE = "org.flinkops.role"
LABEL_INDEX = "org.flinkops.index"
LABEL_HASH = "org.flinkops.hash"
LABEL_SPEC = "org.flinkops.spec"
LABEL_KIND = "org.flinkops.kind"
# Defaults of ours for a container's start, below the user's flink_config and not part of the desired state
# (like the image's own defaults; changing them does not recreate running containers). A TaskManager that starts
# before the JobManager's ResourceManager answers retries after cluster.registration.error-delay, 10 s by
# default: most of a deployment's wait. Retrying every second costs a connection attempt.
START_DEFAULTS = {"cluster.registration.error-delay": "1000"}
# Environment variables the image's entrypoint turns into configuration (besides FLINK_PROPERTIES, which the spec
# does not allow in env): when the user sets one, containers start through the entrypoint's role commands.
ENTRYPOINT_CONFIG_ENV = ("TASK_MANAGER_NUMBER_OF_TASK_SLOTS", "TASK_MANAGER_HOST")
# Keys the official image's entrypoint sets to fixed values (6124, 6125) on every start, over the configuration file;
# only FLINK_PROPERTIES, applied after them, wins.
ENTRYPOINT_FIXED_KEYS = ("blob.server.port", "query.server.port")
# With conf_dir, where flink_config_secrets are put in the created container (read by the wrapper entrypoint).
SECRET_FILE = "/etc/flinkops-config-secrets"


class DockerContainers(object):
    """The containers of a Docker cluster: their settings, inputs and creation."""

    def flink_settings(self, role, index=None):
        """The Flink configuration a container gets (what the module manages plus the user's)."""
        spec = self.spec
        config = {
            "jobmanager.rpc.address": self.jm_name(),
            "jobmanager.rpc.port": 6123,
            "jobmanager.bind-host": "0.0.0.0",
            "rest.address": self.jm_name(),
            "rest.bind-address": "0.0.0.0",
            "blob.server.port": 6124,
            "query.server.port": 6125,
        }
        if role == "jobmanager":
            config["jobmanager.memory.process.size"] = "%db" % spec.jm_memory
        else:
            config["taskmanager.memory.process.size"] = "%db" % spec.tm_memory
            config["taskmanager.numberOfTaskSlots"] = spec.tm_slots
            config["taskmanager.bind-host"] = "0.0.0.0"
            config["taskmanager.host"] = self.tm_name(index)
            config["taskmanager.resource-id"] = self.tm_name(index)
        config.update(role_config(spec.flink_config, role))
        config.update(spec.secret_config)
        return config

    def container_inputs(self, role, index=None):
        """Everything a container is created from; its hash decides whether it must be recreated."""
        spec = self.spec
        return {
            "role": role,
            "index": index,
            "image_id": self.image_id(),
            "command": ["jobmanager"] if role == "jobmanager" else ["taskmanager"],
            "config": self.flink_settings(role, index),
            "version": str(spec.version),
            "env": spec.env,
            "plugins": spec.plugins,
            "mounts": spec.mounts,
            # With the mount point: containers that had the directory mounted over conf/ are recreated once.
            "conf_dir": [spec.conf_dir, CONF_SOURCE] if spec.conf_dir else None,
            **({"entrypoint": spec.entrypoint} if spec.entrypoint else {}),
            "memory": spec.jm_memory if role == "jobmanager" else spec.tm_memory,
            "cpu": spec.jm_cpu if role == "jobmanager" else spec.tm_cpu,
            "rest_port": spec.rest_port if role == "jobmanager" else None,
            "rest_bind_address": spec.rest_bind_address if role == "jobmanager" else None,
            "network": spec.network,
            "labels": spec.labels,
            "restart_policy": spec.restart_policy,
            "kind": self.kind,
            "extra": self.extra_inputs(role),
        }

    def extra_inputs(self, role):
        """Subclasses add what else defines their containers (e.g. an application's job)."""
        return None

    def command(self, role):
        return ["jobmanager"] if role == "jobmanager" else ["taskmanager"]

    def start_command(self, role):
        """The container's command: the image's role command (``jobmanager``, ``taskmanager``, ``standalone-job``),
        or, when the module writes the complete configuration file itself, Flink's own start script passed through
        the entrypoint. The entrypoint's configuration step parses the file with a JVM (the official image's as
        well as ours); with nothing left for it to do, skipping it saves a JVM start per container. The entrypoint
        still enables plugins, sets up jemalloc and drops to the flink user for pass-through commands."""
        command = self.command(role)
        if self.spec.conf_dir or any(key in self.spec.env for key in ENTRYPOINT_CONFIG_ENV):
            return command
        return ["%s/bin/%s.sh" % (FLINK_HOME, command[0]), "start-foreground"] + command[1:]

    def entrypoint_start(self, role, index=None):
        """With conf_dir the configuration goes through the entrypoint's FLINK_PROPERTIES: (environment, command),
        values with whitespace another way (entrypoint_settings), secrets never into the command line. Raises
        SpecError for what cannot be passed (also called by preflight, before anything is touched)."""
        spec = self.spec
        settings = self.flink_settings(role, index)
        public = dict((k, v) for k, v in settings.items() if k not in spec.secret_config)
        properties, env, dynamic = entrypoint_settings(public)
        env["FLINK_PROPERTIES"] = render_properties(properties, spec.version)
        self.secret_properties()  # refused here, before anything is touched, when they cannot pass
        command = self.start_command(role)
        return env, command[:1] + dynamic + command[1:]

    def secret_properties(self):
        """flink_config_secrets as FLINK_PROPERTIES lines (with conf_dir), or None. They travel as a file put into
        the created container and appended to FLINK_PROPERTIES inside it: never in its environment as `docker
        inspect` shows it."""
        if not self.spec.secret_config:
            return None
        return render_properties(dict(self.spec.secret_config), self.spec.version, option="flink_config_secrets")

    def _create_together(self, actions):
        """New containers are created and started at the same time (a deployment, a scale-up): their JVMs start
        together as with ``docker run`` of each, instead of one Docker round trip (create, put the config, start)
        after the other. All are attempted; the first failure is raised after the others finished."""
        if not self.spec.conf_dir:
            self.image_conf()  # read once, before the threads
        self.resolve_plugins()
        errors = []

        def create(action):
            try:
                self._made.append(self._create(action.role, action.index))
            except DockerException as exc:
                errors.append(BackendError("%s failed: %s" % (action.describe(), short_error(exc))))
            except Exception as exc:  # pylint: disable=broad-exception-caught
                errors.append(exc)

        threads = [threading.Thread(target=create, args=(action,), name="create-%s" % action.target)
                   for action in actions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    def _create(self, role, index, container_name=None, start=True):
        """Create (and start) the container of ``role``/``index``; returns its id. ``container_name`` creates it
        under another name (a replacement staged beside the container it replaces); its host name and network
        alias are the role's own name all the same."""
        spec = self.spec
        name = self.jm_name() if role == "jobmanager" else self.tm_name(index)
        inputs = self.container_inputs(role, index)
        labels = dict(spec.labels)
        labels.update({LABEL_CLUSTER: spec.name, LABEL_ROLE: role, LABEL_HASH: digest(inputs),
                       LABEL_KIND: self.kind, LABEL_MANAGED: MANAGED_BY})
        if index is not None:
            labels[LABEL_INDEX] = str(index)
        if role == "jobmanager":
            labels[LABEL_SPEC] = json.dumps(self.desired_view(), sort_keys=True)
        else:  # TaskManagers are recreated without the JobManager: each keeps its own part of the view
            labels[LABEL_SPEC] = json.dumps({"taskmanager": self.desired_view().get("taskmanager")}, sort_keys=True)
        env = dict(spec.env)
        env["JOB_MANAGER_RPC_ADDRESS"] = self.jm_name()
        plugins = self.resolve_plugins()
        if plugins:
            env["ENABLE_BUILT_IN_PLUGINS"] = ";".join(plugins)
        settings = self.flink_settings(role, index)
        command = self.start_command(role)
        if spec.conf_dir:
            entry_env, command = self.entrypoint_start(role, index)
            env.update(entry_env)
        else:
            fixed = dict((key, settings[key]) for key in ENTRYPOINT_FIXED_KEYS if key in settings)
            if fixed:
                env["FLINK_PROPERTIES"] = render_properties(fixed, spec.version)
        mounts = [self.api.types.Mount(m["target"], m["source"], type=m["type"], read_only=m["read_only"])
                  for m in spec.mounts]
        if spec.conf_dir:
            # Copied into the container's own conf/ before the image's entrypoint, which writes there.
            mounts.append(self.api.types.Mount(CONF_SOURCE, spec.conf_dir, type="bind", read_only=True))
        memory = spec.jm_memory if role == "jobmanager" else spec.tm_memory
        cpu = spec.jm_cpu if role == "jobmanager" else spec.tm_cpu
        host_config_args = dict(mounts=mounts, mem_limit=memory, network_mode=spec.network,
                                restart_policy={"Name": spec.restart_policy} if spec.restart_policy != "no" else None,
                                init=False)
        if cpu:
            host_config_args["nano_cpus"] = int(cpu * 1e9)
        ports = None
        if role == "jobmanager" and spec.rest_port:
            host_config_args["port_bindings"] = {spec.rest_container_port: (spec.rest_bind_address, spec.rest_port)}
            ports = [spec.rest_container_port]
        host_config = self.api.create_host_config(**host_config_args)
        networking = self.api.create_networking_config(
            {spec.network: self.api.create_endpoint_config(aliases=[name])})
        created = self.api.create_container(spec.image, command=command, name=container_name or name, hostname=name,
                                            entrypoint=wrapper_entrypoint(
                                                conf_source=bool(spec.conf_dir), entrypoint=spec.entrypoint,
                                                secret_file=SECRET_FILE if spec.conf_dir and spec.secret_config
                                                else None),
                                            environment=env, labels=labels, ports=ports, host_config=host_config,
                                            networking_config=networking)
        if not spec.conf_dir:
            file_name, defaults = self.image_conf()
            merged = dict(defaults)
            merged.update(START_DEFAULTS)
            merged.update(settings)
            self.api.put_archive(created["Id"], FLINK_HOME + "/conf",
                                 single_file_tar(file_name, render(merged, file_name == "config.yaml")))
        elif spec.secret_config:
            directory, file_name = SECRET_FILE.rsplit("/", 1)
            self.api.put_archive(created["Id"], directory,
                                 single_file_tar(file_name, self.secret_properties(), mode=0o400))
        if start:
            self.api.start(created["Id"])
        return created["Id"]
