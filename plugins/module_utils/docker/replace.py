# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Create before remove, and the rollback it makes possible, for the containers of a Docker cluster.

A replacement is created next to the container it replaces; the old one is kept, stopped, as ``<name>-prev``
until the new cluster is ready (``settle``) or a failure brings it back (``roll_back``).
"""

from __future__ import annotations

from ansible_collections.flinkops.flink.plugins.module_utils.docker.api import DockerException, NotFound
from ansible_collections.flinkops.flink.plugins.module_utils.docker.containers import SECRET_FILE
from ansible_collections.flinkops.flink.plugins.module_utils.docker.image import FLINK_HOME, short_error
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError


class DockerReplace(object):
    """The replacing part of platforms/docker.DockerCluster (its api, names, _create and read); what apply
    replaced is in ``_kept`` ((name, old id, new id)), what it created in ``_made``."""

    def _replace(self, action):
        """Create before remove. The replacement is created (not started) as <name>-next: whatever Docker refuses
        at creation (a mount source, a device, a volume driver, a network) fails here while the old container still
        runs, untouched. Then the old one is stopped and renamed <name>-prev, the new one takes the name and starts;
        if it cannot start (a port, a missing host path), it is removed and the old one gets its name back and is
        started again. The old container is removed only once the new one runs. (Both cannot run at once: the
        JobManager's published port and a TaskManager's resource id are the role's own.)"""
        name = self.jm_name() if action.role == "jobmanager" else self.tm_name(action.index)
        staged, previous = "%s-next" % name, "%s-prev" % name
        for leftover in (staged, previous):  # of an interrupted run
            self._remove(leftover)
        try:
            new_id = self._create(action.role, action.index, container_name=staged, start=False)
        except DockerException as exc:
            self._remove(staged)
            raise BackendError("creating the new %s failed, the running one was left as it was: %s" % (
                name, short_error(exc)), option=self.option_of(exc))
        self.api.stop(action.container_id, timeout=30)
        self.api.rename(action.container_id, previous)
        self.api.rename(new_id, name)
        try:
            self.api.start(new_id)
        except DockerException as exc:
            self._remove(new_id)
            self.api.rename(action.container_id, name)
            self.api.start(action.container_id)
            raise BackendError("starting the new %s failed; the old container was started again: %s" % (
                name, short_error(exc)), option=self.option_of(exc))
        # The old container stays, stopped, as <name>-prev until the new cluster is ready (settle) or a failure
        # brings it back (roll_back).
        self._kept.append((name, action.container_id, new_id))

    def settle(self):
        """Remove the replaced containers kept for a rollback."""
        while self._kept:
            _name, old_id, _new_id = self._kept.pop()
            self._remove(old_id)

    def roll_back(self):
        """Back to the last spec that was ready: the replacements and the containers this run created are removed,
        the replaced containers get their names back and start. Nothing when nothing was replaced (a new cluster is
        left as it is, for inspection)."""
        if not self._kept:
            return []
        restored = []
        try:
            for container_id in self._made:
                self._remove(container_id)
            while self._kept:
                name, old_id, new_id = self._kept.pop()
                self._remove(new_id)
                self.api.rename(old_id, name)
                self.api.start(old_id)
                restored.append(name)
        except DockerException as exc:
            raise BackendError("rolling back failed after %s were restored: %s" % (
                ", ".join(restored) or "none", short_error(exc)),
                hint="The containers of the last stable spec that are left are named <name>-prev")
        # The wait that follows expects what the restored cluster is: its TaskManagers and their slots (from the
        # restored containers' own labels), not the failed spec's.
        taskmanager = self.before_view(self.read())["taskmanager"]
        self.expect_restored(taskmanager.get("replicas"), taskmanager.get("slots"))
        return sorted(restored)

    def _clone(self, info, name, command):
        """A new container named ``name`` (created, not started) made as the container ``info`` (its inspection)
        describes, with another command: its config, host config and networks from the engine's own record, the
        exact image it ran, and the files the module put into it (Flink's configuration, the config secrets file)
        copied over. Returns its id."""
        container_id = info["Id"]
        config = dict(info["Config"], Image=info["Image"], Cmd=command, HostConfig=info["HostConfig"])
        config["NetworkingConfig"] = {"EndpointsConfig": dict(
            (network, {"Aliases": [a for a in (endpoint.get("Aliases") or []) if not container_id.startswith(a)]})
            for network, endpoint in (info["NetworkSettings"].get("Networks") or {}).items())}
        self._remove(name)  # of an interrupted run
        created = self.api.create_container_from_config(config, name=name)
        for path in (FLINK_HOME + "/conf", SECRET_FILE):
            try:
                stream, _stat = self.api.get_archive(container_id, path)
            except NotFound:
                continue
            self.api.put_archive(created["Id"], path.rsplit("/", 1)[0], b"".join(stream))
        return created["Id"]

    @staticmethod
    def option_of(exc):
        """The option a Docker refusal is most likely about, from its words (None when it does not tell)."""
        text = str(exc).lower()
        for words, option in (("mount", "mounts"), ("bind source path", "mounts"), ("port", "rest_port"),
                              ("network", "network"), ("image", "image")):
            if words in text:
                return option
        return None

    def _remove(self, container_id):
        try:
            self.api.stop(container_id, timeout=30)
            self.api.remove_container(container_id, force=True)
        except NotFound:
            pass
