# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Flink cluster as containers on one Docker host: read actual state, plan, apply, wait.

One JobManager container ``<name>-jobmanager`` and TaskManager containers ``<name>-taskmanager-<i>``
on a user-defined network. Each container carries labels with the cluster name, its role, its index
and a hash of everything it was created from, so an unchanged spec is detected without guessing, and
a change recreates only the containers whose inputs changed. The plan is computed before anything is
touched; check mode reports it, a real run applies exactly it.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import tarfile
import threading

from ansible_collections.flinkops.flink.plugins.module_utils.docker_api import (
    DockerApi, DockerException, ImageNotFound, NotFound)
from ansible_collections.flinkops.flink.plugins.module_utils.docker_common import (
    DEFAULT_DOCKER_HOST, docker_host_address, single_file_tar)
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.flink_config import (
    parse_config_file, render, render_properties)
from ansible_collections.flinkops.flink.plugins.module_utils.rest import FlinkRest, RestUnavailable
from ansible_collections.flinkops.flink.plugins.module_utils.wait import wait_for

LABEL_CLUSTER = "org.flinkops.cluster"
LABEL_ROLE = "org.flinkops.role"
LABEL_INDEX = "org.flinkops.index"
LABEL_HASH = "org.flinkops.hash"
LABEL_SPEC = "org.flinkops.spec"
LABEL_KIND = "org.flinkops.kind"
LABEL_MANAGED = "org.flinkops.managed-by"
MANAGED_BY = "flinkops.flink"
FLINK_HOME = "/opt/flink"
# Defaults of ours for a container's start, below the user's flink_config and not part of the desired state
# (like the image's own defaults; changing them does not recreate running containers). A TaskManager that starts
# before the JobManager's ResourceManager answers retries after cluster.registration.error-delay, 10 s by
# default: most of a deployment's wait. Retrying every second costs a connection attempt.
START_DEFAULTS = {"cluster.registration.error-delay": "1000"}
# Environment variables the image's entrypoint turns into configuration (besides FLINK_PROPERTIES, which the spec
# does not allow in env): when the user sets one, containers start through the entrypoint's role commands.
ENTRYPOINT_CONFIG_ENV = ("TASK_MANAGER_NUMBER_OF_TASK_SLOTS", "TASK_MANAGER_HOST")
ACTIVE_JOB_STATES = ("CREATED", "RUNNING", "FAILING", "CANCELLING", "RESTARTING", "SUSPENDED", "RECONCILING",
                     "INITIALIZING")


def _hash(data):
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:32]


class Action(object):
    """One step of a plan: ``kind`` is create, recreate, start, remove or restart."""

    def __init__(self, kind, target, reason, role=None, index=None, container_id=None):
        self.kind = kind
        self.target = target
        self.reason = reason
        self.role = role
        self.index = index
        self.container_id = container_id

    def describe(self):
        return "%s %s (%s)" % (self.kind, self.target, self.reason)

    def as_dict(self):
        return {"action": self.kind, "target": self.target, "reason": self.reason}


class DockerCluster(object):
    """Session cluster on Docker. ``kind`` labels the containers (session, application)."""

    kind = "session"

    def __init__(self, module, spec):
        self.module = module
        self.params = module.params
        self.spec = spec
        self.api = DockerApi(module.params)
        self._image_id = None
        self._image_checked = False
        self._opt_jars = None
        self._image_conf = None
        self._rest = None

    # Names --------------------------------------------------------------------------------------
    def jm_name(self):
        return "%s-jobmanager" % self.spec.name

    def tm_name(self, index):
        return "%s-taskmanager-%d" % (self.spec.name, index)

    # Actual state -------------------------------------------------------------------------------
    def read(self):
        """Containers and network of this cluster as they are now."""
        try:
            containers = self.api.containers(all=True, filters={"label": "%s=%s" % (LABEL_CLUSTER, self.spec.name)})
            network = None
            for net in self.api.networks(filters={"name": self.spec.network}):
                if net.get("Name") == self.spec.network:
                    network = net
        except DockerException as exc:
            raise BackendError("reading the containers of cluster %s failed: %s" % (self.spec.name, exc))
        jm = None
        tms = {}
        strays = []
        for container in containers:
            labels = container.get("Labels") or {}
            role = labels.get(LABEL_ROLE)
            name = (container.get("Names") or ["/?"])[0].lstrip("/")
            container["_name"] = name
            if role == "jobmanager" and name == self.jm_name() and jm is None:
                jm = container
            elif role == "taskmanager" and labels.get(LABEL_INDEX, "").isdigit() and \
                    name == self.tm_name(int(labels[LABEL_INDEX])):
                tms[int(labels[LABEL_INDEX])] = container
            else:
                strays.append(container)
        return {"jobmanager": jm, "taskmanagers": tms, "strays": strays, "network": network}

    def before_view(self, actual):
        """The spec that the running cluster was created from (from its labels), for diff mode."""
        jm = actual["jobmanager"]
        if jm is None and not actual["taskmanagers"]:
            return {}
        view = {}
        if jm is not None:
            try:
                view = json.loads((jm.get("Labels") or {}).get(LABEL_SPEC) or "{}")
            except ValueError:
                view = {}
        view.setdefault("taskmanager", {})
        view["taskmanager"] = dict(view["taskmanager"], replicas=len(actual["taskmanagers"]))
        view["state"] = "present"
        return view

    # Desired containers -------------------------------------------------------------------------
    def image_id(self, check_only=False):
        """The id of the spec's image on the Docker host, pulling it as image_pull says.

        Raises SpecError naming ``image`` when it is not there and cannot be had; nothing else is touched.
        """
        if self._image_checked:
            return self._image_id
        image = self.spec.image
        policy = self.spec.image_pull
        image_id = None
        if policy != "always":
            try:
                image_id = self.api.inspect_image(image)["Id"]
            except (ImageNotFound, NotFound):
                image_id = None
            except DockerException as exc:
                raise BackendError("inspecting image %s failed: %s" % (image, exc), option="image")
        if image_id is None or policy == "always":
            if policy == "never":
                raise SpecError("image %s is not on the Docker host and image_pull is never" % image, option="image",
                                hint="Build or load the image there, or set image_pull to missing")
            if check_only:
                try:
                    self.api.inspect_distribution(image)
                except DockerException as exc:
                    if image_id is None:
                        raise SpecError("image %s is not on the Docker host and its registry does not have it: %s"
                                        % (image, _short(exc)), option="image",
                                        hint="Check the image name and tag, or build/load the image on the host")
                image_id = image_id or "to-be-pulled:%s" % image
            else:
                try:
                    repository, tag = _split_image(image)
                    self.api.pull(repository, tag=tag)
                    image_id = self.api.inspect_image(image)["Id"]
                except DockerException as exc:
                    if image_id is None:
                        raise SpecError("image %s is not on the Docker host and could not be pulled: %s"
                                        % (image, _short(exc)), option="image",
                                        hint="Check the image name and tag, or build/load the image on the host")
                    self.module.warn("pulling %s failed, using the local image: %s" % (image, _short(exc)))
        self._image_id = image_id
        self._image_checked = True
        return image_id

    def image_conf(self):
        """The image's own configuration file: (file name, flat settings). Its defaults (for example the
        JVM options Java 17 needs) are kept; the module's settings are merged over them."""
        if self._image_conf is None:
            try:
                created = self.api.create_container(self.spec.image, command=["true"], labels={LABEL_MANAGED: MANAGED_BY})
                try:
                    stream, _stat = self.api.get_archive(created["Id"], FLINK_HOME + "/conf")
                    data = b"".join(stream)
                finally:
                    self.api.remove_container(created["Id"], force=True)
            except DockerException as exc:
                raise BackendError("reading %s/conf of image %s failed: %s" % (
                    FLINK_HOME, self.spec.image, _short(exc)), option="image")
            files = {}
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                for member in tar.getmembers():
                    base = member.name.rsplit("/", 1)[-1]
                    if member.isfile() and base in ("config.yaml", "flink-conf.yaml"):
                        files[base] = tar.extractfile(member).read().decode("utf-8", "replace")
            # Flink 1.19/1.20 still read a flink-conf.yaml when one exists; 2.x read only config.yaml.
            if "flink-conf.yaml" in files and self.spec.version.major < 2:
                name = "flink-conf.yaml"
            elif "config.yaml" in files or self.spec.version.major >= 2:
                name = "config.yaml"
            else:
                name = self.spec.version.config_file
            self._image_conf = (name, parse_config_file(name, files[name]) if name in files else {})
        return self._image_conf

    def opt_jars(self):
        """Jar names in the image's opt/ directory (what ENABLE_BUILT_IN_PLUGINS can enable)."""
        if self._opt_jars is None:
            try:
                output = self.api.client.containers.run(self.spec.image, entrypoint=["ls", "-1", FLINK_HOME + "/opt"],
                                                        remove=True, network_mode="none", stdout=True, stderr=True,
                                                        labels={LABEL_MANAGED: MANAGED_BY})
            except DockerException as exc:
                raise BackendError("listing %s/opt in image %s failed: %s" % (
                    FLINK_HOME, self.spec.image, _short(exc)), option="plugins")
            self._opt_jars = [line.strip() for line in output.decode("utf-8", "replace").splitlines()
                              if line.strip().endswith(".jar")]
        return self._opt_jars

    def resolve_plugins(self):
        """Map plugin names to the jar names of the image; SpecError for a plugin the image lacks."""
        if not self.spec.plugins:
            return []
        jars = self.opt_jars()
        resolved = []
        for index, plugin in enumerate(self.spec.plugins):
            base = plugin[:-4] if plugin.endswith(".jar") else plugin
            matches = [j for j in jars if j == base + ".jar" or
                       (j.startswith(base + "-") and j[len(base) + 1:len(base) + 2].isdigit())]
            if len(matches) > 1:
                # Several versions of one plugin: the one of the image's Flink version.
                own = "%s-%s.jar" % (base, self.spec.version)
                matches = [j for j in matches if j == own] or matches
            if len(matches) != 1:
                available = sorted(j[:-4] for j in jars)
                raise SpecError("image %s has no plugin %r in %s/opt" % (self.spec.image, plugin, FLINK_HOME)
                                if not matches else "plugin %r matches several jars: %s" % (plugin, matches),
                                option="plugins[%d]" % index,
                                hint="Choose one of: %s; or add the jar to the image" % ", ".join(available))
            resolved.append(matches[0])
        return resolved

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
        config.update(spec.flink_config)
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
            "conf_dir": spec.conf_dir,
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

    def desired_view(self):
        """The spec as shown in diff mode and kept in the JobManager's labels."""
        return self.spec.public_view()

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

    # Plan ---------------------------------------------------------------------------------------
    def plan(self, actual, state):
        """The list of actions that bring ``actual`` to the desired ``state``."""
        actions = []
        if state == "absent":
            for index in sorted(actual["taskmanagers"], reverse=True):
                container = actual["taskmanagers"][index]
                actions.append(Action("remove", container["_name"], "state is absent", "taskmanager", index,
                                      container["Id"]))
            if actual["jobmanager"] is not None:
                actions.append(Action("remove", self.jm_name(), "state is absent", "jobmanager", None,
                                      actual["jobmanager"]["Id"]))
            for container in actual["strays"]:
                actions.append(Action("remove", container["_name"], "state is absent", None, None, container["Id"]))
            network = actual["network"]
            if network is not None and (network.get("Labels") or {}).get(LABEL_CLUSTER) == self.spec.name:
                actions.append(Action("remove", "network %s" % self.spec.network, "state is absent", "network"))
            return actions

        self._check_name_conflicts(actual)
        if actual["network"] is None:
            actions.append(Action("create", "network %s" % self.spec.network, "missing", "network"))
        before = self.before_view(actual)
        after = self.desired_view()
        changed_fields = sorted(k for k in after if k != "taskmanager" and before.get(k) != after.get(k))

        jm_inputs_hash = _hash(self.container_inputs("jobmanager"))
        actions.extend(self._plan_container(actual["jobmanager"], "jobmanager", None, jm_inputs_hash,
                                            changed_fields, before, after, state))
        for index in range(1, self.spec.tm_replicas + 1):
            actions.extend(self._plan_container(actual["taskmanagers"].get(index), "taskmanager", index,
                                                _hash(self.container_inputs("taskmanager", index)),
                                                changed_fields, before, after, state))
        for index in sorted(actual["taskmanagers"], reverse=True):
            if index > self.spec.tm_replicas:
                container = actual["taskmanagers"][index]
                actions.append(Action("remove", container["_name"], "taskmanager.replicas is %d" % self.spec.tm_replicas,
                                      "taskmanager", index, container["Id"]))
        for container in actual["strays"]:
            actions.append(Action("remove", container["_name"], "not part of the desired cluster", None, None,
                                  container["Id"]))
        return actions

    def _plan_container(self, container, role, index, inputs_hash, changed_fields, before, after, state):
        name = self.jm_name() if role == "jobmanager" else self.tm_name(index)
        if container is None:
            return [Action("create", name, "missing", role, index)]
        labels = container.get("Labels") or {}
        if labels.get(LABEL_HASH) != inputs_hash:
            fields = list(changed_fields)
            tm_before = before.get("taskmanager") or {}
            tm_after = after.get("taskmanager") or {}
            if role == "taskmanager":
                fields += ["taskmanager.%s" % k for k in ("memory", "cpu", "slots") if tm_before.get(k) != tm_after.get(k)]
            else:
                jm_before = before.get("jobmanager") or {}
                fields += ["jobmanager.%s" % k for k in ("memory", "cpu") if jm_before.get(k) != (after.get("jobmanager") or {}).get(k)]
            fields = [f for f in fields if f not in ("jobmanager", "state")]
            if not fields and container.get("ImageID") != self.image_id():
                reason = "image %s has a new id" % self.spec.image
            elif fields:
                reason = "changed: %s" % ", ".join(fields)
            else:
                reason = "created from different inputs"
            return [Action("recreate", name, reason, role, index, container["Id"])]
        if state == "restarted":
            return [Action("restart", name, "state is restarted", role, index, container["Id"])]
        if container.get("State") != "running":
            return [Action("start", name, "container is %s" % container.get("State"), role, index, container["Id"])]
        return []

    def _check_name_conflicts(self, actual):
        """A container with one of our names that we do not manage is an error, not something to delete."""
        ours = set(c["Id"] for c in ([actual["jobmanager"]] if actual["jobmanager"] else []))
        ours.update(c["Id"] for c in actual["taskmanagers"].values())
        names = set([self.jm_name()] + [self.tm_name(i) for i in range(1, self.spec.tm_replicas + 1)])
        if actual["jobmanager"] is None or any(i not in actual["taskmanagers"]
                                               for i in range(1, self.spec.tm_replicas + 1)):
            # (When every name is held by a container of this cluster, read() matched them by name: no lookup.)
            try:
                # One call: every container whose name starts with the cluster's prefix, then exact names.
                found = self.api.containers(all=True, filters={"name": "^/%s-" % self.spec.name})
            except DockerException as exc:
                raise BackendError("looking up container names failed: %s" % exc)
            for container in found:
                name = (container.get("Names") or ["/"])[0].lstrip("/")
                if name in names and container["Id"] not in ours:
                    raise SpecError("a container named %s exists and is not part of cluster %s" % (
                        name, self.spec.name), option="name",
                        hint="Remove that container or choose another cluster name")
        network = actual["network"]
        if network is not None and network.get("Driver") not in ("bridge", "overlay"):
            raise SpecError("network %s exists with driver %s" % (self.spec.network, network.get("Driver")),
                            option="network", hint="Use a bridge or overlay network, or another network name")

    def preflight(self, actions, actual):
        """Checks that need the Docker host, run before anything is touched."""
        creates = [a for a in actions if a.kind in ("create", "recreate") and a.role in ("jobmanager", "taskmanager")]
        if not creates:
            return
        self.resolve_plugins()
        jm_action = next((a for a in creates if a.role == "jobmanager"), None)
        if jm_action is not None and self.spec.rest_port:
            self._check_port_free(actual)

    def _check_port_free(self, actual):
        port = self.spec.rest_port
        own = actual["jobmanager"]["Id"] if actual["jobmanager"] else None
        try:
            for container in self.api.containers(all=False):
                if container["Id"] == own:
                    continue
                for binding in container.get("Ports") or []:
                    if binding.get("PublicPort") == port:
                        name = (container.get("Names") or ["?"])[0].lstrip("/")
                        raise SpecError("port %d is already published by container %s" % (port, name),
                                        option="rest_port", hint="Choose a free port")
        except DockerException as exc:
            raise BackendError("listing published ports failed: %s" % exc)
        own_publishes = False
        if actual["jobmanager"] is not None:
            own_publishes = any(b.get("PublicPort") == port for b in actual["jobmanager"].get("Ports") or [])
        host = self.params.get("docker_host") or DEFAULT_DOCKER_HOST
        if host.startswith("unix://") and not own_publishes:
            # The engine is on this host: a process (not a container) may hold the port.
            address = self.spec.rest_bind_address if self.spec.rest_bind_address not in ("0.0.0.0", "::") else ""
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # As docker-proxy (and any server) does: connections in TIME_WAIT do not hold the port.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError:
                raise SpecError("port %d is already in use on the Docker host" % port, option="rest_port",
                                hint="Choose a free port or stop what listens on it")
            finally:
                probe.close()

    # Apply --------------------------------------------------------------------------------------
    def apply(self, actions):
        index = 0
        while index < len(actions):
            batch = [actions[index]]
            while batch[0].kind == "create" and batch[0].role != "network" and index + len(batch) < len(actions) \
                    and actions[index + len(batch)].kind == "create" and actions[index + len(batch)].role != "network":
                batch.append(actions[index + len(batch)])
            index += len(batch)
            if len(batch) == 1:
                try:
                    self._apply(batch[0])
                except DockerException as exc:
                    raise BackendError("%s failed: %s" % (batch[0].describe(), _short(exc)))
            else:
                self._create_together(batch)

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
                self._create(action.role, action.index)
            except DockerException as exc:
                errors.append(BackendError("%s failed: %s" % (action.describe(), _short(exc))))
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

    def _apply(self, action):
        if action.role == "network":
            if action.kind == "create":
                self.api.create_network(self.spec.network, driver="bridge", check_duplicate=True,
                                        labels={LABEL_CLUSTER: self.spec.name, LABEL_MANAGED: MANAGED_BY})
            elif action.kind == "remove":
                self.api.remove_network(self.spec.network)
            return
        if action.kind == "remove":
            self._remove(action.container_id)
        elif action.kind == "recreate":
            self._remove(action.container_id)
            self._create(action.role, action.index)
        elif action.kind == "create":
            self._create(action.role, action.index)
        elif action.kind == "start":
            self.api.start(action.container_id)
        elif action.kind == "restart":
            self.api.restart(action.container_id, timeout=30)

    def _remove(self, container_id):
        try:
            self.api.stop(container_id, timeout=30)
            self.api.remove_container(container_id, force=True)
        except NotFound:
            pass

    def _create(self, role, index):
        spec = self.spec
        name = self.jm_name() if role == "jobmanager" else self.tm_name(index)
        inputs = self.container_inputs(role, index)
        labels = dict(spec.labels)
        labels.update({LABEL_CLUSTER: spec.name, LABEL_ROLE: role, LABEL_HASH: _hash(inputs),
                       LABEL_KIND: self.kind, LABEL_MANAGED: MANAGED_BY})
        if index is not None:
            labels[LABEL_INDEX] = str(index)
        if role == "jobmanager":
            labels[LABEL_SPEC] = json.dumps(self.desired_view(), sort_keys=True)
        env = dict(spec.env)
        env["JOB_MANAGER_RPC_ADDRESS"] = self.jm_name()
        plugins = self.resolve_plugins()
        if plugins:
            env["ENABLE_BUILT_IN_PLUGINS"] = ";".join(plugins)
        settings = self.flink_settings(role, index)
        if spec.conf_dir:
            env["FLINK_PROPERTIES"] = render_properties(settings, spec.version)
        mounts = [self.api.types.Mount(m["target"], m["source"], type=m["type"], read_only=m["read_only"])
                  for m in spec.mounts]
        if spec.conf_dir:
            mounts.append(self.api.types.Mount(FLINK_HOME + "/conf", spec.conf_dir, type="bind", read_only=True))
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
        created = self.api.create_container(spec.image, command=self.start_command(role), name=name, hostname=name,
                                            environment=env, labels=labels, ports=ports, host_config=host_config,
                                            networking_config=networking)
        if not spec.conf_dir:
            file_name, defaults = self.image_conf()
            merged = dict(defaults)
            merged.update(START_DEFAULTS)
            merged.update(settings)
            self.api.put_archive(created["Id"], FLINK_HOME + "/conf",
                                 single_file_tar(file_name, render(merged, file_name == "config.yaml")))
        self.api.start(created["Id"])

    # Guard --------------------------------------------------------------------------------------
    def running_jobs(self, actual):
        """Jobs that a restart would disrupt, asked from the JobManager when it answers."""
        if actual["jobmanager"] is None or actual["jobmanager"].get("State") != "running":
            return []
        try:
            return [j for j in self.rest().jobs() if j.get("state") in ACTIVE_JOB_STATES]
        except RestUnavailable:
            return []

    def disruptive(self, actions):
        return [a for a in actions if a.kind in ("recreate", "remove", "restart") and
                a.role in ("jobmanager", "taskmanager")]

    # Readiness ----------------------------------------------------------------------------------
    def rest_url(self):
        if self.params.get("rest_url"):
            return self.params["rest_url"]
        if self.spec.rest_port:
            host = docker_host_address(self.params, self.spec.rest_bind_address)
            return "http://%s:%d" % (host, self.spec.rest_port)
        try:
            info = self.api.inspect_container(self.jm_name())
            address = info["NetworkSettings"]["Networks"][self.spec.network]["IPAddress"]
        except (DockerException, KeyError, TypeError):
            return None
        return "http://%s:%d" % (address, self.spec.rest_container_port) if address else None

    def rest(self):
        url = self.rest_url()
        if not url:
            raise RestUnavailable("the JobManager has no reachable REST address yet")
        if self._rest is None or self._rest.base_url != url.rstrip("/"):
            self._rest = FlinkRest(url, timeout=5)  # one client: its connection is kept alive between calls
        return self._rest

    def _restart_counts(self):
        """Each desired container's state and restart count (a crash loop under a restart policy
        shows only there: the container looks up, but restarts)."""
        names = [self.jm_name()] + [self.tm_name(i) for i in range(1, self.spec.tm_replicas + 1)]
        counts = {}
        for name in names:
            try:
                info = self.api.inspect_container(name)
            except NotFound:
                continue
            counts[name] = (info.get("RestartCount", 0), (info.get("State") or {}).get("Status"), info["Id"])
        return counts

    def _logs_tail(self, container_id, lines=25):
        try:
            return self.api.logs(container_id, tail=lines).decode("utf-8", "replace")
        except DockerException:
            return ""

    def wait_ready(self, timeout, sleep):
        """REST answers and exactly the desired TaskManagers are registered with their slots."""
        expected = set(self.tm_name(i) for i in range(1, self.spec.tm_replicas + 1))
        prefix = "%s-taskmanager-" % self.spec.name
        first = [self._restart_counts()]
        baseline = dict((name, count) for name, (count, _status, _id) in first[0].items())

        def probe():
            # The first probe uses what the baseline read a moment ago: the same containers, inspected once.
            for name, (count, status, container_id) in (first.pop() if first else self._restart_counts()).items():
                if status in ("exited", "dead") or count > baseline.get(name, 0):
                    raise BackendError("container %s %s; its last log lines:\n%s" % (
                        name, "exited" if status in ("exited", "dead") else "keeps restarting",
                        self._logs_tail(container_id)),
                        hint="Fix the cause shown in the log; the containers were left in place for inspection")
            try:
                rest = self.rest()
                overview = rest.overview()
                tms = rest.taskmanagers()
            except RestUnavailable as exc:
                return False, {"summary": "REST API not answering (%s)" % exc.message}
            self._seen = (overview, tms)  # describe() reuses what the last probe saw
            registered = dict((tm.get("id"), tm) for tm in tms)
            ours = set(k for k in registered if k in expected or str(k).startswith(prefix))
            wrong_slots = [k for k in ours & expected if registered[k].get("slotsNumber") != self.spec.tm_slots]
            state = {"summary": "%d of %d TaskManagers registered" % (len(ours & expected), len(expected)),
                     "registered": sorted(registered), "overview": overview}
            if expected - ours:
                state["summary"] += ", waiting for %s" % ", ".join(sorted(expected - ours))
            if ours - expected:
                state["summary"] += ", waiting for %s to leave" % ", ".join(sorted(ours - expected))
            if wrong_slots:
                state["summary"] += ", old slot count on %s" % ", ".join(sorted(wrong_slots))
            return (ours == expected and not wrong_slots), state

        return wait_for(probe, timeout, sleep, "the JobManager's REST API and %d TaskManager(s)" % len(expected))

    def describe(self, actual=None):
        """Return values: REST URL, versions, TaskManagers, slots and containers."""
        actual = actual or self.read()
        result = {"rest_url": self.rest_url(), "network": self.spec.network, "containers": []}
        containers = ([actual["jobmanager"]] if actual["jobmanager"] else []) + \
            [actual["taskmanagers"][i] for i in sorted(actual["taskmanagers"])]
        for container in containers:
            labels = container.get("Labels") or {}
            result["containers"].append({"name": container["_name"], "id": container["Id"][:12],
                                         "role": labels.get(LABEL_ROLE), "state": container.get("State"),
                                         "image": container.get("Image")})
        try:
            rest = self.rest()
            overview, tms = getattr(self, "_seen", None) or (rest.overview(), rest.taskmanagers())
            result["flink_version"] = overview.get("flink-version")
            # From the TaskManager list itself: the overview may have been read a moment earlier.
            result["slots_total"] = sum(tm.get("slotsNumber") or 0 for tm in tms)
            result["slots_available"] = sum(tm.get("freeSlots") or 0 for tm in tms)
            result["taskmanagers"] = [{"id": tm.get("id"), "slots": tm.get("slotsNumber"),
                                       "free_slots": tm.get("freeSlots")} for tm in tms]
            result["jobs"] = [{"id": j.get("jid"), "name": j.get("name"), "state": j.get("state")} for j in rest.jobs()]
        except RestUnavailable:
            result["taskmanagers"] = []
        return result


def _split_image(image):
    name = image.split("@")[0]
    if "@" in image:
        return image.split("@")[0], image.split("@")[1]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = name.rsplit(":", 1)
        return repository, tag
    return name, "latest"


def _short(exc):
    explanation = getattr(exc, "explanation", None)
    if explanation:
        return str(explanation)
    return str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__


def discover_rest_url(params, name):
    """The REST URL of a cluster deployed by this collection on Docker, found from its JobManager's labels."""
    api = DockerApi(params)
    try:
        found = api.containers(all=True, filters={"label": ["%s=%s" % (LABEL_CLUSTER, name),
                                                            "%s=jobmanager" % LABEL_ROLE]})
    except DockerException as exc:
        raise BackendError("looking for the JobManager of cluster %s failed: %s" % (name, exc))
    if not found:
        raise SpecError("no cluster named %s on this Docker host" % name, option="name",
                        hint="Check the name, or give rest_url")
    container = found[0]
    for binding in container.get("Ports") or []:
        if binding.get("PublicPort") and binding.get("Type") == "tcp":
            return "http://%s:%d" % (docker_host_address(params, binding.get("IP") or "0.0.0.0"), binding["PublicPort"])
    try:
        view = json.loads((container.get("Labels") or {}).get(LABEL_SPEC) or "{}")
    except ValueError:
        view = {}
    port = int((view.get("flink_config") or {}).get("rest.port", 8081))
    for network in ((container.get("NetworkSettings") or {}).get("Networks") or {}).values():
        if network.get("IPAddress"):
            return "http://%s:%d" % (network["IPAddress"], port)
    raise BackendError("the JobManager of cluster %s has no published port and no address" % name,
                       hint="Is it running? Give rest_url to reach it another way")
