#!/bin/bash
# Entry point of a test-bed node: `dockerd ARGS...` runs the inner Docker daemon (PID 1 is tini so
# zombies are reaped), `registry` runs Debian's docker-registry with storage in /var/lib/registry.
set -euo pipefail
case "${1:-}" in
  dockerd)
    shift
    # The node's own containers live in a cgroup of their own (--cgroup-parent is passed by nodes.sh).
    mkdir -p /run/docker
    exec /usr/bin/tini -s -- /usr/sbin/dockerd "$@"
    ;;
  registry)
    mkdir -p /var/lib/registry
    cat >/etc/docker/registry/config.yml <<'CFG'
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: 0.0.0.0:5000
CFG
    exec /usr/bin/tini -s -- /usr/bin/docker-registry serve /etc/docker/registry/config.yml
    ;;
  *) exec "$@" ;;
esac
