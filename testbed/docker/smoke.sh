#!/usr/bin/env bash
# End-to-end proof of the Docker part of the test bed, per Flink version (default: all of
# $FLINKOPS_FLINK_VERSIONS). Real containers from our images, the host-side Flink client, real jobs:
#
#   1. session cluster: JobManager + 2 TaskManagers on a user-defined bridge network, REST on
#      127.0.0.1:<random port>; 2 TaskManagers registered
#   2. StatefulCounter (-p 2) submitted with `flink run -d -m localhost:PORT`, RUNNING; stopped with
#      a savepoint, resubmitted from it (-s): per-key counts go on (no second count=1)
#   3. TopSpeedWindowing (the example job of the main playbook) RUNNING without failures
#   4. BoundedCounter in attached mode: FINISHED, summary correct
#   5. `docker exec <jm> flink list` inside the container
#   6. standalone-job (application mode) with the jar mounted in /opt/flink/usrlib, passing
#      --job-classname, --job-id, --fromSavepoint (the savepoint of step 2), --allowNonRestoredState
#      and job arguments; counts go on from the savepoint
#   7. ENABLE_BUILT_IN_PLUGINS=flink-s3-fs-hadoop-V.jar starts; an unknown jar fails clearly
#   8. read-only mounted conf dir (config.yaml; for 1.x also a legacy flink-conf.yaml) works and wins
# Everything it starts is removed at the end (also on failure). Prints timings and memory use.
#
#   testbed/docker/smoke.sh [VERSION...]
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

WAIT="${SMOKE_WAIT:-240}"   # seconds for any single wait
PREFIX="fosmoke$$"
CONTAINERS=()
NETWORKS=()
WORKDIRS=()
TIMINGS=()
MEMORY=()
FAILED=0

cleanup() {
  local c n d
  for c in ${CONTAINERS[@]+"${CONTAINERS[@]}"}; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  for n in ${NETWORKS[@]+"${NETWORKS[@]}"}; do docker network rm "$n" >/dev/null 2>&1 || true; done
  for d in ${WORKDIRS[@]+"${WORKDIRS[@]}"}; do rm -rf "$d"; done
  CONTAINERS=(); NETWORKS=(); WORKDIRS=()
}
trap cleanup EXIT

ok() { log "OK   $*"; }
bad() { log "FAIL $*"; FAILED=$((FAILED + 1)); }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
timing() { TIMINGS+=("$(printf '%-8s %-58s %6ss' "$1" "$2" "$3")"); }

run_c() { # name args... (docker run -d --name name args...)
  local name="$1"; shift
  CONTAINERS+=("$name")
  docker run -d --name "$name" "$@" >/dev/null
}

rest_port() { docker port "$1" 8081/tcp | head -n1 | sed 's/.*://'; }

rest() { curl -fsS --max-time 5 "http://127.0.0.1:$1$2"; }

json() { python3 -c "import sys, json; d = json.load(sys.stdin); print($1)"; }

wait_for() { # description command... : retries until the command succeeds or $WAIT passes
  local what="$1" i; shift
  for ((i = 0; i < WAIT; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  log "timed out after ${WAIT}s waiting for: $what"
  return 1
}

tm_count_is() { [ "$(rest "$1" /taskmanagers | json 'len(d["taskmanagers"])')" = "$2" ]; }
job_state() { rest "$1" "/jobs/$2" | json 'd["state"]'; }
job_state_is() { [ "$(job_state "$1" "$2")" = "$3" ]; }
job_running_all() { # port job: job RUNNING and all its vertices RUNNING
  [ "$(rest "$1" "/jobs/$2" | json 'd["state"] == "RUNNING" and all(v["status"] == "RUNNING" for v in d["vertices"])')" = True ]
}
lines_at_least() { [ "$(cat "$1"/part-*.txt 2>/dev/null | wc -l)" -ge "$2" ]; }
container_gone() { [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = false ]; }
# grep without -q: reads all input, so the producer never dies of SIGPIPE (pipefail)
log_has() { docker logs "$1" 2>&1 | grep -- "$2" >/dev/null; }

check_counts_continue() { # dir: every key's count=1 appears once at most, counts grow
  python3 - "$1" <<'PY'
import glob, re, sys
firsts, maxc = {}, {}
for f in glob.glob(sys.argv[1] + "/part-*.txt"):
    for line in open(f):
        m = re.match(r"key=(\d+) count=(\d+) seq=(\d+)", line)
        if not m:
            continue
        k, c = int(m.group(1)), int(m.group(2))
        if c == 1:
            firsts[k] = firsts.get(k, 0) + 1
        maxc[k] = max(maxc.get(k, 0), c)
bad = {k: n for k, n in firsts.items() if n > 1}
print("max count per key:", dict(sorted(maxc.items())), "count=1 seen:", dict(sorted(firsts.items())))
sys.exit(1 if bad or not maxc else 0)
PY
}

min_count_per_key() { # dir -> smallest count seen for any key (used after a restore)
  python3 - "$1" <<'PY'
import glob, re, sys
minc = {}
for f in glob.glob(sys.argv[1] + "/part-*.txt"):
    for line in open(f):
        m = re.match(r"key=(\d+) count=(\d+)", line)
        if m:
            k, c = int(m.group(1)), int(m.group(2))
            minc[k] = min(minc.get(k, c), c)
print(min(minc.values()) if minc else 0)
PY
}

smoke_version() {
  local V="$1" image flink jar t t_all p jm net data
  image="$(flink_image "$V")"
  flink="$FLINKOPS_CACHE/flink/$V/bin/flink"
  jar="$FLINKOPS_CACHE/jobs/$V/flinkops-examples.jar"
  local tsw="$FLINKOPS_CACHE/jobs/$V/TopSpeedWindowing.jar"
  if [ ! -x "$flink" ] || [ ! -f "$jar" ] || ! docker image inspect "$image" >/dev/null 2>&1; then die "missing image/client/jar for $V: run testbed/docker/images.sh and testbed/jobs/build.sh"; fi
  local tag="${V//./-}"
  net="$PREFIX-$tag"
  jm="$PREFIX-$tag-jm"
  data="$(mktemp -d "/tmp/$PREFIX-$tag.XXXXXX")"
  WORKDIRS+=("$data")
  mkdir -p "$data/out1" "$data/out2" "$data/out3" "$data/savepoints"
  chown -R 9999:9999 "$data"   # written by user flink (uid 9999) in the containers
  t_all="$(now)"

  log "=== Flink $V ($image)"
  docker network create "$net" >/dev/null
  NETWORKS+=("$net")

  # --- 1. session cluster -----------------------------------------------------------------
  local props=$'jobmanager.rpc.address: '"$jm"$'\ntaskmanager.numberOfTaskSlots: 2'
  t="$(now)"
  run_c "$jm" --network "$net" --hostname "$jm" -p 127.0.0.1::8081 -v "$data:/data" \
    -e FLINK_PROPERTIES="$props" "$image" jobmanager
  for i in 1 2; do
    run_c "$PREFIX-$tag-tm$i" --network "$net" -v "$data:/data" -e FLINK_PROPERTIES="$props" "$image" taskmanager
  done
  p="$(rest_port "$jm")"
  if wait_for "REST of $jm" rest "$p" /overview; then
    timing "$V" "JobManager REST answers" "$(since "$t")"
  fi
  if wait_for "2 TaskManagers" tm_count_is "$p" 2; then
    timing "$V" "JM + 2 TMs started, 2 TMs registered" "$(since "$t")"
    ok "$V session cluster: 2 TaskManagers registered (REST 127.0.0.1:$p)"
  else
    bad "$V session cluster: TaskManagers did not register"; docker logs "$PREFIX-$tag-tm1" 2>&1 | tail -15 >&2; return
  fi

  # --- 2. StatefulCounter, savepoint, restore -------------------------------------------------
  local out job sp
  t="$(now)"
  out="$("$flink" run -d -m "localhost:$p" -p 2 -c org.flinkops.examples.StatefulCounter "$jar" \
    --rate 40 --keys 4 --out /data/out1 --checkpoint-interval-ms 2000 2>&1)" || { bad "$V flink run StatefulCounter: $out"; return; }
  timing "$V" "flink run -d StatefulCounter (client)" "$(since "$t")"
  job="$(printf '%s\n' "$out" | sed -n 's/.*JobID \([0-9a-f]\{32\}\).*/\1/p' | head -n1)"
  if wait_for "StatefulCounter RUNNING" job_running_all "$p" "$job"; then
    timing "$V" "StatefulCounter submit -> all tasks RUNNING" "$(since "$t")"
    ok "$V StatefulCounter $job RUNNING"
  else
    bad "$V StatefulCounter not RUNNING: $(job_state "$p" "$job")"; return
  fi
  wait_for "output lines" lines_at_least "$data/out1" 80 || bad "$V StatefulCounter wrote no output"
  t="$(now)"
  out="$("$flink" stop -m "localhost:$p" -p file:///data/savepoints "$job" 2>&1)" || { bad "$V flink stop: $out"; return; }
  sp="$(printf '%s\n' "$out" | sed -n 's/.*Savepoint completed\. Path: \(.*\)$/\1/p' | head -n1)"
  timing "$V" "flink stop --savepointPath (stop with savepoint)" "$(since "$t")"
  if [ -z "$sp" ]; then bad "$V no savepoint path in: $out"; return; fi
  ok "$V savepoint $sp"
  local before; before="$(cat "$data"/out1/part-*.txt | wc -l)"
  t="$(now)"
  out="$("$flink" run -d -m "localhost:$p" -p 2 -s "$sp" -c org.flinkops.examples.StatefulCounter "$jar" \
    --rate 40 --keys 4 --out /data/out1 --checkpoint-interval-ms 2000 2>&1)" || { bad "$V flink run -s: $out"; return; }
  job="$(printf '%s\n' "$out" | sed -n 's/.*JobID \([0-9a-f]\{32\}\).*/\1/p' | head -n1)"
  wait_for "restored StatefulCounter RUNNING" job_running_all "$p" "$job" || bad "$V restored job not RUNNING"
  timing "$V" "restore from savepoint -> RUNNING" "$(since "$t")"
  wait_for "more output" lines_at_least "$data/out1" $((before + 80)) || bad "$V restored job wrote no output"
  if check_counts_continue "$data/out1" >&2; then ok "$V state survived stop-with-savepoint + restore"
  else bad "$V state was lost across savepoint/restore"; fi

  # --- 3. TopSpeedWindowing -------------------------------------------------------------------
  if [ -f "$tsw" ]; then
    t="$(now)"
    out="$("$flink" run -d -m "localhost:$p" "$tsw" 2>&1)" || bad "$V TopSpeedWindowing: $out"
    local tj; tj="$(printf '%s\n' "$out" | sed -n 's/.*JobID \([0-9a-f]\{32\}\).*/\1/p' | head -n1)"
    if [ -n "$tj" ] && wait_for "TopSpeedWindowing RUNNING" job_running_all "$p" "$tj"; then
      sleep 10
      if job_state_is "$p" "$tj" RUNNING && [ "$(rest "$p" "/jobs/$tj/exceptions" | json 'len(d.get("exceptionHistory", {}).get("entries", []))')" = 0 ]; then
        ok "$V TopSpeedWindowing ($(cat "$tsw.source" 2>/dev/null)) RUNNING, no exceptions after 10s"
      else
        bad "$V TopSpeedWindowing failed: $(rest "$p" "/jobs/$tj/exceptions" | head -c 600)"
      fi
      timing "$V" "TopSpeedWindowing submit -> RUNNING (+10s)" "$(since "$t")"
      "$flink" cancel -m "localhost:$p" "$tj" >/dev/null 2>&1 || true
    else
      bad "$V TopSpeedWindowing not RUNNING"
    fi
  fi

  # --- 4. BoundedCounter (attached) ------------------------------------------------------------
  t="$(now)"
  out="$("$flink" run -m "localhost:$p" -c org.flinkops.examples.BoundedCounter "$jar" --n 100000 --keys 4 --out /data/out3 2>&1)" \
    || bad "$V BoundedCounter: $out"
  timing "$V" "BoundedCounter attached run (submit -> FINISHED)" "$(since "$t")"
  local bj; bj="$(printf '%s\n' "$out" | sed -n 's/.*JobID \([0-9a-f]\{32\}\).*/\1/p' | head -n1)"
  if [ -n "$bj" ] && job_state_is "$p" "$bj" FINISHED && grep -q "SUMMARY total count=100000 sum=5000050000" "$data"/out3/part-*.txt; then
    ok "$V BoundedCounter FINISHED, SUMMARY total count=100000 sum=5000050000"
  else
    bad "$V BoundedCounter: state $(job_state "$p" "$bj" 2>/dev/null), out: $(cat "$data"/out3/part-*.txt 2>/dev/null | tail -2)"
  fi

  # --- 5. CLI inside the JobManager container ------------------------------------------------
  if docker exec "$jm" flink list 2>&1 | grep -- "$job" >/dev/null; then ok "$V docker exec $jm flink list sees the running job"
  else bad "$V docker exec flink list"; fi
  MEMORY+=("$(docker stats --no-stream --format "$V {{.Name}} {{.MemUsage}} {{.CPUPerc}}" "$jm" "$PREFIX-$tag-tm1" "$PREFIX-$tag-tm2")")
  t="$(now)"
  out="$("$flink" stop -m "localhost:$p" -p file:///data/savepoints "$job" 2>&1)" || bad "$V second stop: $out"
  sp="$(printf '%s\n' "$out" | sed -n 's/.*Savepoint completed\. Path: \(.*\)$/\1/p' | head -n1)"
  docker rm -f "$jm" "$PREFIX-$tag-tm1" "$PREFIX-$tag-tm2" >/dev/null
  timing "$V" "second savepoint + remove session cluster" "$(since "$t")"

  # --- 6. standalone-job (application mode) from the savepoint ---------------------------------
  local sj="$PREFIX-$tag-app"
  t="$(now)"
  run_c "$sj" --network "$net" --hostname "$sj" -p 127.0.0.1::8081 -v "$data:/data" \
    -v "$jar:/opt/flink/usrlib/flinkops-examples.jar:ro" \
    -e FLINK_PROPERTIES=$'jobmanager.rpc.address: '"$sj"$'\nparallelism.default: 2' \
    "$image" standalone-job --job-classname org.flinkops.examples.StatefulCounter \
    --job-id 00000000000000000000000000000042 --fromSavepoint "$sp" --allowNonRestoredState \
    --rate 40 --keys 4 --out /data/out2
  # In application mode the TaskManagers load the job classes from their own usrlib as well.
  run_c "$sj-tm" --network "$net" -v "$data:/data" -v "$jar:/opt/flink/usrlib/flinkops-examples.jar:ro" \
    -e FLINK_PROPERTIES=$'jobmanager.rpc.address: '"$sj"$'\ntaskmanager.numberOfTaskSlots: 2' "$image" taskmanager
  p="$(rest_port "$sj")"
  if wait_for "standalone job RUNNING" job_running_all "$p" 00000000000000000000000000000042; then
    timing "$V" "standalone-job JM + TM -> job RUNNING" "$(since "$t")"
    wait_for "output" lines_at_least "$data/out2" 40 || true
    local minc; minc="$(min_count_per_key "$data/out2")"
    if [ "$minc" -gt 1 ]; then ok "$V standalone-job RUNNING from savepoint, counts go on (lowest count $minc)"
    else bad "$V standalone-job: counts restarted (lowest count $minc)"; fi
  else
    bad "$V standalone-job not RUNNING"; docker logs "$sj" 2>&1 | tail -15 >&2
  fi
  docker rm -f "$sj" "$sj-tm" >/dev/null

  # --- 7. ENABLE_BUILT_IN_PLUGINS ---------------------------------------------------------------
  local pj="$PREFIX-$tag-plugin" s3="flink-s3-fs-hadoop-$V.jar"
  t="$(now)"
  run_c "$pj" --network "$net" --hostname "$pj" -p 127.0.0.1::8081 -e ENABLE_BUILT_IN_PLUGINS="$s3" \
    -e FLINK_PROPERTIES=$'s3.endpoint: http://127.0.0.1:9\ns3.path.style.access: true' "$image" jobmanager
  p="$(rest_port "$pj")"
  if wait_for "REST of $pj" rest "$p" /overview \
      && docker exec "$pj" test -f "/opt/flink/plugins/flink-s3-fs-hadoop-$V/$s3" \
      && log_has "$pj" "enabled plugin $s3"; then
    ok "$V ENABLE_BUILT_IN_PLUGINS=$s3: plugin in plugins/, JobManager up"
    timing "$V" "JobManager with S3 plugin -> REST answers" "$(since "$t")"
  else
    bad "$V ENABLE_BUILT_IN_PLUGINS"; docker logs "$pj" 2>&1 | tail -15 >&2
  fi
  docker rm -f "$pj" >/dev/null
  run_c "$pj-bad" -e ENABLE_BUILT_IN_PLUGINS="no-such-plugin.jar" "$image" jobmanager
  if wait_for "bad plugin container to exit" container_gone "$pj-bad" \
      && [ "$(docker inspect -f '{{.State.ExitCode}}' "$pj-bad")" != 0 ] \
      && log_has "$pj-bad" "no-such-plugin.jar, which is not in"; then
    ok "$V unknown plugin jar: container exits non-zero with a clear message"
  else
    bad "$V unknown plugin jar not rejected"
  fi
  docker rm -f "$pj-bad" >/dev/null

  # --- 8. read-only conf dir --------------------------------------------------------------------
  local conf="$data/conf" rj="$PREFIX-$tag-roconf"
  cp -r "$FLINKOPS_CACHE/flink/$V/conf" "$conf"
  # Written with Flink's own tool, as a user or the modules would: custom values, own JM address.
  "$FLINKOPS_CACHE/flink/$V/bin/config-parser-utils.sh" "$conf" "$FLINKOPS_CACHE/flink/$V/bin" \
    "$FLINKOPS_CACHE/flink/$V/lib" -D "jobmanager.rpc.address=$rj" -D parallelism.default=3 \
    -D taskmanager.numberOfTaskSlots=3 -D jobmanager.memory.process.size=1200m >/dev/null
  chmod -R a+rX "$conf"
  t="$(now)"
  run_c "$rj" --network "$net" -p 127.0.0.1::8081 -v "$conf:/opt/flink/conf:ro" "$image" jobmanager
  run_c "$rj-tm" --network "$net" -v "$conf:/opt/flink/conf:ro" "$image" taskmanager
  p="$(rest_port "$rj")"
  if wait_for "TM registered with read-only-conf JM" tm_count_is "$p" 1 \
      && [ "$(rest "$p" /jobmanager/config | json '{e["key"]: e["value"] for e in d}.get("parallelism.default")')" = 3 ] \
      && [ "$(rest "$p" /overview | json 'd["slots-total"]')" = 3 ] \
      && log_has "$rj" "is read-only; using a writable copy"; then
    ok "$V read-only conf dir: JM + TM start, mounted values win (parallelism 3, 3 slots, rpc address $rj)"
    timing "$V" "read-only conf: JM + TM -> TM registered" "$(since "$t")"
  else
    bad "$V read-only conf dir"; docker logs "$rj" 2>&1 | tail -15 >&2
  fi
  docker rm -f "$rj" "$rj-tm" >/dev/null
  if [ "${V%%.*}" -lt 2 ]; then
    # Legacy flat flink-conf.yaml (Flink 1.x reads it in preference to config.yaml).
    local lconf="$data/legacy-conf" lj="$PREFIX-$tag-legacy"
    mkdir -p "$lconf"
    cp "$FLINKOPS_CACHE/flink/$V/conf"/log4j*.properties "$lconf/"
    {
      printf 'jobmanager.rpc.address: %s\nparallelism.default: 5\njobmanager.memory.process.size: 1200m\n' "$lj"
      printf 'env.java.opts.all: %s\n' "$(grep -o -- '--add-exports.*' "$FLINKOPS_CACHE/flink/$V/conf/config.yaml" | head -n1)"
    } >"$lconf/flink-conf.yaml"
    chmod -R a+rX "$lconf"
    run_c "$lj" --network "$net" -p 127.0.0.1::8081 -v "$lconf:/opt/flink/conf:ro" "$image" jobmanager
    p="$(rest_port "$lj")"
    if wait_for "legacy-conf JM REST" rest "$p" /overview \
        && [ "$(rest "$p" /jobmanager/config | json '{e["key"]: e["value"] for e in d}.get("parallelism.default")')" = 5 ]; then
      ok "$V read-only legacy flink-conf.yaml: JM starts, values applied (parallelism 5)"
    else
      bad "$V legacy flink-conf.yaml"; docker logs "$lj" 2>&1 | tail -15 >&2
    fi
    docker rm -f "$lj" >/dev/null
  fi

  timing "$V" "whole smoke test of this version" "$(since "$t_all")"
  cleanup
}

main() {
  local versions=("$@") v t0=$SECONDS
  [ ${#versions[@]} -gt 0 ] || read -r -a versions <<<"$FLINKOPS_FLINK_VERSIONS"
  "$TESTBED_DIR/docker/engine.sh" up
  "$TESTBED_DIR/docker/images.sh" "${versions[@]}"
  "$TESTBED_DIR/jobs/build.sh" "${versions[@]}"
  for v in "${versions[@]}"; do smoke_version "$v"; done
  printf '\nTimings:\n' >&2; printf '  %s\n' "${TIMINGS[@]}" >&2
  printf 'Memory (session cluster with StatefulCounter running):\n' >&2
  printf '%s\n' "${MEMORY[@]}" | sed 's/^/  /' >&2
  log "smoke test done in $((SECONDS - t0))s: $FAILED failure(s)"
  [ "$FAILED" = 0 ]
}

main "$@"
