# -*- coding: utf-8 -*-
# Test-only callback: writes every task result of a playbook run as JSON, so tests assert on real results.
from __future__ import annotations

DOCUMENTATION = r"""
name: flinkops_results
type: aggregate
short_description: Write task results to the file named by FLINKOPS_RESULTS_FILE (tests only)
description:
  - Used by the collection's tests; not shipped in the collection.
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "flinkops_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.results = []

    def _record(self, result, status):
        data = dict(result._result)
        data.pop("invocation", None)
        self.results.append({"task": result._task.get_name(), "host": result._host.get_name(),
                             "status": status, "result": data})

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("FLINKOPS_RESULTS_FILE")
        if path:
            with open(path, "w") as handle:
                json.dump(self.results, handle, default=str)
