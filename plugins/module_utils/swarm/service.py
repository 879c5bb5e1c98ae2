# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Flink JobManager or TaskManager as a Docker Swarm service: plan, apply, wait (its desired spec, validated:
swarm/service_spec.py).

The service carries a hash of the spec it was made from (label ``org.flinkops.spec-hash``), so a second run
with the same spec changes nothing and a changed spec updates the service in place (a rolling update).

The image tag is resolved to its registry digest (as ``docker service create/update`` do) and the service runs
``image:tag@sha256:...``: a new image pushed under the same tag changes that digest, which updates the service
although the spec (and its hash) did not change.
"""

from __future__ import annotations

import re
import time

from ansible_collections.flinkops.flink.plugins.module_utils.docker.api import APIError, EngineClient, NotFound
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError, WaitTimeout
from ansible_collections.flinkops.flink.plugins.module_utils.memory import parse_memory
from ansible_collections.flinkops.flink.plugins.module_utils.rest import FlinkRest, RestUnavailable
from ansible_collections.flinkops.flink.plugins.module_utils.swarm.retry import retry_out_of_sequence


HASH_LABEL = "org.flinkops.spec-hash"
ROLE_LABEL = "org.flinkops.role"
FAILED_STATES = ("failed", "rejected")
# How long a task may wait for a host-mode port that a task of the same service, just replaced, still holds.
PORT_GRACE_SECONDS = 30


def _types():
    """``docker.types``, imported when a service is built (an unchanged run only reads, without the SDK)."""
    from docker import types  # pylint: disable=import-outside-toplevel
    return types


def _nanos(seconds):
    return int(round(float(seconds) * 1e9)) if seconds is not None else None


def image_digest(reference):
    """The digest pinned in an image reference (repo:tag@sha256:...), or None."""
    if reference and "@" in reference:
        return reference.rsplit("@", 1)[1]
    return None


def tm_host(taskmanager):
    """The host a TaskManager registered from, from its RPC path (pekko.tcp://flink@10.0.1.8:36817/...)."""
    match = re.match(r"^[a-z.]+://[^@]*@([^:/]+):", taskmanager.get("path") or "")
    return match.group(1) if match else None


class SwarmService(object):

    def __init__(self, params, spec, check_mode=False, client=None):
        self.params = params
        self.spec = spec
        self.check_mode = check_mode
        self.client = client or EngineClient(params)
        self.failed_before = set()
        # A rolled-back update ends the wait with an error only when it is this run's update (the swarm undid it,
        # failure_action rollback) and not a rollback this run asked for itself; an earlier run's is the past.
        self.updated = False
        self.rolled_back = False
        self.pending_since = {}
        self.warnings = []
        self._digest = False  # not resolved yet

    # -- image digest --------------------------------------------------------------------------------
    def digest(self):
        """The registry digest the image reference resolves to now (through the manager's daemon, which also
        knows the registry credentials and insecure registries), or None when resolution is off, the reference
        is already pinned, or the registry cannot be asked (then the service runs the plain tag, with a warning,
        as the docker CLI does)."""
        if self._digest is not False:
            return self._digest
        self._digest = None
        image = self.spec.data["image"]
        if not self.params.get("resolve_image", True) or image_digest(image):
            return None
        try:
            found = self.client.api.inspect_distribution(image)
            self._digest = (found.get("Descriptor") or {}).get("digest") or None
        except (APIError, NotFound) as exc:
            self.warnings.append("image %s could not be resolved to a registry digest (%s); the service runs the "
                                 "tag as it is, and a new image pushed under the same tag is not detected" % (
                                     image, getattr(exc, "explanation", None) or exc))
        return self._digest

    def pinned_image(self):
        digest = self.digest()
        return "%s@%s" % (self.spec.data["image"], digest) if digest else self.spec.data["image"]

    @staticmethod
    def running_digest(actual):
        spec = ((actual or {}).get("Spec") or {}).get("TaskTemplate") or {}
        return image_digest((spec.get("ContainerSpec") or {}).get("Image"))

    # -- reading -------------------------------------------------------------------------------------
    def read(self):
        info = self.client.info().get("Swarm") or {}
        if info.get("LocalNodeState") != "active" or not info.get("ControlAvailable"):
            raise SpecError("the Docker host is not a manager of an active swarm (state %s)" % (
                info.get("LocalNodeState") or "inactive"), option="docker_host",
                hint="Point docker_host to a swarm manager (the flinkops.flink.swarm role forms a swarm)")
        try:
            return self.client.api.inspect_service(self.spec.name)
        except NotFound:
            return None

    def networks(self):
        """(name, existing network or None, wanted options) for every network of the spec."""
        found = []
        for net in self.params.get("networks") or []:
            existing = [n for n in self.client.api.networks(names=[net["name"]]) if n.get("Name") == net["name"]]
            found.append((net["name"], existing[0] if existing else None, net))
        return found

    @staticmethod
    def before_view(actual):
        if actual is None:
            return {}
        labels = (actual.get("Spec") or {}).get("Labels") or {}
        return {"state": "present", "spec_hash": labels.get(HASH_LABEL),
                "image_digest": SwarmService.running_digest(actual),
                "replicas": ((actual["Spec"].get("Mode") or {}).get("Replicated") or {}).get("Replicas")}

    # -- planning ------------------------------------------------------------------------------------
    def plan(self, actual):
        if self.spec.state == "absent":
            return [("remove", "service %s" % self.spec.name)] if actual is not None else []
        actions = []
        for name, existing, wanted in self.networks():
            if existing is None:
                if not wanted.get("create", True):
                    raise SpecError("network %s does not exist" % name, option="networks",
                                    hint="Create it, or set create: true on it")
                actions.append(("create_network", "network %s (overlay%s)" % (
                    name, ", encrypted" if wanted.get("encrypted") else "")))
            elif existing.get("Driver") != "overlay" or existing.get("Scope") != "swarm":
                raise SpecError("network %s exists with driver %s (scope %s); a service needs an overlay network" % (
                    name, existing.get("Driver"), existing.get("Scope")), option="networks",
                    hint="Use another network name, or remove that network first")
        return actions + self.plan_service(actual)

    def plan_service(self, actual):
        """The service's own action (create or update), networks aside; ``actual`` is its inspect or None."""
        if actual is None:
            return [("create", "service %s" % self.spec.name)]
        reasons = self.update_reasons(actual)
        return [("update", "service %s (%s)" % (self.spec.name, "; ".join(reasons)))] if reasons else []

    def update_reasons(self, actual, changed="spec changed"):
        """Why the running service ``actual`` differs from the spec: its hash, or a new image digest."""
        labels = (actual.get("Spec") or {}).get("Labels") or {}
        reasons = []
        if labels.get(HASH_LABEL) != self.spec.hash:
            reasons.append(changed)
        digest = self.digest()
        running = self.running_digest(actual)
        if digest and digest != running:
            reasons.append("image %s is now %s, the service runs %s" % (
                self.spec.data["image"], digest, running or "the tag without a digest"))
        return reasons

    # -- building ------------------------------------------------------------------------------------
    def _healthcheck(self):
        health = self.spec.data["healthcheck"]
        if not health:
            return None
        if health["test"][0] == "NONE":
            return _types().Healthcheck(test=["NONE"])
        return _types().Healthcheck(test=health["test"], interval=_nanos(health["interval"]),
                                    timeout=_nanos(health["timeout"]), retries=health["retries"],
                                    start_period=_nanos(health["start_period"]))

    def _task_template(self, network_ids):
        d = self.spec.data
        mounts = []
        for m in d["mounts"]:
            mounts.append(_types().Mount(target=m["target"], source=m.get("source") or "", type=m.get("type") or "bind",
                                         read_only=bool(m.get("read_only"))))
        secrets = [_types().SecretReference(self.secret_id(s["name"]), s["name"], filename=s["target"])
                   for s in d.get("secrets") or []] or None
        container = _types().ContainerSpec(
            image=self.pinned_image(), command=d.get("entrypoint"), args=[d["command"]] + d["args"], env=d["env"],
            mounts=mounts, secrets=secrets,
            labels=dict(d["container_labels"], **{ROLE_LABEL: d["command"]}),
            hostname=d["hostname"] or None, healthcheck=self._healthcheck())
        res = d["resources"]
        resources = None
        if res:
            resources = _types().Resources(
                cpu_limit=_nanos(res.get("limit_cpu")), cpu_reservation=_nanos(res.get("reserve_cpu")),
                mem_limit=parse_memory(res["limit_memory"], "resources.limit_memory") if res.get("limit_memory") else None,
                mem_reservation=parse_memory(res["reserve_memory"], "resources.reserve_memory")
                if res.get("reserve_memory") else None)
        rp = d["restart_policy"]
        restart = _types().RestartPolicy(
            condition=rp.get("condition", "any"), delay=_nanos(rp.get("delay", 5)) or 0,
            max_attempts=rp.get("max_attempts", 0), window=_nanos(rp.get("window", 0)) or 0)
        placement = None
        if d["constraints"] or d["preferences"]:
            placement = _types().Placement(constraints=d["constraints"] or None,
                                           preferences=[_types().PlacementPreference("spread", p)
                                                        for p in d["preferences"]] or None)
        return _types().TaskTemplate(container_spec=container, resources=resources, restart_policy=restart,
                                     placement=placement, networks=[{"Target": i} for i in network_ids] or None)

    def secret_id(self, name):
        found = [s for s in self.client.api.secrets(filters={"name": name}) if s["Spec"]["Name"] == name]
        if not found:
            raise BackendError("swarm secret %s does not exist" % name, option="flink_config_secrets")
        return found[0]["ID"]

    def _service_kwargs(self, network_ids):
        d = self.spec.data
        uc = d["update_config"]
        update = _types().UpdateConfig(
            parallelism=uc.get("parallelism", 1), delay=_nanos(uc.get("delay", 0)),
            failure_action=uc.get("failure_action", "pause"), monitor=_nanos(uc.get("monitor", 5)),
            order=uc.get("order", "stop-first"))
        ports = [{"Protocol": p.get("protocol") or "tcp", "PublishedPort": p["published"], "TargetPort": p["target"],
                  "PublishMode": p.get("mode") or "ingress"} for p in d["publish"]]
        endpoint = _types().EndpointSpec(mode=d["endpoint_mode"], ports=None)
        endpoint["Ports"] = ports
        return dict(task_template=self._task_template(network_ids), name=d["name"],
                    labels=dict(d["labels"], **{HASH_LABEL: self.spec.hash, ROLE_LABEL: d["command"]}),
                    mode=_types().ServiceMode("replicated", replicas=d["replicas"]),
                    update_config=update, endpoint_spec=endpoint)

    # -- applying ------------------------------------------------------------------------------------
    def apply(self, actions):
        self.failed_before = set(t["id"] for t in self.tasks(False) if t["state"] in FAILED_STATES) \
            if any(a[0] == "update" for a in actions) else set()
        names = [a[0] for a in actions]
        try:
            if "remove" in names:
                self.client.api.remove_service(self.spec.name)
                return
            for name, existing, wanted in self.networks():
                if existing is None:
                    self.client.api.create_network(
                        name, driver="overlay", attachable=wanted.get("attachable", True),
                        options={"encrypted": "true"} if wanted.get("encrypted") else None,
                        labels={"org.flinkops.created-by": "flink_swarm_service"}, check_duplicate=True)
            network_ids = [(existing or self.client.api.inspect_network(name))["Id"]
                           for name, existing, wanted in self.networks()]
            if "create" in names:
                self.client.api.create_service(**self._service_kwargs(network_ids))
            elif "update" in names:
                self.updated = True

                def attempt():
                    current = self.client.api.inspect_service(self.spec.name)
                    self.client.api.update_service(current["ID"], current["Version"]["Index"],
                                                   fetch_current_spec=False, **self._service_kwargs(network_ids))
                retry_out_of_sequence(attempt, attempts=self.params.get("retries") or 5)
        except APIError as exc:
            raise BackendError("the swarm refused the request: %s" % (exc.explanation or exc), option="name")

    # -- waiting -------------------------------------------------------------------------------------
    def tasks(self, desired_running=True, template=None):
        """The service's tasks, oldest slot first. With ``template`` (the service's Spec.TaskTemplate) each says
        whether it runs that template's container spec ("current"): right after an update the swarm may not have
        replaced a task yet, and a task of the old spec still says desired "running"."""
        filters = {"service": self.spec.name}
        if desired_running:
            filters["desired-state"] = "running"
        tasks = self.client.api.tasks(filters=filters)
        nodes = {}
        if any(t.get("NodeID") for t in tasks):
            try:  # one listing of the nodes, not one look per task
                for node in self.client.api.nodes():
                    nodes[node["ID"]] = ((node.get("Description") or {}).get("Hostname") or node["ID"],
                                         (node.get("Status") or {}).get("State"))
            except APIError:
                pass
        out = []
        for t in tasks:
            node_id = t.get("NodeID") or ""
            status = t.get("Status") or {}
            hostname, node_state = nodes.get(node_id, (node_id, "unknown")) if node_id else ("", "")
            out.append({"id": t["ID"][:12], "slot": t.get("Slot"), "node": hostname, "node_state": node_state,
                        "state": status.get("State"), "desired_state": t.get("DesiredState"),
                        "message": status.get("Message") or "", "error": status.get("Err") or "",
                        "created": t.get("CreatedAt") or "",
                        "current": template is None or is_current(t, template),
                        "addresses": [a.split("/")[0] for n in t.get("NetworksAttachments") or []
                                      for a in n.get("Addresses") or []]})
        return sorted(out, key=lambda t: (t["slot"] or 0, t["created"]))

    def _converged(self):
        service = self.client.api.inspect_service(self.spec.name)
        update = service.get("UpdateStatus") or {}
        finished = ("completed", "rollback_completed") if self.rolled_back or not self.updated else ("completed",)
        if update.get("State") in ("paused", "rollback_paused", "rollback_completed") and \
                update.get("State") not in finished:
            log = self.log_excerpt()
            raise BackendError("the service update of %s %s: %s%s" % (
                self.spec.name, update.get("State"), update.get("Message"), "; its log: %s" % log if log else ""),
                option="update_config", partial={"tasks": self.tasks(False)})
        every = self.tasks(False, template=service["Spec"].get("TaskTemplate"))
        tasks = [t for t in every if t["desired_state"] == "running"]
        # A task on a node the swarm lost still says "running" until the swarm notices; it does not count. Nor
        # does a task of the spec before an update the swarm has not begun yet (its UpdateStatus may still say
        # "completed" from the update before, or nothing).
        running = [t for t in tasks if t["state"] == "running" and t["node_state"] == "ready" and t["current"]]
        error = placement_error(self.spec.name, tasks, self.pending_since, time.monotonic())
        if error is not None:
            raise error
        failed = [t for t in every if t["state"] in FAILED_STATES and t["id"] not in self.failed_before]
        if len(failed) >= 3 and not len(running) == self.spec.data["replicas"]:
            last = failed[-1]
            log = self.log_excerpt()
            raise BackendError("tasks of %s keep failing on %s: %s%s" % (
                self.spec.name, last["node"] or "a node", last["error"] or last["message"],
                "; its log: %s" % log if log else ""),
                option="image", partial={"tasks": tasks},
                hint="Check that every node can pull the image and that the container starts (docker service ps)")
        done = update.get("State") in (None, "") + finished and len(running) == self.spec.data["replicas"] \
            and len(tasks) == len(running)
        return done, {"tasks": tasks, "summary": "%d of %d tasks running" % (len(running), self.spec.data["replicas"])}

    def _registered(self, rest, tasks):
        """Exactly the TaskManagers <name>-1..<name>-N are registered, each from the address of the task
        now running in its slot (not a registration left over from a task the swarm replaced)."""
        try:
            tms = rest.taskmanagers()
        except RestUnavailable as exc:
            return False, {"summary": "JobManager REST not answering: %s" % exc}
        mine = re.compile(r"^%s-(\d+)$" % re.escape(self.spec.name))
        registered = dict((t["id"], tm_host(t)) for t in tms if mine.match(t.get("id") or ""))
        ids = sorted(registered)
        want = sorted("%s-%d" % (self.spec.name, i) for i in range(1, self.spec.data["replicas"] + 1))
        addresses = dict(("%s-%s" % (self.spec.name, t["slot"]), t["addresses"]) for t in tasks
                         if t["state"] == "running")
        stale = [i for i in ids if i in want and registered[i] and addresses.get(i)
                 and registered[i] not in addresses[i]]
        missing = [w for w in want if w not in ids]
        extra = [i for i in ids if i not in want]
        return ids == want and not stale, {
            "taskmanagers": ids,
            "summary": "registered: %s; missing: %s; still registered: %s; from a replaced task: %s" % (
                ids, missing, extra, stale)}

    def failed_task_ids(self):
        """Ids of the service's failed tasks: one task listing (no node listing, unlike tasks())."""
        return set(t["ID"][:12] for t in self.client.api.tasks(filters={"service": self.spec.name})
                   if (t.get("Status") or {}).get("State") in FAILED_STATES)

    def log_excerpt(self, tail=60, keep=8):
        """What the service's last log lines say went wrong (Flink's ERROR, exception and cause lines, the JVM's
        "Error ..." lines, else the last lines), for an error message; "" when the logs cannot be read."""
        try:
            raw = self.client.api.service_logs(self.spec.name, stdout=True, stderr=True, tail=tail)
            if not isinstance(raw, (bytes, str)):
                raw = b"".join(raw)
        except Exception:  # pylint: disable=broad-exception-caught
            return ""  # logs are a help for the message, never a reason to fail differently
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        causes = [line for line in lines if not line.startswith("at ") and (
            " ERROR " in line or "Exception" in line or line.startswith(("Caused by", "Error")))]
        return " | ".join((causes or lines)[-keep:])

    def wait(self, timeout, sleep, watch=None):
        """Until the tasks run on ready nodes and, with rest_url, Flink agrees (REST answers; for TaskManagers
        exactly the expected ones are registered from their current tasks). ``watch`` is called on every round
        and may raise (another service's failure ends the wait at once)."""
        deadline = time.monotonic() + timeout
        rest = FlinkRest(self.params["rest_url"], timeout=10) if self.params.get("rest_url") else None
        while True:
            if watch is not None:
                watch()
            done, state = self._converged()
            phase = "tasks"
            if done and rest is not None:
                phase = "Flink REST"
                if self.spec.data["command"] == "taskmanager":
                    done, extra = self._registered(rest, state["tasks"])
                else:
                    try:
                        extra = {"overview": rest.overview()}
                    except RestUnavailable as exc:
                        done, extra = False, {"summary": "REST not answering: %s" % exc}
                state.update(extra)
            if done:
                return state
            if time.monotonic() > deadline:
                raise WaitTimeout("timed out after %ss waiting for service %s (%s)" % (timeout, self.spec.name, phase),
                                  option="wait_timeout", partial=state,
                                  hint="Last seen: %s. Raise wait_timeout if the cluster is just slow" % (
                                      state.get("summary")))
            time.sleep(sleep)


def is_current(task, template):
    """Whether a task (as the API lists it) runs the container spec of the service's TaskTemplate. The swarm copies
    the template into each task it creates; only the container spec is compared (the task's copy lacks fields such
    as Runtime that the service's has), which holds everything this collection changes, its labels included."""
    return ((task.get("Spec") or {}).get("ContainerSpec") or {}) == ((template or {}).get("ContainerSpec") or {})


def placement_error(name, tasks, pending_since, now):
    """The error for a task the swarm cannot place, or None.

    A constraint or resource that no node satisfies is final at once. A host-mode port "already in use" is often
    not: the swarm reports it while a task it replaced (a failed start, an update) still holds the port on the only
    node allowed, so that one counts only after PORT_GRACE_SECONDS of the same task pending (``pending_since``
    remembers when each task was first seen so, from the monotonic ``now``)."""
    for t in tasks:
        if t["state"] != "pending" or "no suitable node" not in t["error"]:
            continue
        if "host-mode port already in use" in t["error"]:
            first = pending_since.setdefault(t["id"], now)
            if now - first < PORT_GRACE_SECONDS:
                continue
            option = "publish"
            hint = ("The port is published in host mode and something on the node(s) the constraints allow holds "
                    "it: free it, publish another port, or publish in ingress mode")
        else:
            option = "resources" if "insufficient resources" in t["error"] else "constraints"
            hint = ("Check the placement constraints against the node labels (docker node inspect), or the "
                    "resources against what the nodes have")
        return BackendError("placement: no node can run task %s of %s: %s" % (t["slot"], name, t["error"]),
                            option=option, partial={"tasks": tasks}, hint=hint)
    return None
