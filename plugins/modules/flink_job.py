#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: flink_job
short_description: Run a job on a Flink session cluster, by a stable name
version_added: 0.1.0
description:
  - Submits a jar job to a session cluster and keeps it as the task says. The job is found again by its
    O(name). A second run with the same jar content, class, arguments, parallelism and configuration changes
    nothing; a changed one is upgraded as O(upgrade_mode) says.
  - The jar is uploaded only when its content (SHA-256) is not on the cluster yet.
  - With O(wait=true), C(running) means the job is RUNNING with all its tasks running (or FINISHED, for a
    bounded job); a job that fails makes the module fail with Flink's root cause.
  - >-
    With O(platform=kubernetes) and O(mode=operator) the job is a C(FlinkSessionJob) O(name) on the session
    C(FlinkDeployment) O(cluster) (from M(flinkops.flink.flink_session) with C(mode=operator))
    in O(namespace); server-side apply, check mode as a server-side dry run. O(jar) is its C(jarURI): the operator
    fetches it itself, and the operator's artifact rules apply (1.15 allows only C(https) by default, and refuses
    hosts that resolve to loopback or private addresses; change them with the operator role's C(operator_config)
    keys C(kubernetes.operator.user.artifacts.allowed-schemes) and
    C(kubernetes.operator.user.artifacts.disallow-restricted-hosts)). The operator runs the upgrades
    (O(upgrade_mode)); C(suspended) is C(job.state=suspended) with a savepoint, the resource stays and C(running)
    resumes from it; C(absent) deletes the resource (the operator cancels the job). Each job is changed on its
    own: the session and its other jobs are untouched. The wait follows the operator's status (lifecycle STABLE
    with the job RUNNING, or SUSPENDED); a refused jarURI fails it after 10 s with the operator's message.
    O(trigger_savepoint) is a FlinkStateSnapshot C(<name>-savepoint-<UTC time>) the operator completes (returned
    as RV(savepoint) and RV(snapshot); the resource stays as the record, the savepoint is never disposed of with it).
    C(cancelled), O(rest_url) and O(restore=required) do not apply.
author:
  - flinkops.flink contributors (@flinkops)
extends_documentation_fragment:
  - flinkops.flink.in_process
  - flinkops.flink.wait
  - flinkops.flink.docker
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
  name:
    description:
      - Stable name of the job. The job id is derived from it (and from the job's spec), so nothing else
        needs to be remembered between runs.
    type: str
    required: true
  cluster:
    description:
      - Name of a session cluster deployed by M(flinkops.flink.flink_session) on O(platform); its REST URL is
        looked up. Either this or O(rest_url).
    type: str
  platform:
    description:
      - Where O(cluster) is looked up. C(docker) finds its JobManager container on O(docker_host); C(swarm) its
        JobManager service on the swarm manager O(docker_host), reached through the service's published port (on the
        node that runs it in host mode); C(compose) the JobManager of the Compose project O(cluster) (its published
        port, else its address on the project network); C(kubernetes) the session cluster O(cluster) in
        O(namespace) (see O(mode)).
    type: str
    default: docker
    choices: [docker, swarm, compose, kubernetes]
  mode:
    description:
      - With O(platform=kubernetes), C(native) (the default) for a session cluster of Flink's native Kubernetes
        mode (M(flinkops.flink.flink_session) with C(platform=kubernetes), or one started by hand with
        C(kubernetes-session.sh) whose cluster id is O(cluster)). The job is run through Flink's REST API, reached
        through the API server's service proxy to the C(<cluster>-rest) Service (any Service type, ClusterIP
        included; the kubeconfig is all the module needs). C(operator) makes the job a C(FlinkSessionJob) of the
        Flink Kubernetes Operator.
    type: str
    choices: [native, operator]
  job_id:
    description:
      - Id of a job on the cluster that was submitted otherwise (the Flink CLI, the web UI, another tool), to take
        over under O(name). C(suspended) stops it with a savepoint, C(cancelled) and C(absent) cancel it, and
        C(running) replaces it with the job this task describes, stopping it first as O(upgrade_mode) says (a
        savepoint by default, so its state carries over) or resuming from the savepoint it was stopped with.
      - A job built by the Flink CLI has the client's configuration, not the session's, so its maximum parallelism is
        the client's (128 by default). When the session sets C(pipeline.max-parallelism), give the job's own value in
        O(flink_config), or Flink refuses to restore the savepoint ("Max parallelism mismatch").
      - From then on the job is found by O(name); a task that keeps O(job_id) changes nothing on later runs. It
        fails, naming O(job_id), when the cluster knows neither this id nor a job of this O(name) (Flink forgets
        ended jobs after C(jobstore.expiration-time)).
    type: str
  labels:
    description:
      - Labels of the C(FlinkSessionJob) (O(mode=operator) only), for example the one an operator's
        C(kubernetes.operator.label.selector) selects.
    type: dict
    default: {}
  namespace:
    description:
      - With O(platform=kubernetes), the namespace of the session cluster (and of the C(FlinkSessionJob) with
        O(mode=operator)). Defaults to C(default).
    type: str
  rest_url:
    description:
      - URL of the session cluster's REST API. Either this or O(cluster).
    type: str
  state:
    description:
      - C(running) submits the job, upgrades it when its spec changed, or resumes it from the savepoint its
        suspension left.
      - C(suspended) stops it with a savepoint (returned as RV(savepoint)); C(running) later resumes from it as long
        as the JobManager still knows the stopped job (it forgets finished jobs after C(jobstore.expiration-time)
        and on restart; keep the returned savepoint and pass it as O(savepoint_path) to be safe).
      - C(cancelled) cancels it (its state is lost unless retained checkpoints say otherwise). C(absent) cancels it
        and deletes its uploaded jars.
    type: str
    default: running
    choices: [running, suspended, cancelled, absent]
  jar:
    description:
      - Path of the job jar on the host that runs the module. Required when O(state=running).
    type: path
  entry_class:
    description:
      - Main class; defaults to the jar manifest's C(Main-Class).
    type: str
  args:
    description:
      - Program arguments.
    type: list
    elements: str
    default: []
  parallelism:
    description:
      - Job parallelism; the cluster's default if not set.
    type: int
  flink_config:
    description:
      - Job configuration (C(flinkConfiguration) of the run request), for example C(pipeline.name).
    type: dict
    default: {}
  savepoint_path:
    description:
      - Savepoint or retained checkpoint to start a new job from (not used by upgrades, which use their own).
    type: str
  allow_non_restored_state:
    description:
      - Start even if state in the savepoint maps to no operator of the job.
    type: bool
    default: false
  upgrade_mode:
    description:
      - How a running job is upgraded when its spec changed. C(savepoint) stops it with a savepoint and starts
        the new one from it; if the savepoint cannot be taken, the old job keeps running and the module fails.
        C(last-state) cancels it and starts the new one from its latest retained checkpoint (the module keeps
        checkpoints on cancellation for such jobs; the cluster needs a checkpoint directory). C(stateless)
        cancels it and starts the new one empty.
    type: str
    default: savepoint
    choices: [savepoint, last-state, stateless]
  restore:
    description:
      - C(auto) starts a job that has no savepoint to resume from without state (or from O(savepoint_path)).
        C(required) fails instead, before anything is submitted.
    type: str
    default: auto
    choices: [auto, required]
  trigger_savepoint:
    description:
      - Take a savepoint of the running, unchanged job (always a change). Returned as RV(savepoint).
    type: bool
    default: false
  savepoint_dir:
    description:
      - Directory for savepoints taken by upgrades, as Flink sees it. The cluster's
        C(execution.checkpointing.savepoint-dir) if not set.
    type: str
  validate_certs:
    description:
      - Verify TLS certificates of an C(https) O(rest_url), and of the Docker daemon when looking up O(cluster)
        over TLS.
    type: bool
    default: false
    aliases: [tls_verify]
seealso:
  - module: flinkops.flink.flink_session
  - module: flinkops.flink.flink_info
"""

EXAMPLES = r"""
- name: Run the enrichment job on the orders session cluster
  flinkops.flink.flink_job:
    name: orders-enrichment
    cluster: orders
    jar: /srv/jobs/enrichment-1.4.jar
    entry_class: com.example.Enrichment
    args: [--topic, orders]
    parallelism: 2

- name: New jar version; stop with a savepoint and resume from it
  flinkops.flink.flink_job:
    name: orders-enrichment
    cluster: orders
    jar: /srv/jobs/enrichment-1.5.jar
    entry_class: com.example.Enrichment
    args: [--topic, orders]
    parallelism: 2
    upgrade_mode: savepoint
    savepoint_dir: file:///savepoints

- name: Cancel it
  flinkops.flink.flink_job:
    name: orders-enrichment
    cluster: orders
    state: cancelled

- name: Take over a job submitted with the Flink CLI (flink run -d); its savepoint carries the state over
  flinkops.flink.flink_job:
    name: clicks
    cluster: orders
    job_id: 7b3c1f0e9d2a4c5b8e1f00aa0193f2aa
    jar: /srv/jobs/clicks-2.0.jar
    savepoint_dir: file:///savepoints

- name: A job on a native Kubernetes session cluster, through the API server
  flinkops.flink.flink_job:
    name: orders-enrichment
    cluster: orders
    platform: kubernetes
    namespace: flink
    jar: /srv/jobs/enrichment-1.5.jar
    entry_class: com.example.Enrichment
"""

RETURN = r"""
job_id:
  description: Id of the job (the new one after a submission or upgrade).
  returned: when a job exists
  type: str
  sample: 5f1b2e0c9d8a7b6c1a2b3c4d0193f2aa
job_state:
  description: State of the job when the module finished, as Flink reports it (after O(state=suspended) the state
    the job ended in, C(FINISHED) unless it failed or was cancelled while stopping).
  returned: when a job exists
  type: str
  sample: RUNNING
action:
  description: What was done (or would be, in check mode) - C(submit), C(resume), C(upgrade), C(savepoint),
    C(suspend), C(cancel), C(delete-jars), with O(mode=operator) C(remove), or nothing.
  returned: always
  type: str
  sample: upgrade
reason:
  description: Why.
  returned: when there is an action
  type: str
  sample: the job's jar, class, arguments, parallelism or configuration changed (upgrade_mode savepoint)
savepoint:
  description: Savepoint the new job started from (an upgrade's, a suspension's, or O(savepoint_path)), or the
    savepoint taken by O(state=suspended) or O(trigger_savepoint).
  returned: when a job was started from one, or one was taken
  type: str
  sample: file:/savepoints/savepoint-5f1b2e-0123456789ab
jar_id:
  description: Id of the uploaded jar on the cluster.
  returned: when O(state=running)
  type: str
  sample: 0b9a7c52-1f57-4f0c-9bd4-4c59f5d1e3a1_flinkops-1a2b3c4d-0123456789abcdef-enrichment-1.5.jar
snapshot:
  description: Name of the FlinkStateSnapshot of O(trigger_savepoint) (O(mode=operator)).
  returned: when O(trigger_savepoint) took a savepoint with O(mode=operator)
  type: str
  sample: clicks-savepoint-20261203-171500
operator:
  description: The FlinkSessionJob's status as the operator reported it when the module finished.
  returned: with O(mode=operator), unless O(state=absent)
  type: dict
  sample: {"lifecycle_state": "STABLE", "job_state": "RUNNING", "job_id": "3c0d1f7e9b2a4c5d8e1f00aa0193f2aa",
           "last_savepoint": null, "error": null, "generation": 1, "reconciled_generation": 1}
rest_url:
  description: REST URL of the cluster (with O(platform=kubernetes), the API server's proxy URL of its REST
    Service).
  returned: unless O(mode=operator)
  type: str
  sample: http://127.0.0.1:8081
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flinkops.flink.plugins.module_utils.argspec import WAIT_ARGUMENT_SPEC
from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import DOCKER_ARGUMENT_SPEC
from ansible_collections.flinkops.flink.plugins.module_utils.flows.job import run_job
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.options import K8S_CONNECTION_SPEC


def main(module_class=AnsibleModule):
    """module_class: AnsibleModule, or the in-process stand-in of the action plugin (plugin_utils/in_process.py)."""
    argument_spec = dict(DOCKER_ARGUMENT_SPEC)
    argument_spec.update(WAIT_ARGUMENT_SPEC)
    argument_spec.update(K8S_CONNECTION_SPEC)
    argument_spec.update(
        name=dict(type="str", required=True),
        cluster=dict(type="str"),
        platform=dict(type="str", default="docker", choices=["docker", "swarm", "compose", "kubernetes"]),
        mode=dict(type="str", choices=["native", "operator"]),
        job_id=dict(type="str"),
        namespace=dict(type="str"),
        labels=dict(type="dict", default={}),
        rest_url=dict(type="str"),
        state=dict(type="str", default="running", choices=["running", "suspended", "cancelled", "absent"]),
        jar=dict(type="path"),
        entry_class=dict(type="str"),
        args=dict(type="list", elements="str", default=[]),
        parallelism=dict(type="int"),
        flink_config=dict(type="dict", default={}),
        savepoint_path=dict(type="str"),
        allow_non_restored_state=dict(type="bool", default=False),
        upgrade_mode=dict(type="str", default="savepoint", choices=["savepoint", "last-state", "stateless"]),
        savepoint_dir=dict(type="str"),
        restore=dict(type="str", default="auto", choices=["auto", "required"]),
        trigger_savepoint=dict(type="bool", default=False),
    )
    module = module_class(argument_spec=argument_spec, supports_check_mode=True,
                          required_one_of=[("cluster", "rest_url")], mutually_exclusive=[("cluster", "rest_url")],
                          required_if=[("state", "running", ("jar",))])
    run_job(module)


if __name__ == "__main__":
    main()
