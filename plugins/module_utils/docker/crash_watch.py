# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Telling a crash loop from a fault the restart policy mends, while a wait watches the cluster's containers.

A container that exits or restarts again and again will not get ready: the wait fails at once, with its log. One
restart is not that: a JVM killed (``kill -9``, the kernel's OOM killer on another process's behalf), a daemon
restart; the restart policy starts the container again and the wait goes on. Between the container's death and
the policy's restart Docker reports it "exited" for a moment, so an exit counts only when the container has no
restart policy or stays exited for EXIT_GRACE seconds.
"""

from __future__ import annotations

import time

EXIT_GRACE = 10


class CrashWatch(object):
    """Each container's restart count when first seen, and since when it is seen exited."""

    def __init__(self, restart_policy, clock=time.monotonic):
        self.restarts = restart_policy not in (None, "", "no")
        self.clock = clock
        self.baseline = {}
        self.exited_since = {}

    def problem(self, key, status, restart_count):
        """What is wrong with container ``key`` ("exited", "keeps restarting (N restarts)"), or None."""
        first = self.baseline.setdefault(key, restart_count)
        if status in ("exited", "dead"):
            since = self.exited_since.setdefault(key, self.clock())
            if not self.restarts or self.clock() - since >= EXIT_GRACE:
                return "exited"
        else:
            self.exited_since.pop(key, None)
        if restart_count > first + 1:
            return "keeps restarting (%d restarts)" % (restart_count - first)
        return None
