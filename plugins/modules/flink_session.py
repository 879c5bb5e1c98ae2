#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: flink_session
short_description: Deploy and operate a Flink session cluster
version_added: 0.1.0
description:
  - Deploys a Flink session cluster (one JobManager, N TaskManagers) from one declarative spec, and keeps it
    as the spec says. A second run with the same spec changes nothing, a changed spec recreates only the
    containers whose inputs changed, and a changed TaskManager count adds or removes TaskManagers without
    touching the JobManager.
  - With O(platform=docker) the cluster runs as containers on one Docker host.
  - With O(platform=swarm) the cluster runs as two services of a Docker Swarm, C(<name>-jobmanager) and
    C(<name>-taskmanager) with O(taskmanager.replicas) tasks, on an overlay network, from the same spec; a changed
    spec updates only the service whose inputs changed (a rolling update). O(docker_host) is a swarm manager.
  - With O(platform=kubernetes) the cluster runs in Flink's native Kubernetes mode in O(namespace). The Flink
    client of O(flink_home) creates the JobManager Deployment C(<name>) (its Services and ConfigMaps are owned by
    it), and the JobManager starts TaskManager pods when jobs need slots (O(taskmanager.replicas) is the number
    kept without jobs). The spec's hash is kept as an annotation of the Deployment; an unchanged spec changes
    nothing, a changed one recreates the cluster (refused while jobs run, unless O(disrupt_running_jobs)).
    C(absent) deletes the Deployment (owner references remove the rest) and the high-availability ConfigMaps.
  - With O(platform=compose) the cluster is a Docker Compose project, written to O(project_dir) as
    C(compose.yaml) and applied with C(docker compose) (see O(platform)).
  - With O(platform=kubernetes) and O(mode=operator) the cluster is a C(FlinkDeployment) C(<name>) in
    O(namespace) that the Flink Kubernetes Operator runs (see O(mode)); the spec's hash and view are annotations of
    the FlinkDeployment; a changed spec is applied to it and the operator redeploys the session cluster (refused
    while jobs run, unless O(disrupt_running_jobs)); C(absent) deletes it and waits until the operator removed
    everything it made.
  - The module plans before it acts. Check mode returns the plan, diff mode the spec before and after; a real
    run applies exactly that plan. Bad input fails before anything is touched, naming the option.
  - With O(wait=true), C(present) means the REST API answers and exactly the requested TaskManagers are
    registered with the requested number of slots (on Kubernetes, every JobManager pod is ready, the REST API
    answers through the API server's service proxy, and at least O(taskmanager.replicas) TaskManagers are
    registered). C(absent) on Kubernetes waits until the cluster's pods, Services and ConfigMaps are gone.
author:
  - flinkops.flink contributors (@flinkops)
extends_documentation_fragment:
  - flinkops.flink.in_process
  - flinkops.flink.cluster
  - flinkops.flink.wait
  - flinkops.flink.docker
  - flinkops.flink.kubernetes_native
  - flinkops.flink.kubernetes_native.connection
  - flinkops.flink.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  rollback:
    description:
      - With O(platform=docker), a change that replaces containers keeps the replaced ones, stopped, until the new
        cluster is ready. When applying or waiting fails (a container that cannot start, a crash loop, TaskManagers
        that do not register within O(wait_timeout)), the new containers are removed, the old ones are started
        again under their names, the module waits for them and fails with RV(rolled_back=true), naming what failed.
        The default is on because a running cluster is worth more than the new spec; turn it off to leave the
        failed containers in place for inspection.
      - With O(platform=swarm), the services this run updated go back to the spec they ran before it, which the
        swarm keeps (what C(docker service rollback) restores); the module waits for their tasks, the JobManager's
        REST API and the restored TaskManagers and slots, and fails with RV(rolled_back=true). Secrets the old spec
        uses are removed only once the new spec is ready. The swarm replaces tasks in place (stop first, as its
        updates do), so between the failure and the rollback the updated services run no ready task.
      - With O(platform=compose), the Compose file (and secrets file) before a change that recreates containers is
        kept; when the new containers do not get ready it is written back, C(docker compose up) recreates what it
        describes, the module waits for its TaskManagers and slots and fails with RV(rolled_back=true).
      - A new cluster (nothing replaced or updated) is never rolled back. On Docker, scale-down removals are not
        undone (on Swarm the restored spec has its replicas).
      - With O(platform=kubernetes) (native mode), a change recreates the JobManager Deployment under the same
        cluster id, so the old cluster is deleted first; before that the module reads what it is made of (the
        Deployment with its spec annotations, the Services and ConfigMaps it owns, the config Secret of
        O(flink_config_secrets)) and keeps it in memory. When the new cluster does not get ready, it is deleted and
        those objects are created again as they were (a NodePort keeps its port); the JobManager starts from the same
        configuration and starts its TaskManagers, the module waits for them and fails with RV(rolled_back=true).
      - With O(mode=operator), the FlinkDeployment as it ran before the change is kept in memory when the operator
        reports it STABLE (with the config Secret of O(flink_config_secrets)). When the redeployed cluster does not
        get ready, that FlinkDeployment is applied again with the Secret as it was; the operator redeploys the old
        spec, the module waits for it and fails with RV(rolled_back=true). The operator's own rollback
        (C(kubernetes.operator.deployment.rollback.enabled)) is not used for a session cluster, even where
        O(flink_config) turns it on (which the module refuses without O(high_availability)), because the operator 1.15
        does not roll back a session cluster (it finds no high-availability metadata it counts), so the module
        does, as above.
    type: bool
    default: true
  state:
    description:
      - C(present) creates or updates the cluster; C(absent) removes its containers (and its network, if the
        module created it); C(restarted) restarts every container (always a change).
      - C(rendered) (O(platform=compose) only) writes the Compose file (and the secrets file) and touches nothing
        else, for a user who runs C(docker compose) himself; the file is returned as RV(compose_file_content).
    type: str
    default: present
    choices: [present, absent, restarted, rendered]
seealso:
  - module: flinkops.flink.flink_info
  - name: Flink on Docker
    description: The deployment this module automates.
    link: https://nightlies.apache.org/flink/flink-docs-stable/docs/deployment/resource-providers/standalone/docker/
  - name: Flink native Kubernetes
    description: The deployment this module automates with O(platform=kubernetes).
    link: https://nightlies.apache.org/flink/flink-docs-stable/docs/deployment/resource-providers/native_kubernetes/
  - name: Flink Kubernetes Operator
    description: What O(mode=operator) writes (FlinkDeployment) and waits on (its status).
    link: https://nightlies.apache.org/flink/flink-kubernetes-operator-docs-stable/docs/custom-resource/reference/
"""

EXAMPLES = r"""
- name: A session cluster with two TaskManagers, web UI on localhost:8081
  flinkops.flink.flink_session:
    name: orders
    image: flink:2.2.1-java17
    taskmanager:
      replicas: 2
      slots: 2
    flink_config:
      execution.checkpointing.interval: 10s
      state.checkpoints.num-retained: 3
    rest_port: 8081

- name: Scale to three TaskManagers (the JobManager keeps running)
  flinkops.flink.flink_session:
    name: orders
    image: flink:2.2.1-java17
    taskmanager:
      replicas: 3
      slots: 2
    rest_port: 8081

- name: S3 checkpoints on a remote Docker host, credentials kept out of logs
  flinkops.flink.flink_session:
    name: orders
    image: flink:1.20.3-java17
    docker_host: tcp://docker1.example.com:2376
    validate_certs: true
    plugins: [flink-s3-fs-hadoop]
    flink_config:
      state.checkpoints.dir: s3://checkpoints/orders
    flink_config_secrets:
      s3.access-key: "{{ vault_s3_access_key }}"
      s3.secret-key: "{{ vault_s3_secret_key }}"
    rest_port: 8081

- name: Remove the cluster
  flinkops.flink.flink_session:
    name: orders
    state: absent

- name: A native Kubernetes session cluster (TaskManager pods on demand), REST through the API server
  flinkops.flink.flink_session:
    name: orders
    platform: kubernetes
    namespace: flink
    service_account: flink
    kubeconfig: ~/.kube/config
    flink_home: /opt/flink-2.2.1
    image: flink:2.2.1-java17
    jobmanager:
      memory: 1600m
      cpu: 0.5
    taskmanager:
      memory: 2g
      cpu: 1
      slots: 2
    high_availability:
      enabled: true
      storage_dir: s3://flink/ha
    plugins: [flink-s3-fs-hadoop]
    env_secrets:
      - env: AWS_ACCESS_KEY_ID
        secret: s3-credentials
        key: access-key
      - env: AWS_SECRET_ACCESS_KEY
        secret: s3-credentials
        key: secret-key

- name: Remove it, with its high-availability ConfigMaps
  flinkops.flink.flink_session:
    name: orders
    platform: kubernetes
    namespace: flink
    state: absent

- name: The same cluster as a FlinkDeployment of the Flink Kubernetes Operator (role flinkops.flink.operator)
  flinkops.flink.flink_session:
    name: orders
    platform: kubernetes
    mode: operator
    namespace: flink
    service_account: flink
    image: flink:2.2.1-java17
    taskmanager:
      replicas: 2
      slots: 2
  register: orders

- name: The same cluster on a Docker Swarm, TaskManagers spread over the workers
  flinkops.flink.flink_session:
    name: orders
    platform: swarm
    docker_host: tcp://swarm-manager-1.example.com:2376
    validate_certs: true
    image: registry.example.com/flink:2.2.1-java17
    jobmanager:
      memory: 1600m
      constraints: [node.role==manager]
    taskmanager:
      replicas: 3
      slots: 2
      constraints: [node.role==worker]
      preferences: [node.hostname]
    flink_config_secrets:
      s3.secret-key: "{{ vault_s3_secret_key }}"
    rest_port: 8081
    publish_mode: host

- name: The same cluster as a Docker Compose project (applied with docker compose; /srv/flink/orders/compose.yaml)
  flinkops.flink.flink_session:
    name: orders
    platform: compose
    project_dir: /srv/flink/orders
    image: flink:2.2.1-java17
    taskmanager:
      replicas: 2
      slots: 2
    rest_port: 8081

- name: Only write the Compose file, for a team that runs docker compose itself
  flinkops.flink.flink_session:
    name: orders
    platform: compose
    project_dir: /srv/flink/orders
    image: flink:2.2.1-java17
    state: rendered
  register: rendered
"""

RETURN = r"""
rolled_back:
  description:
    - V(true) when the change failed and the containers of the last stable spec run again (O(rollback)); the run
      fails, C(msg) says what failed, RV(restored) which containers came back.
  returned: when a rollback happened
  type: bool
  sample: true
restored:
  description: The containers (Docker, Compose), services (Swarm) or Kubernetes objects (native mode, as
    C(deployment <name>), C(service <name>-rest), C(configmap flink-config-<name>)) a rollback put back on the last
    stable spec.
  returned: when a rollback happened
  type: list
  elements: str
  sample: [orders-taskmanager-1]
failure:
  description: What made the change fail before the rollback (the first error; C(msg) says it too, followed by
    the rollback's outcome).
  returned: when a rollback happened
  type: str
  sample: "container orders-taskmanager-1 keeps restarting (2 restarts); its last log lines: ..."
rest_url:
  description:
    - URL of the JobManager's REST API and web UI, as reachable from the Ansible target.
    - On Kubernetes, the node address and node port (C(NodePort)), the load balancer's address (C(LoadBalancer)),
      or the API server's service proxy URL (C(ClusterIP); it needs the kubeconfig's credentials).
  returned: when state is not absent
  type: str
  sample: http://127.0.0.1:8081
flink_version:
  description: The Flink version the running JobManager reports.
  returned: when the REST API answers
  type: str
  sample: 2.2.1
taskmanagers:
  description: The TaskManagers registered with the JobManager.
  returned: when state is not absent
  type: list
  elements: dict
  sample: [{"id": "orders-taskmanager-1", "slots": 2, "free_slots": 2}]
slots_total:
  description: Task slots of all registered TaskManagers.
  returned: when the REST API answers
  type: int
  sample: 4
slots_available:
  description: Free task slots.
  returned: when the REST API answers
  type: int
  sample: 4
jobs:
  description: Jobs known to the JobManager.
  returned: when the REST API answers
  type: list
  elements: dict
  sample: [{"id": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "name": "orders-enrichment", "state": "RUNNING"}]
namespace:
  description: The cluster's namespace.
  returned: on platform kubernetes
  type: str
  sample: flink
cluster_id:
  description: The cluster id (C(kubernetes.cluster-id)), also the JobManager Deployment's name.
  returned: on platform kubernetes
  type: str
  sample: orders
pods:
  description: The cluster's pods.
  returned: on platform kubernetes
  type: list
  elements: dict
  sample: [{"name": "orders-5d48d84b94-tbx2t", "role": "jobmanager", "phase": "Running", "node": "node1",
            "image": "flink:2.2.1-java17"}]
operator:
  description:
    - The FlinkDeployment's status as the operator reports it - C(lifecycle_state), C(jobmanager_deployment_status),
      the operator's C(error), the resource's C(generation) and the C(reconciled_generation) the operator last saw.
  returned: with O(mode=operator), when the FlinkDeployment exists
  type: dict
  sample: {"lifecycle_state": "STABLE", "jobmanager_deployment_status": "READY", "error": null, "generation": 2,
           "reconciled_generation": 2}
rest_service:
  description: The REST Service C(<name>-rest).
  returned: on platform kubernetes, when it exists
  type: dict
  sample: {"name": "orders-rest", "type": "ClusterIP", "port": 8081, "node_port": null}
services:
  description: The cluster's swarm services.
  returned: when state is not absent, on platform swarm
  type: list
  elements: dict
  sample: [{"name": "orders-jobmanager", "id": "0123456789ab", "role": "jobmanager", "replicas": 1,
            "image": "registry.example.com/flink:2.2.1-java17@sha256:..."}]
containers:
  description: The cluster's containers.
  returned: when state is not absent, on platform docker
  type: list
  elements: dict
  sample: [{"name": "orders-jobmanager", "id": "0123456789ab", "role": "jobmanager", "state": "running",
            "image": "flink:2.2.1-java17"}]
network:
  description: The cluster's Docker network.
  returned: when state is not absent, on platform docker
  type: str
  sample: flink-orders
compose_file:
  description: The path of the Compose file (C(<project_dir>/compose.yaml)).
  returned: on platform compose, when state is not absent
  type: str
  sample: /var/lib/flinkops/compose/orders/compose.yaml
compose_file_content:
  description: The Compose file as written (or, in check mode, as it would be written).
  returned: with state rendered
  type: str
  sample: "name: orders\nservices:\n  jobmanager:\n    image: \"flink:2.2.1-java17\"\n..."
project_dir:
  description: The Compose project's directory.
  returned: on platform compose, when state is not absent
  type: str
  sample: /var/lib/flinkops/compose/orders
actions:
  description: The planned actions (applied unless in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{"action": "create", "target": "orders-taskmanager-3", "reason": "missing"}]
changes:
  description: The planned actions, one readable line each.
  returned: always
  type: list
  elements: str
  sample: ["create orders-taskmanager-3 (missing)"]
option:
  description: On failure, the option at fault.
  returned: on failure, when an option is at fault
  type: str
  sample: taskmanager.slots
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flinkops.flink.plugins.module_utils.argspec import cluster_argument_spec
from ansible_collections.flinkops.flink.plugins.module_utils.flows.cluster import run_cluster
from ansible_collections.flinkops.flink.plugins.module_utils.registry import require_sdk


def main(module_class=AnsibleModule):
    """module_class: AnsibleModule, or the in-process stand-in of the action plugin (plugin_utils/in_process.py)."""
    module = module_class(
        argument_spec=cluster_argument_spec(
            state=dict(type="str", default="present", choices=["present", "absent", "restarted", "rendered"]),
            rollback=dict(type="bool", default=True),
        ),
        required_if=[("state", "present", ("image",)), ("state", "restarted", ("image",)),
                     ("state", "rendered", ("image",))],
        supports_check_mode=True,
    )
    require_sdk(module, module.params)
    run_cluster(module)


if __name__ == "__main__":
    main()
