# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Swarm membership of one Docker host: init, join, role, labels, availability, drain and leave.

Plan first (a list of actions), then apply, so check mode reports exactly what a real run does.
"""

from __future__ import annotations

import time

from ansible_collections.flinkops.flink.plugins.module_utils.docker.sdk import APIError, docker_client
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.swarm.retry import retry_out_of_sequence

RESERVED_LABEL_PREFIX = "org.flinkops."


def _connection(params, docker_host):
    conn = dict(params)
    conn["docker_host"] = docker_host
    return conn


def swarm_info(client):
    info = client.info().get("Swarm") or {}
    return {
        "state": info.get("LocalNodeState") or "inactive",
        "node_id": info.get("NodeID") or "",
        "cluster_id": (info.get("Cluster") or {}).get("ID") or "",
        "control_available": bool(info.get("ControlAvailable")),
        "node_addr": info.get("NodeAddr") or "",
        "remote_managers": info.get("RemoteManagers") or [],
    }


class SwarmNode(object):
    """One host's membership, planned from what its daemon and a manager report."""

    def __init__(self, params, check_mode=False):
        self.params = params
        self.check_mode = check_mode
        self.client = docker_client(params)
        self.manager = None
        self.manager_info = None
        for key in params.get("labels") or {}:
            if key.startswith(RESERVED_LABEL_PREFIX):
                raise SpecError("the label prefix %s is reserved" % RESERVED_LABEL_PREFIX, option="labels")

    # -- reading -----------------------------------------------------------------------------------
    def _manager_client(self):
        """A client of a swarm manager: O(manager_docker_host) when given (a manager that leaves is demoted
        by another one), else the host itself when it manages."""
        if self.manager is not None:
            return self.manager
        own = swarm_info(self.client)
        if own["control_available"] and not self.params.get("manager_docker_host"):
            self.manager, self.manager_info = self.client, own
            return self.manager
        host = self.params.get("manager_docker_host")
        if not host:
            return None
        client = docker_client(_connection(self.params, host))
        try:
            info = swarm_info(client)
        except APIError as exc:
            raise BackendError("cannot reach the manager at %s: %s" % (host, exc), option="manager_docker_host")
        if info["state"] != "active" and self.check_mode:
            # Check mode of a whole play: the manager's own init was only predicted, so predict the join.
            return None
        if info["state"] != "active" or not info["control_available"]:
            raise SpecError("%s is not a manager of an active swarm (state %s)" % (host, info["state"]),
                            option="manager_docker_host",
                            hint="Point it to a manager, or initialise the swarm there first (no manager_docker_host)")
        self.manager, self.manager_info = client, info
        return client

    def read(self):
        own = swarm_info(self.client)
        node = None
        manager = self._manager_client() if own["state"] == "active" or self.params.get("manager_docker_host") else None
        if manager is not None and own["node_id"]:
            try:
                node = manager.api.inspect_node(own["node_id"])
            except APIError:
                node = None
        return {"swarm": own, "node": node}

    @staticmethod
    def view(actual):
        own, node = actual["swarm"], actual["node"]
        if own["state"] != "active":
            return {"state": "absent"}
        spec = (node or {}).get("Spec") or {}
        return {"state": "present", "node_id": own["node_id"], "cluster_id": own["cluster_id"],
                "role": spec.get("Role"), "availability": spec.get("Availability"),
                "labels": dict(spec.get("Labels") or {})}

    # -- planning ----------------------------------------------------------------------------------
    def plan(self, actual):
        p = self.params
        own, node = actual["swarm"], actual["node"]
        actions = []
        if p["state"] == "absent":
            if own["state"] == "inactive":
                return []
            if own["state"] != "active":
                return [("leave", "the node is %s" % own["state"])]
            if node is not None and (node.get("Spec") or {}).get("Availability") != "drain" and p.get("drain", True):
                actions.append(("drain", "move its tasks to other nodes first"))
            if node is not None and (node.get("Spec") or {}).get("Role") == "manager" and \
                    self.manager is not None and self.manager is not self.client:
                actions.append(("demote", "a manager leaves as a worker"))
            actions.append(("leave", "state=absent"))
            if self.manager is not None and self.manager is not self.client:
                actions.append(("remove", "delete the node from the swarm's list"))
            return actions

        if own["state"] == "active":
            manager_info = self.manager_info
            if manager_info and manager_info["cluster_id"] and own["cluster_id"] and \
                    manager_info["cluster_id"] != own["cluster_id"]:
                raise SpecError("the host is in another swarm (cluster %s) than the manager (cluster %s)" % (
                    own["cluster_id"], manager_info["cluster_id"]), option="manager_docker_host",
                    hint="Make it leave that swarm first (state=absent against it)")
        elif own["state"] in ("pending", "error", "locked"):
            raise BackendError("the host's swarm state is %s" % own["state"], option="docker_host",
                               hint="Unlock or leave the swarm on that host (docker swarm leave --force)")
        else:
            if p.get("manager_docker_host"):
                actions.append(("join", "join as %s" % p["role"]))
            else:
                if p["role"] != "manager":
                    raise SpecError("a new swarm starts on a manager", option="role",
                                    hint="Give manager_docker_host to join an existing swarm as a worker")
                actions.append(("init", "no swarm on this host"))
        spec = (node or {}).get("Spec") or {}
        if node is None or spec.get("Role") != p["role"]:
            if node is not None:
                actions.append(("promote" if p["role"] == "manager" else "demote", "role %s" % p["role"]))
        want_labels = dict(spec.get("Labels") or {}) if node is not None else {}
        desired = {k: str(v) for k, v in (p.get("labels") or {}).items()}
        if p.get("labels_state", "merge") == "replace":
            new_labels = desired
        else:
            new_labels = dict(want_labels, **desired)
        if new_labels != want_labels and (node is not None or desired):
            actions.append(("labels", "labels %s" % sorted(desired.items())))
        if p.get("availability") and spec.get("Availability", "active") != p["availability"]:
            actions.append(("availability", "availability %s" % p["availability"]))
        self._new_labels = new_labels
        return actions

    # -- applying ----------------------------------------------------------------------------------
    def _update_node(self, node_id, **changes):
        manager = self._manager_client()

        def attempt():
            node = manager.api.inspect_node(node_id)
            spec = dict(node["Spec"])
            spec.update(changes)
            manager.api.update_node(node_id, node["Version"]["Index"], spec)
        retry_out_of_sequence(attempt, attempts=5)

    def apply(self, actions):
        p = self.params
        names = [a[0] for a in actions]
        node_id = None
        try:
            if "init" in names:
                kwargs = {}
                if p.get("advertise_addr"):
                    kwargs["advertise_addr"] = p["advertise_addr"]
                if p.get("listen_addr"):
                    kwargs["listen_addr"] = p["listen_addr"]
                if p.get("default_addr_pool"):
                    kwargs["default_addr_pool"] = p["default_addr_pool"]
                self.client.swarm.init(**kwargs)
            if "join" in names:
                manager = self._manager_client()
                attrs = manager.api.inspect_swarm()
                token = attrs["JoinTokens"]["Manager" if p["role"] == "manager" else "Worker"]
                remote = p.get("join_addr") or "%s:2377" % self.manager_info["node_addr"]
                kwargs = {"remote_addrs": [remote], "join_token": token}
                kwargs["listen_addr"] = p.get("listen_addr") or "0.0.0.0:2377"
                if p.get("advertise_addr"):
                    kwargs["advertise_addr"] = p["advertise_addr"]
                self.client.swarm.join(**kwargs)
            own = swarm_info(self.client)
            node_id = own["node_id"]
            if "drain" in names:
                self._update_node(node_id, Availability="drain")
                self._wait_drained(node_id)
            if "demote" in names:
                self._update_node(node_id, Role="worker")
            if "promote" in names:
                self._update_node(node_id, Role="manager")
            if "labels" in names:
                self._update_node(node_id, Labels=self._new_labels)
            if "availability" in names:
                self._update_node(node_id, Availability=p["availability"])
            if "leave" in names:
                self.client.swarm.leave(force=True)
            if "remove" in names and node_id:
                self._remove_node(node_id)
        except APIError as exc:
            raise BackendError("swarm request failed on %s: %s" % (p.get("docker_host") or "the local daemon",
                                                                   exc.explanation or exc),
                               option="docker_host")

    def _wait_drained(self, node_id):
        manager = self._manager_client()
        deadline = time.monotonic() + (self.params.get("wait_timeout") or 120)
        while time.monotonic() < deadline:
            tasks = manager.api.tasks(filters={"node": node_id, "desired-state": "running"})
            if not tasks:
                return
            time.sleep(self.params.get("wait_sleep") or 1)

    def _remove_node(self, node_id):
        manager = self._manager_client()
        deadline = time.monotonic() + (self.params.get("wait_timeout") or 120)
        while True:
            try:
                manager.api.remove_node(node_id, force=True)
                return
            except APIError as exc:
                if getattr(exc, "status_code", None) == 404:
                    return
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
