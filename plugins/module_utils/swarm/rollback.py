# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollback of swarm services to the spec they ran before this run's update.

The swarm keeps each service's spec before its last update (``PreviousSpec``) and puts it back on request, as
``docker service rollback`` does: the rollback is a server-side update, so it goes through the same task
replacement (and the same ``UpdateStatus``, ending in ``rollback_completed``) as the update it undoes.
"""

from __future__ import annotations

import copy

from ansible_collections.flinkops.flink.plugins.module_utils.docker.api import APIError
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError
from ansible_collections.flinkops.flink.plugins.module_utils.swarm.retry import retry_out_of_sequence


def roll_back_service(client, name, change=None):
    """Put service ``name`` back on its previous spec; with ``change`` (a function of that spec, returning the spec
    to run) on what it makes of it. False when the swarm keeps none (a service created, never updated); the swarm's
    own version check is retried when another writer moved it meanwhile."""
    api = client.api
    first = [api.inspect_service(name)]
    if not first[0].get("PreviousSpec"):
        return False

    def attempt():
        # The first attempt uses what was read a moment ago; a retry reads the version that moved.
        current = first.pop() if first else api.inspect_service(name)
        if change is None:
            api.update_service_spec(current["ID"], current["Version"]["Index"], current["Spec"], rollback=True)
        else:
            api.update_service_spec(current["ID"], current["Version"]["Index"],
                                    change(copy.deepcopy(current["PreviousSpec"])))
    retry_out_of_sequence(attempt)
    return True


class SwarmRollback(object):
    """The rollback part of platforms/swarm.SwarmCluster (its services, client, secrets and spec): what apply
    recorded (``_updated``, ``_changed``, ``_failed_before``, ``_secret_rotated``) is undone or settled here, and
    the wait after a rollback is told what to expect."""

    def settle(self):
        """The new spec is ready: the secrets it no longer uses go."""
        if self._secret_rotated:
            self._remove_secrets(keep=self.secret_name())
            self._secret_rotated = False

    def roll_back(self):
        """The services this run updated go back to their spec before it, as the swarm kept it (PreviousSpec,
        what ``docker service rollback`` restores). Nothing when no service was updated (a new cluster is left as
        it is, for inspection)."""
        restored = []
        try:
            for role in self._updated:
                name = self.service_name(role)
                failed = self.service(role).failed_task_ids()  # the failed new tasks do not fail the wait after
                if roll_back_service(self.client, name, self.restored_spec(role)):
                    self._failed_before[role] = failed
                    restored.append(name)
        except APIError as exc:
            raise BackendError("rolling back failed after %s were restored: %s" % (
                ", ".join(restored) or "none", exc.explanation or exc),
                hint="docker service rollback <service> puts a service back on its previous spec")
        self._updated = []
        if not restored:
            return []
        self._rolled_back = True
        self._rest_url = None  # the JobManager's task may run on another node again
        if self._secret_rotated:  # the restored spec uses the secret before; the new one is in no spec now
            self._retry(lambda: self.client.api.remove_secret(self.secret_name()), "secret %s" % self.secret_name(),
                        seconds=30)
            self._secret_rotated = False
        # The wait that follows expects what the restored services are: their TaskManagers and slots (from the
        # restored services' own labels), not the failed spec's.
        taskmanager = self.before_view(self.read())["taskmanager"]
        self.expect_restored(taskmanager.get("replicas"), taskmanager.get("slots"))
        return restored

    def restored_spec(self, role):
        """None: the service goes back to its previous spec as it was; else a function that makes the spec to run
        from it (an application's JobManager restarts its job from the state the run saved)."""
        return None

    def _waits_for(self, service, role):
        """What the wait on ``service`` must know of this run: the failed tasks from before its update (or of the
        failed update a rollback undid), which are no sign of the new tasks failing; whether this run updated it
        and rolled it back (a completed rollback is a failure only of an update of this run that the run did not
        roll back itself)."""
        service.failed_before = self._failed_before.get(role, set())
        service.rolled_back = self._rolled_back
        service.updated = role in self._changed
