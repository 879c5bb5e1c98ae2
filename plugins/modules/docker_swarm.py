#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: docker_swarm
short_description: Swarm membership of one Docker host (init, join, role, labels, leave)
version_added: 0.4.0
description:
  - Makes the Docker host of O(docker_host) a member of a Docker Swarm, or removes it.
  - Without O(manager_docker_host) the host starts a new swarm (C(docker swarm init)) when it is in none. With
    O(manager_docker_host) it joins the swarm of that manager, with the join token read from the manager.
  - Role, node labels and availability are kept as given, through a manager. A changed role promotes or demotes.
  - O(state=absent) drains the node (its tasks move to other nodes), demotes a manager, leaves the swarm and
    removes the node from the manager's list.
  - The C(flinkops.flink.swarm) role uses this module to form a whole swarm from inventory groups.
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
  state:
    description:
      - C(present) makes the host a member with the given role, labels and availability; C(absent) makes it leave.
    type: str
    default: present
    choices: [present, absent]
  role:
    description:
      - The node's role in the swarm.
    type: str
    default: worker
    choices: [manager, worker]
  manager_docker_host:
    description:
      - The Docker daemon of a manager of the swarm to join (same connection options as O(docker_host) otherwise).
      - Not set means the host starts the swarm (only for O(role=manager)), or manages itself.
    type: str
  join_addr:
    description:
      - The manager's swarm address (C(host:2377)) the host joins through. Defaults to the address the manager
        advertises.
    type: str
  advertise_addr:
    description:
      - The address other nodes reach this node on (C(docker swarm init --advertise-addr)). Needed when the host
        has several addresses.
    type: str
  listen_addr:
    description:
      - The address the node listens on for swarm traffic. Defaults to C(0.0.0.0:2377).
    type: str
  default_addr_pool:
    description:
      - Address pools for overlay networks of a new swarm (C(docker swarm init --default-addr-pool)).
    type: list
    elements: str
  labels:
    description:
      - Node labels (placement constraints use them as C(node.labels.<key>==<value>)). The prefix
        C(org.flinkops.) is reserved.
    type: dict
    default: {}
  labels_state:
    description:
      - C(merge) adds and updates O(labels) and keeps other labels; C(replace) makes the labels exactly O(labels).
    type: str
    default: merge
    choices: [merge, replace]
  availability:
    description:
      - The node's availability for new tasks. Not changed if not set.
    type: str
    choices: [active, pause, drain]
  drain:
    description:
      - With O(state=absent), drain the node and wait until its tasks moved before it leaves.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for a drain to finish or a left node to be removable.
    type: int
    default: 120
  wait_sleep:
    description:
      - Seconds between two checks while waiting.
    type: float
    default: 1
notes:
  - Join managers one at a time (the task keyword C(throttle) set to 1); the role does.
seealso:
  - name: Docker swarm mode
    description: How nodes, managers and tokens work.
    link: https://docs.docker.com/engine/swarm/
"""

EXAMPLES = r"""
- name: Start a swarm on the first manager
  flinkops.flink.docker_swarm:
    role: manager
    advertise_addr: 10.0.0.10
    docker_host: tcp://10.0.0.10:2376
    validate_certs: true

- name: Join a worker with a label
  flinkops.flink.docker_swarm:
    role: worker
    advertise_addr: 10.0.0.11
    docker_host: tcp://10.0.0.11:2376
    manager_docker_host: tcp://10.0.0.10:2376
    validate_certs: true
    labels:
      flink.role: taskmanager

- name: Drain and remove a node
  flinkops.flink.docker_swarm:
    state: absent
    docker_host: tcp://10.0.0.11:2376
    manager_docker_host: tcp://10.0.0.10:2376
    validate_certs: true
"""

RETURN = r"""
node_id:
  description: The node's id in the swarm.
  returned: when the host is a member
  type: str
  sample: 4qb0t9ojnzpb1dmndm0elwzsu
cluster_id:
  description: The swarm's id.
  returned: when the host is a member
  type: str
  sample: ytt7bpfs0i0h1cml1hmcedt1q
actions:
  description: The planned actions (applied unless in check mode).
  returned: always
  type: list
  elements: str
  sample: ["join: join as worker", "labels: labels [('flink.role', 'taskmanager')]"]
option:
  description: On failure, the option at fault.
  returned: on failure, when an option is at fault
  type: str
  sample: manager_docker_host
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import (
    DOCKER_ARGUMENT_SPEC, require_docker)
from ansible_collections.flinkops.flink.plugins.module_utils.errors import FlinkOpsError, fail
from ansible_collections.flinkops.flink.plugins.module_utils.swarm.node import SwarmNode


def main():
    spec = dict(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        role=dict(type="str", default="worker", choices=["manager", "worker"]),
        manager_docker_host=dict(type="str"),
        join_addr=dict(type="str"),
        advertise_addr=dict(type="str"),
        listen_addr=dict(type="str"),
        default_addr_pool=dict(type="list", elements="str"),
        labels=dict(type="dict", default={}),
        labels_state=dict(type="str", default="merge", choices=["merge", "replace"]),
        availability=dict(type="str", choices=["active", "pause", "drain"]),
        drain=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=120),
        wait_sleep=dict(type="float", default=1),
    )
    spec.update(DOCKER_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    require_docker(module)
    result = {"changed": False, "actions": []}
    try:
        node = SwarmNode(module.params, check_mode=module.check_mode)
        actual = node.read()
        actions = node.plan(actual)
        result["actions"] = ["%s: %s" % a for a in actions]
        result["changed"] = bool(actions)
        before = node.view(actual)
        if not module.check_mode and actions:
            node.apply(actions)
            actual = node.read() if module.params["state"] == "present" else {"swarm": {"state": "inactive"}, "node": None}
        after = node.view(actual)
        if module._diff:
            if module.check_mode:
                after = {"state": module.params["state"], "role": module.params["role"],
                         "labels": getattr(node, "_new_labels", {})} if module.params["state"] == "present" else {
                    "state": "absent"}
            result["diff"] = {"before": before, "after": after}
        if after.get("state") == "present":
            result["node_id"] = after.get("node_id")
            result["cluster_id"] = after.get("cluster_id")
    except FlinkOpsError as exc:
        fail(module, exc, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
