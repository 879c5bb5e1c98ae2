# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform contract: the steps every platform takes, whatever it runs on.

The flows (``flows/cluster.py``, ``flows/application.py``) call only what is declared here; a platform (one file
under ``platforms/``, registered in ``registry.py``) implements it. ``actual`` is whatever the platform's
``read()`` returns: the flows never look inside it, they ask the platform (``exists``, ``has_jobmanager``).

Steps, in the order the flows take them::

    read() -> actual                     what is there now (one read; nothing changes)
    prepare(check_only)                  what the plan needs from the engine (e.g. the image's id)
    plan(actual, state) -> [Action]      the changes that bring actual to the desired state
    preflight(actions, actual)           checks that need the engine but change nothing
    disruptive(actions), running_jobs()  the guard against restarting running jobs
    before_view(actual), desired_view()  diff mode's before and after (spec fields, secrets masked)
    apply(actions)                       exactly the plan
    wait_ready(timeout, sleep)           real readiness (REST, TaskManagers registered)
    describe(actual)                     the return values
"""

from __future__ import annotations

import abc
import time

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.job import ACTIVE, JobControl, name_prefix
from ansible_collections.flinkops.flink.plugins.module_utils.rest import FlinkRest, RestUnavailable

# Job states a restart of the cluster would disrupt.
ACTIVE_JOB_STATES = ("CREATED", "RUNNING", "FAILING", "CANCELLING", "RESTARTING", "SUSPENDED", "RECONCILING",
                     "INITIALIZING")


class ClusterPlatform(abc.ABC):
    """A Flink cluster on one platform. ``kind`` is session or application."""

    #: registry key: (platform, mode)
    platform = None
    mode = None
    kind = "session"
    #: taskmanager.replicas when not given (its meaning per platform is in the docs)
    default_taskmanagers = 1
    #: more than one JobManager (standby, with high availability) is possible
    standby_jobmanagers = False
    #: set by the flows when nothing was applied since read(): a wait's first probe may use what read() saw
    read_holds = False

    def __init__(self, module, spec):
        self.module = module
        self.params = module.params
        self.spec = spec

    # Reading ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def read(self):
        """The cluster as it is now, in the platform's own shape."""

    @abc.abstractmethod
    def exists(self, actual):
        """Whether anything of the cluster exists."""

    @abc.abstractmethod
    def has_jobmanager(self, actual):
        """Whether the cluster has a JobManager (running or not)."""

    def jobmanager_running(self, actual):
        """Whether the JobManager may answer REST now (running jobs are asked from it only then)."""
        return self.has_jobmanager(actual)

    @abc.abstractmethod
    def before_view(self, actual):
        """The spec the running cluster was made from (diff mode's before), {} when there is none."""

    @abc.abstractmethod
    def desired_view(self):
        """The desired spec as diff mode shows it (secret values masked)."""

    def text_diff(self, actual, removing):
        """Diff mode's diff as a text file's before and after (Ansible's before/after/headers), where a platform
        has a file that says it all (Compose's); None: the views are the diff."""
        return None

    def render_files(self, check_only):
        """state rendered: write the platform's files without touching the engine; (changed, text)."""
        raise SpecError("state rendered writes a Compose file; platform %s has none" % self.platform, option="state",
                        hint="Use platform compose, or another state")

    # Planning -----------------------------------------------------------------------------------
    def prepare(self, check_only=False):
        """Whatever the plan needs from the engine before planning (the image's id on Docker); nothing changes
        in check mode."""
        return None

    @abc.abstractmethod
    def plan(self, actual, state):
        """[Action] that bring ``actual`` to ``state`` (present, absent, restarted)."""

    def preflight(self, actions, actual):
        """Checks that need the engine and change nothing; raise SpecError naming the option."""
        return None

    def disruptive(self, actions):
        """The actions that would restart or remove a JobManager or TaskManager."""
        return [a for a in actions if a.kind in ("recreate", "remove", "restart") and
                a.role in ("jobmanager", "taskmanager")]

    def running_jobs(self, actual):
        """Jobs that a restart would disrupt, asked from the JobManager when it answers."""
        if not self.jobmanager_running(actual):
            return []
        try:
            return [j for j in self.rest().jobs() if j.get("state") in ACTIVE_JOB_STATES]
        except RestUnavailable:
            return []

    # Changing -----------------------------------------------------------------------------------
    @abc.abstractmethod
    def apply(self, actions):
        """Apply exactly ``actions`` (their roles job and record are the flows' own)."""

    def settle(self):
        """The change reached readiness (or is not waited for): drop what apply kept to go back to."""
        return None

    def roll_back(self):
        """Undo what apply changed, back to the containers of the last spec that was ready; returns what was
        restored ([] when the platform keeps nothing to go back to)."""
        return []

    def expect_restored(self, replicas, slots):
        """After a rollback, the wait expects the restored cluster's TaskManagers and slots (what the restored
        containers, services or file say; None: as the spec says), not the failed spec's."""
        if replicas is not None:
            self.spec.tm_replicas = replicas
        if slots:
            self.spec.tm_slots = slots

    @abc.abstractmethod
    def wait_ready(self, timeout, sleep):
        """Until the cluster works: REST answers and the requested TaskManagers are registered."""

    @abc.abstractmethod
    def describe(self, actual=None):
        """Return values (rest_url, taskmanagers, slots, jobs, the platform's objects)."""

    @abc.abstractmethod
    def rest(self):
        """A Flink REST client of the cluster's JobManager."""

    def flink_facts(self):
        """What the JobManager says of the cluster, for describe(): Flink version, slots, TaskManagers and jobs
        (``taskmanagers: []`` alone when REST does not answer). The TaskManagers last seen by wait_ready
        (``_seen``) are used when there are some, so the return values match the readiness that was waited for."""
        try:
            rest = self.rest()
            overview, tms = getattr(self, "_seen", None) or (rest.overview(), rest.taskmanagers())
            # Slots from the TaskManager list itself: the overview may have been read a moment earlier.
            return {"flink_version": overview.get("flink-version"),
                    "slots_total": sum(tm.get("slotsNumber") or 0 for tm in tms),
                    "slots_available": sum(tm.get("freeSlots") or 0 for tm in tms),
                    "taskmanagers": [{"id": tm.get("id"), "slots": tm.get("slotsNumber"),
                                      "free_slots": tm.get("freeSlots")} for tm in tms],
                    "jobs": [{"id": j.get("jid"), "name": j.get("name"), "state": j.get("state")}
                             for j in rest.jobs()]}
        except RestUnavailable:
            return {"taskmanagers": []}

    @classmethod
    def find_rest_url(cls, params, name):
        """The REST URL of cluster ``name`` deployed by this collection (for flink_job and flink_info)."""
        raise SpecError("platform %s cannot find a cluster by name" % cls.platform, option="platform",
                        hint="Give rest_url")

    @classmethod
    def rest_client(cls, params, name):
        """Flink's REST API of cluster ``name`` deployed by this collection (flink_job, flink_info): a client of
        find_rest_url's URL, unless the platform reaches it another way (Kubernetes: the API server's proxy)."""
        return FlinkRest(cls.find_rest_url(params, name), validate_certs=params.get("validate_certs", False))


class ApplicationPlatform(ClusterPlatform):
    """An application cluster: the cluster plus its one job, and a record of a suspended application."""

    kind = "application"
    #: True where the platform runs upgrades (savepoint, last-state) itself, as the Flink Kubernetes Operator does:
    #: the flow then leaves the state-saving step to the platform
    manages_upgrades = False

    def __init__(self, module, spec):
        super(ApplicationPlatform, self).__init__(module, spec)
        self.job = None  # the ApplicationJob, None for state=absent
        self.job_id = None
        self.restore_from = None

    @abc.abstractmethod
    def record_name(self):
        """The name of the record of a suspended application."""

    @abc.abstractmethod
    def read_record(self):
        """The record of a suspended application as a dict (savepoint, job-id, suspended-at), or None."""

    @abc.abstractmethod
    def write_record(self, savepoint, job_id):
        """Remember a suspended application's savepoint (replaces an older record)."""

    @abc.abstractmethod
    def delete_record(self):
        """Forget the record (no error when there is none)."""

    def take_savepoint(self, job_id, timeout, sleep):
        """An on-demand savepoint of the running job (trigger_savepoint): its path. Through Flink's REST API here;
        a platform whose controller owns the job (the operator) asks that controller."""
        return JobControl(self.rest()).trigger_savepoint(job_id, self.job.savepoint_dir, timeout, sleep,
                                                         option="job.savepoint_dir")

    def check_path(self, path, option):
        """A savepoint path must be readable by the new JobManager; checked before anything is stopped where the
        platform can (SpecError naming ``option``)."""
        return None

    def new_job_id(self):
        """The job id of the next submission (kept as ``job_id``, the job the flow then waits for): job.job_id, or
        derived from the name and the job's digest plus a nonce (Flink refuses an id it has seen)."""
        if self.job_id is None:
            self.job_id = self.derive_job_id()
        return self.job_id

    def derive_job_id(self):
        """A job id for a submission, without taking it (for a platform that renders the command while planning)."""
        if self.job.job_id:
            return self.job.job_id
        return "%s%s%08x" % (name_prefix(self.spec.name), self.job.digest(), int(time.time() * 1000) & 0xFFFFFFFF)

    def active_job(self, actual):
        """The job of the JobManager (an active one first), or None (no JobManager, REST down)."""
        if not self.jobmanager_running(actual):
            return None
        try:
            jobs = self.rest().jobs()
        except RestUnavailable:
            return None
        active = [j for j in jobs if j.get("state") in ACTIVE]
        return active[0] if active else (jobs[0] if jobs else None)
