#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: flink_info
short_description: Read facts about a Flink cluster and its jobs
version_added: 0.1.0
description:
  - Reads a Flink cluster's state through its REST API, without changing anything. It returns the Flink version,
    the registered TaskManagers and slots, the JobManager's effective configuration and the jobs.
  - The cluster is found by O(rest_url), or by O(name) for a cluster that M(flinkops.flink.flink_session)
    deployed on O(platform) (Docker, Swarm, or Kubernetes, where Flink's REST API is reached through the API server's
    proxy to the cluster's C(<name>-rest) Service, so the kubeconfig is all it needs).
  - With O(platform=kubernetes) and O(mode=operator) it also lists the Flink Kubernetes Operator's FlinkDeployments
    and FlinkSessionJobs (of O(namespace), or of every namespace) with their status; without O(name) it lists only.
author:
  - flinkops.flink contributors (@flinkops)
extends_documentation_fragment:
  - flinkops.flink.in_process
  - flinkops.flink.docker
  - flinkops.flink.kubernetes_native.connection
  - flinkops.flink.attributes.INFO_MODULE
options:
  name:
    description:
      - Name of a cluster deployed by this collection on O(platform). Its REST URL is looked up.
    type: str
  platform:
    description:
      - Where O(name) is looked up. C(docker) finds its JobManager container on O(docker_host); C(swarm) its
        JobManager service on the swarm manager O(docker_host), reached through the service's published port (on the
        node that runs it in host mode); C(compose) the JobManager of the Compose project O(name) (its published
        port, else its address on the project network); C(kubernetes) its Service C(<name>-rest) in O(namespace).
    type: str
    default: docker
    choices: [docker, swarm, compose, kubernetes]
  mode:
    description:
      - With O(platform=kubernetes), C(native) for a cluster of Flink's native mode, C(operator) for one of the
        Flink Kubernetes Operator (and the listing of its resources, RV(deployments) and RV(session_jobs)).
    type: str
    choices: [native, operator]
  namespace:
    description:
      - With O(platform=kubernetes), the namespace of the cluster (default C(default)); in O(mode=operator) without
        O(name), the namespace listed (every namespace when not set).
    type: str
  rest_url:
    description:
      - URL of the REST API, for example C(http://127.0.0.1:8081).
    type: str
  include_config:
    description:
      - Return the JobManager's effective configuration. Flink masks sensitive values itself.
    type: bool
    default: true
  include_jobs:
    description:
      - Return the jobs.
    type: bool
    default: true
  validate_certs:
    description:
      - Verify TLS certificates of an C(https) O(rest_url), and of the Docker daemon when looking up O(name)
        over TLS.
    type: bool
    default: false
    aliases: [tls_verify]
  wait:
    description:
      - Wait until the REST API answers, up to O(wait_timeout) seconds; otherwise fail at once when it does not.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait at most with O(wait=true).
    type: int
    default: 60
seealso:
  - module: flinkops.flink.flink_session
"""

EXAMPLES = r"""
- name: Facts about a cluster deployed by flink_session on Docker
  flinkops.flink.flink_info:
    name: orders
  register: orders

- name: Fail unless every job runs
  ansible.builtin.assert:
    that: orders.jobs | rejectattr('state', 'equalto', 'RUNNING') | list | length == 0

- name: The operator's FlinkDeployments and FlinkSessionJobs in namespace flink, with their status
  flinkops.flink.flink_info:
    platform: kubernetes
    mode: operator
    namespace: flink
  register: operator

- name: Facts about a FlinkDeployment's cluster (REST through the API server)
  flinkops.flink.flink_info:
    platform: kubernetes
    mode: operator
    namespace: flink
    name: orders
    include_config: false

- name: Facts through a known URL
  flinkops.flink.flink_info:
    rest_url: http://flink.example.com:8081
    include_config: false
"""

RETURN = r"""
crds_installed:
  description: Whether the operator's CRDs are installed (without them there are no resources to list).
  returned: with O(mode=operator)
  type: bool
deployments:
  description:
    - FlinkDeployments, each with C(lifecycle_state) (CREATED, SUSPENDED, UPGRADING, DEPLOYED, STABLE, ROLLING_BACK,
      ROLLED_BACK, FAILED), C(jobmanager_deployment_status), the job's state and id, the last savepoint, the
      operator's C(error), the resource's C(generation) and the C(reconciled_generation) the operator last saw,
      C(mode) (application or session), C(key) and C(ref) (apiVersion, kind, name and namespace, to delete it with
      M(flinkops.flink.k8s_apply)).
  returned: with O(mode=operator)
  type: list
  elements: dict
  sample: [{"kind": "FlinkDeployment", "name": "orders", "namespace": "flink", "key": "FlinkDeployment flink/orders",
            "lifecycle_state": "STABLE", "jobmanager_deployment_status": "READY", "job_state": "RUNNING",
            "job_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "last_savepoint": null, "error": null, "generation": 2,
            "reconciled_generation": 2, "mode": "application",
            "ref": {"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
                    "metadata": {"name": "orders", "namespace": "flink"}}}]
session_jobs:
  description: FlinkSessionJobs, with the same fields as RV(deployments) and C(deployment_name) instead of C(mode).
  returned: with O(mode=operator)
  type: list
  elements: dict
rest_url:
  description: The REST URL that answered.
  returned: when a cluster is read (O(name) or O(rest_url))
  type: str
  sample: http://127.0.0.1:8081
flink_version:
  description: Flink version of the JobManager.
  returned: when a cluster is read (O(name) or O(rest_url))
  type: str
  sample: 2.2.1
flink_commit:
  description: Commit Flink was built from.
  returned: when a cluster is read (O(name) or O(rest_url))
  type: str
  sample: 6ec2aa1
overview:
  description: Counts of TaskManagers, slots and jobs.
  returned: when a cluster is read (O(name) or O(rest_url))
  type: dict
  sample: {"taskmanagers": 2, "slots_total": 4, "slots_available": 2, "jobs_running": 1, "jobs_finished": 0,
           "jobs_cancelled": 0, "jobs_failed": 0}
taskmanagers:
  description: Registered TaskManagers.
  returned: when a cluster is read (O(name) or O(rest_url))
  type: list
  elements: dict
  sample: [{"id": "orders-taskmanager-1", "slots": 2, "free_slots": 1, "data_port": 41234,
            "path": "pekko.tcp://flink@orders-taskmanager-1:6122/user/rpc/taskmanager_0",
            "physical_memory": 25216946176, "cpu_cores": 2}]
config:
  description: The JobManager's effective configuration.
  returned: when O(include_config=true)
  type: dict
  sample: {"taskmanager.numberOfTaskSlots": "2", "jobmanager.rpc.address": "orders-jobmanager"}
jobs:
  description: Jobs known to the JobManager.
  returned: when O(include_jobs=true)
  type: list
  elements: dict
  sample: [{"id": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "name": "orders-enrichment", "state": "RUNNING",
            "start_time": 1763750000000, "end_time": -1, "duration": 60000, "tasks": {"running": 4}}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import DOCKER_ARGUMENT_SPEC
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.options import K8S_CONNECTION_SPEC
from ansible_collections.flinkops.flink.plugins.module_utils.flows.info import run_info


def main(module_class=AnsibleModule):
    """module_class: AnsibleModule, or the in-process stand-in of the action plugin (plugin_utils/in_process.py)."""
    argument_spec = dict(DOCKER_ARGUMENT_SPEC)
    argument_spec.update(K8S_CONNECTION_SPEC)
    argument_spec.update(
        name=dict(type="str"),
        platform=dict(type="str", default="docker", choices=["docker", "swarm", "compose", "kubernetes"]),
        mode=dict(type="str", choices=["native", "operator"]),
        namespace=dict(type="str"),
        rest_url=dict(type="str"),
        include_config=dict(type="bool", default=True),
        include_jobs=dict(type="bool", default=True),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=60),
    )
    module = module_class(argument_spec=argument_spec, supports_check_mode=True,
                          mutually_exclusive=[("name", "rest_url")])
    run_info(module)


if __name__ == "__main__":
    main()
