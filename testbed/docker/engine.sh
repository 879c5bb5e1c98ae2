#!/usr/bin/env bash
# Docker engine for the test bed: Debian's docker.io daemon, started in the background.
#
#   testbed/docker/engine.sh up       install docker.io if needed, start dockerd if `docker info`
#                                     does not answer, wait until it does (idempotent)
#   testbed/docker/engine.sh status   say whether the daemon answers (exit 0 if it does, 3 if not)
#   testbed/docker/engine.sh down     stop the dockerd that `up` started (not one started by others)
#   testbed/docker/engine.sh env      print `export DOCKER_API_VERSION=...` lines for `eval`
#
# Environment: DOCKERD_LOG (default /var/log/dockerd.log), DOCKERD_WAIT (seconds, default 60).
# The client in /usr/local/bin/docker (28.x) is newer than Debian's daemon (20.10, API 1.41). The
# CLI negotiates the API version by itself; DOCKER_API_VERSION=1.41 pins it for the CLI and for
# tools that read it (community.docker, docker-py via `docker.from_env(version=...)`); see
# docs/testbed-docker.md.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
DOCKERD_WAIT="${DOCKERD_WAIT:-60}"
RUN_DIR="${FLINKOPS_RUN_DIR:-/run/flinkops}"
OUR_PIDFILE="$RUN_DIR/dockerd.pid"

answers() { timeout 10 docker info >/dev/null 2>&1; }

daemon_api_version() {
  # API version of the running daemon, e.g. 1.41 (empty if it does not answer).
  timeout 10 docker version --format '{{.Server.APIVersion}}' 2>/dev/null || true
}

ensure_installed() {
  if command -v dockerd >/dev/null 2>&1; then return 0; fi
  log "installing Debian docker.io (daemon) and iptables"
  apt_install docker.io iptables
  command -v dockerd >/dev/null 2>&1 || die "docker.io installed but no dockerd on PATH"
}

our_pid() {
  # PID of the dockerd this script started, if it is still that process.
  [ -f "$OUR_PIDFILE" ] || return 1
  local pid; pid="$(cat "$OUR_PIDFILE")"
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  printf '%s\n' "$pid"
}

clear_stale_state() {
  # Called only when no dockerd process runs. A dockerd that was killed (SIGKILL, a container or
  # sandbox torn down) leaves /var/run/docker.pid and the pidfile of the containerd it managed.
  # dockerd trusts a pidfile whose PID is alive, and PIDs get reused: with a stale containerd.pid it
  # waits for a socket nobody will open ("timeout waiting for containerd to start"), with a stale
  # docker.pid it refuses to start. Remove what no live process backs; stop an orphaned managed
  # containerd that no longer serves its socket (one that does is reused by dockerd as it is).
  local pidfile=/var/run/docker.pid cpid=/var/run/docker/containerd/containerd.pid
  local csock=/var/run/docker/containerd/containerd.sock pid
  if [ -f "$pidfile" ]; then
    log "removing stale $pidfile ($(cat "$pidfile" 2>/dev/null)); no dockerd runs"
    rm -f "$pidfile"
  fi
  [ -f "$cpid" ] || return 0
  pid="$(cat "$cpid" 2>/dev/null)"
  if [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = containerd ] \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q /var/run/docker/containerd; then
    if [ -S "$csock" ]; then
      log "dockerd's containerd (pid $pid) still runs; dockerd will reuse it"
      return 0
    fi
    log "dockerd's containerd (pid $pid) runs without its socket; stopping it"
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    [ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null
  else
    log "removing stale $cpid (pid ${pid:-none} is not dockerd's containerd)"
  fi
  rm -f "$cpid"
}

start_dockerd() {
  mkdir -p "$RUN_DIR" "$(dirname "$DOCKERD_LOG")"
  clear_stale_state
  # Debian's iptables defaults to the nft backend; dockerd works with either. Keep the default.
  log "starting dockerd (log: $DOCKERD_LOG)"
  # setsid + nohup: the daemon survives the calling shell and its process group.
  setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  echo $! >"$OUR_PIDFILE"
}

cmd_up() {
  local t0=$SECONDS
  if answers; then
    log "docker daemon already answers (API $(daemon_api_version))"
    return 0
  fi
  ensure_installed
  if pgrep -x dockerd >/dev/null 2>&1; then
    log "a dockerd process exists but does not answer yet; waiting for it"
  else
    start_dockerd
  fi
  local i attempts=1
  for ((i = 0; i < DOCKERD_WAIT; i++)); do
    if answers; then
      log "docker daemon answers after $((SECONDS - t0))s (API $(daemon_api_version))"
      return 0
    fi
    if [ -f "$OUR_PIDFILE" ] && ! our_pid >/dev/null; then
      tail -n 20 "$DOCKERD_LOG" >&2 || true
      if ((attempts < 2)) && ! pgrep -x dockerd >/dev/null 2>&1; then
        attempts=$((attempts + 1))
        log "dockerd exited during start-up; starting it once more"
        start_dockerd
      else
        die "dockerd exited during start-up; see $DOCKERD_LOG"
      fi
    fi
    sleep 1
  done
  tail -n 20 "$DOCKERD_LOG" >&2 || true
  die "docker daemon did not answer within ${DOCKERD_WAIT}s; see $DOCKERD_LOG"
}

cmd_status() {
  if answers; then
    echo "docker daemon answers: API $(daemon_api_version), $(docker info --format '{{.ServerVersion}} {{.Driver}} cgroup{{.CgroupVersion}}' 2>/dev/null)"
    local pid; if pid="$(our_pid)"; then echo "started by engine.sh: pid $pid"; fi
    return 0
  fi
  echo "docker daemon does not answer"
  return 3
}

cmd_down() {
  local pid
  if ! pid="$(our_pid)"; then
    rm -f "$OUR_PIDFILE"
    if answers; then log "docker daemon answers but was not started by engine.sh; leaving it alone"
    else log "no dockerd started by engine.sh is running"; fi
    return 0
  fi
  log "stopping dockerd pid $pid"
  kill -TERM "$pid"
  local i
  # dockerd stops its containers first (10 s grace each, in parallel).
  for ((i = 0; i < 60; i++)); do
    [ -d "/proc/$pid" ] || { rm -f "$OUR_PIDFILE"; log "dockerd stopped"; return 0; }
    sleep 1
  done
  die "dockerd pid $pid did not stop within 60s"
}

cmd_env() {
  local v; v="$(daemon_api_version)"
  [ -n "$v" ] || die "docker daemon does not answer; run: $0 up"
  printf 'export DOCKER_API_VERSION=%s\n' "$v"
}

case "${1:-}" in
  up) cmd_up ;;
  status) cmd_status ;;
  down) cmd_down ;;
  env) cmd_env ;;
  *) echo "usage: $0 up|status|down|env" >&2; exit 2 ;;
esac
