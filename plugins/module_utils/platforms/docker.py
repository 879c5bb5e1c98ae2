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

import json
import socket

from ansible_collections.flinkops.flink.plugins.module_utils.docker import flink_validation
from ansible_collections.flinkops.flink.plugins.module_utils.docker.api import (
    DaemonUnreachable, DockerApi, DockerException, NotFound)
from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import (
    DEFAULT_DOCKER_HOST, docker_host_address, listed_rest_url)
from ansible_collections.flinkops.flink.plugins.module_utils.docker.containers import (
    LABEL_CLUSTER, LABEL_HASH, LABEL_INDEX, LABEL_ROLE, LABEL_SPEC, DockerContainers)
from ansible_collections.flinkops.flink.plugins.module_utils.docker.crash_watch import CrashWatch
from ansible_collections.flinkops.flink.plugins.module_utils.docker.image import (
    LABEL_MANAGED, MANAGED_BY, DockerImage, short_error)
from ansible_collections.flinkops.flink.plugins.module_utils.docker.replace import DockerReplace
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.plan import Action, digest
from ansible_collections.flinkops.flink.plugins.module_utils.platform import ClusterPlatform
from ansible_collections.flinkops.flink.plugins.module_utils.rest import FlinkRest, RestUnavailable
from ansible_collections.flinkops.flink.plugins.module_utils.wait import wait_for


class DockerCluster(DockerReplace, DockerContainers, ClusterPlatform):
    """Session cluster on Docker. ``kind`` labels the containers (session, application)."""

    platform = "docker"
    kind = "session"

    def __init__(self, module, spec):
        super(DockerCluster, self).__init__(module, spec)
        self.api = DockerApi(module.params)
        self.image = DockerImage(self.api, spec, module.warn)
        self._rest = None
        self._seen = None
        self._kept = []  # (name, old container id, new container id) of each replacement, until settle/roll_back
        self._made = []  # ids of the containers this run created (not replacements)

    # The image: read once per run ----------------------------------------------------------------
    def prepare(self, check_only=False):
        return self.image.id(check_only=check_only)

    def image_id(self):
        return self.image.id()

    def image_conf(self):
        return self.image.conf()

    def resolve_plugins(self):
        return self.image.resolve_plugins()

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

    def exists(self, actual):
        return actual["jobmanager"] is not None or bool(actual["taskmanagers"]) or bool(actual["strays"])

    def has_jobmanager(self, actual):
        return actual["jobmanager"] is not None

    def jobmanager_running(self, actual):
        return actual["jobmanager"] is not None and actual["jobmanager"].get("State") == "running"

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
        if actual["taskmanagers"]:
            # The TaskManagers' own part of the view (they may have been recreated after the JobManager was).
            first = actual["taskmanagers"][min(actual["taskmanagers"])]
            try:
                own = json.loads((first.get("Labels") or {}).get(LABEL_SPEC) or "{}").get("taskmanager")
            except (ValueError, AttributeError):
                own = None
            view["taskmanager"] = own or view["taskmanager"]
        view["taskmanager"] = dict(view["taskmanager"], replicas=len(actual["taskmanagers"]))
        view["state"] = "present"
        return view

    # Desired containers -------------------------------------------------------------------------
    def desired_view(self):
        """The spec as shown in diff mode and kept in the JobManager's labels."""
        return self.spec.public_view()

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

        jm_inputs_hash = digest(self.container_inputs("jobmanager"))
        actions.extend(self._plan_container(actual["jobmanager"], "jobmanager", None, jm_inputs_hash,
                                            changed_fields, before, after, state))
        for index in range(1, self.spec.tm_replicas + 1):
            actions.extend(self._plan_container(actual["taskmanagers"].get(index), "taskmanager", index,
                                                digest(self.container_inputs("taskmanager", index)),
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
                if (container.get("Labels") or {}).get("com.docker.compose.project") == self.spec.name:
                    raise SpecError("cluster %s already runs on this Docker host with platform compose (container %s)"
                                    % (self.spec.name, name), option="platform",
                                    hint="Keep platform compose, or move it: suspend its jobs (flink_job or "
                                         "flink_application state=suspended), remove it with platform compose and "
                                         "state absent, then deploy it with platform docker")
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
        if self.spec.conf_dir:
            for action in creates:
                self.entrypoint_start(action.role, action.index)
        self.check_memory_with_flink(creates)
        jm_action = next((a for a in creates if a.role == "jobmanager"), None)
        if jm_action is not None and self.spec.rest_port:
            self._check_port_free(actual)

    def check_memory_with_flink(self, creates):
        """Flink's own memory calculation for each role about to get new containers (docker/flink_validation.py),
        in a short-lived container of the image; skipped when the image is still to be pulled (check mode)."""
        settings = {}
        for role in ("jobmanager", "taskmanager"):
            action = next((a for a in creates if a.role == role), None)
            if action is not None:
                settings[role] = self.flink_settings(role, action.index)
        flink_validation.check_roles(self.api.client, self.spec.image, self.image_id(), settings,
                                     self.spec.secret_config)

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
                    raise BackendError("%s failed: %s" % (batch[0].describe(), short_error(exc)))
            else:
                self._create_together(batch)

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
            self._replace(action)
        elif action.kind == "create":
            self._made.append(self._create(action.role, action.index))
        elif action.kind == "start":
            self.api.start(action.container_id)
        elif action.kind == "restart":
            self.api.restart(action.container_id, timeout=30)

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
        watch = CrashWatch(self.spec.restart_policy)

        def probe():
            try:
                counts = self._restart_counts()
            except DaemonUnreachable as exc:  # a daemon that restarts: its containers come back with it
                return False, {"summary": "the Docker daemon is not answering (%s)" % exc.message}
            for name, (count, status, container_id) in counts.items():
                problem = watch.problem(container_id, status, count)
                if problem:
                    raise BackendError("container %s %s; its last log lines:\n%s" % (
                        name, problem, self._logs_tail(container_id)),
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
        result.update(self.flink_facts())
        return result

    @classmethod
    def find_rest_url(cls, params, name):
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
        try:
            view = json.loads((container.get("Labels") or {}).get(LABEL_SPEC) or "{}")
        except ValueError:
            view = {}
        url = listed_rest_url(params, container, int((view.get("flink_config") or {}).get("rest.port", 8081)))
        if url:
            return url
        raise BackendError("the JobManager of cluster %s has no published port and no address" % name,
                           hint="Is it running? Give rest_url to reach it another way")
