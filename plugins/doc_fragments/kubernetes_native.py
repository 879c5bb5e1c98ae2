# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  mode:
    description:
      - How the cluster runs on O(platform=kubernetes). C(native) is Flink's native Kubernetes mode, where Flink's client
        creates the JobManager Deployment, and the JobManager starts TaskManager pods itself when jobs need slots.
      - C(operator) writes the spec as a C(FlinkDeployment) of the Flink Kubernetes Operator (server-side apply;
        check mode is a server-side dry run that the operator's CRD schema validates), and the operator makes the same
        native-mode objects. No Flink client or O(flink_home) is needed. The wait follows the operator's status
        (C(jobManagerDeploymentStatus) READY, C(lifecycleState) STABLE for the applied generation; FAILED or
        ROLLED_BACK at once, a JobManager deployment ERROR after 60 s, a pod whose image cannot be pulled at once).
        O(state=restarted) is the operator's C(restartNonce). What differs from C(native) - O(flink_config_secrets) reach the pods
        through the FlinkDeployment's C(podTemplate) (the same Secret as in native mode), and a new value redeploys; a
        new O(log_level) redeploys (the operator's C(logConfiguration)) instead of changing the running pods'. The
        operator must be installed (role C(flinkops.flink.operator)) and watch O(namespace).
      - With M(flinkops.flink.flink_application) and C(operator), the operator runs upgrades and suspend/resume
        itself; see that module's description.
      - Only with O(platform=kubernetes); defaults to C(native) there.
    type: str
    choices: [native, operator]
  namespace:
    description:
      - The namespace of the cluster (O(platform=kubernetes)). It must exist; the module does not create it
        (see the role C(flinkops.flink.k8s_namespace)). Defaults to C(default).
    type: str
  service_account:
    description:
      - The service account of the JobManager and TaskManager pods (O(platform=kubernetes)). Defaults to C(default).
      - Before a deployment the module asks the API server (SubjectAccessReview) whether it may get, list, watch,
        create and delete pods and get deployments (and, with high availability, work with configmaps), and fails
        naming what is missing.
    type: str
  image_pull_secrets:
    description:
      - Names of Secrets to pull O(image) with (O(platform=kubernetes)).
    type: list
    elements: str
    default: []
  rest_exposure:
    description:
      - How the REST Service C(<name>-rest) is exposed (O(platform=kubernetes)), one of C(ClusterIP) (default, reached
        through the API server's service proxy), C(NodePort), or C(LoadBalancer).
      - C(LoadBalancer) puts the REST API, which runs any code uploaded to it, on the load balancer's address, and
        the module warns about it. Use it only behind a firewall or authentication.
    type: str
  flink_home:
    description:
      - A Flink distribution on the host that runs the module (O(platform=kubernetes)). Its C(bin/kubernetes-session.sh)
        and C(bin/flink) deploy the cluster, so it needs Java. Its major and minor version must match the image's.
      - If not set, the value of E(FLINK_HOME). Required unless O(state=absent).
    type: path
  high_availability:
    description:
      - Kubernetes high availability (O(platform=kubernetes)), with leader election and job metadata in ConfigMaps,
        job data under O(high_availability.storage_dir). Required for O(jobmanager.replicas) above 1.
      - O(state=absent) removes the high-availability ConfigMaps too, so a new cluster with the same name starts
        no old job.
    type: dict
    suboptions:
      enabled:
        description:
          - Enable high availability (C(high-availability.type=kubernetes)).
        type: bool
        default: false
      storage_dir:
        description:
          - C(high-availability.storageDir), a filesystem every JobManager reaches (S3, HDFS, a shared volume).
        type: str
  pod_template:
    description:
      - A pod template for the JobManager and TaskManager pods (O(platform=kubernetes)), as a dict (inline) or the path of
        a YAML file on the host that runs the module. Flink merges it with what it generates; the main container
        is named C(flink-main-container).
    type: raw
  node_selector:
    description:
      - Node selector of the JobManager and TaskManager pods (O(platform=kubernetes)).
    type: dict
    default: {}
  tolerations:
    description:
      - Tolerations of the JobManager and TaskManager pods (O(platform=kubernetes)), each with C(key), C(operator),
        C(value), C(effect) and C(tolerationSeconds) as in Kubernetes.
    type: list
    elements: dict
    default: []
  annotations:
    description:
      - Annotations of the JobManager and TaskManager pods (O(platform=kubernetes)). The prefix C(flinkops.org/) is
        reserved.
    type: dict
    default: {}
  secrets:
    description:
      - Secrets mounted as files into the JobManager and TaskManager pods (O(platform=kubernetes)).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The Secret's name.
        type: str
        required: true
      mount_path:
        description:
          - Absolute path of the directory it is mounted at.
        type: str
        required: true
  env_secrets:
    description:
      - Environment variables of the JobManager and TaskManager pods taken from Secret keys (O(platform=kubernetes)).
    type: list
    elements: dict
    default: []
    suboptions:
      env:
        description:
          - The variable's name.
        type: str
        required: true
      secret:
        description:
          - The Secret's name.
        type: str
        required: true
      key:
        description:
          - The key in the Secret.
        type: str
        required: true
  log_level:
    description:
      - Level of the root logger in the log4j configuration the cluster gets (O(platform=kubernetes)); the
        distribution's C(log4j-console.properties) otherwise.
    type: str
    choices: [TRACE, DEBUG, INFO, WARN, ERROR, 'OFF']
notes:
  - With O(platform=kubernetes) and O(mode=native), O(flink_config_secrets) never reach Flink's ConfigMap
    C(flink-config-<name>) (readable by anyone who may read ConfigMaps); the module keeps them in a Secret
    C(<name>-config-secrets) with a short start script, mounts it into every Flink pod through the pod template,
    and runs the script as C(kubernetes.entry.path); it appends them to a copy of the configuration inside the
    container. The module's user then also needs the right to create, update and delete Secrets. The Secret is
    removed with the cluster. Flink's REST API and web UI show the configuration with keys Flink considers sensitive
    (password, secret, token, ...) masked, as on every platform.
  - With O(platform=kubernetes) and O(mode=native), M(flinkops.flink.flink_session) adopts a session cluster that
    Flink's client started without this collection (C(kubernetes-session.sh -Dkubernetes.cluster-id=<name> ...)) when
    O(name) is its cluster id and every setting the module would give Flink equals the one in its ConfigMap
    C(flink-config-<name>) (Flink's default standing in for a key that was not given). Adopting changes nothing that
    runs - the module only annotates the Deployment with its spec - and reports C(adopt); from then on the cluster is
    managed like one the module created (a later change of the spec redeploys it). When a setting differs the module
    refuses, naming the option and both values, and touches nothing. O(flink_config_secrets) and O(pod_template)
    cannot be compared with a running cluster and are refused for adoption; give them once the cluster is adopted.
requirements:
  - kubernetes (Python SDK) >= 31, with O(platform=kubernetes)
  - A Flink distribution and Java on the host that runs the module, with O(platform=kubernetes)
"""

    # The Kubernetes connection (flinkops.flink.kubernetes_native.connection): modules with a Docker connection too.
    CONNECTION = r"""
options:
  kubeconfig:
    description:
      - Path of the kubeconfig file (O(platform=kubernetes)). If not set, the value of E(K8S_AUTH_KUBECONFIG), then
        E(KUBECONFIG), then C(~/.kube/config); inside a pod without any of these, the pod's service account.
    type: path
  context:
    description:
      - The kubeconfig context. If not set, the value of E(K8S_AUTH_CONTEXT), then the current context.
    type: str
  host:
    description:
      - URL of the Kubernetes API server, overriding the kubeconfig's. If not set, the value of E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token for the API server. If not set, the value of E(K8S_AUTH_API_KEY).
    type: str
  verify_ssl:
    description:
      - Whether to verify the API server's certificate. If not set, the value of E(K8S_AUTH_VERIFY_SSL), then the
        kubeconfig's setting. (M(kubernetes.core.k8s) calls it C(validate_certs), which is the Docker option here.)
    type: bool
  ssl_ca_cert:
    description:
      - CA certificate of the API server. If not set, the value of E(K8S_AUTH_SSL_CA_CERT).
    type: path
  cert_file:
    description:
      - Client certificate for the API server. If not set, the value of E(K8S_AUTH_CERT_FILE).
    type: path
  key_file:
    description:
      - Key of the client certificate. If not set, the value of E(K8S_AUTH_KEY_FILE).
    type: path
  proxy:
    description:
      - HTTP proxy for the API server. If not set, the value of E(K8S_AUTH_PROXY).
    type: str
notes:
  - With O(platform=kubernetes) the Kubernetes connection options follow M(kubernetes.core.k8s) and its
    E(K8S_AUTH_*) variables; its TLS options go by kubernetes.core's aliases (O(verify_ssl), O(ssl_ca_cert),
    O(cert_file), O(key_file)) because the primary names are the Docker connection's.
"""
