#!/usr/bin/env bash
# Settings of the single-node test cluster. Sourced by cluster.sh and build.sh (after ../lib.sh).
# Versions, addresses, ports and the state directories can be overridden from the environment.
# shellcheck disable=SC2034  # used by the scripts that source this file

# Kubernetes 1.33 runs on cgroup v1 and containerd 1.6 (1.35 refuses cgroup v1 by default).
K8S_VERSION="${K8S_VERSION:-1.33.13}"
# etcd 3.5 (the line Kubernetes 1.33 is tested with) and CoreDNS, built from the Go module proxy.
ETCD_VERSION="${ETCD_VERSION:-3.5.21}"
COREDNS_VERSION="${COREDNS_VERSION:-1.12.4}"

# Where the built binaries live: outside the repository, keyed by version.
K8S_BIN_DIR="$FLINKOPS_CACHE/kubernetes/$K8S_VERSION/bin"
# Runtime state of the cluster (certificates, etcd data, containerd root, logs, pids).
K8S_STATE="${K8S_STATE:-/var/lib/flinkops-k8s}"
K8S_RUN="${K8S_RUN:-/run/flinkops-k8s}"
K8S_LOGS="$K8S_STATE/logs"
K8S_PKI="$K8S_STATE/pki"
K8S_KUBECONFIG="$K8S_STATE/admin.kubeconfig"

# Addresses. All of them exist only on this machine:
# - the node and the API server listen on an interface of our own (a port-less bridge) (not 127.0.0.1: pods reach
#   the API through the `kubernetes` Service, which is DNATed to this address);
# - pods live on a Linux bridge in network namespaces that the CNI plugins create here;
# - Service IPs are virtual (kube-proxy iptables DNAT) and routed to the dummy interface, so a
#   packet to an unused Service IP dies there instead of following the default route.
K8S_IFACE="${K8S_IFACE:-flinkk8s0}"
K8S_NODE_IP="${K8S_NODE_IP:-10.217.0.1}"
K8S_POD_CIDR="${K8S_POD_CIDR:-10.217.64.0/20}"
K8S_SERVICE_CIDR="${K8S_SERVICE_CIDR:-10.217.128.0/20}"
K8S_KUBERNETES_SVC_IP="${K8S_KUBERNETES_SVC_IP:-10.217.128.1}"
K8S_DNS_IP="${K8S_DNS_IP:-10.217.128.10}"
K8S_CLUSTER_DOMAIN="${K8S_CLUSTER_DOMAIN:-cluster.local}"
K8S_BRIDGE="${K8S_BRIDGE:-flinkcni0}"
K8S_API_PORT="${K8S_API_PORT:-6443}"
K8S_API2_PORT="${K8S_API2_PORT:-6444}"  # a second API server, started only by the test that restarts it
K8S_ETCD_CLIENT_PORT="${K8S_ETCD_CLIENT_PORT:-23379}"
K8S_ETCD_PEER_PORT="${K8S_ETCD_PEER_PORT:-23380}"
K8S_NODE_NAME="${K8S_NODE_NAME:-flinkops-node}"

# A containerd of our own (own socket, root and state), apart from the one Docker runs.
K8S_CONTAINERD_SOCK="$K8S_RUN/containerd/containerd.sock"
K8S_PAUSE_IMAGE="${K8S_PAUSE_IMAGE:-registry.k8s.io/pause:3.10}"
K8S_COREDNS_IMAGE="flinkops/coredns:$COREDNS_VERSION"
# A static test program (src/nettool) for the network tests.
# Tagged by its source's hash: a changed program becomes a new image that `up` loads.
K8S_NETTOOL_IMAGE="flinkops/nettool:$(sha256sum "$TESTBED_DIR/kubernetes/src/nettool/main.go" | cut -c1-12)"
K8S_IMAGE_DIR="$FLINKOPS_CACHE/kubernetes/$K8S_VERSION/images"

export K8S_VERSION K8S_BIN_DIR K8S_STATE K8S_KUBECONFIG K8S_NODE_IP K8S_CONTAINERD_SOCK
