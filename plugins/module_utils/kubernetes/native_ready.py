# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""When a native Kubernetes cluster is ready, and when waiting for it cannot help.

Ready: every JobManager pod runs and is ready, Flink's REST API answers through the API server and at least the
kept TaskManagers are registered. Hopeless: a container waits for a reason that does not resolve by waiting (a crash
loop, an image that cannot be pulled, a container that cannot be created); the error quotes the container's last
log lines. An API server that does not answer (it restarts) is waited for until ``wait_timeout``.
"""

from __future__ import annotations

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import (
    ApiException, api_error, api_unreachable, k8s_api_client)
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.options import connection_params
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.proxy_rest import K8sProxyRest
from ansible_collections.flinkops.flink.plugins.module_utils.rest import FlinkRest, RestUnavailable, with_slots
from ansible_collections.flinkops.flink.plugins.module_utils.wait import wait_for

# Reasons a container waits for that do not resolve by waiting.
FATAL_WAITING = ("CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName",
                 "CreateContainerConfigError", "CreateContainerError")


class NativeReadiness(object):
    """The readiness part of platforms/k8s_native.K8sNativeCluster (its core API, namespace, cluster id and native
    spec), and where its REST API answers."""

    def pod_problem(self, pods):
        """A reason that waiting cannot cure, with the container's log tail."""
        for pod in pods:
            for status in (pod.status.container_statuses or []) + (pod.status.init_container_statuses or []):
                waiting = status.state.waiting if status.state else None
                if waiting and waiting.reason in FATAL_WAITING:
                    tail = ""
                    if waiting.reason in ("CrashLoopBackOff",):
                        try:
                            tail = self.core.read_namespaced_pod_log(pod.metadata.name, self.namespace,
                                                                     container=status.name, previous=True,
                                                                     tail_lines=25)
                        except ApiException:
                            tail = ""
                    return "pod %s: container %s is %s: %s%s" % (
                        pod.metadata.name, status.name, waiting.reason, waiting.message or "",
                        ("; its last log lines:\n" + tail) if tail else "")
        return None

    def wait_ready(self, timeout, sleep):
        """REST answers through the API server, every JobManager pod is ready and at least
        taskmanager.replicas TaskManagers are registered."""
        expected_jm = self.native.jm_replicas
        minimum = self.native.tm_min

        def probe():
            try:
                pods = self.seen_in_read("pods")
                if pods is None:
                    pods = self.core.list_namespaced_pod(self.namespace,
                                                         label_selector="app=%s" % self.cluster_id).items
            except Exception as exc:  # pylint: disable=broad-exception-caught
                unreachable = api_unreachable(exc)
                if unreachable:  # an API server that restarts: the wait goes on until wait_timeout
                    return False, {"summary": "the API server is not answering (%s)" % unreachable}
                if isinstance(exc, ApiException):
                    raise BackendError("listing the pods of %s failed: %s" % (self.cluster_id, api_error(exc)))
                raise
            problem = self.pod_problem(pods)
            if problem:
                raise BackendError(problem, hint="Fix the cause; the cluster was left in place for inspection")
            jms = [p for p in pods if (p.metadata.labels or {}).get("component") == "jobmanager"]
            ready = [p for p in jms if p.status.phase == "Running" and all(
                c.ready for c in (p.status.container_statuses or []))]
            state = {"summary": "%d of %d JobManager pod(s) ready" % (len(ready), expected_jm),
                     "pods": sorted("%s %s" % (p.metadata.name, p.status.phase) for p in pods)}
            if len(ready) < expected_jm:
                return False, state
            try:
                rest = self.rest()
                overview = rest.overview()
                tms = rest.taskmanagers()
            except RestUnavailable as exc:
                state["summary"] += ", REST API not answering (%s)" % exc.message
                return False, state
            except BackendError as exc:
                # HTTP 500 while the JobManager is still starting its dispatcher (seen in application mode)
                if (exc.partial or {}).get("status") != 500:
                    raise
                state["summary"] += ", REST API not ready (%s)" % exc.message
                return False, state
            self._seen = (overview, tms)
            ready = len(with_slots(tms))
            state["summary"] += ", %d TaskManager(s) registered with their slots, %d wanted" % (ready, minimum)
            return ready >= minimum, state

        return wait_for(probe, timeout, sleep, "the JobManager's REST API%s" % (
            " and %d TaskManager(s)" % minimum if minimum else ""))

    # Where REST answers -------------------------------------------------------------------------
    def rest(self):
        if self.params.get("rest_url"):
            return FlinkRest(self.params["rest_url"], timeout=10)
        return K8sProxyRest(self.api_client, self.namespace, self.cluster_id + "-rest", timeout=10)

    @classmethod
    def rest_client(cls, params, name):
        """Flink's REST API of native cluster ``name`` (flink_job, flink_info): through the API server's proxy to its
        ``<name>-rest`` Service, whatever its type (ClusterIP included); the kubeconfig is all it needs."""
        return K8sProxyRest(k8s_api_client(connection_params(params)), params.get("namespace") or "default",
                            name + "-rest", timeout=10)

    def rest_url(self, actual=None):
        if self.params.get("rest_url"):
            return self.params["rest_url"]
        service = (actual or {}).get("services", {}).get(self.cluster_id + "-rest") if actual else \
            self._get(self.core.read_namespaced_service, self.cluster_id + "-rest")
        if service is not None and service.spec.type == "NodePort":
            port = service.spec.ports[0].node_port
            host = self.node_address()
            if host and port:
                return "http://%s:%d" % (host, port)
        if service is not None and service.spec.type == "LoadBalancer":
            ingress = (service.status.load_balancer.ingress or []) if service.status.load_balancer else []
            if ingress:
                return "http://%s:%d" % (ingress[0].ip or ingress[0].hostname, service.spec.ports[0].port)
        return "%s/api/v1/namespaces/%s/services/%s-rest:rest/proxy" % (
            self.api_client.host, self.namespace, self.cluster_id)

    def node_address(self):
        try:
            nodes = self.core.list_node().items
        except ApiException:
            return None
        for node in nodes:
            for address in node.status.addresses or []:
                if address.type == "InternalIP":
                    return address.address
        return None
