# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""When a swarm session cluster is ready, and where its REST API answers: the readiness part of
platforms/swarm.SwarmCluster (its services, spec, parameters and engine client).

Ready: both services converged on ready nodes, REST answers through the JobManager's published port, and exactly
the TaskManagers ``<name>-taskmanager-1..N`` are registered from their current tasks with the requested slots. A
JobManager that exits again and again fails the wait at once with its log; a time-out while the TaskManagers wait
on a silent JobManager names the JobManager's tasks and log.
"""

from __future__ import annotations

import time

from ansible_collections.flinkops.flink.plugins.module_utils.docker.api import APIError
from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import docker_host_address
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, WaitTimeout
from ansible_collections.flinkops.flink.plugins.module_utils.rest import FlinkRest, RestUnavailable
from ansible_collections.flinkops.flink.plugins.module_utils.wait import wait_for


class SwarmReadiness(object):
    """Readiness and the REST API of platforms/swarm.SwarmCluster."""

    def rest_url(self):
        if self.params.get("rest_url"):
            return self.params["rest_url"]
        if not self.spec.rest_port:
            return None
        if getattr(self, "_rest_url", None):  # the JobManager's node, found once; again once its service changed
            return self._rest_url
        host = docker_host_address(self.params, "0.0.0.0")
        if self.publish_mode != "host":
            return "http://%s:%d" % (host, self.spec.rest_port)
        node = task_node_address(self.client, self.service_name("jobmanager"))
        url = "http://%s:%d" % (node or host, self.spec.rest_port)
        self._rest_url = url if node else None
        return url

    def rest(self):
        url = self.rest_url()
        if not url:
            raise RestUnavailable("the JobManager publishes no REST port (rest_port)")
        if getattr(self, "_rest", None) is None or self._rest.base_url != url.rstrip("/"):
            self._rest = FlinkRest(url, timeout=10)
        return self._rest

    def _jobmanager_rest_url(self, deadline, sleep):
        """The REST URL of the JobManager's running task. In host mode the port is published on the task's node
        only, so the URL waits for that node rather than falling back to the manager's address (nothing would
        ever answer there)."""
        while True:
            self._rest_url = None
            url = self.rest_url()
            if self.publish_mode != "host" or self.params.get("rest_url") or self._rest_url:
                return url
            if time.monotonic() > deadline:
                raise WaitTimeout("timed out waiting for the node of the JobManager's task (its REST port is "
                                  "published in host mode on that node only)", option="wait_timeout")
            time.sleep(sleep)

    def wait_ready(self, timeout, sleep):
        """Both services converged on ready nodes, REST answers and exactly the TaskManagers
        <name>-taskmanager-1..N are registered, from their current tasks, with the requested slots."""
        deadline = time.monotonic() + timeout
        jm = self.service("jobmanager")
        self._waits_for(jm, "jobmanager")
        jm.wait(timeout, sleep)
        url = self._jobmanager_rest_url(deadline, sleep)
        tm = self.service("taskmanager")
        self._waits_for(tm, "taskmanager")
        tm.params["rest_url"] = url
        failed_before = jm.failed_task_ids()

        def jobmanager_stays_up():
            """A JobManager that exits again and again (the swarm restarts it) fails the wait at once, with what
            its log says, instead of a time-out on a REST API that never answers."""
            failed = jm.failed_task_ids() - failed_before
            if len(failed) >= 2:
                raise BackendError("the JobManager service %s exited %d times since it first ran; its log: %s" % (
                    jm.spec.name, len(failed), jm.log_excerpt() or "(not readable)"),
                    hint="docker service logs %s shows all of it" % jm.spec.name)
        try:
            tm.wait(max(1, deadline - time.monotonic()), sleep, watch=jobmanager_stays_up)
        except WaitTimeout as exc:
            if "REST not answering" not in (exc.partial.get("summary") or ""):
                raise
            # The TaskManagers wait on a JobManager whose REST port does not answer: say what its service's
            # tasks and log say, so that the time-out names the JobManager's trouble, not the TaskManagers'.
            exc.partial["jobmanager_tasks"] = jm.tasks(False)
            exc.hint = "%s. The JobManager service's tasks: %s; its log: %s" % (
                exc.hint, jobmanager_tasks_summary(exc.partial["jobmanager_tasks"]),
                jm.log_excerpt() or "(not readable)")
            raise

        def probe():
            try:
                tms = self.rest().taskmanagers()
                overview = self.rest().overview()
            except RestUnavailable as exc:
                return False, {"summary": "REST API not answering (%s)" % exc.message}
            self._seen = (overview, tms)
            wrong = sorted(t.get("id") for t in tms if t.get("slotsNumber") != self.spec.tm_slots)
            return not wrong, {"summary": "TaskManagers with another slot count: %s" % ", ".join(wrong)}
        return wait_for(probe, max(1, deadline - time.monotonic()), sleep,
                        "%d TaskManager(s) with %d slot(s)" % (self.spec.tm_replicas, self.spec.tm_slots))


def jobmanager_tasks_summary(tasks):
    """One line per task of a service: slot, node, state (desired), message and error."""
    return "; ".join("%s on %s %s (desired %s)%s%s" % (
        t["id"], t["node"] or "no node", t["state"], t["desired_state"],
        ": %s" % t["message"] if t["message"] else "", ", error: %s" % t["error"] if t["error"] else "")
        for t in tasks[-5:]) or "none"


def task_node_address(client, service_name):
    """The address of the node that runs the service's task (where a host-mode port is published), or None."""
    try:
        tasks = client.api.tasks(filters={"service": service_name, "desired-state": "running"})
        running = [t for t in tasks if (t.get("Status") or {}).get("State") == "running"]
        if not running or not running[0].get("NodeID"):
            return None
        node = client.api.inspect_node(running[0]["NodeID"])
    except APIError:
        return None
    address = (node.get("Status") or {}).get("Addr")
    return address if address and address not in ("0.0.0.0", "127.0.0.1") else None
