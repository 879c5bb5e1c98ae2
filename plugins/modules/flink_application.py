#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: flink_application
short_description: Deploy and operate a Flink application cluster (one job, deployed with the cluster)
version_added: 0.1.0
description:
  - Deploys a Flink application cluster. The JobManager runs the job in C(standalone-job) mode (the mode the
    Flink docs recommend for production) and the TaskManagers run its tasks. The same spec as
    M(flinkops.flink.flink_session), plus O(job).
  - The job jar is either mounted from the Docker host into C(/opt/flink/usrlib) of every container
    (O(job.jar)), or already in the image's C(usrlib) (build one with M(flinkops.flink.flink_image)).
  - A change that touches the running job (jar, class, arguments, parallelism, image, Flink configuration)
    follows O(job.upgrade_mode). The state-saving step comes first; when it fails the old job keeps running and
    the module fails with the reason, before any container is touched.
  - O(state=suspended) stops the job with a savepoint, removes the containers and records where the savepoint
    is (labels of a Docker volume C(flinkops-<name>-state); on Swarm of a swarm config of that name; on Kubernetes
    annotations of a ConfigMap). O(state=running) then resumes from it.
  - With O(platform=swarm) the JobManager service runs C(standalone-job) and the TaskManagers are a second service;
    O(job.jar), when given, must exist at that path on every node that runs the cluster's tasks (a jar in the image
    needs nothing on the nodes). Savepoints and checkpoints must be on a file system that every node which may run
    the JobManager reaches (S3, NFS); a node-local volume works only while the tasks stay on that node.
  - >-
    With O(platform=kubernetes) and O(mode=operator) the spec is a C(FlinkDeployment) with a C(job) (O(job.jar) is
    its C(jarURI): C(local://) in the image or a volume of O(pod_template), http(s) or a Flink file system; no job ids
    of your own). The operator runs the upgrades itself: a changed spec is applied as it is and the operator stops
    the job as O(job.upgrade_mode) says (C(savepoint) needs O(job.savepoint_dir) or a savepoint directory in
    O(flink_config); C(savepoint) and C(last-state) need C(execution.checkpointing.dir); C(last-state) restores
    from the high-availability metadata when there is some, else the operator cancels the job and starts from the
    last checkpoint it saw), deploys the new spec and starts the job from that state. O(state=suspended) is the
    FlinkDeployment's C(job.state=suspended) with a savepoint: the FlinkDeployment stays, the record of the savepoint
    (its C(status.jobStatus.upgradeSavepointPath)), and unlike the other platforms the JobManager stays too (the
    operator 1.15 keeps it in native mode, idle with its job FINISHED, the TaskManagers released) until
    O(state=running) redeploys and resumes from the savepoint. The wait follows the operator's status (C(lifecycleState) STABLE with the job
    RUNNING, or SUSPENDED; FAILED, ROLLED_BACK, a validation error of the spec after 10 s and a JobManager
    deployment ERROR after 60 s fail it with the operator's message). The result's C(operator) has its status.
  - With O(wait=true), C(running) means the REST API answers, the TaskManagers are registered and the job is
    RUNNING with all its tasks (or FINISHED, for a bounded job).
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
  state:
    description:
      - C(running) deploys or updates the application; C(suspended) stops the job with a savepoint and removes
        the containers; C(absent) removes the containers, the state record and the network the module created
        (the job's state is gone unless you keep a savepoint).
      - With O(platform=compose), C(suspended) removes the containers (C(docker compose rm --stop)) and keeps the
        Compose file and network; the savepoint is recorded in the Docker volume C(flinkops-<name>-state), the same
        record as on O(platform=docker), so an application suspended there resumes here.
      - C(rendered) (O(platform=compose) only) writes the Compose file and touches nothing else; the JobManager's
        command keeps the job id of the file already there (a new one otherwise) and starts from
        O(job.savepoint_path) when set.
    type: str
    default: running
    choices: [running, suspended, absent, rendered]
  trigger_savepoint:
    description:
      - Take a savepoint of the running job once the application is deployed and its job runs (always a change;
        check mode reports it). Returned as RV(savepoint). Only with O(state=running).
      - The savepoint goes to O(job.savepoint_dir), else the cluster's C(execution.checkpointing.savepoint-dir).
        With O(mode=operator) it is a FlinkStateSnapshot C(<name>-savepoint-<UTC time>) with the FlinkDeployment's
        labels, which the operator completes (the resource stays as the record of the savepoint, which is never
        disposed of when it is deleted);
        elsewhere through Flink's REST API.
    type: bool
    default: false
  rollback:
    description:
      - An upgrade whose new spec does not get its job running is rolled back, on every platform.
      - With O(platform=swarm), an upgrade whose new spec does not get its job running (the services do not get
        ready, the JobManager exits, the job fails or is not RUNNING within O(wait_timeout)) is rolled back - the
        services go back to the spec they ran before, which the swarm keeps, and the old JobManager restarts the job
        from the state this run has just saved (the savepoint, or the checkpoint of O(job.upgrade_mode=last-state)),
        not from the older state its own arguments named, under a new job id. The module waits for the job to run
        and fails with RV(rolled_back=true), RV(restored), RV(failure) and the RV(savepoint) the job restarted from.
        With O(job.upgrade_mode=stateless) nothing was saved and the job restarts without state.
      - With O(platform=docker), the replaced containers are kept, stopped, until the new job runs. On a failure the
        new containers are removed, replaced TaskManagers start again as they were, and the JobManager comes back as
        a copy of the replaced container (same image, configuration, mounts, network) whose command restarts the job
        from the state this run saved under a new job id (a container's command cannot change).
      - With O(platform=compose), the Compose file (and secrets file) before the upgrade is written back, its
        JobManager's command restarting the job from the state this run saved under a new job id, and
        C(docker compose up) recreates what it describes.
      - The default is on because a running job is worth more than the new spec; turn it off to leave the failed
        containers or services in place for inspection.
      - With O(platform=kubernetes) (native mode), what the cluster is made of is read before the recreate deletes
        it (the Deployment, the Services and ConfigMaps it owns, the config Secret); on a failure the new cluster is
        deleted and those objects are created again, the Flink configuration in them changed so that the job
        restarts from the state this run saved under a new job id; the high-availability ConfigMaps the failed job
        wrote are deleted first. The restored job runs the jar its configuration names, so give a jar uploaded from
        the controller a file name per version, so that the old one is still there at the upload target.
      - With O(mode=operator), the FlinkDeployment before the upgrade is kept in memory when the operator reports it
        STABLE with its job RUNNING. When the new spec's job does not run (FAILED, a JobManager that does not start,
        not RUNNING within O(wait_timeout)), that FlinkDeployment is applied again with C(job.initialSavepointPath)
        the savepoint (or last-state checkpoint) the operator saved in this upgrade and a new
        C(job.savepointRedeployNonce); the operator cancels what the failed spec runs and starts the old spec's job
        from that state, under a new job id. When the operator recorded no state saved by this upgrade (it had not
        stopped the job yet, or a last-state upgrade kept it in high-availability metadata only), nothing is rolled
        back and the module warns.
      - The operator's own rollback is off by default (the operator refuses it without high availability). Where
        O(flink_config) turns it on (C(kubernetes.operator.deployment.rollback.enabled=true), with
        O(high_availability) enabled, else refused before anything is touched), the module keeps nothing and waits,
        within O(wait_timeout), for the operator to roll back (C(ROLLING_BACK), then C(ROLLED_BACK) once the failed
        spec was not ready for its C(kubernetes.operator.deployment.readiness.timeout), 5 minutes unless set) and for
        the old spec's job to run, then fails with RV(rolled_back=true) and RV(restored) naming the operator's
        rollback. The FlinkDeployment keeps the failed spec (the operator runs its last stable one), and the same spec
        again is tried again (a new C(restartNonce)); the stable spec again is an upgrade from the rolled-back job.
        The operator rolls back any spec that is not ready within its readiness timeout, a healthy one that starts
        slowly too; set C(kubernetes.operator.deployment.readiness.timeout) above the time a JobManager and its job
        take to start (the error names it). With O(job.upgrade_mode=savepoint) the operator's rollback is not
        reliable (the job stopped with a savepoint leaves no high-availability metadata, and the operator then rolls
        back only a JobManager it judges never started, which it was seen to misjudge); the module warns, and
        O(job.upgrade_mode=last-state) is the mode to use with it. When
        the operator does not roll back within O(wait_timeout), the run fails with the first failure and a warning.
    type: bool
    default: true
  job:
    description:
      - The application's job. Required unless O(state=absent).
    type: dict
    suboptions:
      jar:
        description:
          - Absolute path of the job jar on the Docker host; mounted read-only into C(/opt/flink/usrlib) of every
            container. Leave it out when the image already has the jar in C(usrlib).
          - When the file is readable where the module runs, its content is hashed (a new build of the same path
            is an upgrade) and O(job.entry_class) is checked to be in it.
        type: str
      entry_class:
        description:
          - The job's main class (C(--job-classname)).
        type: str
        required: true
      args:
        description:
          - Program arguments.
        type: list
        elements: str
        default: []
      artifacts:
        description:
          - More jars the JobManager fetches before the job starts and puts on the job's class path, as URLs
            (C(user.artifacts.artifact-list) of Flink 1.19 and later), with O(platform=kubernetes) only (both modes) -
            C(local:///path/in/the/image.jar), C(https://...), or a file system Flink has a plugin for (C(s3://...)).
            Flink fetches each remote one into C(user.artifacts.base-dir)/<namespace>/<name> of the JobManager pod
            (default C(/opt/flink/artifacts)) under its file name, so those names must differ from each other and
            from O(job.jar)'s; C(local://) ones are used where they are.
          - Plain C(http://) (here and in O(job.jar)) is refused unless O(flink_config) sets
            C(user.artifacts.raw-http-enabled=true), which Flink requires; C(user.artifacts.http-headers) (an
            authorization header, say) belongs in O(flink_config_secrets) (O(mode=native)).
          - A change is an upgrade of the job, following O(job.upgrade_mode). On Docker, Swarm and Compose the option
            is refused; put the jars into C(/opt/flink/usrlib) (in the image with M(flinkops.flink.flink_image), or
            mounted).
        type: list
        elements: str
        default: []
      parallelism:
        description:
          - Job parallelism (C(parallelism.default) of the JobManager).
        type: int
      job_id:
        description:
          - A fixed job id (32 hex digits, C(--job-id)). If not set, one is derived from O(name) and the job's spec,
            new for every deployment of a changed job.
        type: str
      savepoint_path:
        description:
          - Savepoint or retained checkpoint to start from on the first deployment (C(--fromSavepoint)). A
            C(file://) or absolute path is checked to exist as the containers see it, before anything starts.
        type: str
      allow_non_restored_state:
        description:
          - Start even if state in the savepoint maps to no operator (C(--allowNonRestoredState)).
        type: bool
        default: false
      upgrade_mode:
        description:
          - How a change reaches a running job. C(savepoint) stops it with a savepoint and starts the new job from
            it. C(last-state) cancels it and starts from its latest retained checkpoint (needs a checkpoint
            directory in O(flink_config); retention on cancellation is set for you). The checkpoint is read once
            the job stopped and Flink's REST cache of checkpoint statistics expired (a few seconds); without high
            availability (and always with O(platform=kubernetes) O(mode=operator), where the operator picks the
            checkpoint) keep more than one, C(execution.checkpointing.num-retained) of 2 or 3, so that a checkpoint
            read a moment early still exists. C(stateless) starts the new job empty.
        type: str
        default: savepoint
        choices: [savepoint, last-state, stateless]
      savepoint_dir:
        description:
          - Directory for savepoints, as Flink sees it (for example C(file:///savepoints) on a mounted volume). The
            cluster's C(execution.checkpointing.savepoint-dir) if not set.
        type: str
      restore:
        description:
          - C(auto) resumes a suspended application from its savepoint, else starts from O(job.savepoint_path) or
            empty. C(required) fails (before anything starts) when there is no savepoint to start from.
        type: str
        default: auto
        choices: [auto, required]
seealso:
  - module: flinkops.flink.flink_session
  - module: flinkops.flink.flink_image
  - name: Application mode on Docker
    description: The deployment this module automates.
    link: https://nightlies.apache.org/flink/flink-docs-stable/docs/deployment/resource-providers/standalone/docker/
"""

EXAMPLES = r"""
- name: An application cluster running a job from a jar on the Docker host
  flinkops.flink.flink_application:
    name: clicks
    image: flink:2.2.1-java17
    taskmanager: {replicas: 2, slots: 2}
    mounts:
      - {source: /srv/flink/savepoints, target: /savepoints}
    flink_config:
      execution.checkpointing.interval: 10s
      execution.checkpointing.savepoint-dir: file:///savepoints
    job:
      jar: /srv/jobs/clicks-2.3.jar
      entry_class: com.example.Clicks
      args: [--window, 1m]
      parallelism: 4
      upgrade_mode: savepoint
    rest_port: 8082

- name: Suspend it (savepoint, containers removed)
  flinkops.flink.flink_application:
    name: clicks
    image: flink:2.2.1-java17
    state: suspended
    job:
      entry_class: com.example.Clicks

- name: Remove it and its state record
  flinkops.flink.flink_application:
    name: clicks
    state: absent

- name: An application on a Docker Swarm, the job jar baked into the image's usrlib
  flinkops.flink.flink_application:
    name: clicks
    platform: swarm
    docker_host: tcp://swarm-manager-1.example.com:2376
    image: registry.example.com/clicks:2.2.1-java17
    rest_port: 8082
    taskmanager: {replicas: 2, slots: 2, constraints: [node.role==worker]}
    flink_config:
      execution.checkpointing.interval: 10s
      state.savepoints.dir: s3://flink/savepoints
    job:
      entry_class: com.example.Clicks
      upgrade_mode: savepoint

- name: Application through the Flink Kubernetes Operator (FlinkDeployment with a job)
  flinkops.flink.flink_application:
    name: clicks
    platform: kubernetes
    mode: operator
    namespace: flink
    service_account: flink
    image: registry.example.com/clicks:2.2.1-java17
    flink_config:
      execution.checkpointing.interval: 10s
      execution.checkpointing.dir: s3://flink/checkpoints
    job:
      jar: local:///opt/flink/usrlib/clicks.jar
      entry_class: com.example.Clicks
      upgrade_mode: savepoint
      savepoint_dir: s3://flink/savepoints

- name: Native Kubernetes, the job jar and a UDF jar fetched by the JobManager over HTTPS, a credential in a Secret
  flinkops.flink.flink_application:
    name: enrich
    platform: kubernetes
    namespace: flink
    service_account: flink
    flink_home: /opt/flink-2.2.1
    image: flink:2.2.1-java17
    flink_config:
      execution.checkpointing.interval: 10s
      execution.checkpointing.dir: s3://flink/checkpoints
    flink_config_secrets:
      user.artifacts.http-headers: "Authorization:Bearer {{ vault_jar_token }}"
    job:
      jar: https://jars.example.com/enrich-1.4.jar
      artifacts: [https://jars.example.com/udf-geo-2.0.jar]
      entry_class: com.example.Enrich
      savepoint_dir: s3://flink/savepoints

- name: A savepoint of it now (a FlinkStateSnapshot the operator completes), say before a risky change elsewhere
  flinkops.flink.flink_application:
    name: clicks
    platform: kubernetes
    mode: operator
    namespace: flink
    service_account: flink
    image: registry.example.com/clicks:2.2.1-java17
    flink_config:
      execution.checkpointing.interval: 10s
      execution.checkpointing.dir: s3://flink/checkpoints
    job:
      jar: local:///opt/flink/usrlib/clicks.jar
      entry_class: com.example.Clicks
      savepoint_dir: s3://flink/savepoints
    trigger_savepoint: true
  register: snap

- name: Where it went
  ansible.builtin.debug:
    msg: "{{ snap.savepoint }}"

- name: The application as a Docker Compose project; upgrades and suspend/resume as on platform docker
  flinkops.flink.flink_application:
    name: clicks
    platform: compose
    project_dir: /srv/flink/clicks
    image: flink:2.2.1-java17
    rest_port: 8082
    mounts:
      - {type: volume, source: clicks-state, target: /state}
    flink_config:
      execution.checkpointing.interval: 10s
      execution.checkpointing.dir: file:///state/checkpoints
    job:
      jar: /srv/jobs/clicks-1.4.jar
      entry_class: com.example.Clicks
      upgrade_mode: savepoint
      savepoint_dir: file:///state/savepoints
"""

RETURN = r"""
job_id:
  description: Id of the application's job.
  returned: when the application runs
  type: str
  sample: 3c0d1f7e9b2a4c5d8e1f00aa0193f2aa
job_state:
  description: State of the job when the module finished.
  returned: when the application runs
  type: str
  sample: RUNNING
savepoint:
  description: Savepoint the job started from in this run (or, when suspending or with O(trigger_savepoint), the
    savepoint taken).
  returned: when one was used or taken
  type: str
  sample: file:/savepoints/savepoint-3c0d1f-8a1b2c3d4e5f
last_savepoint:
  description: Savepoint taken by this run (an upgrade's).
  returned: when one was taken
  type: str
  sample: file:/savepoints/savepoint-3c0d1f-8a1b2c3d4e5f
rest_url:
  description: URL of the JobManager's REST API and web UI.
  returned: when the application runs
  type: str
  sample: http://127.0.0.1:8082
taskmanagers:
  description: The TaskManagers registered with the JobManager.
  returned: when the application runs
  type: list
  elements: dict
  sample: [{"id": "clicks-taskmanager-1", "slots": 2, "free_slots": 0}]
services:
  description: The cluster's swarm services.
  returned: when state is not absent, on platform swarm
  type: list
  elements: dict
  sample: [{"name": "orders-jobmanager", "id": "0123456789ab", "role": "jobmanager", "replicas": 1,
            "image": "registry.example.com/flink:2.2.1-java17@sha256:..."}]
containers:
  description: The cluster's containers.
  returned: when the application runs
  type: list
  elements: dict
  sample: [{"name": "clicks-jobmanager", "id": "0123456789ab", "role": "jobmanager", "state": "running",
            "image": "flink:2.2.1-java17"}]
operator:
  description:
    - The FlinkDeployment's status as the operator reported it when the module finished (O(mode=operator)).
  returned: with O(mode=operator), when the FlinkDeployment exists
  type: dict
  sample: {"lifecycle_state": "STABLE", "jobmanager_deployment_status": "READY", "job_state": "RUNNING",
           "job_id": "3c0d1f7e9b2a4c5d8e1f00aa0193f2aa", "last_savepoint": "file:/savepoints/savepoint-3c0d1f-8a1b",
           "error": null, "generation": 3, "reconciled_generation": 3}
rolled_back:
  description:
    - V(true) when the upgrade failed and the last stable spec runs again, its job restarted from RV(savepoint)
      (O(rollback)); the run fails, C(msg) says what failed.
  returned: when a rollback happened
  type: bool
  sample: true
restored:
  description: The containers (Docker, Compose), services (Swarm) or Kubernetes objects (native mode) a rollback
    put back on the last stable spec.
  returned: when a rollback happened
  type: list
  elements: str
  sample: [clicks-jobmanager, clicks-taskmanager]
failure:
  description: What made the upgrade fail before the rollback (the first error; C(msg) says it too).
  returned: when a rollback happened
  type: str
  sample: "job: job 3c0d1f7e9b2a4c5d8e1f00aa0193f2aa is FAILED: java.io.IOException: ..."
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
  description: The planned actions (applied unless in check mode), including C(upgrade), C(savepoint) and C(resume).
  returned: always
  type: list
  elements: dict
  sample: [{"action": "upgrade", "target": "job of clicks", "reason": "changed: job (upgrade_mode savepoint)"}]
changes:
  description: The planned actions, one readable line each.
  returned: always
  type: list
  elements: str
  sample: ["recreate clicks-jobmanager (changed: job)"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flinkops.flink.plugins.module_utils.argspec import cluster_argument_spec
from ansible_collections.flinkops.flink.plugins.module_utils.flows.application import run_application
from ansible_collections.flinkops.flink.plugins.module_utils.registry import require_sdk

JOB_OPTIONS = dict(
    jar=dict(type="str"),
    entry_class=dict(type="str", required=True),
    args=dict(type="list", elements="str", default=[]),
    artifacts=dict(type="list", elements="str", default=[]),
    parallelism=dict(type="int"),
    job_id=dict(type="str"),
    savepoint_path=dict(type="str"),
    allow_non_restored_state=dict(type="bool", default=False),
    upgrade_mode=dict(type="str", default="savepoint", choices=["savepoint", "last-state", "stateless"]),
    savepoint_dir=dict(type="str"),
    restore=dict(type="str", default="auto", choices=["auto", "required"]),
)


def main(module_class=AnsibleModule):
    """module_class: AnsibleModule, or the in-process stand-in of the action plugin (plugin_utils/in_process.py)."""
    module = module_class(
        argument_spec=cluster_argument_spec(
            state=dict(type="str", default="running", choices=["running", "suspended", "absent", "rendered"]),
            job=dict(type="dict", options=JOB_OPTIONS),
            trigger_savepoint=dict(type="bool", default=False),
            rollback=dict(type="bool", default=True),
        ),
        required_if=[("state", "running", ("image", "job")), ("state", "suspended", ("image", "job")),
                     ("state", "rendered", ("image", "job"))],
        supports_check_mode=True,
    )
    require_sdk(module, module.params)
    run_application(module)


if __name__ == "__main__":
    main()
