# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollback of a Compose project to the files it ran before this run.

The project is its files: ``compose.yaml`` (and the secrets file) before a change that recreates containers are kept
in memory; when the new ones do not get ready, the old files are written back and ``docker compose up`` recreates
the services they describe. What the wait after it expects (TaskManagers and slots) is read from the old file.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.flinkops.flink.plugins.module_utils.application_job import restart_args
from ansible_collections.flinkops.flink.plugins.module_utils.compose.project import _write
from ansible_collections.flinkops.flink.plugins.module_utils.compose.render import _scalar, service_sections

SCALE = re.compile(r"^    scale:\s*(\d+)\s*$")
# In FLINK_PROPERTIES, one line of a quoted value (the renderer writes "\n" between lines).
SLOTS = re.compile(r"taskmanager\.numberOfTaskSlots:\s*(\d+)")


def read_text(path):
    """The file's text, None when it does not exist."""
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return handle.read()


def taskmanagers_of(text):
    """(TaskManager count, slots each) that a compose.yaml of this collection runs (its own renderer's layout, read
    without a YAML parser: module_utils import only what every managed host has); None where it does not say."""
    lines = service_sections(text).get("taskmanager") or ()
    replicas = slots = None
    for line in lines:
        scale = SCALE.match(line)
        if scale:
            replicas = int(scale.group(1))
        found = SLOTS.search(line)
        if found and slots is None:
            slots = int(found.group(1))
    return replicas, slots


def _item_value(item):
    """A block list item's scalar as the renderer wrote it (plain or double-quoted, ``$`` doubled)."""
    text = json.loads(item) if item.startswith('"') else item
    return text.replace("$$", "$")


def restart_file(text, job_id, restore_from):
    """A compose.yaml of this collection's with its JobManager's command restarting the job from ``restore_from``
    under ``job_id`` (application_job.restart_args); None when the command has no job id of the collection's."""
    lines = text.split("\n")
    service, start = None, None
    for at, line in enumerate(lines):
        if re.match(r"^  [A-Za-z0-9_.-]+:\s*$", line):
            service = line.strip()[:-1]
        elif service == "jobmanager" and line == "    command:":
            start = at + 1
            break
    if start is None:
        return None
    end = start
    while end < len(lines) and lines[end].startswith("      - "):
        end += 1
    args = restart_args([_item_value(line[len("      - "):]) for line in lines[start:end]], job_id, restore_from)
    if args is None:
        return None
    return "\n".join(lines[:start] + ["      - %s" % _scalar(arg) for arg in args] + lines[end:])


class ComposeRollback(object):
    """The rollback part of platforms/compose.ComposeCluster (its files, CLI and spec)."""

    _previous = None  # (compose.yaml, secrets file or None, containers recreated) before this run's change

    def keep_previous(self, actions):
        """Before the files are rewritten for a change that recreates containers: keep the files that ran."""
        recreated = sorted(a.target for a in actions if a.kind == "recreate")
        text = read_text(self.file_path)
        self._previous = (text, read_text(self.secrets_path), recreated) if recreated and text else None

    def settle(self):
        self._previous = None

    def roll_back(self):
        """Write the files before this run back and let Compose recreate what they describe. Nothing when the run
        recreated no container (a new project is left as it is, for inspection)."""
        if self._previous is None:
            return []
        text, secrets, recreated = self._previous
        self._previous = None
        if secrets is not None:
            _write(self.secrets_path, secrets, 0o600)
        _write(self.file_path, text, 0o644)
        self.cli.run("up", "--detach", "--remove-orphans", "--no-build", "--pull", "never")
        self.expect_restored(*taskmanagers_of(text))
        return recreated
