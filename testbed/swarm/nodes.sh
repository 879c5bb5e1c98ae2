#!/usr/bin/env bash
# Several Docker hosts on one machine, for the Swarm tests: Docker-in-Docker node containers, each with
# its own dockerd and address on a test bridge network, plus a local registry holding the Flink images.
#
#   testbed/swarm/nodes.sh up       build the node image (cached), create network, registry and nodes,
#                                   push the Flink images, wait until every node's daemon answers
#                                   (idempotent: a second call only checks, about a second)
#   testbed/swarm/nodes.sh status   print nodes, addresses and whether their daemons answer (exit 3 if not)
#   testbed/swarm/nodes.sh down     remove the nodes, registry, their volumes and the network (only what
#                                   `up` made: everything carries the label org.flinkops.testbed=swarm)
#   testbed/swarm/nodes.sh inventory  print an Ansible inventory for the nodes (YAML)
#
# Environment: SWARM_WORKERS (default 2), SWARM_SUBNET_PREFIX (default 172.30.99), SWARM_REGISTRY_PORT
# (host port on 127.0.0.1 for pushing, default 15000), FLINKOPS_FLINK_VERSIONS (images to push).
# The daemons listen on plain TCP 2375 on the test network only (addresses on this machine); real
# hosts use TLS (2376) or SSH; see docs/testbed-swarm.md.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

PREFIX=flinkops-swarm
LABEL=org.flinkops.testbed=swarm
NET="$PREFIX-net"
SUBNET_PREFIX="${SWARM_SUBNET_PREFIX:-172.30.99}"
SUBNET="$SUBNET_PREFIX.0/24"
GATEWAY="$SUBNET_PREFIX.1"
REGISTRY_NAME="$PREFIX-registry"
REGISTRY_IP="$SUBNET_PREFIX.2"
REGISTRY="$REGISTRY_IP:5000"
REGISTRY_PORT="${SWARM_REGISTRY_PORT:-15000}"
WORKERS="${SWARM_WORKERS:-2}"
NODE_IMAGE=flinkops/swarm-node:bookworm
NODE_DIR="$TESTBED_DIR/swarm/node"
REGISTRY_DATA="$FLINKOPS_CACHE/swarm/registry"
NODE_WAIT="${SWARM_NODE_WAIT:-90}"

# name:ip of every node, the manager first.
nodes() {
  printf '%s-m1:%s.10\n' "$PREFIX" "$SUBNET_PREFIX"
  local i
  for ((i = 1; i <= WORKERS; i++)); do printf '%s-w%d:%s.%d\n' "$PREFIX" "$i" "$SUBNET_PREFIX" $((10 + i)); done
}

node_answers() { timeout 10 docker -H "tcp://$1:2375" info >/dev/null 2>&1; }

ensure_node_image() {
  local hash
  hash="$( (cat "$NODE_DIR/Dockerfile" "$NODE_DIR/node-entrypoint.sh"
            docker image inspect --format '{{.Id}}' flinkops/base:bookworm-jre17) | sha256sum | cut -c1-16)"
  if [ "$(docker image inspect --format '{{index .Config.Labels "org.flinkops.node-hash"}}' "$NODE_IMAGE" 2>/dev/null)" = "$hash" ]; then
    return 0
  fi
  docker image inspect flinkops/base:bookworm-jre17 >/dev/null 2>&1 \
    || bash "$TESTBED_DIR/docker/images.sh" --base-only
  log "building $NODE_IMAGE (docker.io + docker-registry from Debian)"
  DOCKER_BUILDKIT=0 docker build -q --label "org.flinkops.node-hash=$hash" --label "$LABEL" \
    -t "$NODE_IMAGE" "$NODE_DIR" >/dev/null
}

ensure_network() {
  if docker network inspect "$NET" >/dev/null 2>&1; then return 0; fi
  log "creating network $NET ($SUBNET)"
  docker network create --driver bridge --subnet "$SUBNET" --gateway "$GATEWAY" --label "$LABEL" "$NET" >/dev/null
}

running() { [ "$(docker inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }

ensure_registry() {
  if running "$REGISTRY_NAME"; then return 0; fi
  docker rm -f "$REGISTRY_NAME" >/dev/null 2>&1 || true
  mkdir -p "$REGISTRY_DATA"
  log "starting registry $REGISTRY_NAME at $REGISTRY (host: 127.0.0.1:$REGISTRY_PORT)"
  docker run -d --name "$REGISTRY_NAME" --hostname "$REGISTRY_NAME" --label "$LABEL" \
    --network "$NET" --ip "$REGISTRY_IP" -p "127.0.0.1:$REGISTRY_PORT:5000" \
    -v "$REGISTRY_DATA:/var/lib/registry" --restart unless-stopped \
    "$NODE_IMAGE" registry >/dev/null
}

ensure_node() {
  local name="$1" ip="$2"
  if running "$name"; then return 0; fi
  docker rm -f "$name" >/dev/null 2>&1 || true
  log "starting node $name at $ip"
  # Capabilities as docs/testbed-swarm.md explains: --privileged fails on this kernel.
  docker run -d --name "$name" --hostname "$name" --label "$LABEL" \
    --network "$NET" --ip "$ip" \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add SYS_PTRACE --cap-add SYS_MODULE \
    --cap-add DAC_READ_SEARCH --cap-add IPC_LOCK --cap-add LINUX_IMMUTABLE --cap-add MAC_ADMIN \
    --cap-add MAC_OVERRIDE --cap-add SYS_NICE --cap-add SYSLOG --cap-add AUDIT_CONTROL \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --device-cgroup-rule='a *:* rwm' --tmpfs /run --tmpfs /tmp \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    --mount "type=volume,source=$name-docker,target=/var/lib/docker,volume-label=$LABEL" \
    "$NODE_IMAGE" dockerd -H unix:///var/run/docker.sock -H tcp://0.0.0.0:2375 \
    --cgroup-parent="/$name" --insecure-registry "$REGISTRY" --storage-driver overlay2 \
    --log-level warn >/dev/null
}

registry_has() {
  # Is the local image $1 (name:tag) in the registry with the same config digest (= image id)?
  local ref="$1" id digest
  id="$(docker image inspect --format '{{.Id}}' "$ref")"
  digest="$(curl -fsS -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://127.0.0.1:$REGISTRY_PORT/v2/${ref%%:*}/manifests/${ref##*:}" 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["config"]["digest"])' 2>/dev/null || true)"
  [ -n "$digest" ] && [ "$digest" = "$id" ]
}

push_images() {
  local i v ref
  for ((i = 0; i < 30; i++)); do
    curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null 2>&1 && break
    sleep 1
  done
  for v in $FLINKOPS_FLINK_VERSIONS; do
    ref="$(flink_image "$v")"
    docker image inspect "$ref" >/dev/null 2>&1 || { log "no local image $ref; skipped (run testbed/docker/images.sh)"; continue; }
    if registry_has "$ref"; then continue; fi
    log "pushing $ref to the registry (nodes pull it as $REGISTRY/$ref)"
    # 127.0.0.0/8 registries are insecure by default for the host's daemon: no daemon change needed.
    docker tag "$ref" "127.0.0.1:$REGISTRY_PORT/$ref"
    docker push -q "127.0.0.1:$REGISTRY_PORT/$ref" >/dev/null
    docker rmi "127.0.0.1:$REGISTRY_PORT/$ref" >/dev/null
  done
}

cmd_up() {
  local t0=$SECONDS name ip i
  ensure_node_image
  ensure_network
  ensure_registry
  while IFS=: read -r name ip; do ensure_node "$name" "$ip"; done < <(nodes)
  push_images
  while IFS=: read -r name ip; do
    for ((i = 0; i < NODE_WAIT; i++)); do
      node_answers "$ip" && break
      if ! running "$name"; then docker logs --tail 20 "$name" >&2 || true; die "node $name exited"; fi
      sleep 1
    done
    node_answers "$ip" || { docker logs --tail 20 "$name" >&2 || true; die "node $name does not answer on tcp://$ip:2375"; }
  done < <(nodes)
  log "swarm test bed up in $((SECONDS - t0))s: $(nodes | tr '\n' ' ')registry $REGISTRY"
}

cmd_status() {
  local name ip rc=0
  while IFS=: read -r name ip; do
    if node_answers "$ip"; then
      echo "$name tcp://$ip:2375 answers ($(docker -H "tcp://$ip:2375" info --format 'swarm={{.Swarm.LocalNodeState}}' 2>/dev/null))"
    else
      echo "$name tcp://$ip:2375 does not answer"; rc=3
    fi
  done < <(nodes)
  if running "$REGISTRY_NAME"; then echo "registry $REGISTRY running"; else echo "registry not running"; rc=3; fi
  return $rc
}

cmd_down() {
  local t0=$SECONDS ids vols
  ids="$(docker ps -aq --filter "label=$LABEL")"
  # shellcheck disable=SC2086
  [ -z "$ids" ] || docker rm -f -v $ids >/dev/null
  vols="$(docker volume ls -q --filter "label=$LABEL")"
  # shellcheck disable=SC2086
  [ -z "$vols" ] || docker volume rm $vols >/dev/null
  if docker network inspect "$NET" >/dev/null 2>&1; then docker network rm "$NET" >/dev/null; fi
  log "swarm test bed down in $((SECONDS - t0))s (node image and registry data kept in the cache)"
}

cmd_inventory() {
  local name ip
  echo "all:"
  echo "  children:"
  echo "    swarm_managers:"
  echo "      hosts:"
  while IFS=: read -r name ip; do
    case "$name" in *-m*) printf '        %s:\n          docker_host: tcp://%s:2375\n          swarm_advertise_addr: %s\n' "$name" "$ip" "$ip" ;; esac
  done < <(nodes)
  echo "    swarm_workers:"
  echo "      hosts:"
  while IFS=: read -r name ip; do
    case "$name" in *-w*) printf '        %s:\n          docker_host: tcp://%s:2375\n          swarm_advertise_addr: %s\n' "$name" "$ip" "$ip" ;; esac
  done < <(nodes)
}

# One up/down at a time (several test runs on one machine share the nodes).
if [ "${1:-}" = up ] || [ "${1:-}" = down ]; then
  mkdir -p "$FLINKOPS_CACHE/swarm"
  exec 9>"$FLINKOPS_CACHE/swarm/nodes.lock"
  flock -w 600 9 || die "another nodes.sh up/down holds $FLINKOPS_CACHE/swarm/nodes.lock"
fi

case "${1:-}" in
  up) cmd_up ;;
  status) cmd_status ;;
  down) cmd_down ;;
  inventory) cmd_inventory ;;
  *) echo "usage: $0 up|status|down|inventory" >&2; exit 2 ;;
esac
