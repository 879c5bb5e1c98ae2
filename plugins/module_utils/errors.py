# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors that carry the option at fault and what to do about it."""

from __future__ import annotations


class FlinkOpsError(Exception):
    """Base error: a message a user can act on.

    ``option`` names the module option at fault (dotted for sub-options), ``hint`` says what to do.
    ``partial`` may carry what is known when the error happened (for example the last state seen
    by a waiter), and is returned to the user next to the message.
    """

    def __init__(self, message, option=None, hint=None, partial=None):
        super(FlinkOpsError, self).__init__(message)
        self.message = message
        self.option = option
        self.hint = hint
        self.partial = partial or {}

    def __str__(self):
        text = self.message
        if self.option:
            text = "%s: %s" % (self.option, text)
        if self.hint:
            text = "%s. %s" % (text.rstrip("."), self.hint)
        return text


class SpecError(FlinkOpsError):
    """The desired state is invalid; raised before anything is touched."""


class BackendError(FlinkOpsError):
    """A platform (Docker, Kubernetes, Flink REST) refused or failed a request."""


class WaitTimeout(FlinkOpsError):
    """A readiness condition was not reached within wait_timeout."""


def fail(module, exc, **result):
    """End the module with ``exc``: its message, the option at fault and what was known (``partial``)."""
    result.update(exc.partial and {"partial": exc.partial} or {})
    if exc.option:
        result["option"] = exc.option
    module.fail_json(msg=str(exc), **result)
