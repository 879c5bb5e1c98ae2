#!/usr/bin/env bash
# Entrypoint of the flinkops test-bed Flink image. Written for this project from the documented
# behaviour of the official `flink` image (Flink docs: "Docker" deployment page):
#
#   jobmanager [args]        session-cluster JobManager  (bin/jobmanager.sh start-foreground)
#   standalone-job [args]    application-mode JobManager (bin/standalone-job.sh start-foreground),
#                            args passed through: --job-classname, --job-id, --fromSavepoint,
#                            --allowNonRestoredState, --jars, job arguments ...
#   taskmanager [args]       TaskManager                 (bin/taskmanager.sh start-foreground)
#   help                     this text
#   anything else            executed as is (e.g. `bash -c "kubernetes-jobmanager.sh ..."` as started
#                            by Flink's native Kubernetes mode), as user flink, config untouched
#
# Environment:
#   FLINK_PROPERTIES          lines `key: value`; merged into the Flink config last, so they win
#   JOB_MANAGER_RPC_ADDRESS   jobmanager.rpc.address (and rest.address); beats the config file
#   TASK_MANAGER_NUMBER_OF_TASK_SLOTS  taskmanager.numberOfTaskSlots; beats the config file
#   TASK_MANAGER_HOST         taskmanager.host (default: unset, Flink picks the address it reaches
#                             the JobManager from)
#   ENABLE_BUILT_IN_PLUGINS   `a.jar;b.jar`: jars from $FLINK_HOME/opt enabled as plugins
#   DISABLE_JEMALLOC          `true`: do not preload jemalloc
#   FLINK_CONF_DIR            config directory (default $FLINK_HOME/conf); copied to a writable
#                             place first when it is read-only (e.g. a read-only bind mount)
#
# Precedence of a config key: FLINK_PROPERTIES > the env variables above > the config file
# (mounted or shipped) > the container defaults set here. The shipped defaults that only make
# sense on one machine (`localhost`) count as unset.
set -euo pipefail

FLINK_HOME="${FLINK_HOME:-/opt/flink}"
export FLINK_HOME
FLINK_USER="${FLINK_USER:-flink}"

say() { printf '[docker-entrypoint] %s\n' "$*" >&2; }
fail() { printf '[docker-entrypoint] ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<'USAGE'
Usage: docker run IMAGE COMMAND [ARGS...]
  jobmanager                     start a JobManager of a session cluster
  standalone-job [OPTIONS] [ARGS] start a JobManager in application mode; the job jar lives in
                                 /opt/flink/usrlib. Options: --job-classname CLASS, --job-id ID,
                                 --fromSavepoint PATH, --allowNonRestoredState, --jars JAR[,JAR]
  taskmanager                    start a TaskManager
  help                           print this help
  <any other command>            run it as is (as user flink)
Environment: FLINK_PROPERTIES, JOB_MANAGER_RPC_ADDRESS, TASK_MANAGER_NUMBER_OF_TASK_SLOTS,
  TASK_MANAGER_HOST, ENABLE_BUILT_IN_PLUGINS, DISABLE_JEMALLOC, FLINK_CONF_DIR
USAGE
}

am_root() { [ "$(id -u)" = 0 ]; }

flink_major() {
  local jar
  jar="$(find "$FLINK_HOME/lib" -maxdepth 1 -name 'flink-dist*.jar' | head -n1)"
  [ -n "$jar" ] || fail "no flink-dist jar in $FLINK_HOME/lib"
  jar="${jar##*/flink-dist-}"
  printf '%s\n' "${jar%%.*}"
}

container_host() { hostname -f 2>/dev/null || hostname 2>/dev/null || cat /etc/hostname; }

# ---------------------------------------------------------------------------------------------
# Config directory: use it in place when writable (so `docker exec ... flink` sees the same
# config), otherwise work on a copy and point FLINK_CONF_DIR at it.
prepare_conf_dir() {
  local dir="${FLINK_CONF_DIR:-$FLINK_HOME/conf}"
  [ -d "$dir" ] || fail "config directory $dir does not exist"
  local writable=1 f
  if [ ! -w "$dir" ]; then writable=0; fi
  for f in config.yaml flink-conf.yaml; do
    if [ -e "$dir/$f" ] && [ ! -w "$dir/$f" ]; then writable=0; fi
  done
  # When we are root and will drop to user flink, the files must stay readable for it; they are
  # (we only rewrite contents). A read-only mount shows as not writable even for root.
  if [ "$writable" = 0 ]; then
    local copy="${FLINK_RUNTIME_CONF_DIR:-/tmp/flink-conf}"
    rm -rf "$copy"
    mkdir -p "$copy"
    # -L: Kubernetes ConfigMap volumes consist of symlinks.
    cp -rL "$dir/." "$copy/"
    say "config directory $dir is read-only; using a writable copy in $copy"
    dir="$copy"
    RUNTIME_CONF_COPY="$copy"
  fi
  export FLINK_CONF_DIR="$dir"
}

conf_file() {
  # Flink 1.x reads flink-conf.yaml (legacy flat format) when it exists, otherwise config.yaml;
  # Flink 2.x reads only config.yaml.
  if [ "$(flink_major)" -lt 2 ] && [ -e "$FLINK_CONF_DIR/flink-conf.yaml" ]; then
    printf '%s\n' "$FLINK_CONF_DIR/flink-conf.yaml"
  else
    if [ -e "$FLINK_CONF_DIR/flink-conf.yaml" ]; then
      say "WARNING: Flink $(flink_major).x ignores flink-conf.yaml; only config.yaml is read"
    fi
    printf '%s\n' "$FLINK_CONF_DIR/config.yaml"
  fi
}

# Run Flink's own config tool (BashJavaUtils, the engine behind bin/config-parser-utils.sh) with
# properly quoted arguments, so that values may contain spaces. Prints the result lines.
flink_config_tool() {
  local java="${JAVA_HOME:+$JAVA_HOME/bin/}java" dist out
  dist="$(find "$FLINK_HOME/lib" -maxdepth 1 -name 'flink-dist*.jar' | head -n1)"
  if ! out="$("$java" -classpath "$FLINK_HOME/bin/bash-java-utils.jar:$dist" \
      org.apache.flink.runtime.util.bash.BashJavaUtils UPDATE_AND_GET_FLINK_CONFIGURATION \
      --configDir "$FLINK_CONF_DIR" "$@" 2>&1)"; then
    printf '%s\n' "$out" >&2
    fail "Flink could not parse the configuration in $FLINK_CONF_DIR"
  fi
  printf '%s\n' "$out" | sed -n 's/^BASH_JAVA_UTILS_EXEC_RESULT://p'
}

declare -A CONF=()     # current (flattened) configuration
DYN=()                 # arguments for the config tool: -D key=value / -rmKey key

load_conf() {
  local line key
  while IFS= read -r line; do
    key="${line%%: *}"
    [ "$key" != "$line" ] || continue
    CONF["$key"]="${line#*: }"
  done < <(flink_config_tool -flatten)
}

unset_or_local() { # key: true when the config has no useful value for it
  local v="${CONF[$1]:-}"
  v="${v//\'/}"; v="${v//\"/}"
  [ -z "$v" ] || [ "$v" = localhost ] || [ "$v" = 127.0.0.1 ]
}

# A key whose value the config already has is left out: when nothing differs, the config file is not rewritten
# and Flink's config tool (a JVM start, seconds on a busy machine) runs once instead of twice.
set_key() { if [ "${CONF[$1]+set}" = set ] && [ "${CONF[$1]}" = "$2" ]; then return 0; fi; DYN+=(-D "$1=$2"); }
default_key() { if unset_or_local "$1"; then set_key "$1" "$2"; fi; }

declare -A PROP=()     # FLINK_PROPERTIES as key -> value
PROP_KEYS=()           # ... and the keys in their order

parse_flink_properties() {
  local line key value
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line%$'\r'}"
    # trim
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    [ -z "$line" ] && continue
    [ "${line:0:1}" = "#" ] && continue
    if [[ "$line" != *:* ]]; then
      say "WARNING: ignoring FLINK_PROPERTIES line without 'key: value': $line"
      continue
    fi
    key="${line%%:*}"; value="${line#*:}"
    key="${key%"${key##*[![:space:]]}"}"
    value="${value#"${value%%[![:space:]]*}"}"
    # Values may refer to environment variables ($VAR, ${VAR}), as in the official image.
    if [[ "$value" == *'$'* ]] && command -v envsubst >/dev/null 2>&1; then
      value="$(printf '%s' "$value" | envsubst)"
    fi
    [ -n "${PROP[$key]+x}" ] || PROP_KEYS+=("$key")
    PROP["$key"]="$value"
  done <<<"${FLINK_PROPERTIES:-}"
}

prepare_configuration() { # role: jobmanager|taskmanager
  local role="$1" file jm
  prepare_conf_dir
  file="$(conf_file)"
  [ -e "$file" ] || : >"$file"
  load_conf
  parse_flink_properties

  # jobmanager.rpc.address: FLINK_PROPERTIES > env > config > this container's host name.
  if [ -n "${PROP[jobmanager.rpc.address]:-}" ]; then
    jm="${PROP[jobmanager.rpc.address]}"
  elif [ -n "${JOB_MANAGER_RPC_ADDRESS:-}" ]; then
    jm="$JOB_MANAGER_RPC_ADDRESS"
    set_key jobmanager.rpc.address "$jm"
  elif unset_or_local jobmanager.rpc.address; then
    jm="$(container_host)"
    set_key jobmanager.rpc.address "$jm"
    if [ "$role" = taskmanager ]; then
      say "WARNING: no jobmanager.rpc.address given; using this container's own name $jm"
    fi
  else
    jm="${CONF[jobmanager.rpc.address]}"
  fi
  default_key rest.address "$jm"
  default_key rest.bind-address 0.0.0.0
  if [ "$role" = taskmanager ]; then
    default_key taskmanager.bind-host 0.0.0.0
  else
    default_key jobmanager.bind-host 0.0.0.0
  fi
  if [ -n "${TASK_MANAGER_HOST:-}" ]; then
    set_key taskmanager.host "$TASK_MANAGER_HOST"
  elif [ -z "${PROP[taskmanager.host]:-}" ] && [ -n "${CONF[taskmanager.host]:-}" ] \
      && unset_or_local taskmanager.host; then
    # `localhost` would make other containers connect to themselves; without the key a
    # TaskManager announces the address it reaches the JobManager from.
    DYN+=(-rmKey taskmanager.host)
  fi
  [ -n "${CONF[blob.server.port]:-}" ] || set_key blob.server.port 6124
  [ -n "${CONF[query.server.port]:-}" ] || set_key query.server.port 6125
  if [ -n "${TASK_MANAGER_NUMBER_OF_TASK_SLOTS:-}" ]; then
    set_key taskmanager.numberOfTaskSlots "$TASK_MANAGER_NUMBER_OF_TASK_SLOTS"
  fi
  local key
  for key in ${PROP_KEYS[@]+"${PROP_KEYS[@]}"}; do set_key "$key" "${PROP[$key]}"; done

  if [ ${#DYN[@]} -gt 0 ]; then
    local result
    result="$(flink_config_tool "${DYN[@]}")"
    # Rewrite in place (not mv): the file itself may be a bind mount.
    printf '%s\n' "$result" >"$file"
  fi
  say "Flink config: $file"
}

# ---------------------------------------------------------------------------------------------
enable_plugins() {
  [ -n "${ENABLE_BUILT_IN_PLUGINS:-}" ] || return 0
  local plugins_dir="${FLINK_PLUGINS_DIR:-$FLINK_HOME/plugins}" jar name
  local -a jars
  IFS=';' read -r -a jars <<<"$ENABLE_BUILT_IN_PLUGINS"
  for jar in "${jars[@]}"; do
    jar="${jar//[[:space:]]/}"
    [ -n "$jar" ] || continue
    if [ ! -f "$FLINK_HOME/opt/$jar" ]; then
      say "ERROR: ENABLE_BUILT_IN_PLUGINS names $jar, which is not in $FLINK_HOME/opt. Available:"
      find "$FLINK_HOME/opt" -maxdepth 1 -name '*.jar' -printf '  %f\n' | sort >&2
      exit 1
    fi
    name="${jar%.jar}"
    mkdir -p "$plugins_dir/$name" || fail "cannot create $plugins_dir/$name"
    # Copy (following symlinks) so the plugin directory holds a real jar.
    cp -fL "$FLINK_HOME/opt/$jar" "$plugins_dir/$name/" || fail "cannot copy $jar to $plugins_dir/$name"
    say "enabled plugin $jar"
  done
}

maybe_enable_jemalloc() {
  if [ "${DISABLE_JEMALLOC:-false}" = true ]; then return 0; fi
  local lib
  for lib in /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/aarch64-linux-gnu/libjemalloc.so.2 \
             /usr/lib/x86_64-linux-gnu/libjemalloc.so /usr/lib/aarch64-linux-gnu/libjemalloc.so; do
    if [ -f "$lib" ]; then
      export LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD:}$lib"
      return 0
    fi
  done
  # No jemalloc in this image: nothing to do (DISABLE_JEMALLOC is accepted either way).
}

# Run a command as user flink when we are root (Debian's setpriv; no gosu needed).
run_as_flink() {
  if am_root && id "$FLINK_USER" >/dev/null 2>&1; then
    local d
    # Only what Flink writes to (never the user's config files; they only need to be readable).
    for d in "$FLINK_HOME/log" "${RUNTIME_CONF_COPY:-}" "$FLINK_HOME/plugins"; do
      if [ -n "$d" ] && [ -d "$d" ] && [ -w "$d" ]; then chown -R "$FLINK_USER:$FLINK_USER" "$d" 2>/dev/null || true; fi
    done
    export HOME="$FLINK_HOME" USER="$FLINK_USER" LOGNAME="$FLINK_USER"
    exec setpriv --reuid="$FLINK_USER" --regid="$FLINK_USER" --init-groups -- "$@"
  fi
  exec "$@"
}

main() {
  local cmd="${1:-help}"
  [ $# -gt 0 ] && shift

  case "$cmd" in
    help|-h|--help)
      usage
      exit 0
      ;;
  esac

  enable_plugins
  maybe_enable_jemalloc

  case "$cmd" in
    jobmanager)
      prepare_configuration jobmanager
      say "starting JobManager (Flink $(flink_major).x)"
      run_as_flink "$FLINK_HOME/bin/jobmanager.sh" start-foreground "$@"
      ;;
    standalone-job)
      prepare_configuration jobmanager
      say "starting JobManager in application mode"
      run_as_flink "$FLINK_HOME/bin/standalone-job.sh" start-foreground "$@"
      ;;
    taskmanager)
      prepare_configuration taskmanager
      say "starting TaskManager"
      run_as_flink "$FLINK_HOME/bin/taskmanager.sh" start-foreground "$@"
      ;;
    *)
      run_as_flink "$cmd" "$@"
      ;;
  esac
}

main "$@"
