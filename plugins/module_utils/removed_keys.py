# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Configuration keys that Flink 1.20 accepted and Flink 2.x no longer reads (key -> replacement or None).

Provisional; regenerated from the real distributions by tools/removed_keys.
"""

from __future__ import annotations

REMOVED_IN_2 = {
    "state.backend": "state.backend.type",
    "restart-strategy": "restart-strategy.type",
    "env.java.opts": "env.java.opts.all",
    "high-availability": "high-availability.type",
}
