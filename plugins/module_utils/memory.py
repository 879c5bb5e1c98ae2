# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Memory sizes in Flink's syntax (MemorySize): ``1600m``, ``1g``, ``1728 mb``, ``512k``, bytes."""

from __future__ import annotations

import re

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError

_UNITS = {
    "": 1, "b": 1, "bytes": 1,
    "k": 1024, "kb": 1024, "kibibytes": 1024,
    "m": 1024 ** 2, "mb": 1024 ** 2, "mebibytes": 1024 ** 2,
    "g": 1024 ** 3, "gb": 1024 ** 3, "gibibytes": 1024 ** 3,
    "t": 1024 ** 4, "tb": 1024 ** 4, "tebibytes": 1024 ** 4,
}
_RE = re.compile(r"^\s*(\d+)\s*([a-zA-Z]*)\s*$")


def parse_memory(value, option):
    """Return the size in bytes, or raise SpecError naming ``option``."""
    if isinstance(value, bool):
        raise SpecError("%r is not a memory size" % (value,), option=option,
                        hint="Use Flink's syntax, for example 1600m or 2g")
    if isinstance(value, int):
        size = value
    else:
        match = _RE.match(str(value))
        if not match or match.group(2).lower() not in _UNITS:
            raise SpecError("%r is not a memory size" % (value,), option=option,
                            hint="Use Flink's syntax, for example 1600m, 1728mb or 2g")
        size = int(match.group(1)) * _UNITS[match.group(2).lower()]
    if size <= 0:
        raise SpecError("memory size must be positive, got %r" % (value,), option=option,
                        hint="Use Flink's syntax, for example 1600m or 2g")
    return size


def format_memory(size):
    """Format bytes the way Flink prints them: the largest exact unit (``1600m``, ``2g``)."""
    for suffix, factor in (("t", 1024 ** 4), ("g", 1024 ** 3), ("m", 1024 ** 2), ("k", 1024)):
        if size % factor == 0:
            return "%d%s" % (size // factor, suffix)
    return "%db" % size
