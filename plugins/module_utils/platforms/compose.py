# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Flink cluster as a Docker Compose project, applied with the real ``docker compose``.

The spec becomes ``<project_dir>/compose.yaml`` (project name = cluster name): services ``jobmanager`` and
``taskmanager`` (``scale: taskmanager.replicas``), the configuration as FLINK_PROPERTIES, the user's mounts as
volumes, the REST port only where asked, ``flink_config_secrets`` as a Compose secret (a file of mode 0600 next to
it, appended to FLINK_PROPERTIES inside the container). A person could have written it; ``state: rendered`` only
writes it, for someone who runs ``docker compose`` himself.

Plan: the file this module wrote before is compared with the new one service by service: a service whose text
changed is recreated by ``docker compose up`` (Compose's own config hash changes with it), a changed ``scale``
adds or removes TaskManagers (the highest numbers go first, as Compose does), a new image id under the same tag
recreates (Compose compares it too), stopped containers are started. An unchanged run leaves the file byte for
byte and starts no ``docker compose`` at all: the reads are the file and one container listing.
"""

from __future__ import annotations

import os
import re
import tempfile

from ansible_collections.flinkops.flink.plugins.module_utils.compose.cli import ComposeCli
from ansible_collections.flinkops.flink.plugins.module_utils.compose.project import ROLES, ComposeProject
from ansible_collections.flinkops.flink.plugins.module_utils.compose.render import (
    COMPOSE_FILE, SECRETS_FILE, changed_keys, service_sections, without_scale)
from ansible_collections.flinkops.flink.plugins.module_utils.compose.rollback import ComposeRollback
from ansible_collections.flinkops.flink.plugins.module_utils.docker import flink_validation
from ansible_collections.flinkops.flink.plugins.module_utils.docker.api import DockerApi, DockerException, NotFound
from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import docker_host_address, listed_rest_url
from ansible_collections.flinkops.flink.plugins.module_utils.docker.crash_watch import CrashWatch
from ansible_collections.flinkops.flink.plugins.module_utils.docker.image import DockerImage
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.plan import Action
from ansible_collections.flinkops.flink.plugins.module_utils.platform import ClusterPlatform
from ansible_collections.flinkops.flink.plugins.module_utils.rest import FlinkRest, RestUnavailable
from ansible_collections.flinkops.flink.plugins.module_utils.wait import wait_for

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_NUMBER = "com.docker.compose.container-number"
LABEL_IMAGE = "com.docker.compose.image"
LABEL_DOCKER_CLUSTER = "org.flinkops.cluster"  # a cluster of platform docker
DEFAULT_PROJECT_ROOT = "/var/lib/flinkops/compose"
_TM_ADDRESS = re.compile(r"@([^:/]+):\d+/")


class ComposeCluster(ComposeRollback, ComposeProject, ClusterPlatform):
    """Session cluster as a Compose project on one Docker host."""

    platform = "compose"
    kind = "session"

    def __init__(self, module, spec):
        super(ComposeCluster, self).__init__(module, spec)
        params = module.params
        directory = params.get("project_dir") or os.path.join(DEFAULT_PROJECT_ROOT, spec.name)
        if not os.path.isabs(directory):
            raise SpecError("must be an absolute path on the host the module runs on, got %r" % directory,
                            option="project_dir", hint="Give an absolute directory such as /srv/flink/%s" % spec.name)
        self.directory = directory
        self.file_path = os.path.join(directory, COMPOSE_FILE)
        self.secrets_path = os.path.join(directory, SECRETS_FILE)
        self.external_network = params.get("network")
        self.api = DockerApi(params)
        self.image = DockerImage(self.api, spec, module.warn)
        self.cli = ComposeCli(params, spec.name, directory, self.file_path)
        self._rest = None
        self._seen = None
        self._rendered = None

    # Names --------------------------------------------------------------------------------------
    def container_name(self, role, number):
        return "%s-%s-%d" % (self.spec.name, role, number)

    def network_name(self):
        return self.external_network or "%s_default" % self.spec.name

    # Actual state -------------------------------------------------------------------------------
    def read(self):
        """The file this module wrote (None when there is none) and the project's containers."""
        text = secrets = None
        try:
            with open(self.file_path) as handle:
                text = handle.read()
        except (IOError, OSError):
            text = None
        if self.spec.secret_config:
            try:
                with open(self.secrets_path) as handle:
                    secrets = handle.read()
            except (IOError, OSError):
                secrets = None
        try:
            containers = self.api.containers(all=True, filters={"label": "%s=%s" % (LABEL_PROJECT, self.spec.name)})
        except DockerException as exc:
            raise BackendError("reading the containers of Compose project %s failed: %s" % (self.spec.name, exc),
                               option="docker_host")
        services = {"jobmanager": {}, "taskmanager": {}}
        strays = []
        for container in containers:
            labels = container.get("Labels") or {}
            container["_name"] = (container.get("Names") or ["/?"])[0].lstrip("/")
            number = labels.get(LABEL_NUMBER, "")
            if labels.get(LABEL_SERVICE) in services and number.isdigit():
                services[labels[LABEL_SERVICE]][int(number)] = container
            else:
                strays.append(container)
        return {"file": text, "secrets": secrets, "services": services, "strays": strays}

    def exists(self, actual):
        """Containers of the project exist (the file alone stays after an application is suspended)."""
        return bool(actual["strays"]) or any(actual["services"].values())

    def has_jobmanager(self, actual):
        return bool(actual["services"]["jobmanager"])

    def jobmanager_running(self, actual):
        return any(c.get("State") == "running" for c in actual["services"]["jobmanager"].values())

    def before_view(self, actual):
        return {"compose_file": actual["file"]} if actual["file"] is not None else {}

    def desired_view(self):
        return {"compose_file": self.rendered()}

    def text_diff(self, actual, removing):
        """Diff mode shows the file itself, before and after, as a text diff."""
        return {"before_header": self.file_path, "after_header": self.file_path,
                "before": actual["file"] or "", "after": "" if removing else self.rendered()}

    # Planning -----------------------------------------------------------------------------------
    def prepare(self, check_only=False):
        return self.image.id(check_only=check_only)

    def _network_exists(self):
        try:
            return any(n.get("Name") == self.network_name() for n in self.api.networks(filters={"name": self.network_name()}))
        except DockerException as exc:
            raise BackendError("looking for network %s failed: %s" % (self.network_name(), exc))

    def _check_foreign(self, actual):
        """A cluster of this name on platform docker is not duplicated (nor its containers taken over)."""
        if self.exists(actual) or actual["file"] is not None:
            return
        try:
            found = self.api.containers(all=True, filters={"label": "%s=%s" % (LABEL_DOCKER_CLUSTER, self.spec.name)})
        except DockerException as exc:
            raise BackendError("looking for a cluster %s of platform docker failed: %s" % (self.spec.name, exc))
        if found:
            raise SpecError("cluster %s already runs on this Docker host with platform docker (%s)" % (
                self.spec.name, ", ".join(sorted((c.get("Names") or ["?"])[0].lstrip("/") for c in found))),
                option="platform",
                hint="Keep platform docker, or move it: suspend its jobs (flink_job or flink_application "
                     "state=suspended), remove it with platform docker and state absent, then deploy it with "
                     "platform compose (an application resumes from its savepoint record)")

    def plan(self, actual, state):
        services = actual["services"]
        if state == "absent":
            # absent: `docker compose down` (containers, the project's network, the file); suspended (an
            # application's, planned as absent by the flow): `docker compose rm --stop`, the network and file stay.
            removing = self.params.get("state") == "absent"
            actions = []
            for role in ("taskmanager", "jobmanager"):
                for number in sorted(services[role], reverse=True):
                    container = services[role][number]
                    actions.append(Action("remove", container["_name"], "state is absent", role, number, container["Id"]))
            for container in actual["strays"]:
                actions.append(Action("remove", container["_name"], "state is absent", None, None, container["Id"]))
            if removing and not self.external_network and self._network_exists():
                actions.append(Action("remove", "network %s" % self.network_name(), "state is absent", "network"))
            volumes = sorted(set(m["source"] for m in self.spec.mounts + self.extra_mounts() if m["type"] == "volume"))
            if removing and self.params.get("remove_volumes") and volumes:
                actions.append(Action("remove", "volumes %s" % ", ".join(volumes), "remove_volumes is true", "volume"))
            if removing and actual["file"] is not None:
                actions.append(Action("remove", "compose file %s" % self.file_path, "state is absent", "file"))
            return actions
        self._check_foreign(actual)
        actions = []
        new_text = self.rendered()
        if actual["file"] != new_text:
            actions.append(Action("create" if actual["file"] is None else "update", "compose file %s" % self.file_path,
                                  "missing" if actual["file"] is None else "the spec changed", "file"))
        if self.spec.secret_config and actual["secrets"] != self.secrets_text():
            actions.append(Action("create" if actual["secrets"] is None else "update", "secrets file %s" %
                                  self.secrets_path, "flink_config_secrets", "secret"))
        if not self.external_network and not any(services.values()):
            actions.append(Action("create", "network %s" % self.network_name(), "missing", "network"))
        old_sections = service_sections(actual["file"]) if actual["file"] is not None else {}
        new_sections = service_sections(new_text)
        image_id = self.image.id()
        for role in ROLES:
            want = self.spec.tm_replicas if role == "taskmanager" else 1
            have = services[role]
            keep = sorted(have)[:want]
            old_lines = without_scale(old_sections.get(role, ()))
            new_lines = without_scale(new_sections[role])
            reason = None
            if old_lines != new_lines:
                reason = "changed: %s" % ", ".join(changed_keys(old_lines, new_lines)) if old_lines else \
                    "not written by this module before"
            for number in keep:
                container = have[number]
                container_image = (container.get("Labels") or {}).get(LABEL_IMAGE) or container.get("ImageID")
                if reason is None and container_image and image_id and container_image != image_id:
                    reason_here = "image %s has a new id" % self.spec.image
                else:
                    reason_here = reason
                if reason_here:
                    actions.append(Action("recreate", container["_name"], reason_here, role, number, container["Id"]))
                elif state == "restarted":
                    actions.append(Action("restart", container["_name"], "state is restarted", role, number,
                                          container["Id"]))
                elif container.get("State") != "running":
                    actions.append(Action("start", container["_name"], "container is %s" % container.get("State"),
                                          role, number, container["Id"]))
            first = (max(have) if have else 0) + 1
            for number in range(first, first + want - len(keep)):
                actions.append(Action("create", self.container_name(role, number), "missing" if role == "jobmanager"
                                      else "taskmanager.replicas is %d" % want, role, number))
            for number in sorted(have, reverse=True):
                if number not in keep:
                    actions.append(Action("remove", have[number]["_name"], "taskmanager.replicas is %d" % want,
                                          role, number, have[number]["Id"]))
        for container in actual["strays"]:
            actions.append(Action("remove", container["_name"], "not a service of the cluster (an orphan)", None, None,
                                  container["Id"]))
        return actions

    def preflight(self, actions, actual):
        """Compose accepts the new file (``docker compose config``, on a copy: nothing is written) and the engine
        has what it names: the plugins in the image, the REST port free, an external network."""
        if not actions:
            return
        self.cli.version()
        if not any(a.role == "file" for a in actions):
            return
        self.check_plugins()
        # Flink's own memory check (docker/flink_validation.py) in a short-lived container of the image.
        flink_validation.check_roles(self.api.client, self.spec.image, self.image.id(),
                                     dict((role, self.flink_settings(role)) for role in ROLES), self.spec.secret_config)
        if self.external_network:
            try:
                found = [n for n in self.api.networks(filters={"name": self.external_network})
                         if n.get("Name") == self.external_network]
            except DockerException as exc:
                raise BackendError("looking for network %s failed: %s" % (self.external_network, exc))
            if not found:
                raise SpecError("network %s does not exist; platform compose joins it as an external network" %
                                self.external_network, option="network",
                                hint="Create it first (flinkops.flink.docker_network), or leave network out to have "
                                     "Compose make the project's own network")
        if self.spec.rest_port and not actual["services"]["jobmanager"]:
            self._check_port_free()
        self._validate_file()

    def _check_port_free(self):
        port = self.spec.rest_port
        try:
            for container in self.api.containers(all=False):
                for binding in container.get("Ports") or []:
                    if binding.get("PublicPort") == port:
                        raise SpecError("port %d is already published by container %s" % (
                            port, (container.get("Names") or ["?"])[0].lstrip("/")), option="rest_port",
                            hint="Choose a free port")
        except DockerException as exc:
            raise BackendError("listing published ports failed: %s" % exc)

    def _validate_file(self):
        """``docker compose config --quiet`` on the new file in a scratch directory (the real one is untouched)."""
        scratch = tempfile.mkdtemp(prefix="flinkops-compose-")
        try:
            with open(os.path.join(scratch, COMPOSE_FILE), "w") as handle:
                handle.write(self.rendered())
            if self.spec.secret_config:
                with open(os.path.join(scratch, SECRETS_FILE), "w") as handle:
                    handle.write("")
            ComposeCli(self.params, self.spec.name, scratch, os.path.join(scratch, COMPOSE_FILE)).check_config()
        except BackendError as exc:
            raise SpecError("Docker Compose does not accept the file the spec gives: %s" % exc.message,
                            option="name", hint="Check the values the message names")
        finally:
            for entry in os.listdir(scratch):
                os.unlink(os.path.join(scratch, entry))
            os.rmdir(scratch)

    # Changing -----------------------------------------------------------------------------------
    def apply(self, actions):
        if not actions:
            return
        self.cli.version()
        state = self.params.get("state")
        if state in ("absent", "suspended"):
            if state == "suspended":
                if any(a.role in ROLES or a.role is None for a in actions):
                    self.cli.run("rm", "--stop", "--force", with_file=False)
                return
            args = ["down", "--remove-orphans", "--timeout", "30"]
            if self.params.get("remove_volumes"):
                args.append("--volumes")
            if os.path.exists(self.file_path):
                self.cli.run(*args)
            elif any(a.role != "file" for a in actions):
                self.cli.run(*args, with_file=False)
            for path in (self.file_path, self.secrets_path):
                if os.path.exists(path):
                    os.unlink(path)
            try:
                os.rmdir(self.directory)
            except OSError:
                pass  # not empty: the user keeps files of his own there
            return
        self.keep_previous(actions)
        self.write_files()
        if state == "restarted" and all(a.kind == "restart" for a in actions):
            self.cli.run("restart", "--timeout", "30")
            return
        self.cli.run("up", "--detach", "--remove-orphans", "--no-build", "--pull", "never")
        restart = sorted(set(a.role for a in actions if a.kind == "restart"))
        if restart:
            self.cli.run("restart", "--timeout", "30", *restart)

    # Readiness ----------------------------------------------------------------------------------
    def _containers(self):
        try:
            return self.api.containers(all=True, filters={"label": "%s=%s" % (LABEL_PROJECT, self.spec.name)})
        except DockerException as exc:
            raise BackendError("reading the containers of Compose project %s failed: %s" % (self.spec.name, exc))

    def _address(self, container):
        networks = ((container.get("NetworkSettings") or {}).get("Networks") or {})
        network = networks.get(self.network_name()) or (list(networks.values())[0] if networks else {})
        return network.get("IPAddress") or None

    def rest_url(self):
        if self.params.get("rest_url"):
            return self.params["rest_url"]
        if self.spec.rest_port:
            return "http://%s:%d" % (docker_host_address(self.params, self.spec.rest_bind_address), self.spec.rest_port)
        for container in self._containers():
            if (container.get("Labels") or {}).get(LABEL_SERVICE) == "jobmanager" and self._address(container):
                return "http://%s:%d" % (self._address(container), self.spec.rest_container_port)
        return None

    def rest(self):
        url = self.rest_url()
        if not url:
            raise RestUnavailable("the JobManager has no reachable REST address yet")
        if self._rest is None or self._rest.base_url != url.rstrip("/"):
            self._rest = FlinkRest(url, timeout=5)
        return self._rest

    def _logs_tail(self, container_id, lines=25):
        try:
            return self.api.logs(container_id, tail=lines).decode("utf-8", "replace")
        except DockerException:
            return ""

    def wait_ready(self, timeout, sleep):
        """REST answers and exactly the project's TaskManager containers are registered (matched by address), each
        with taskmanager.slots slots; a container that exits or restarts fails the wait at once with its log."""
        watch = CrashWatch(self.spec.restart_policy)

        def probe():
            ours = {}
            for container in self._containers():
                labels = container.get("Labels") or {}
                if labels.get(LABEL_SERVICE) not in ROLES:
                    continue
                try:
                    info = self.api.inspect_container(container["Id"])
                except NotFound:
                    continue
                name = (container.get("Names") or ["/?"])[0].lstrip("/")
                problem = watch.problem(container["Id"], (info.get("State") or {}).get("Status"),
                                        info.get("RestartCount", 0))
                if problem:
                    raise BackendError("container %s %s; its last log lines:\n%s" % (
                        name, problem, self._logs_tail(container["Id"])),
                        hint="Fix the cause shown in the log; the containers were left in place for inspection")
                if labels.get(LABEL_SERVICE) == "taskmanager":
                    ours[self._address(container)] = name
            if len(ours) != self.spec.tm_replicas or None in ours:
                return False, {"summary": "%d of %d TaskManager containers running" % (
                    len([a for a in ours if a]), self.spec.tm_replicas)}
            try:
                rest = self.rest()
                overview = rest.overview()
                tms = rest.taskmanagers()
            except RestUnavailable as exc:
                return False, {"summary": "REST API not answering (%s)" % exc.message}
            self._seen = (overview, tms)
            registered = {}
            for tm in tms:
                match = _TM_ADDRESS.search(tm.get("path") or "")
                registered[match.group(1) if match else tm.get("id")] = tm
            expected = set(ours)
            missing = expected - set(registered)
            extra = set(registered) - expected
            wrong = [a for a in expected & set(registered) if registered[a].get("slotsNumber") != self.spec.tm_slots]
            state = {"summary": "%d of %d TaskManagers registered" % (len(expected & set(registered)), len(expected)),
                     "registered": sorted(str(k) for k in registered), "overview": overview}
            if missing:
                state["summary"] += ", waiting for %s" % ", ".join(sorted(ours[a] for a in missing))
            if extra:
                state["summary"] += ", waiting for %d gone TaskManager(s) to leave" % len(extra)
            if wrong:
                state["summary"] += ", old slot count on %s" % ", ".join(sorted(ours[a] for a in wrong))
            return not missing and not extra and not wrong, state

        return wait_for(probe, timeout, sleep, "the JobManager's REST API and %d TaskManager(s)" % self.spec.tm_replicas)

    def describe(self, actual=None):
        actual = actual or self.read()
        result = {"rest_url": self.rest_url(), "network": self.network_name(), "project_dir": self.directory,
                  "compose_file": self.file_path, "containers": []}
        for role in ROLES:
            for number in sorted(actual["services"][role]):
                container = actual["services"][role][number]
                result["containers"].append({"name": container["_name"], "id": container["Id"][:12], "role": role,
                                             "state": container.get("State"), "image": container.get("Image")})
        result.update(self.flink_facts())
        return result

    @classmethod
    def find_rest_url(cls, params, name):
        """The REST URL of Compose project ``name``: its JobManager's published port, or its address."""
        api = DockerApi(params)
        try:
            found = api.containers(all=False, filters={"label": ["%s=%s" % (LABEL_PROJECT, name),
                                                                 "%s=jobmanager" % LABEL_SERVICE]})
        except DockerException as exc:
            raise BackendError("looking for the JobManager of Compose project %s failed: %s" % (name, exc))
        if not found:
            raise SpecError("no Compose project %s with a running jobmanager on this Docker host" % name, option="name",
                            hint="Check the name, or give rest_url")
        url = listed_rest_url(params, found[0], 8081)
        if url:
            return url
        raise BackendError("the JobManager of Compose project %s has no published port and no address" % name,
                           hint="Give rest_url to reach it another way")
