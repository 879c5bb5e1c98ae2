#!/usr/bin/env bash
# A real single-node Kubernetes cluster for the tests, built from packages (see
# docs/testbed-kubernetes.md):
#
#   testbed/kubernetes/cluster.sh build         build the binaries once (cached by version)
#   testbed/kubernetes/cluster.sh up            start the cluster (builds first if needed);
#                                               idempotent: returns at once when it is up
#   testbed/kubernetes/cluster.sh down          stop every process, remove pods, mounts, interfaces
#                                               and iptables rules; the cluster's objects are gone
#                                               (etcd data is wiped), certificates and images stay
#   testbed/kubernetes/cluster.sh status        say what runs (exit 0 when the cluster is up, 3 if not)
#   testbed/kubernetes/cluster.sh env           print `export KUBECONFIG=... PATH=...` for `eval`
#   testbed/kubernetes/cluster.sh load-images [IMAGE...]
#                                               copy images from Docker into the cluster's containerd
#                                               (default: our Flink images, if Docker has them)
#   testbed/kubernetes/cluster.sh purge         down, then remove all state (certificates, images)
#
# Components: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy
# (iptables mode), containerd (Debian's, a separate instance from Docker's), CNI bridge +
# host-local + portmap (Debian's containernetworking-plugins), CoreDNS as a Deployment.
# All of them are host processes started here; logs in $K8S_STATE/logs.
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
K8S_DIR="$TESTBED_DIR/kubernetes"
# shellcheck source=env.sh
source "$K8S_DIR/env.sh"

# kubelet, kube-proxy and containerd's shims call mount, iptables and runc (in /usr/sbin on Debian).
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
PIDS="$K8S_RUN/pids"
KUBECTL=("$K8S_BIN_DIR/kubectl" --kubeconfig "$K8S_KUBECONFIG")
CTR=(ctr --address "$K8S_CONTAINERD_SOCK" -n k8s.io)
K8S_WAIT="${K8S_WAIT:-120}"
COMPONENTS="containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy"
FWD_CHAIN="FLINKOPS-K8S-FWD"

# ---------------------------------------------------------------------------------------------
# processes

pid_of() {
  # PID of a component that this script started, if it still runs that binary.
  local f="$PIDS/$1.pid" pid exe
  [ -f "$f" ] || return 1
  read -r pid exe <"$f" || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] || return 1
  printf '%s\n' "$pid"
}

start_daemon() {
  local name="$1" bin="$2"
  shift 2
  mkdir -p "$PIDS" "$K8S_LOGS"
  # setsid + nohup: the daemon survives the calling shell and its process group.
  setsid nohup "$bin" "$@" >>"$K8S_LOGS/$name.log" 2>&1 </dev/null 9>&- &
  echo "$! $(readlink -f "$bin")" >"$PIDS/$name.pid"
}

alive() {
  # A process that exited but is not reaped yet (a zombie; PID 1 here reaps late) counts as gone.
  local state
  state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

stop_daemon() {
  local name="$1" wait="${2:-20}" pid i
  if pid="$(pid_of "$name")"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < wait * 10; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      log "$name ($pid) did not stop within ${wait}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  rm -f "$PIDS/$name.pid"
}

wait_for() {
  # wait_for WHAT SECONDS COMMAND...: retry COMMAND until it succeeds.
  local what="$1" secs="$2" t0=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - t0 < secs)) || return 1
    sleep 0.5
  done
  log "$what after $((SECONDS - t0))s"
}

# ---------------------------------------------------------------------------------------------
# certificates and kubeconfigs (generated once; regenerated when the addresses change)

gen_cert() {
  # gen_cert NAME SUBJECT EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]
  local name="$1" subj="$2" eku="$3" san="${4:-}"
  openssl req -new -nodes -newkey rsa:2048 -keyout "$K8S_PKI/$name.key" -out "$K8S_PKI/$name.csr" \
    -subj "$subj" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } >"$K8S_PKI/$name.ext"
  openssl x509 -req -in "$K8S_PKI/$name.csr" -CA "$K8S_PKI/ca.crt" -CAkey "$K8S_PKI/ca.key" \
    -CAcreateserial -days 3650 -sha256 -extfile "$K8S_PKI/$name.ext" -out "$K8S_PKI/$name.crt" 2>/dev/null
  rm -f "$K8S_PKI/$name.csr" "$K8S_PKI/$name.ext"
}

write_kubeconfig() {
  # write_kubeconfig FILE CERT_NAME USER
  local file="$1" cert="$2" user="$3"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: flinkops
  cluster:
    server: https://$K8S_NODE_IP:$K8S_API_PORT
    certificate-authority-data: $(base64 -w0 <"$K8S_PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 <"$K8S_PKI/$cert.crt")
    client-key-data: $(base64 -w0 <"$K8S_PKI/$cert.key")
contexts:
- name: flinkops
  context:
    cluster: flinkops
    user: $user
current-context: flinkops
EOF
  chmod 600 "$file"
}

ensure_pki() {
  local params="$K8S_NODE_IP $K8S_KUBERNETES_SVC_IP $K8S_NODE_NAME $K8S_API_PORT $K8S_CLUSTER_DOMAIN"
  if [ -f "$K8S_PKI/params" ] && [ "$(cat "$K8S_PKI/params")" = "$params" ] && [ -f "$K8S_KUBECONFIG" ]; then
    return 0
  fi
  log "generating certificates, service-account key and kubeconfigs in $K8S_PKI"
  rm -rf "$K8S_PKI"
  mkdir -p "$K8S_PKI"
  chmod 700 "$K8S_PKI"
  openssl req -x509 -new -nodes -newkey rsa:2048 -keyout "$K8S_PKI/ca.key" -out "$K8S_PKI/ca.crt" \
    -days 3650 -sha256 -subj "/CN=flinkops-test-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
  local d="$K8S_CLUSTER_DOMAIN"
  gen_cert apiserver "/CN=kube-apiserver" serverAuth \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$d,DNS:localhost,IP:$K8S_NODE_IP,IP:$K8S_KUBERNETES_SVC_IP,IP:127.0.0.1"
  gen_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  gen_cert admin "/O=system:masters/CN=flinkops-admin" clientAuth
  gen_cert kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
  gen_cert kube-scheduler "/CN=system:kube-scheduler" clientAuth
  gen_cert kube-proxy "/CN=system:kube-proxy" clientAuth
  gen_cert kubelet-client "/O=system:nodes/CN=system:node:$K8S_NODE_NAME" clientAuth
  gen_cert kubelet-server "/CN=$K8S_NODE_NAME" serverAuth "DNS:$K8S_NODE_NAME,IP:$K8S_NODE_IP"
  openssl genrsa -out "$K8S_PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$K8S_PKI/sa.key" -pubout -out "$K8S_PKI/sa.pub" 2>/dev/null
  write_kubeconfig "$K8S_KUBECONFIG" admin flinkops-admin
  write_kubeconfig "$K8S_STATE/kube-controller-manager.kubeconfig" kube-controller-manager system:kube-controller-manager
  write_kubeconfig "$K8S_STATE/kube-scheduler.kubeconfig" kube-scheduler system:kube-scheduler
  write_kubeconfig "$K8S_STATE/kube-proxy.kubeconfig" kube-proxy system:kube-proxy
  write_kubeconfig "$K8S_STATE/kubelet.kubeconfig" kubelet-client "system:node:$K8S_NODE_NAME"
  echo "$params" >"$K8S_PKI/params"
}

# ---------------------------------------------------------------------------------------------
# configuration files

write_configs() {
  mkdir -p "$K8S_STATE/cni/net.d" "$K8S_STATE/cni/ipam" "$K8S_RUN/containerd"
  # A resolv.conf of our own for kubelet: pods with dnsPolicy Default (CoreDNS) get it instead of
  # the host's, so nothing in the cluster is pointed at a resolver outside this machine.
  echo "nameserver $K8S_DNS_IP" >"$K8S_STATE/resolv.conf"
  cat >"$K8S_STATE/containerd.toml" <<EOF
version = 2
root = "$K8S_STATE/containerd"
state = "$K8S_RUN/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$K8S_CONTAINERD_SOCK"
[ttrpc]
  address = "$K8S_CONTAINERD_SOCK.ttrpc"
[debug]
  address = "$K8S_RUN/containerd/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$K8S_STATE/containerd-opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$K8S_PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  disable_apparmor = true
  # This machine's root has no CAP_SYS_RESOURCE (not in the bounding set), so the negative OOM score
  # kubelet asks for (-998 for every pod sandbox) cannot be set and runc fails ("can't get final
  # child's PID from pipe"). Clamp to containerd's own score, as for rootless setups.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$K8S_STATE/cni/net.d"
    max_conf_num = 1
EOF
  cat >"$K8S_STATE/cni/net.d/10-flinkops.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "flinkops",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$K8S_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$K8S_STATE/cni/ipam",
        "ranges": [[{"subnet": "$K8S_POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  cat >"$K8S_STATE/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $K8S_NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $K8S_PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $K8S_PKI/kubelet-server.crt
tlsPrivateKeyFile: $K8S_PKI/kubelet-server.key
containerRuntimeEndpoint: unix://$K8S_CONTAINERD_SOCK
cgroupDriver: cgroupfs
clusterDNS: [$K8S_DNS_IP]
clusterDomain: $K8S_CLUSTER_DOMAIN
resolvConf: $K8S_STATE/resolv.conf
podLogsDir: $K8S_STATE/pod-logs
failSwapOn: false
oomScoreAdj: 0
# Nothing can be pulled here: never garbage-collect images, and do not evict for disk use that
# other work on the machine causes.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
evictionPressureTransitionPeriod: 10s
nodeStatusReportFrequency: 10s
syncFrequency: 10s
fileCheckFrequency: 10s
shutdownGracePeriod: 0s
EOF
  cat >"$K8S_STATE/kube-proxy-config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
bindAddress: $K8S_NODE_IP
hostnameOverride: $K8S_NODE_NAME
clusterCIDR: $K8S_POD_CIDR
clientConnection: {kubeconfig: $K8S_STATE/kube-proxy.kubeconfig}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [$K8S_NODE_IP/32]
conntrack: {maxPerCore: 0}
oomScoreAdj: 0
iptables: {localhostNodePorts: false}
EOF
}

# ---------------------------------------------------------------------------------------------
# host network: an interface of our own with the node address, routes that keep every cluster address
# on this machine, and FORWARD rules for the pod bridge (Docker sets the FORWARD policy to DROP)

net_up() {
  sysctl -qw net.ipv4.ip_forward=1
  if [ ! -d /proc/sys/net/bridge ]; then modprobe br_netfilter 2>/dev/null || true; fi
  sysctl -qw net.bridge.bridge-nf-call-iptables=1
  # The node address lives on a Linux bridge without ports: it behaves like a dummy interface
  # (local address; what is routed to it goes nowhere), and this kernel has no `dummy` driver.
  ip link show "$K8S_IFACE" >/dev/null 2>&1 || ip link add "$K8S_IFACE" type bridge
  ip addr replace "$K8S_NODE_IP/32" dev "$K8S_IFACE"
  ip link set "$K8S_IFACE" up
  # Service IPs are DNATed by kube-proxy; routed to the dummy device, an unanswered one dies here.
  ip route replace "$K8S_SERVICE_CIDR" dev "$K8S_IFACE" src "$K8S_NODE_IP"
  # Anything else in the cluster's /16 that no more specific route covers is unreachable
  # rather than sent to the default gateway.
  ip route replace unreachable "${K8S_NODE_IP%.*.*}.0.0/16"
  iptables -N "$FWD_CHAIN" 2>/dev/null || iptables -F "$FWD_CHAIN"
  # Pod <-> pod (and pod <-> Service backed by a pod) on the bridge: allowed.
  iptables -A "$FWD_CHAIN" -i "$K8S_BRIDGE" -o "$K8S_BRIDGE" -j ACCEPT
  # Pods never reach past this machine, and nothing outside is forwarded into the pod bridge.
  iptables -A "$FWD_CHAIN" -i "$K8S_BRIDGE" -j REJECT
  iptables -A "$FWD_CHAIN" -o "$K8S_BRIDGE" -j REJECT
  iptables -C FORWARD -j "$FWD_CHAIN" 2>/dev/null || iptables -I FORWARD 1 -j "$FWD_CHAIN"
}

iptables_kube_cleanup() {
  # What `kube-proxy --cleanup` leaves: kubelet's KUBE-FIREWALL and canary chains. Only Kubernetes
  # makes KUBE-* chains; on this machine that is this cluster.
  local ipt t rule c
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for t in filter nat mangle; do
      "$ipt" -t "$t" -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j KUBE-' | grep -vE '^-A KUBE-' |
        while read -r rule; do eval "$ipt -t $t ${rule/#-A/-D}" 2>/dev/null || true; done || true
      for c in $("$ipt" -t "$t" -S 2>/dev/null | awk '/^-N KUBE-/ {print $2}'); do "$ipt" -t "$t" -F "$c"; done
      for c in $("$ipt" -t "$t" -S 2>/dev/null | awk '/^-N KUBE-/ {print $2}'); do "$ipt" -t "$t" -X "$c" 2>/dev/null || true; done
    done
  done
}

net_down() {
  while iptables -D FORWARD -j "$FWD_CHAIN" 2>/dev/null; do :; done
  iptables -F "$FWD_CHAIN" 2>/dev/null || true
  iptables -X "$FWD_CHAIN" 2>/dev/null || true
  ip route del unreachable "${K8S_NODE_IP%.*.*}.0.0/16" 2>/dev/null || true
  ip link del "$K8S_BRIDGE" 2>/dev/null || true
  ip link del "$K8S_IFACE" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# images

ctr_has() { "${CTR[@]}" images ls -q "name==$1" 2>/dev/null | grep -q .; }

full_ref() {
  # docker.io/library/... normalisation, as containerd stores names.
  local r="$1" first="${1%%/*}"
  if [[ "$r" != */* ]]; then r="docker.io/library/$r"
  elif [[ "$first" != *.* && "$first" != *:* && "$first" != localhost ]]; then r="docker.io/$r"; fi
  printf '%s\n' "$r"
}

load_builtin_images() {
  local t
  for t in pause:"$K8S_PAUSE_IMAGE" coredns:"$K8S_COREDNS_IMAGE" nettool:"$K8S_NETTOOL_IMAGE"; do
    local file="${t%%:*}" ref="${t#*:}"
    if ! ctr_has "$(full_ref "$ref")"; then
      "${CTR[@]}" images import "$K8S_IMAGE_DIR/$file.tar" >/dev/null ||
        die "importing $K8S_IMAGE_DIR/$file.tar into containerd failed"
      log "imported $ref"
    fi
  done
}

load_docker_image() {
  # Copy IMAGE from Docker into our containerd unless the same image (by Docker's image ID) is there.
  local img="$1" id marker
  id="$(timeout 20 docker image inspect -f '{{.Id}}' "$img" 2>/dev/null)" || return 1
  marker="$K8S_STATE/images/$(printf '%s' "$img" | tr '/:' '__').id"
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$id" ] && ctr_has "$(full_ref "$img")"; then
    return 0
  fi
  local t0=$SECONDS
  mkdir -p "$K8S_STATE/images"
  docker save "$img" | "${CTR[@]}" images import - >/dev/null || die "importing $img into containerd failed"
  echo "$id" >"$marker"
  log "imported $img from Docker ($((SECONDS - t0))s)"
}

# shellcheck disable=SC2120  # `load-images IMAGE...` passes arguments
cmd_load_images() {
  pid_of containerd >/dev/null || die "the cluster's containerd does not run: cluster.sh up first"
  local imgs=("$@") v
  if [ ${#imgs[@]} -eq 0 ]; then
    command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1 || {
      log "Docker does not answer: no Flink images loaded"
      return 0
    }
    for v in $FLINKOPS_FLINK_VERSIONS; do
      load_docker_image "$(flink_image "$v")" || log "Docker has no $(flink_image "$v") (testbed/docker/images.sh builds it)"
    done
  else
    for v in "${imgs[@]}"; do load_docker_image "$v" || die "Docker has no image $v"; done
  fi
}

# ---------------------------------------------------------------------------------------------
# up / down / status

api_ready() {
  curl -sf --max-time 3 --cacert "$K8S_PKI/ca.crt" "https://$K8S_NODE_IP:$K8S_API_PORT/readyz" >/dev/null
}

node_ready() {
  [ "$("${KUBECTL[@]}" get node "$K8S_NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

all_running() {
  local c
  for c in $COMPONENTS; do pid_of "$c" >/dev/null || return 1; done
}

cluster_up() { all_running && api_ready && node_ready; }

start_apiserver() {
  # start_apiserver NAME PORT [FLAG...]: a kube-apiserver on the cluster's etcd, serving PORT.
  local name="$1" port="$2" B="$K8S_BIN_DIR" P="$K8S_PKI"
  shift 2
  start_daemon "$name" "$B/kube-apiserver" \
    --advertise-address="$K8S_NODE_IP" --bind-address="$K8S_NODE_IP" --secure-port="$port" \
    --etcd-servers="http://127.0.0.1:$K8S_ETCD_CLIENT_PORT" \
    --service-cluster-ip-range="$K8S_SERVICE_CIDR" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --client-ca-file="$P/ca.crt" --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" \
    --kubelet-client-certificate="$P/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$P/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$P/ca.crt" --kubelet-preferred-address-types=InternalIP \
    --service-account-issuer="https://kubernetes.default.svc.$K8S_CLUSTER_DOMAIN" \
    --service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
    --allow-privileged=true --profiling=false --event-ttl=1h "$@"
}

start_all() {
  local B="$K8S_BIN_DIR" P="$K8S_PKI"
  start_daemon containerd "$(command -v containerd)" --config "$K8S_STATE/containerd.toml"
  start_daemon etcd "$B/etcd" --name flinkops --data-dir "$K8S_STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$K8S_ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$K8S_ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
    --initial-cluster "flinkops=http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
    --unsafe-no-fsync --log-level warn
  wait_for "etcd healthy" 30 curl -sf --max-time 2 "http://127.0.0.1:$K8S_ETCD_CLIENT_PORT/health" ||
    die "etcd did not become healthy; see $K8S_LOGS/etcd.log"
  start_apiserver kube-apiserver "$K8S_API_PORT"
  # Images while the API server starts: kubelet needs the pause image before its first pod.
  wait_for "containerd answers" 30 "${CTR[@]}" version || die "containerd did not start; see $K8S_LOGS/containerd.log"
  load_builtin_images
  wait_for "kube-apiserver ready" "$K8S_WAIT" api_ready || die "kube-apiserver not ready; see $K8S_LOGS/kube-apiserver.log"
  start_daemon kube-controller-manager "$B/kube-controller-manager" \
    --kubeconfig="$K8S_STATE/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig="$K8S_STATE/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig="$K8S_STATE/kube-controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
    --cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" \
    --service-cluster-ip-range="$K8S_SERVICE_CIDR" --cluster-name=flinkops --profiling=false
  start_daemon kube-scheduler "$B/kube-scheduler" \
    --kubeconfig="$K8S_STATE/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="$K8S_STATE/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="$K8S_STATE/kube-scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --profiling=false
  start_daemon kubelet "$B/kubelet" --config="$K8S_STATE/kubelet-config.yaml" \
    --kubeconfig="$K8S_STATE/kubelet.kubeconfig" --root-dir="$K8S_STATE/kubelet" \
    --node-ip="$K8S_NODE_IP" --hostname-override="$K8S_NODE_NAME"
  start_daemon kube-proxy "$B/kube-proxy" --config="$K8S_STATE/kube-proxy-config.yaml"
}

apply_addons() {
  sed -e "s#@DNS_IP@#$K8S_DNS_IP#g" -e "s#@CLUSTER_DOMAIN@#$K8S_CLUSTER_DOMAIN#g" \
    -e "s#@COREDNS_IMAGE@#$K8S_COREDNS_IMAGE#g" "$K8S_DIR/addons/coredns.yaml" |
    "${KUBECTL[@]}" apply -f - >/dev/null
}

cmd_up() {
  local t0=$SECONDS
  # All processes run but the API is slow to answer (a busy machine): give it time before
  # deciding that the cluster is broken and starting it afresh.
  if all_running && ! cluster_up; then
    wait_for "running cluster answers" 30 cluster_up || log "the running cluster does not answer: restarting it"
  fi
  if cluster_up; then
    log "cluster already up (kubeconfig: $K8S_KUBECONFIG)"
    bash "$K8S_DIR/build.sh"
    load_builtin_images
    cmd_load_images
    return 0
  fi
  # Builds what is missing (a cold build takes many minutes; when all is cached, well under a second).
  bash "$K8S_DIR/build.sh"
  apt_install containerd runc containernetworking-plugins iptables conntrack openssl curl
  # Whatever an earlier run left (half-started, crashed, machine restarted without `down`) goes
  # first, so that every start is a fresh cluster. Takes well under a second when nothing is left.
  cmd_down
  t0=$SECONDS
  # Logs of the previous run stay for one more run.
  if [ -d "$K8S_LOGS" ]; then rm -rf "$K8S_LOGS.previous"; mv "$K8S_LOGS" "$K8S_LOGS.previous"; fi
  mkdir -p "$K8S_STATE" "$K8S_LOGS" "$K8S_RUN"
  ensure_pki
  write_configs
  net_up
  start_all
  apply_addons
  wait_for "node $K8S_NODE_NAME Ready" "$K8S_WAIT" node_ready || die "node not Ready; see $K8S_LOGS/kubelet.log"
  "${KUBECTL[@]}" -n kube-system rollout status deployment/coredns --timeout="${K8S_WAIT}s" >/dev/null ||
    die "CoreDNS did not become ready"
  log "CoreDNS available after $((SECONDS - t0))s"
  # The default ServiceAccount appears once the controller-manager runs; pods need it.
  wait_for "default service account" "$K8S_WAIT" "${KUBECTL[@]}" -n default get serviceaccount default ||
    die "no default service account; see $K8S_LOGS/kube-controller-manager.log"
  log "cluster up in $((SECONDS - t0))s: export KUBECONFIG=$K8S_KUBECONFIG"
  cmd_load_images
}

unmount_under() {
  local dir="$1" m
  [ -d "$dir" ] || return 0
  # Deepest first.
  local mounts
  # The directory itself too: kubelet bind-mounts its root directory onto itself (rshared).
  mounts="$(findmnt -rn -o TARGET | awk -v d="$dir" '$0 == d || index($0, d "/") == 1' | sort -r)"
  [ -n "$mounts" ] || return 0
  while read -r m; do
    m="$(printf '%b' "$m")"
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
  done <<<"$mounts"
}

cmd_down() {
  local t0=$SECONDS
  # kubelet first, so that it does not restart what the next steps remove.
  stop_daemon kubelet 20
  stop_daemon kube-proxy 10
  stop_daemon kube-scheduler 10
  stop_daemon kube-controller-manager 10
  if pid_of containerd >/dev/null && [ -x "$K8S_BIN_DIR/cri-clean" ]; then
    "$K8S_BIN_DIR/cri-clean" "$K8S_CONTAINERD_SOCK" >/dev/null || log "cri-clean reported errors"
  fi
  stop_daemon containerd 20
  # Shims of our containerd (their -address is our socket) that outlived it: end them by PID.
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $K8S_CONTAINERD_SOCK" || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  stop_daemon kube-apiserver-2 20
  stop_daemon kube-apiserver 20
  stop_daemon etcd 20
  if [ -x "$K8S_BIN_DIR/kube-proxy" ]; then
    "$K8S_BIN_DIR/kube-proxy" --cleanup >/dev/null 2>&1 || true
  fi
  unmount_under "$K8S_STATE/kubelet"
  unmount_under "$K8S_RUN"
  unmount_under "$K8S_STATE/containerd"
  iptables_kube_cleanup
  net_down
  # The cluster's objects and pods go; certificates, kubeconfigs and imported images stay.
  # kubelet's compatibility symlinks for log collectors point into our pod-logs.
  find /var/log/containers -maxdepth 1 -lname "$K8S_STATE/pod-logs/*" -delete 2>/dev/null || true
  rm -rf "$K8S_STATE/etcd" "$K8S_STATE/kubelet" "$K8S_STATE/pod-logs" "$K8S_STATE/cni/ipam" "$PIDS"
  # Empty cgroups that kubelet made.
  local cg
  for cg in /sys/fs/cgroup/*/kubepods; do
    [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  log "cluster down ($((SECONDS - t0))s)"
}

cmd_status() {
  local c pid rss total=0 up=0
  for c in $COMPONENTS; do
    if pid="$(pid_of "$c")"; then
      rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
      total=$((total + rss))
      printf '%-24s running  pid %-7s rss %5d MiB\n' "$c" "$pid" $((rss / 1024))
    else
      printf '%-24s stopped\n' "$c"
    fi
  done
  # Pods: shims and everything in kubelet's cgroups.
  local shim_rss=0 pods_mem=0
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $K8S_CONTAINERD_SOCK" || true); do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    shim_rss=$((shim_rss + rss))
  done
  if [ -f /sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes ]; then
    pods_mem=$(($(cat /sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes) / 1024))
  fi
  printf '%-24s rss %5d MiB\n' "containerd shims" $((shim_rss / 1024))
  printf '%-24s %5d MiB (kubepods cgroup, page cache included)\n' "pods" $((pods_mem / 1024))
  printf '%-24s %5d MiB (components + shims, RSS)\n' "total" $(((total + shim_rss) / 1024))
  if cluster_up; then
    up=1
    echo "API server https://$K8S_NODE_IP:$K8S_API_PORT ready; KUBECONFIG=$K8S_KUBECONFIG"
    "${KUBECTL[@]}" get nodes -o wide 2>/dev/null || true
  fi
  [ "$up" = 1 ] && return 0 || return 3
}

# A second API server of the same cluster (the same etcd, port K8S_API2_PORT), as in a control plane of several:
# a test restarts it for real while the module talks to it, and every other test keeps the first one. It leaves the
# kubernetes Service's endpoints to the first (pods keep talking to that one).
api2_ready() {
  curl -sf --max-time 3 --cacert "$K8S_PKI/ca.crt" "https://$K8S_NODE_IP:$K8S_API2_PORT/readyz" >/dev/null
}

cmd_apiserver2() {
  case "${1:-}" in
    start)
      api_ready || die "the cluster's API server does not answer: cluster.sh up first"
      pid_of kube-apiserver-2 >/dev/null || start_apiserver kube-apiserver-2 "$K8S_API2_PORT" --endpoint-reconciler-type=none
      wait_for "second kube-apiserver ready" 120 api2_ready ||
        die "the second kube-apiserver is not ready; see $K8S_LOGS/kube-apiserver-2.log"
      echo "https://$K8S_NODE_IP:$K8S_API2_PORT"
      ;;
    stop) stop_daemon kube-apiserver-2 20 ;;
    *) die "usage: cluster.sh apiserver2 start|stop" ;;
  esac
}

cmd_env() {
  echo "export KUBECONFIG=$K8S_KUBECONFIG"
  echo "export PATH=$K8S_BIN_DIR:\$PATH"
}

cmd_purge() {
  cmd_down
  rm -rf "$K8S_STATE" "$K8S_RUN"
  log "removed $K8S_STATE (binaries in $FLINKOPS_CACHE/kubernetes stay)"
}

with_lock() {
  mkdir -p "$(dirname "$K8S_RUN")" "$K8S_RUN" 2>/dev/null || true
  exec 9>"/run/flinkops-k8s.lock"
  flock -w 600 9 || die "another cluster.sh holds /run/flinkops-k8s.lock"
  "$@"
}

# Sourced (for debugging): functions only.
[[ "${BASH_SOURCE[0]}" != "$0" ]] && return 0

case "${1:-}" in
  build) bash "$K8S_DIR/build.sh" ;;
  up) with_lock cmd_up ;;
  down) with_lock cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  load-images) shift; with_lock cmd_load_images "$@" ;;
  apiserver2) shift; cmd_apiserver2 "$@" ;;
  purge) with_lock cmd_purge ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
