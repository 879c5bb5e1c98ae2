#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: docker_network
short_description: A Docker network for Flink containers or swarm services (bridge or overlay)
version_added: 0.4.0
description:
  - Creates or removes a Docker network through a daemon (O(docker_host)), a C(bridge) network on a single Docker
    host, or an C(overlay) network on a swarm (made through a manager; it spans the nodes that run tasks on it).
  - Docker cannot change a network in place. A network that exists with other settings is refused before anything
    is touched, naming the options that differ, unless O(recreate=true) (then it is removed and created again,
    which Docker allows only while nothing is attached). A network that exists with another driver is always
    refused and left as it is.
  - Settings not given are not compared (Docker adds its own driver options, for example the overlay's VXLAN ids).
  - Check mode and diff mode report the plan.
  - This is not C(community.docker.docker_network); the fully qualified name tells them apart.
author:
  - flinkops.flink contributors (@flinkops)
extends_documentation_fragment:
  - flinkops.flink.docker
  - flinkops.flink.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  name:
    description:
      - The network name.
    type: str
    required: true
  state:
    description:
      - C(present) creates the network; C(absent) removes it (it must have nothing attached).
    type: str
    default: present
    choices: [present, absent]
  driver:
    description:
      - C(bridge) for containers on one host, C(overlay) for swarm services across hosts (needs a swarm manager as
        O(docker_host)), or another driver the daemon has.
    type: str
    default: bridge
  attachable:
    description:
      - Let standalone containers attach to an overlay network (not only swarm services).
    type: bool
    default: false
  encrypted:
    description:
      - Encrypt the traffic of an overlay network between nodes (IPsec, driver option C(encrypted)).
    type: bool
    default: false
  internal:
    description:
      - No route to the outside of the network.
    type: bool
    default: false
  driver_options:
    description:
      - Driver options, for example C(com.docker.network.bridge.name) or C(com.docker.network.driver.mtu).
        Values are compared as strings; options not given are not compared.
    type: dict
    default: {}
  ipam_driver:
    description:
      - The IPAM driver.
    type: str
    default: default
  ipam_config:
    description:
      - Address pools of the network. Without them Docker picks a free subnet.
    type: list
    elements: dict
    default: []
    suboptions:
      subnet:
        description: The subnet in CIDR form, for example C(10.23.0.0/24).
        type: str
        required: true
      gateway:
        description: The gateway address in the subnet.
        type: str
      ip_range:
        description: The range in the subnet containers get addresses from (CIDR).
        type: str
  labels:
    description:
      - Labels of the network. The module adds C(org.flinkops.managed-by).
    type: dict
    default: {}
  recreate:
    description:
      - When the network exists with other settings (not another driver), remove it and create it again. Docker
        allows that only while no container or service is attached; otherwise the module fails naming them.
    type: bool
    default: false
seealso:
  - module: flinkops.flink.flink_swarm_service
  - module: flinkops.flink.flink_session
"""

EXAMPLES = r"""
- name: An encrypted overlay network for a Flink cluster on a swarm
  flinkops.flink.docker_network:
    name: flink-orders
    driver: overlay
    attachable: true
    encrypted: true
    ipam_config:
      - subnet: 10.23.0.0/24
    labels:
      team: data
    docker_host: tcp://manager1.example.com:2376
    validate_certs: true

- name: A bridge network on one Docker host
  flinkops.flink.docker_network:
    name: flink-local
    driver_options:
      com.docker.network.driver.mtu: "1400"

- name: Remove it
  flinkops.flink.docker_network:
    name: flink-local
    state: absent
"""

RETURN = r"""
network:
  description: The network as it is after the run (empty when absent).
  returned: always, except in check mode when it would be created
  type: dict
  sample: {"name": "flink-orders", "id": "9z1...", "driver": "overlay", "scope": "swarm", "attachable": true,
           "encrypted": true, "internal": false, "options": {"encrypted": "true"}, "ipam_driver": "default",
           "ipam_config": [{"subnet": "10.23.0.0/24", "gateway": "10.23.0.1"}], "labels": {"team": "data"}}
actions:
  description: The planned actions, one readable line each (applied unless in check mode).
  returned: always
  type: list
  elements: str
  sample: ["create: network flink-orders (overlay, encrypted)"]
option:
  description: On failure, the option at fault.
  returned: on failure, when an option is at fault
  type: str
  sample: driver
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import (
    DOCKER_ARGUMENT_SPEC, require_docker)
from ansible_collections.flinkops.flink.plugins.module_utils.docker.network import DockerNetwork, NetworkSpec, view
from ansible_collections.flinkops.flink.plugins.module_utils.errors import FlinkOpsError, fail


def argument_spec():
    spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        driver=dict(type="str", default="bridge"),
        attachable=dict(type="bool", default=False),
        encrypted=dict(type="bool", default=False),
        internal=dict(type="bool", default=False),
        driver_options=dict(type="dict", default={}),
        ipam_driver=dict(type="str", default="default"),
        ipam_config=dict(type="list", elements="dict", default=[], options=dict(
            subnet=dict(type="str", required=True),
            gateway=dict(type="str"),
            ip_range=dict(type="str"),
        )),
        labels=dict(type="dict", default={}),
        recreate=dict(type="bool", default=False),
    )
    spec.update(DOCKER_ARGUMENT_SPEC)
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    require_docker(module)
    result = {"changed": False, "actions": []}
    try:
        spec = NetworkSpec(module.params)
        network = DockerNetwork(module.params, spec)
        actual = network.read()
        actions = network.plan(actual)
        result["actions"] = ["%s: %s" % a for a in actions]
        result["changed"] = bool(actions)
        before = view(actual)
        result["network"] = before
        if module._diff:
            after = {}
            if spec.state == "present":
                after = dict((k, v) for k, v in before.items() if k not in ("id",)) if not actions else dict(spec.data)
            before_diff = dict((k, v) for k, v in before.items() if k != "id")
            result["diff"] = {"before": before_diff, "after": after}
        if actions and not module.check_mode:
            result["network"] = view(network.apply(actions, actual))
    except FlinkOpsError as exc:
        fail(module, exc, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
