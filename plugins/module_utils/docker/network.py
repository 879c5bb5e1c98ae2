# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Docker network (bridge on one host, overlay on a swarm): desired state, plan against what exists, apply.

Docker cannot change a network in place: a network that exists with other settings is refused, naming the
options that differ and the fix, unless ``recreate`` says to remove and create it again (only when nothing is
attached). A network with another driver is never replaced implicitly.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.flinkops.flink.plugins.module_utils.docker.sdk import APIError, NotFound, docker_client
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError

try:
    from docker import types as docker_types
except ImportError:  # pragma: no cover - require_docker fails the module first
    docker_types = None

MANAGED_LABEL = "org.flinkops.managed-by"
SWARM_DRIVERS = ("overlay",)


class NetworkSpec(object):
    """The validated desired state (plain data, shown in diff)."""

    def __init__(self, params):
        self.name = params["name"]
        self.state = params["state"]
        if not self.name or "/" in self.name:
            raise SpecError("not a valid network name: %r" % self.name, option="name")
        if self.state == "absent":
            self.data = {}
            return
        driver = params["driver"]
        options = dict((str(k), str(v)) for k, v in (params.get("driver_options") or {}).items())
        if params.get("encrypted"):
            if driver != "overlay":
                raise SpecError("encryption is an overlay network option (driver is %s)" % driver,
                                option="encrypted", hint="Set driver: overlay, or leave encrypted false")
            options["encrypted"] = "true"
        elif "encrypted" in options:
            raise SpecError("use the option encrypted, not driver_options.encrypted", option="driver_options.encrypted")
        if params.get("attachable") and driver != "overlay":
            raise SpecError("only overlay networks are attachable (driver is %s)" % driver, option="attachable",
                            hint="Leave attachable false for a %s network" % driver)
        ipam = []
        for index, pool in enumerate(params.get("ipam_config") or []):
            entry = {}
            for key in ("subnet", "gateway", "ip_range"):
                if pool.get(key):
                    entry[key] = self._address(pool[key], key, index, network=key != "gateway")
            if not entry.get("subnet"):
                raise SpecError("every pool needs a subnet", option="ipam_config[%d].subnet" % index)
            subnet = ipaddress.ip_network(entry["subnet"])
            if entry.get("gateway") and ipaddress.ip_address(entry["gateway"]) not in subnet:
                raise SpecError("gateway %s is not in subnet %s" % (entry["gateway"], subnet),
                                option="ipam_config[%d].gateway" % index)
            if entry.get("ip_range") and not ipaddress.ip_network(entry["ip_range"]).subnet_of(subnet):
                raise SpecError("ip_range %s is not in subnet %s" % (entry["ip_range"], subnet),
                                option="ipam_config[%d].ip_range" % index)
            ipam.append(entry)
        labels = dict((str(k), str(v)) for k, v in (params.get("labels") or {}).items())
        if MANAGED_LABEL in labels:
            raise SpecError("the module sets the label %s" % MANAGED_LABEL, option="labels.%s" % MANAGED_LABEL)
        labels[MANAGED_LABEL] = "flinkops.flink"
        self.data = {
            "name": self.name, "driver": driver, "scope": "swarm" if driver in SWARM_DRIVERS else "local",
            "attachable": bool(params.get("attachable")), "internal": bool(params.get("internal")),
            "encrypted": bool(params.get("encrypted")), "options": options,
            "ipam_driver": params.get("ipam_driver") or "default", "ipam_config": ipam, "labels": labels,
        }

    @staticmethod
    def _address(value, key, index, network):
        try:
            return str(ipaddress.ip_network(value, strict=True) if network else ipaddress.ip_address(value))
        except ValueError as exc:
            raise SpecError("not a valid %s: %s" % ("network (address/prefix)" if network else "address", exc),
                            option="ipam_config[%d].%s" % (index, key))


def _pool(config):
    pairs = (("subnet", config.get("Subnet")), ("gateway", config.get("Gateway")), ("ip_range", config.get("IPRange")))
    return dict((k, v) for k, v in pairs if v)


def view(network):
    """What the module compares and reports of an existing network."""
    if network is None:
        return {}
    ipam = network.get("IPAM") or {}
    options = dict(network.get("Options") or {})
    return {
        "name": network["Name"], "id": network["Id"], "driver": network.get("Driver"), "scope": network.get("Scope"),
        "attachable": bool(network.get("Attachable")), "internal": bool(network.get("Internal")),
        "encrypted": "encrypted" in options, "options": options,
        "ipam_driver": ipam.get("Driver") or "default",
        "ipam_config": [_pool(c) for c in ipam.get("Config") or []],
        "labels": dict(network.get("Labels") or {}),
    }


def differences(want, have):
    """The options whose desired value the existing network does not have: (option, wanted, actual)."""
    diffs = []
    for key in ("attachable", "internal", "encrypted", "ipam_driver"):
        if want[key] != have[key]:
            diffs.append((key, want[key], have[key]))
    for key, value in want["options"].items():
        if key == "encrypted":
            continue
        if have["options"].get(key) != value:
            diffs.append(("driver_options.%s" % key, value, have["options"].get(key)))
    for index, pool in enumerate(want["ipam_config"]):
        match = [c for c in have["ipam_config"] if c.get("subnet") == pool["subnet"]]
        if not match:
            diffs.append(("ipam_config[%d].subnet" % index, pool["subnet"],
                          [c.get("subnet") for c in have["ipam_config"]]))
            continue
        for key in ("gateway", "ip_range"):
            if pool.get(key) and match[0].get(key) != pool[key]:
                diffs.append(("ipam_config[%d].%s" % (index, key), pool[key], match[0].get(key)))
    for key, value in want["labels"].items():
        if key != MANAGED_LABEL and have["labels"].get(key) != value:
            diffs.append(("labels.%s" % key, value, have["labels"].get(key)))
    return diffs


class DockerNetwork(object):

    def __init__(self, params, spec):
        self.params = params
        self.spec = spec
        self.client = docker_client(params)

    def read(self):
        try:
            found = [n for n in self.client.api.networks(names=[self.spec.name]) if n.get("Name") == self.spec.name]
            if not found:
                return None
            return self.client.api.inspect_network(found[0]["Id"], verbose=False)
        except NotFound:
            return None
        except APIError as exc:
            raise BackendError("cannot read networks: %s" % (exc.explanation or exc), option="docker_host")

    def plan(self, actual):
        """[(action, text)] or SpecError, before anything is touched."""
        spec = self.spec
        if spec.state == "absent":
            if actual is None:
                return []
            return [("remove", "network %s (%s)" % (spec.name, actual.get("Driver")))]
        want = spec.data
        if want["scope"] == "swarm":
            swarm = self.client.info().get("Swarm") or {}
            if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
                raise SpecError("an %s network is made on a swarm manager; this daemon is not one (swarm state %s)" % (
                    want["driver"], swarm.get("LocalNodeState") or "inactive"), option="docker_host",
                    hint="Point docker_host to a manager of the swarm, or use driver: bridge on a single host")
        if actual is None:
            return [("create", "network %s (%s%s)" % (spec.name, want["driver"],
                                                      ", encrypted" if want["encrypted"] else ""))]
        have = view(actual)
        if have["driver"] != want["driver"]:
            raise SpecError(
                "network %s exists with driver %s (scope %s), not %s; it was left as it is" % (
                    spec.name, have["driver"], have["scope"], want["driver"]), option="driver",
                hint="Use another network name, or remove the existing network first (state: absent, once "
                     "nothing is attached to it), or set driver: %s if that network is the one meant" % have["driver"])
        diffs = differences(want, have)
        if not diffs:
            return []
        text = "; ".join("%s: want %s, is %s" % d for d in diffs)
        if not self.params.get("recreate"):
            raise SpecError(
                "network %s exists with other settings (%s); Docker cannot change a network in place, it was left "
                "as it is" % (spec.name, text), option=diffs[0][0],
                hint="Set recreate: true to remove and create it again (only possible while nothing is attached), "
                     "or change the options to match")
        attached = self.attached(actual)
        if attached:
            raise SpecError("network %s must be recreated (%s) but %s attached to it" % (
                spec.name, text, ", ".join(attached)), option="recreate",
                hint="Stop or detach the containers and services on it first")
        return [("recreate", "network %s (%s)" % (spec.name, text))]

    def attached(self, actual):
        names = [c.get("Name") or cid[:12] for cid, c in (actual.get("Containers") or {}).items()]
        if actual.get("Scope") == "swarm":
            for service in self.client.api.services():
                nets = ((service.get("Spec") or {}).get("TaskTemplate") or {}).get("Networks") or []
                if any(n.get("Target") in (actual["Id"], actual["Name"]) for n in nets):
                    names.append("service %s" % service["Spec"]["Name"])
        return names

    def apply(self, actions, actual):
        names = [a[0] for a in actions]
        try:
            if "remove" in names or "recreate" in names:
                self.client.api.remove_network(actual["Id"])
            if "create" in names or "recreate" in names:
                want = self.spec.data
                ipam = None
                if want["ipam_config"] or want["ipam_driver"] != "default":
                    ipam = docker_types.IPAMConfig(
                        driver=want["ipam_driver"],
                        pool_configs=[docker_types.IPAMPool(subnet=p["subnet"], gateway=p.get("gateway"),
                                                            iprange=p.get("ip_range")) for p in want["ipam_config"]])
                self.client.api.create_network(
                    want["name"], driver=want["driver"], options=want["options"] or None, ipam=ipam,
                    internal=want["internal"], labels=want["labels"], attachable=want["attachable"] or None,
                    scope=want["scope"] if want["driver"] in SWARM_DRIVERS else None, check_duplicate=True)
        except APIError as exc:
            raise BackendError("Docker refused the request: %s" % (exc.explanation or exc), option="name",
                               hint="A network in use cannot be removed: detach its containers and services first")
        return self.read()
