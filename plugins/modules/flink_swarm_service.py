#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: flink_swarm_service
short_description: A Flink JobManager or TaskManager as a Docker Swarm service
version_added: 0.4.0
description:
  - Runs a Flink JobManager (C(jobmanager)), an application cluster's JobManager (C(standalone-job)) or a group of
    TaskManagers (C(taskmanager)) as a replicated Docker Swarm service, through a manager's daemon
    (O(docker_host)).
  - A session cluster is two services, a JobManager and TaskManagers, on the same overlay network; the
    TaskManagers find the JobManager by its service name (O(jobmanager_address)).
  - Flink settings reach the containers as E(FLINK_PROPERTIES) (Flink's string form, one key and value a line),
    which the official image's entrypoint merges into its configuration.
  - The service carries a hash of its spec, so a second run changes nothing and a changed spec updates the
    service (a rolling update as O(update_config) says). Check mode and diff mode report the plan.
  - With O(wait=true) the module waits until the swarm runs the requested number of tasks, and with O(rest_url)
    until the JobManager answers or, for TaskManagers, until each of them is registered with the JobManager.
    A task no node can run (placement constraints or resources) fails the wait at once, naming the cause; a
    host-mode port in use on every node allowed fails it after 30 seconds (a task of the service that the swarm
    just replaced may still hold the port); tasks that keep failing (an image a node cannot pull, a container that exits) fail it too.
  - Swarm updates that lose a race with another client ("update out of sequence") are retried with the
    service's new version, at most O(retries) times.
author:
  - flinkops.flink contributors (@flinkops)
extends_documentation_fragment:
  - flinkops.flink.docker
  - flinkops.flink.wait
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
      - The service name (at most 50 characters). TaskManagers register as C(<name>-<slot>).
    type: str
    required: true
  state:
    description:
      - C(present) creates or updates the service; C(absent) removes it (networks are kept).
    type: str
    default: present
    choices: [present, absent]
  image:
    description:
      - The Flink image, laid out like the official C(flink) image; every node that may run a task must be able
        to pull it (a registry all nodes reach).
      - Required with O(state=present).
    type: str
  resolve_image:
    description:
      - Resolve O(image) to its registry digest through the manager's daemon and run the service pinned to it
        (C(image:tag@sha256:...)), as C(docker service create) and C(docker service update) do. A new image pushed
        under the same tag then updates the service on the next run (a rolling update), and every task runs the
        same image whatever a node has cached.
      - When the registry cannot be asked, the service runs the plain tag and the module warns.
      - A reference that already has a digest is used as it is.
      - Unlike C(community.docker.docker_swarm_service) (same option, default V(false)) this defaults to V(true),
        the docker CLI's behaviour. With V(false) only a changed spec updates the service.
      - A service that runs a plain tag (created with V(false), or by other tools) is pinned on the first run
        with V(true), one rolling update.
    type: bool
    default: true
  flink_version:
    description:
      - The Flink version of O(image), for checking configuration keys. Defaults to the version in the image tag.
    type: str
  command:
    description:
      - What the containers run (the image entrypoint's command).
      - Required with O(state=present).
    type: str
    choices: [jobmanager, taskmanager, standalone-job]
  args:
    description:
      - Arguments after the command, for example C(--job-classname) and job arguments of C(standalone-job).
    type: list
    elements: str
    default: []
  replicas:
    description:
      - Number of tasks. A C(jobmanager) or C(standalone-job) service runs exactly one.
    type: int
    default: 1
  jobmanager_address:
    description:
      - The JobManager's address (C(jobmanager.rpc.address)). Required for C(taskmanager), as the JobManager
        service's name, which the swarm's DNS resolves on a shared network. Defaults to O(name) otherwise.
    type: str
  flink_config:
    description:
      - Flink configuration as flat keys, passed in E(FLINK_PROPERTIES). Values must have a single-line string
        form (lists as C(a;b), maps as C(k:v,k:v)); others are refused with the key named.
      - C(jobmanager.rpc.address) and C(taskmanager.resource-id) are set by the module.
    type: dict
    default: {}
  env:
    description:
      - Environment variables of the containers (not E(FLINK_PROPERTIES)).
    type: dict
    default: {}
  mounts:
    description:
      - Mounts of the containers.
    type: list
    elements: dict
    default: []
    suboptions:
      source:
        description: Path on the node (C(bind)) or volume name (C(volume)).
        type: str
      target:
        description: Absolute path in the container.
        type: str
        required: true
      type:
        description: The mount type.
        type: str
        default: bind
        choices: [bind, volume, tmpfs]
      read_only:
        description: Mount read-only.
        type: bool
        default: false
  networks:
    description:
      - Overlay networks the service joins. A missing one is created (C(overlay) driver) unless its C(create)
        is V(false); one that exists with another driver is refused before anything is touched.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The network name.
        type: str
        required: true
      create:
        description: Create the network when it is missing.
        type: bool
        default: true
      attachable:
        description: Let standalone containers attach to a network the module creates.
        type: bool
        default: true
      encrypted:
        description: Encrypt the traffic of a network the module creates (IPsec between nodes).
        type: bool
        default: false
  publish:
    description:
      - Published ports, for example the JobManager's REST port 8081.
    type: list
    elements: dict
    default: []
    suboptions:
      published:
        description: The port on the nodes.
        type: int
        required: true
      target:
        description: The port in the container.
        type: int
        required: true
      protocol:
        description: The protocol.
        type: str
        default: tcp
        choices: [tcp, udp]
      mode:
        description:
          - C(ingress) publishes on every node through the routing mesh (needs IPVS in the kernel); C(host)
            publishes on the nodes that run a task.
        type: str
        default: ingress
        choices: [ingress, host]
  endpoint_mode:
    description:
      - How other services reach this one by name. C(vip) gives one virtual address (needs IPVS);
        C(dnsrr) returns the task addresses from DNS (then ports publish only in C(host) mode).
    type: str
    default: vip
    choices: [vip, dnsrr]
  constraints:
    description:
      - Placement constraints, for example C(node.labels.flink.role==taskmanager) or C(node.role==manager).
        A task no node satisfies fails the wait naming C(constraints).
    type: list
    elements: str
    default: []
  preferences:
    description:
      - Placement preferences; each entry spreads tasks over the values of a node descriptor, for example
        C(node.labels.zone).
    type: list
    elements: str
    default: []
  resources:
    description:
      - CPU and memory limits and reservations of each task. Memory in Flink's or Docker's syntax (C(1600m), C(2g)).
    type: dict
    suboptions:
      limit_cpu:
        description: CPUs a task may use.
        type: float
      limit_memory:
        description: Memory a task may use.
        type: str
      reserve_cpu:
        description: CPUs a node must have free to run a task.
        type: float
      reserve_memory:
        description: Memory a node must have free to run a task.
        type: str
  restart_policy:
    description:
      - When the swarm restarts a task's container.
    type: dict
    suboptions:
      condition:
        description: When to restart.
        type: str
        default: any
        choices: [none, on-failure, any]
      delay:
        description: Seconds between restarts.
        type: float
        default: 5
      max_attempts:
        description: Restarts before giving up (0 means no limit).
        type: int
        default: 0
      window:
        description: Seconds over which restarts are counted.
        type: float
        default: 0
  update_config:
    description:
      - How a changed spec rolls out.
    type: dict
    suboptions:
      parallelism:
        description: Tasks updated at the same time (0 means all).
        type: int
        default: 1
      delay:
        description: Seconds between two groups of updated tasks.
        type: float
        default: 0
      order:
        description: C(stop-first) or C(start-first) (a new task starts before the old one stops).
        type: str
        default: stop-first
        choices: [stop-first, start-first]
      failure_action:
        description: What the swarm does when an updated task fails.
        type: str
        default: pause
        choices: [pause, continue, rollback]
      monitor:
        description: Seconds a task is watched for failure after it started.
        type: float
        default: 5
  healthcheck:
    description:
      - The containers' health check. A task counts as running (for the swarm's rolling updates and for the wait)
        only once it is healthy.
      - A C(taskmanager) service gets a built-in check when O(healthcheck.test) is not given; it is healthy once the
        JobManager's REST API (at O(jobmanager_address), port C(rest.port) or 8081) lists a TaskManager registered
        from the container's own address. A rolling update therefore replaces the next TaskManager only after the
        previous one registered, and the cluster keeps TaskManagers throughout (with O(update_config.parallelism)
        below O(replicas)). The check needs C(bash) and C(hostname) in the image (the official image has both).
      - O(healthcheck.test=[NONE]) turns checks off, also the image's own.
    type: dict
    suboptions:
      test:
        description:
          - The check in Docker's form, V([CMD, ...]), V([CMD-SHELL, "..."]) or V([NONE]).
        type: list
        elements: str
      interval:
        description: Seconds between two checks.
        type: float
        default: 5
      timeout:
        description: Seconds one check may take.
        type: float
        default: 5
      retries:
        description:
          - Failed checks in a row before the container is unhealthy (and the swarm replaces it). The default gives
            a TaskManager two minutes to register again after the JobManager restarted.
        type: int
        default: 24
      start_period:
        description: Seconds after the start in which failed checks do not count.
        type: float
        default: 300
  labels:
    description:
      - Service labels. The prefix C(org.flinkops.) is reserved.
    type: dict
    default: {}
  container_labels:
    description:
      - Labels of the containers. The prefix C(org.flinkops.) is reserved.
    type: dict
    default: {}
  hostname:
    description:
      - Host name of the containers; the swarm's service templates (Go templates with the service name and task slot) work.
    type: str
  rest_url:
    description:
      - The JobManager's REST URL as reachable from where the module runs (for example
        C(http://<manager-address>:8081) with a published port). With it the wait includes Flink itself.
    type: str
  retries:
    description:
      - How many times a service update that lost a race ("update out of sequence") is tried.
    type: int
    default: 5
notes:
  - The swarm's virtual IPs and the ingress routing mesh need IPVS in the nodes' kernels. Where it is missing,
    use O(endpoint_mode=dnsrr) and ports published in C(host) mode.
seealso:
  - module: flinkops.flink.docker_swarm
  - name: Flink on Docker Swarm
    description: The deployment this module automates.
    link: https://nightlies.apache.org/flink/flink-docs-stable/docs/deployment/resource-providers/standalone/docker/
"""

EXAMPLES = r"""
- name: JobManager on a manager node, REST published on that node
  flinkops.flink.flink_swarm_service:
    name: orders-jobmanager
    image: registry.example.com/flink:2.2.1-java17
    command: jobmanager
    networks: [{name: flink-orders}]
    endpoint_mode: dnsrr
    publish: [{published: 8081, target: 8081, mode: host}]
    constraints: [node.role==manager]
    flink_config:
      jobmanager.memory.process.size: 1600m
    docker_host: tcp://manager1.example.com:2376
    validate_certs: true

- name: Three TaskManagers on the Flink nodes, registered with the JobManager
  flinkops.flink.flink_swarm_service:
    name: orders-taskmanager
    image: registry.example.com/flink:2.2.1-java17
    command: taskmanager
    replicas: 3
    jobmanager_address: orders-jobmanager
    networks: [{name: flink-orders}]
    constraints: [node.labels.flink.role==taskmanager]
    preferences: [node.labels.zone]
    flink_config:
      taskmanager.numberOfTaskSlots: 2
      taskmanager.memory.process.size: 1728m
    resources: {limit_memory: 1728m}
    rest_url: http://manager1.example.com:8081
    docker_host: tcp://manager1.example.com:2376
    validate_certs: true

- name: Remove the TaskManagers
  flinkops.flink.flink_swarm_service:
    name: orders-taskmanager
    state: absent
"""

RETURN = r"""
service_id:
  description: The service's id.
  returned: when state is present and not in check mode
  type: str
  sample: kq2x0ljzq7qz7mjvbx4y0q9bp
image_digest:
  description: The registry digest O(image) resolved to, which the service is pinned to (with O(resolve_image)).
  returned: when state is present and the digest could be resolved
  type: str
  sample: sha256:2ade3b84c14cbd78c5953b792be2b1d2145b89757ad01d1aa9bbb1c27bb53afd
spec_hash:
  description: The hash of the spec, kept in the service label C(org.flinkops.spec-hash).
  returned: when state is present
  type: str
  sample: 3f0c9d5e2a7b41c8d6e1
tasks:
  description: The service's tasks that should run, with the node each runs on.
  returned: when state is present and not in check mode
  type: list
  elements: dict
  sample: [{"slot": 1, "node": "worker1", "state": "running", "id": "0123456789ab"}]
taskmanagers:
  description: Ids of the TaskManagers registered with the JobManager (with O(rest_url)).
  returned: for taskmanager services waited for with rest_url
  type: list
  elements: str
  sample: ["orders-taskmanager-1", "orders-taskmanager-2"]
actions:
  description: The planned actions, one readable line each (applied unless in check mode).
  returned: always
  type: list
  elements: str
  sample: ["create_network: network flink-orders (overlay)", "create: service orders-taskmanager",
           "update: service orders-taskmanager (image registry.example.com/flink:2 is now sha256:9f..., the service runs sha256:2a...)"]
option:
  description: On failure, the option at fault.
  returned: on failure, when an option is at fault
  type: str
  sample: constraints
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flinkops.flink.plugins.module_utils.argspec import WAIT_ARGUMENT_SPEC
from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import (
    DOCKER_ARGUMENT_SPEC, require_docker)
from ansible_collections.flinkops.flink.plugins.module_utils.errors import FlinkOpsError, fail
from ansible_collections.flinkops.flink.plugins.module_utils.swarm.service import SwarmService
from ansible_collections.flinkops.flink.plugins.module_utils.swarm.service_spec import ServiceSpec


def argument_spec():
    spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        image=dict(type="str"),
        resolve_image=dict(type="bool", default=True),
        flink_version=dict(type="str"),
        command=dict(type="str", choices=["jobmanager", "taskmanager", "standalone-job"]),
        args=dict(type="list", elements="str", default=[]),
        replicas=dict(type="int", default=1),
        jobmanager_address=dict(type="str"),
        flink_config=dict(type="dict", default={}),
        env=dict(type="dict", default={}),
        mounts=dict(type="list", elements="dict", default=[], options=dict(
            source=dict(type="str"),
            target=dict(type="str", required=True),
            type=dict(type="str", default="bind", choices=["bind", "volume", "tmpfs"]),
            read_only=dict(type="bool", default=False),
        )),
        networks=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            create=dict(type="bool", default=True),
            attachable=dict(type="bool", default=True),
            encrypted=dict(type="bool", default=False),
        )),
        publish=dict(type="list", elements="dict", default=[], options=dict(
            published=dict(type="int", required=True),
            target=dict(type="int", required=True),
            protocol=dict(type="str", default="tcp", choices=["tcp", "udp"]),
            mode=dict(type="str", default="ingress", choices=["ingress", "host"]),
        )),
        endpoint_mode=dict(type="str", default="vip", choices=["vip", "dnsrr"]),
        constraints=dict(type="list", elements="str", default=[]),
        preferences=dict(type="list", elements="str", default=[]),
        resources=dict(type="dict", options=dict(
            limit_cpu=dict(type="float"),
            limit_memory=dict(type="str"),
            reserve_cpu=dict(type="float"),
            reserve_memory=dict(type="str"),
        )),
        restart_policy=dict(type="dict", options=dict(
            condition=dict(type="str", default="any", choices=["none", "on-failure", "any"]),
            delay=dict(type="float", default=5),
            max_attempts=dict(type="int", default=0),
            window=dict(type="float", default=0),
        )),
        update_config=dict(type="dict", options=dict(
            parallelism=dict(type="int", default=1),
            delay=dict(type="float", default=0),
            order=dict(type="str", default="stop-first", choices=["stop-first", "start-first"]),
            failure_action=dict(type="str", default="pause", choices=["pause", "continue", "rollback"]),
            monitor=dict(type="float", default=5),
        )),
        healthcheck=dict(type="dict", options=dict(
            test=dict(type="list", elements="str"),
            interval=dict(type="float", default=5),
            timeout=dict(type="float", default=5),
            retries=dict(type="int", default=24),
            start_period=dict(type="float", default=300),
        )),
        labels=dict(type="dict", default={}),
        container_labels=dict(type="dict", default={}),
        hostname=dict(type="str"),
        rest_url=dict(type="str"),
        retries=dict(type="int", default=5),
    )
    spec.update(WAIT_ARGUMENT_SPEC)
    spec.update(DOCKER_ARGUMENT_SPEC)
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_if=[("state", "present", ("image", "command"))])
    require_docker(module)
    params = module.params
    result = {"changed": False, "actions": []}
    try:
        spec = ServiceSpec(params)
        for warning in getattr(spec, "warnings", []):
            module.warn(warning)
        service = SwarmService(params, spec, check_mode=module.check_mode)
        actual = service.read()
        actions = service.plan(actual)
        for warning in service.warnings:
            module.warn(warning)
        result["actions"] = ["%s: %s" % a for a in actions]
        result["changed"] = bool(actions)
        if module._diff:
            before = service.before_view(actual)
            after = {}
            if params["state"] == "present":
                after = {"state": "present", "spec_hash": spec.hash, "replicas": params["replicas"],
                         "image_digest": service.digest() or service.running_digest(actual)}
            result["diff"] = {"before": before, "after": after}
        if params["state"] == "present":
            result["spec_hash"] = spec.hash
            if service.digest():
                result["image_digest"] = service.digest()
        if not module.check_mode:
            service.apply(actions)
            if params["state"] == "present":
                state = service.wait(params["wait_timeout"], params["wait_sleep"]) if params["wait"] else {
                    "tasks": service.tasks()}
                result["service_id"] = service.client.api.inspect_service(spec.name)["ID"]
                result["tasks"] = [dict((k, t[k]) for k in ("id", "slot", "node", "state")) for t in state["tasks"]]
                if "taskmanagers" in state:
                    result["taskmanagers"] = state["taskmanagers"]
    except FlinkOpsError as exc:
        fail(module, exc, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
