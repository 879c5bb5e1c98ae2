# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  wait:
    description:
      - Wait until the result really works, not only until the platform accepted the request.
      - What "works" means is said in each module's description.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait at most. On time-out the module fails and returns what it saw last.
    type: int
    default: 300
  wait_sleep:
    description:
      - Seconds between two checks while waiting.
    type: float
    default: 0.5
"""
