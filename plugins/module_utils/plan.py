# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A plan is a list of Actions: what check mode reports, diff mode explains and a real run applies."""

from __future__ import annotations

import hashlib
import json

# Roles an action can have, on every platform: the cluster's parts, the job (a state-saving step that runs before
# anything else), the state record of a suspended application, and platform extras (network, ha, logging).
ROLES = ("jobmanager", "taskmanager", "network", "job", "record", "ha", "logging", "secret", "file", "volume", None)
KINDS = ("create", "recreate", "update", "start", "restart", "remove", "savepoint", "upgrade", "resume", "adopt")


def digest(data, length=32):
    """A stable hash of JSON-able data (sorted keys)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:length]


class Action(object):
    """One step of a plan: ``kind`` (KINDS) on ``target``, for ``reason``; ``role`` (ROLES) tells the flows what
    it touches, ``index`` and ``container_id`` (or any platform object id) tell the platform which one."""

    def __init__(self, kind, target, reason, role=None, index=None, container_id=None):
        self.kind = kind
        self.target = target
        self.reason = reason
        self.role = role
        self.index = index
        self.container_id = container_id

    def describe(self):
        return "%s %s (%s)" % (self.kind, self.target, self.reason)

    def as_dict(self):
        return {"action": self.kind, "target": self.target, "reason": self.reason}

    def __repr__(self):
        return "Action(%r, %r, %r, role=%r)" % (self.kind, self.target, self.reason, self.role)


def changed_fields(before, after, skip=("state",)):
    """The top-level (and one level down, dotted) fields that differ between two views."""
    fields = []
    for key in sorted(set(before) | set(after)):
        if key in skip:
            continue
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            fields.extend("%s.%s" % (key, sub) for sub in sorted(set(old) | set(new)) if old.get(sub) != new.get(sub))
        else:
            fields.append(key)
    return fields


def report_plan(result, actions, before, after, diff, text_diff=None):
    """Put a plan into a module result: ``actions`` (as applied), ``changes`` (readable), ``changed``, and with diff
    mode the spec before and after (check mode and a real run report the same); ``text_diff`` (a file's before and
    after, with headers) replaces the views where a platform has one."""
    result["actions"] = [a.as_dict() for a in actions]
    result["changes"] = [a.describe() for a in actions]
    result["changed"] = bool(actions)
    if diff:
        result["diff"] = text_diff or {"before": before, "after": after}
    return result
