# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting on a monotonic clock, with the last state seen returned on time-out."""

from __future__ import annotations

import time

from ansible_collections.flinkops.flink.plugins.module_utils.errors import WaitTimeout


def wait_for(probe, timeout, sleep, what, option="wait_timeout"):
    """Call ``probe()`` until it returns ``(True, state)``; return ``state``.

    ``probe`` returns ``(done, state)`` where ``state`` describes what it saw (a dict). On time-out,
    raise WaitTimeout whose ``partial`` is the last state, so the user sees how far it got.
    Exceptions from ``probe`` propagate: a probe catches only what means "not ready yet".
    """
    deadline = time.monotonic() + timeout
    state = {}
    while True:
        done, state = probe()
        if done:
            return state
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout("timed out after %ss waiting for %s" % (timeout, what), option=option,
                              hint="Last seen: %s. Raise wait_timeout if the cluster is just slow" % (
                                  state.get("summary") or state),
                              partial=state)
        time.sleep(min(sleep, remaining))
