# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  name:
    description:
      - The cluster id. Containers are named C(<name>-jobmanager) and C(<name>-taskmanager-<i>).
      - A DNS-1123 label of at most 45 characters (Flink's native Kubernetes mode derives longer names from it,
        and one spec serves every platform).
    type: str
    required: true
  platform:
    description:
      - Where the cluster runs. C(docker) runs containers on one Docker host (local or remote O(docker_host)).
      - C(swarm) runs two services on a Docker Swarm, C(<name>-jobmanager) and C(<name>-taskmanager) (with
        O(taskmanager.replicas) tasks), on an overlay network; O(docker_host) is a manager of the swarm. The image is
        pinned to its registry digest, so every node runs the same image; placement with
        O(jobmanager.constraints), O(taskmanager.constraints) and the preferences, O(endpoint_mode) and
        O(publish_mode). The REST API is reached through O(rest_port).
      - C(compose) writes the cluster as a Docker Compose project, C(<project_dir>/compose.yaml) (project name
        O(name); services C(jobmanager) and C(taskmanager) with C(scale) O(taskmanager.replicas), the configuration as
        E(FLINK_PROPERTIES)), and applies it with the real C(docker compose) (the v2 CLI plugin, 2.20 or newer, on the
        host the module runs on; its Docker host is O(docker_host)). Containers are C(<name>-jobmanager-1) and
        C(<name>-taskmanager-<n>); a changed service is recreated by Compose, a changed count adds or removes
        TaskManagers (the highest numbers go first). An unchanged run leaves the file byte for byte and runs no
        C(docker compose). Diff mode shows the file before and after; C(state=rendered) only writes it.
        O(network) is joined as an external network (it must exist); without it Compose makes C(<name>_default).
      - C(kubernetes) runs it in Flink's native Kubernetes mode (O(mode)) in O(namespace), deployed by the Flink
        client of O(flink_home); TaskManager pods are started by the JobManager when jobs need slots.
      - Options that only make sense on one platform are refused on the other, naming the option.
      - A cluster of the same O(name) on another of the platforms C(docker) and C(compose) of the same Docker host is
        refused, naming the way to move it (suspend, remove, deploy on the new platform).
    type: str
    default: docker
    choices: [docker, swarm, compose, kubernetes]
  project_dir:
    description:
      - With O(platform=compose), the directory of the Compose project on the host the module runs on; the module
        writes C(compose.yaml) there (and, with O(flink_config_secrets), C(flink-config-secrets), mode 0600, which
        Compose mounts as a secret). Defaults to C(/var/lib/flinkops/compose/<name>).
      - C(state=absent) removes the files the module wrote and the directory when it is then empty.
      - The image's entrypoint passes E(FLINK_PROPERTIES) (and so O(flink_config_secrets)) through C(envsubst), so
        a C($) in a value is read as a variable there, as with any Compose file that configures the official image.
    type: path
  remove_volumes:
    description:
      - With O(platform=compose) and C(state=absent), also remove the named volumes of O(mounts)
        (C(docker compose down --volumes)). They are kept by default (savepoints and checkpoints often live there).
    type: bool
    default: false
  flink_version:
    description:
      - The Flink version of O(image). It decides the configuration file format (C(config.yaml) from 2.0,
        C(flink-conf.yaml) before) and which configuration keys are valid.
      - Defaults to the version in the image tag (C(flink:2.2.1-java17) is 2.2.1); required when the tag has none.
      - Must agree with the image tag's major and minor version when both are given.
    type: str
  image:
    description:
      - The Flink image; one laid out like the official C(flink) image (C(/opt/flink), its entrypoint's
        C(jobmanager) and C(taskmanager) commands).
      - Required unless O(state=absent).
    type: str
  image_pull:
    description:
      - When to pull O(image). C(missing) pulls only when the Docker host lacks it, C(always) pulls every run
        (a new image id recreates the containers), C(never) fails when the image is missing.
    type: str
    default: missing
    choices: [missing, always, never]
  jobmanager:
    description:
      - JobManager resources.
    type: dict
    default: {}
    suboptions:
      memory:
        description:
          - Total process memory (C(jobmanager.memory.process.size)), in Flink's syntax (C(1600m), C(2g)).
            The container's memory limit is set to the same size. Defaults to C(1600m).
        type: str
      cpu:
        description:
          - CPUs the container may use (Docker C(--cpus)). Unlimited if not set.
          - On Kubernetes, the CPU request (C(kubernetes.jobmanager.cpu.amount); Flink's default 1.0 if not set).
          - On Swarm, the service's CPU limit.
        type: float
      constraints:
        description:
          - Swarm placement constraints of the JobManager service (C(node.labels.flink.role==jobmanager)). Only with
            O(platform=swarm).
        type: list
        elements: str
      preferences:
        description:
          - Swarm placement preferences (spread) of the JobManager service (C(node.labels.zone)). Only with
            O(platform=swarm).
        type: list
        elements: str
      java_opts:
        description:
          - JVM options of the JobManager (C(env.java.opts.jobmanager), after O(java_opts)). Flink adds them to the
            image's C(env.java.opts.all), so the C(--add-opens) options Java 17 needs stay. On every platform.
        type: str
      replicas:
        description:
          - JobManagers, one leader and standbys (C(kubernetes.jobmanager.replicas)). Only with O(platform=kubernetes);
            more than 1 requires O(high_availability). Defaults to 1.
        type: int
  taskmanager:
    description:
      - TaskManager resources and count.
    type: dict
    default: {}
    suboptions:
      memory:
        description:
          - Total process memory of each TaskManager (C(taskmanager.memory.process.size)). Defaults to C(1728m).
        type: str
      cpu:
        description:
          - CPUs each TaskManager container may use. Unlimited if not set.
        type: float
      constraints:
        description:
          - Swarm placement constraints of the TaskManager service. Only with O(platform=swarm).
        type: list
        elements: str
      preferences:
        description:
          - Swarm placement preferences (spread) of the TaskManager service, for example C(node.hostname) to put
            TaskManagers on different hosts. Only with O(platform=swarm).
        type: list
        elements: str
      replicas:
        description:
          - How many TaskManagers. Changing it adds or removes TaskManagers without restarting the JobManager.
            Defaults to 1. An exact count on Docker and Swarm (the TaskManager service's replicas).
          - On Kubernetes (native mode) TaskManagers are started on demand; this is the number kept even without
            jobs (C(slotmanager.number-of-slots.min)), default 0.
        type: int
      slots:
        description:
          - Task slots per TaskManager (C(taskmanager.numberOfTaskSlots)); at least 1. Defaults to 1.
        type: int
      java_opts:
        description:
          - JVM options of each TaskManager (C(env.java.opts.taskmanager), after O(java_opts)), added to the image's
            C(env.java.opts.all) as for the JobManager. On every platform.
        type: str
  java_opts:
    description:
      - JVM options of every Flink process of the cluster, for example C(-XX:+UseG1GC -Dfile.encoding=UTF-8). Written
        before each role's own O(jobmanager.java_opts) / O(taskmanager.java_opts) into C(env.java.opts.jobmanager) and
        C(env.java.opts.taskmanager), which Flink's start scripts (and its native Kubernetes mode) add to the image's
        C(env.java.opts.all) instead of replacing it; that key holds the C(--add-opens) and C(--add-exports) options
        Flink needs on Java 17. Setting C(env.java.opts.all) in O(flink_config) replaces them and gets a warning.
      - Setting these keys in O(flink_config) as well is refused, naming the option to use.
    type: str
  entrypoint:
    description:
      - Replaces the image's entrypoint (the official image's C(/docker-entrypoint.sh)), as C(docker run --entrypoint)
        does, for a custom entrypoint script of your own image. It receives the command the module chooses as
        arguments (C(jobmanager), C(taskmanager), C(standalone-job ...), or Flink's start script such as
        C(/opt/flink/bin/jobmanager.sh start-foreground) on platform C(docker)) and should end with
        C(exec /docker-entrypoint.sh "$@") to keep what the image's entrypoint does (configuration from
        E(FLINK_PROPERTIES), plugins, jemalloc, dropping to user flink).
      - Platforms C(docker), C(compose) and C(swarm) take a list (the first element is the executable). Native
        Kubernetes and the Flink Kubernetes Operator take one absolute path in the image, as Flink's
        C(kubernetes.entry.path) (then set by the module and refused in O(flink_config)); Flink calls it with
        C(bash -c "<Flink's start command>").
      - Unset keeps the image's entrypoint. With O(conf_dir) or O(flink_config_secrets) the module runs a short
        C(bash) step first (copying the configuration directory, reading the secrets file; on native Kubernetes the
        start script of the cluster's config Secret) and then execs this command instead of the image's.
    type: list
    elements: str
  jemalloc:
    description:
      - Whether Flink's JVMs run with jemalloc as their memory allocator, which the official C(flink) image's
        entrypoint preloads by default (it keeps native memory fragmentation, and so the container's footprint, lower
        than glibc's malloc). V(false) sets E(DISABLE_JEMALLOC=true) in every Flink container, the image's own switch,
        for images or workloads where jemalloc misbehaves. Unset or V(true) leaves the image's default (on).
      - On every platform; with the Flink Kubernetes Operator and native Kubernetes as the pods' environment
        (C(containerized.master.env.*) and C(containerized.taskmanager.env.*)). Images whose entrypoint is not the
        official one may ignore the variable.
      - E(DISABLE_JEMALLOC) in O(env) is refused; use this option.
    type: bool
  flink_config:
    description:
      - Flink configuration, as flat keys (C(execution.checkpointing.interval)). Rendered into the configuration
        file of the Flink version (C(config.yaml) for 2.x, C(flink-conf.yaml) for 1.x); lists and maps are written
        the way each format expects.
      - Keys that Flink 2.x removed are refused for Flink 2.x with the key that replaces them.
      - Keys the module manages (memory, slots, addresses) are refused with the option to use instead.
      - Flink's port keys (C(rest.port), C(rest.bind-port), C(jobmanager.rpc.port), C(blob.server.port),
        C(taskmanager.rpc.port), C(taskmanager.data.port), C(metrics.internal.query-service.port)) are parsed as
        Flink parses them (a number, or for some a range C(50100-50200) or a list); two ports of one process
        (JobManager or TaskManager) set to the same fixed number, explicitly or against Flink's default, are
        refused before anything is touched.
      - On platform C(docker), containers start with C(cluster.registration.error-delay=1000) (milliseconds; Flink's
        default is 10 s) so that a TaskManager started before the JobManager retries soon. Set the key here to
        change it; the default itself is not part of the desired state (changing it recreates nothing).
    type: dict
    default: {}
  flink_config_secrets:
    description:
      - Configuration whose values are secret (credentials). Merged into the configuration like O(flink_config),
        but never logged and masked in diff and return values. They never reach a container label, an environment
        variable that C(docker inspect) shows, a Kubernetes ConfigMap or a FlinkDeployment; a file mounted from a
        Docker, Compose or swarm secret, or from a Kubernetes Secret C(<name>-config-secrets) (both Kubernetes
        modes), is read inside the container. On Kubernetes a salted, deliberately slow digest of them (PBKDF2) is
        part of the cluster's spec hash (and, with O(mode=operator), of the pods' template), so that new values
        redeploy the pods.
    type: dict
    default: {}
  env:
    description:
      - Environment variables of every container.
    type: dict
    default: {}
  mounts:
    description:
      - Extra mounts of every container.
    type: list
    elements: dict
    default: []
    suboptions:
      source:
        description:
          - Path on the Docker host (C(bind)) or volume name (C(volume)). Not used for C(tmpfs).
          - A C(bind) source must be an absolute path and a C(volume) source a valid volume name; each target may
            appear once. Both are refused before anything is touched.
        type: str
      target:
        description:
          - Absolute path in the container.
        type: str
        required: true
      type:
        description:
          - The mount type.
        type: str
        default: bind
        choices: [bind, volume, tmpfs]
      read_only:
        description:
          - Mount read-only.
        type: bool
        default: false
  conf_dir:
    description:
      - A configuration directory on the Docker host, mounted read-only at C(/opt/flink/conf) instead of the
        rendered configuration file (for example to bring your own C(log4j-console.properties)).
      - The module's settings and O(flink_config) then reach Flink through E(FLINK_PROPERTIES), which the
        image's entrypoint merges; values that cannot be passed that way safely are refused.
    type: str
  plugins:
    description:
      - Built-in plugins to enable, by jar name with or without version (C(flink-s3-fs-hadoop)), from the
        image's C(/opt/flink/opt) directory (the official E(ENABLE_BUILT_IN_PLUGINS) mechanism).
      - Checked against the image before any container is created.
    type: list
    elements: str
    default: []
  rest_port:
    description:
      - Publish the REST API and web UI on this port of the Docker host. Not published if not set; the module
        then reaches the JobManager on its container address, which only works on the Docker host itself.
      - On Swarm, the JobManager service's published port (O(publish_mode)); required with O(wait=true) unless
        O(rest_url) is given, because the module reaches the REST API only through it.
    type: int
  endpoint_mode:
    description:
      - Swarm endpoint mode of the services. C(vip) (the default) needs IPVS in the nodes' kernels; C(dnsrr) works
        without it and publishes ports in host mode only. Only with O(platform=swarm).
    type: str
    choices: [vip, dnsrr]
  publish_mode:
    description:
      - How the swarm publishes O(rest_port). C(ingress) on every node (routing mesh); C(host) only on the node
        that runs the JobManager (the module finds that node). Defaults to C(host) with O(endpoint_mode=dnsrr),
        else C(ingress). Only with O(platform=swarm).
    type: str
    choices: [ingress, host]
  rest_bind_address:
    description:
      - Host address the published REST port binds to. The REST API runs code that is uploaded to it, so bind it to a
        public address only behind authentication.
    type: str
    default: 127.0.0.1
  rest_url:
    description:
      - URL the module uses to reach the REST API (for example through a proxy). Derived from O(rest_port) or
        the container address if not set.
    type: str
  network:
    description:
      - The user-defined Docker network of the cluster. Created (bridge driver) when missing, and removed with
        the cluster only if the module created it. Defaults to C(flink-<name>).
      - On Swarm an attachable overlay network, created and removed the same way.
      - On Compose an existing network the project joins as external (never created or removed); without it Compose
        makes the project's own C(<name>_default).
    type: str
  labels:
    description:
      - Labels for the containers. The prefix C(org.flinkops.) is reserved.
    type: dict
    default: {}
  restart_policy:
    description:
      - Docker restart policy of the containers. On Swarm the services' restart condition (C(no) is C(none),
        C(always) and C(unless-stopped) are C(any)).
    type: str
    default: unless-stopped
    choices: ['no', on-failure, always, unless-stopped]
  disrupt_running_jobs:
    description:
      - A spec change recreates containers. While jobs run on the cluster the module refuses such a change
        (nothing is touched) unless this is V(true), because the jobs would restart or fail.
      - Stop jobs with a savepoint first (M(flinkops.flink.flink_job) O(ignore:state=suspended)) to keep their state.
    type: bool
    default: false
"""
