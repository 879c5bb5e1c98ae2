# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Flink cluster as two Docker Swarm services: read, plan, apply, wait.

``<name>-jobmanager`` (one replica) and ``<name>-taskmanager`` (``taskmanager.replicas`` replicas) on the overlay
network ``flink-<name>`` (or ``network``), made from the same spec as on Docker. Each service is built with
swarm/service.py (the building block of flink_swarm_service): the configuration goes in as FLINK_PROPERTIES, the
image is pinned to its registry digest, TaskManagers register as ``<name>-taskmanager-<slot>``.
``flink_config_secrets`` become a swarm secret (a file under /run/secrets appended to FLINK_PROPERTIES when the
container starts), so their values are in no service spec, label or environment the swarm shows.

The JobManager service carries the public view of the spec (label ``org.flinkops.spec``), diff mode's "before",
and both services a hash of what they are made of: an unchanged spec changes nothing, a changed one updates only
the services whose inputs changed (a rolling update). The REST API is reached through the JobManager's published
port (``rest_port``): on the node that runs the JobManager with ``publish_mode: host``, on any node in ingress
mode. Readiness and the REST URL are in swarm/readiness.py, the rollback in swarm/rollback.py.
"""

from __future__ import annotations

import copy
import json
import time

from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import docker_host_address
from ansible_collections.flinkops.flink.plugins.module_utils.docker import flink_validation
from ansible_collections.flinkops.flink.plugins.module_utils.docker.image import DockerImage, plugin_jar
from ansible_collections.flinkops.flink.plugins.module_utils.docker.api import (
    APIError, DockerException, EngineClient, NotFound)
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.flink_config import JAVA_OPTS_KEYS, render_properties, role_config
from ansible_collections.flinkops.flink.plugins.module_utils.image_entrypoint import wrapper_entrypoint
from ansible_collections.flinkops.flink.plugins.module_utils.plan import Action, changed_fields, digest
from ansible_collections.flinkops.flink.plugins.module_utils.platform import ClusterPlatform
from ansible_collections.flinkops.flink.plugins.module_utils.swarm.readiness import SwarmReadiness, task_node_address
from ansible_collections.flinkops.flink.plugins.module_utils.swarm.rollback import SwarmRollback
from ansible_collections.flinkops.flink.plugins.module_utils.swarm.service import SwarmService
from ansible_collections.flinkops.flink.plugins.module_utils.swarm.service_spec import ServiceSpec

LABEL_CLUSTER = "org.flinkops.cluster"
LABEL_KIND = "org.flinkops.kind"
LABEL_SPEC = "org.flinkops.spec"
LABEL_MANAGED = "org.flinkops.managed-by"
MANAGED_BY = "flinkops.flink"
SECRET_FILE = "flink-config-secrets"
START_DEFAULTS = {"cluster.registration.error-delay": "1000"}
RESTART_CONDITION = {"no": "none", "on-failure": "on-failure", "always": "any", "unless-stopped": "any"}
ROLES = ("jobmanager", "taskmanager")


class SwarmCluster(SwarmRollback, SwarmReadiness, ClusterPlatform):
    """Session cluster on a Docker Swarm (the module talks to a manager's daemon)."""

    platform = "swarm"
    kind = "session"

    def __init__(self, module, spec):
        super(SwarmCluster, self).__init__(module, spec)
        params = module.params
        self.endpoint_mode = params.get("endpoint_mode") or "vip"
        self.publish_mode = params.get("publish_mode") or ("host" if self.endpoint_mode == "dnsrr" else "ingress")
        if self.endpoint_mode == "dnsrr" and self.publish_mode != "host":
            raise SpecError("endpoint_mode dnsrr publishes ports only in host mode", option="publish_mode",
                            hint="Set publish_mode: host, or endpoint_mode: vip")
        self.placement = {}
        for role in ROLES:
            options = params.get(role) or {}
            self.placement[role] = {"constraints": [str(c) for c in options.get("constraints") or []],
                                    "preferences": [str(p) for p in options.get("preferences") or []]}
        if params.get("state") != "absent" and params.get("wait") and not (spec.rest_port or params.get("rest_url")):
            raise SpecError("platform swarm waits through the JobManager's published REST port, and none is set",
                            option="rest_port", hint="Set rest_port (and publish_mode), give rest_url, or wait=false")
        self.client = EngineClient(params)
        self._services = {}
        self._digest = False
        self._updated = []  # roles whose service this run updated (the swarm keeps their spec before), in order
        self._changed = set()  # the same, kept after a rollback
        self._failed_before = {}  # role: ids of its failed tasks before this run's update (or rollback)
        self._rolled_back = False
        self._secret_rotated = False

    # Names --------------------------------------------------------------------------------------
    def service_name(self, role):
        return "%s-%s" % (self.spec.name, role)

    def secret_name(self):
        return "%s-flink-secrets-%s" % (self.spec.name, digest(sorted(
            (k, str(v)) for k, v in self.spec.secret_config.items()), 12))

    # Actual state -------------------------------------------------------------------------------
    def read(self):
        try:
            info = self.client.info().get("Swarm") or {}
            if info.get("LocalNodeState") != "active" or not info.get("ControlAvailable"):
                raise SpecError("the Docker host is not a manager of an active swarm (state %s)" % (
                    info.get("LocalNodeState") or "inactive"), option="docker_host",
                    hint="Point docker_host to a swarm manager (the flinkops.flink.swarm role forms a swarm)")
            services = {}
            for role in ROLES:
                try:
                    services[role] = self.client.api.inspect_service(self.service_name(role))
                except NotFound:
                    services[role] = None
            networks = [n for n in self.client.api.networks(names=[self.spec.network])
                        if n.get("Name") == self.spec.network]
            secrets = self.client.api.secrets(filters={"label": "%s=%s" % (LABEL_CLUSTER, self.spec.name)}) \
                if self.spec.secret_config or any(services.values()) else []
        except APIError as exc:
            raise BackendError("reading the services of cluster %s failed: %s" % (
                self.spec.name, exc.explanation or exc), option="docker_host")
        for role, service in services.items():
            labels = ((service or {}).get("Spec") or {}).get("Labels") or {}
            if service is not None and labels.get(LABEL_CLUSTER) != self.spec.name:
                raise SpecError("a service named %s exists and is not part of cluster %s" % (
                    self.service_name(role), self.spec.name), option="name",
                    hint="Remove that service or choose another cluster name")
        return {"services": services, "network": networks[0] if networks else None, "secrets": secrets}

    def exists(self, actual):
        return any(actual["services"].values())

    def has_jobmanager(self, actual):
        return actual["services"]["jobmanager"] is not None

    def before_view(self, actual):
        jm, tm = actual["services"]["jobmanager"], actual["services"]["taskmanager"]
        if jm is None and tm is None:
            return {}
        view = _label_view(jm)
        if tm is not None:
            view["taskmanager"] = _label_view(tm).get("taskmanager") or view.get("taskmanager") or {}
        replicas = ((tm or {}).get("Spec", {}).get("Mode", {}).get("Replicated") or {}).get("Replicas", 0)
        view["taskmanager"] = dict(view.get("taskmanager") or {}, replicas=replicas)
        view["state"] = "present"
        return view

    # Desired state ------------------------------------------------------------------------------
    def desired_view(self):
        view = self.spec.public_view()
        for key in ("conf_dir", "rest_bind_address"):
            view.pop(key, None)
        view["platform"] = "swarm"
        view["endpoint_mode"] = self.endpoint_mode
        view["publish_mode"] = self.publish_mode
        for role in ROLES:
            view[role] = dict(view[role], **self.placement[role])
        return view

    def flink_settings(self, role):
        spec = self.spec
        config = dict(START_DEFAULTS)
        if role == "jobmanager":
            config["jobmanager.memory.process.size"] = "%db" % spec.jm_memory
        else:
            config["taskmanager.memory.process.size"] = "%db" % spec.tm_memory
            config["taskmanager.numberOfTaskSlots"] = spec.tm_slots
        config.update(role_config(spec.flink_config, role))
        return config

    def command(self, role):
        """(the image's role command, its arguments)."""
        return ("jobmanager", []) if role == "jobmanager" else ("taskmanager", [])

    def role_inputs(self, role):
        """What decides whether a service is updated (not the application's job id or restore path)."""
        view = dict(self.desired_view())
        if isinstance(view.get("flink_config"), dict):  # the other role's JVM options do not reach this one
            view["flink_config"] = role_config(view["flink_config"], role)
        return {"role": role, "image": self.spec.image, "config": self.flink_settings(role),
                "secrets": self.secret_name() if self.spec.secret_config else None, "view": {
                    k: v for k, v in view.items() if k not in ("jobmanager", "taskmanager", "job") or k == role},
                "extra": self.extra_inputs(role)}

    def extra_inputs(self, role):
        return None

    def service_params(self, role):
        """flink_swarm_service's options for one role of the cluster."""
        spec = self.spec
        command, args = self.command(role)
        memory = spec.jm_memory if role == "jobmanager" else spec.tm_memory
        cpu = spec.jm_cpu if role == "jobmanager" else spec.tm_cpu
        env = dict(spec.env)
        if spec.plugins:
            env["ENABLE_BUILT_IN_PLUGINS"] = ";".join(plugin_jar(p, spec.version) for p in spec.plugins)
        publish = []
        if role == "jobmanager" and spec.rest_port:
            publish = [{"published": spec.rest_port, "target": spec.rest_container_port, "protocol": "tcp",
                        "mode": self.publish_mode}]
        params = dict(self.params)
        params.update({
            "name": self.service_name(role), "state": "present", "image": spec.image,
            "flink_version": str(spec.version) if spec.version else None, "command": command, "args": args,
            "replicas": 1 if role == "jobmanager" else spec.tm_replicas,
            "jobmanager_address": self.service_name("jobmanager"), "flink_config": self.flink_settings(role),
            "env": env, "mounts": [dict(m) for m in spec.mounts],
            "networks": [{"name": spec.network, "create": True, "attachable": True}],
            "publish": publish, "endpoint_mode": self.endpoint_mode,
            "constraints": self.placement[role]["constraints"], "preferences": self.placement[role]["preferences"],
            "resources": {"limit_memory": "%db" % memory, "limit_cpu": cpu},
            "restart_policy": {"condition": RESTART_CONDITION[spec.restart_policy]},
            # All TaskManagers at once, as a recreate on Docker does (a job restarts when any of them goes anyway).
            "update_config": {"parallelism": 1 if role == "jobmanager" else 0}, "labels": dict(spec.labels), "container_labels": dict(spec.labels),
            "healthcheck": None, "hostname": None, "resolve_image": True, "rest_url": None,
        })
        return params

    def service(self, role):
        """The SwarmService of ``role`` as the spec says now (rebuilt when the job's restore point changed)."""
        params = self.service_params(role)
        system = {LABEL_CLUSTER: self.spec.name, LABEL_KIND: self.kind, LABEL_MANAGED: MANAGED_BY}
        view = self.desired_view()
        # Each service keeps its part of the view (the TaskManager service is updated without the JobManager's).
        system[LABEL_SPEC] = json.dumps(view if role == "jobmanager" else {"taskmanager": view["taskmanager"]},
                                        sort_keys=True)
        secrets = None
        if self.spec.secret_config:
            secrets = [{"name": self.secret_name(), "target": SECRET_FILE}]
        # The image's entrypoint reads FLINK_PROPERTIES; the secret file is appended to it in the container only.
        entrypoint = wrapper_entrypoint(secret_file="/run/secrets/%s" % SECRET_FILE if secrets else None,
                                        entrypoint=self.spec.entrypoint)
        spec = ServiceSpec(params, system_labels=system, entrypoint=entrypoint, secrets=secrets,
                           inputs_hash=digest(self.role_inputs(role), 20))
        service = SwarmService(params, spec, self.module.check_mode, client=self.client)
        if self._digest is not False:
            service._digest = self._digest  # one registry lookup for both services
        else:
            self._digest = service.digest()
        self.warn_once(service.warnings)
        return service

    def warn_once(self, warnings):
        for warning in warnings:
            if warning not in getattr(self, "_warned", ()):
                self._warned = getattr(self, "_warned", ()) + (warning,)
                self.module.warn(warning)

    # Plan ---------------------------------------------------------------------------------------
    def plan(self, actual, state):
        services = actual["services"]
        if state == "absent":
            actions = [Action("remove", "service %s" % self.service_name(role), "state is absent", role)
                       for role in ("taskmanager", "jobmanager") if services[role] is not None]
            if actual["secrets"]:
                actions.append(Action("remove", "secrets %s" % ", ".join(sorted(s["Spec"]["Name"] for s in actual[
                    "secrets"])), "state is absent", "secret"))
            network = actual["network"]
            if network is not None and (network.get("Labels") or {}).get(LABEL_CLUSTER) == self.spec.name:
                actions.append(Action("remove", "network %s" % self.spec.network, "state is absent", "network"))
            return actions
        actions = []
        network = actual["network"]
        if network is None:
            actions.append(Action("create", "network %s" % self.spec.network, "missing", "network"))
        elif network.get("Driver") != "overlay" or network.get("Scope") != "swarm":
            raise SpecError("network %s exists with driver %s (scope %s); a swarm cluster needs an overlay network" % (
                self.spec.network, network.get("Driver"), network.get("Scope")), option="network",
                hint="Use another network name, or remove that network first")
        if self.spec.secret_config and self.secret_name() not in [s["Spec"]["Name"] for s in actual["secrets"]]:
            actions.append(Action("create", "secret %s" % self.secret_name(), "flink_config_secrets", "secret"))
        before = self.before_view(actual)
        fields = changed_fields(before, self.desired_view())
        for role in ROLES:
            current = services[role]
            service = self.service(role)
            if current is None:
                actions.append(Action("create", "service %s" % service.spec.name, "missing", role))
                continue
            others = JAVA_OPTS_KEYS[[r for r in ROLES if r != role][0]]
            own = [f for f in fields if (not f.startswith(ROLES) or f.startswith(role + ".")) and
                   f != "flink_config.%s" % others]
            reasons = service.update_reasons(current, changed="changed: %s" % (", ".join(own) or "spec"))
            if reasons:
                actions.append(Action("update", "service %s" % service.spec.name, "; ".join(reasons), role))
            elif state == "restarted":
                actions.append(Action("restart", "service %s" % service.spec.name, "state is restarted", role))
        return actions

    def disruptive(self, actions):
        return [a for a in actions if a.kind in ("update", "remove", "restart") and a.role in ROLES]

    # Apply --------------------------------------------------------------------------------------
    def apply(self, actions):
        try:
            for action in actions:
                if action.role == "network":
                    if action.kind == "create":
                        self.client.api.create_network(self.spec.network, driver="overlay", attachable=True,
                                                       check_duplicate=True, labels={
                                                           LABEL_CLUSTER: self.spec.name, LABEL_MANAGED: MANAGED_BY})
                    else:
                        self._remove_network()
                elif action.role == "secret":
                    if action.kind == "create":
                        self.client.api.create_secret(self.secret_name(), self._secret_data(), labels={
                            LABEL_CLUSTER: self.spec.name, LABEL_MANAGED: MANAGED_BY})
                    else:
                        self._remove_secrets(keep=None)
                elif action.role in ROLES:
                    self._apply_service(action)
            # The services now use the new secret; the old ones go once the cluster is ready (settle), since a
            # rollback puts back the spec that uses them.
            self._secret_rotated = any(a.role == "secret" and a.kind == "create" for a in actions)
        except APIError as exc:
            raise BackendError("the swarm refused the request: %s" % (exc.explanation or exc), option="name")

    def _apply_service(self, action):
        name = self.service_name(action.role)
        if action.role == "jobmanager":
            self._rest_url = None  # its task may start on another node
        if action.kind == "remove":
            try:
                self.client.api.remove_service(name)
            except NotFound:
                pass
        elif action.kind == "restart":
            self.client.api.force_update_service(name)
        else:
            service = self.service(action.role)
            service.apply([(action.kind, action.target)])
            if action.kind == "update":
                self._failed_before[action.role] = service.failed_before
                self._updated.append(action.role)
                self._changed.add(action.role)

    def _secret_data(self):
        return render_properties(dict(self.spec.secret_config), self.spec.version, option="flink_config_secrets")

    def _remove_secrets(self, keep):
        found = self.client.api.secrets(filters={"label": "%s=%s" % (LABEL_CLUSTER, self.spec.name)})
        for secret in found:
            if secret["Spec"]["Name"] != keep:
                self._retry(lambda s=secret: self.client.api.remove_secret(s["ID"]), "secret %s" % secret["Spec"]["Name"])

    def _remove_network(self):
        self._retry(lambda: self.client.api.remove_network(self.spec.network), "network %s" % self.spec.network)
        # The manager lists a removed overlay network until its allocator let go of it: absent means gone.
        deadline = time.monotonic() + 30
        while [n for n in self.client.api.networks(names=[self.spec.network]) if n.get("Name") == self.spec.network]:
            if time.monotonic() > deadline:
                raise BackendError("network %s is still listed 30 s after its removal" % self.spec.network,
                                   option="network")
            time.sleep(0.5)

    def _retry(self, remove, what, seconds=60):
        """Remove something a just-removed service's tasks may still use ("in use" until they are gone)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                remove()
                return
            except NotFound:
                return
            except APIError as exc:
                if "in use" not in str(exc) and "active endpoints" not in str(exc) or time.monotonic() > deadline:
                    raise BackendError("removing %s failed: %s" % (what, exc.explanation or exc))
            time.sleep(1)

    # Checks before anything is touched ---------------------------------------------------------
    def preflight(self, actions, actual):
        """For each role whose service is created or updated, in the image the services will run: Flink's own
        memory check, and the plugins' jars (a plugin the image lacks would stop every task's entrypoint)."""
        roles = sorted(set(a.role for a in actions if a.role in ROLES and a.kind in ("create", "update")))
        if roles:
            self.check_memory_with_flink(roles)

    def check_memory_with_flink(self, roles):
        """docker/flink_validation.py on the manager, in the image the services will run (pinned to its digest):
        the manager pulls it when it lacks it (in check mode the check is left to the real run instead). The
        plugins are checked in the same image (DockerImage.check_named_plugins: ls of its opt/ in a short-lived
        container on the manager)."""
        image = self.service(roles[0]).pinned_image()
        try:
            image_id = self.client.api.inspect_image(image)["Id"]
        except NotFound:
            if self.module.check_mode:
                return
            try:
                image_id = self.client.api.client.images.pull(image).id
            except DockerException as exc:
                raise SpecError("image %s could not be pulled on the manager for Flink's memory check: %s" % (
                    image, getattr(exc, "explanation", None) or exc), option="image",
                    hint="Check the name and that the manager can reach the registry")
        except DockerException as exc:
            raise BackendError("inspecting image %s on the manager failed: %s" % (image, exc))
        if self.spec.plugins:
            pinned = copy.copy(self.spec)
            pinned.image = image
            DockerImage(self.client.api, pinned, self.module.warn).check_named_plugins()
        flink_validation.check_roles(self.client.api.client, image, image_id,
                                     dict((role, self.flink_settings(role)) for role in roles),
                                     self.spec.secret_config)

    # Readiness and the REST API: swarm/readiness.py (SwarmReadiness) ------------------------------
    def describe(self, actual=None):
        actual = actual or self.read()
        result = {"rest_url": self.rest_url(), "network": self.spec.network, "services": []}
        for role in ROLES:
            service = actual["services"][role]
            if service is None:
                continue
            spec = service["Spec"]
            result["services"].append({
                "name": spec["Name"], "id": service["ID"][:12], "role": role,
                "replicas": ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas"),
                "image": spec["TaskTemplate"]["ContainerSpec"]["Image"]})
        result.update(self.flink_facts())
        return result

    @classmethod
    def find_rest_url(cls, params, name):
        """The REST URL of swarm cluster ``name``: its JobManager service's published port."""
        client = EngineClient(params)
        try:
            service = client.api.inspect_service("%s-jobmanager" % name)
        except NotFound:
            raise SpecError("no cluster named %s on this swarm" % name, option="cluster",
                            hint="Check the name and docker_host (a swarm manager), or give rest_url")
        except APIError as exc:
            raise BackendError("looking for the JobManager of cluster %s failed: %s" % (name, exc.explanation or exc))
        if (service["Spec"].get("Labels") or {}).get(LABEL_CLUSTER) != name:
            raise SpecError("service %s-jobmanager is not part of a cluster made by this collection" % name,
                            option="cluster", hint="Give rest_url")
        ports = ((service.get("Endpoint") or {}).get("Ports") or
                 (service["Spec"].get("EndpointSpec") or {}).get("Ports") or [])
        if not ports:
            raise SpecError("the JobManager of cluster %s publishes no port" % name, option="cluster",
                            hint="Deploy it with rest_port, or give rest_url")
        port = ports[0]
        host = docker_host_address(params, "0.0.0.0")
        if port.get("PublishMode") == "host":
            host = task_node_address(client, "%s-jobmanager" % name) or host
        return "http://%s:%d" % (host, port["PublishedPort"])


def _label_view(service):
    """The part of the spec's view a service carries (label org.flinkops.spec), {} when it has none."""
    try:
        return json.loads((((service or {}).get("Spec") or {}).get("Labels") or {}).get(LABEL_SPEC) or "{}")
    except ValueError:
        return {}
