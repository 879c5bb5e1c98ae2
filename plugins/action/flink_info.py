# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of flink_info: runs the module in Ansible's worker process when the task targets the controller
with the controller's Python, as a module process otherwise (see plugin_utils/in_process.py)."""

from __future__ import annotations

from ansible_collections.flinkops.flink.plugins.plugin_utils.in_process import InProcessModuleAction


class ActionModule(InProcessModuleAction):
    MODULE = "flink_info"
