# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flink's own ports in ``flink_config``: each value parsed as Flink parses it, and two of one process's ports set
to the same fixed number refused before anything is touched (Flink would fail to bind the second and the
JobManager or TaskManager would crash-loop).

Flink takes a port as a number, and some keys (the blob server, the RPC and query-service ports) also as a range
or list: ``50100-50200`` or ``50100,50105-50110``; 0 means any free port. A range or list lets Flink pick a free
port from it, so only single fixed ports can clash.
"""

from __future__ import annotations

import re

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError

# The ports each process binds, and the value it uses when the key is not set: Flink's defaults, and the official
# image's entrypoint (which sets blob.server.port to 6124).
PROCESS_PORTS = {
    "jobmanager": (("rest.bind-port", None), ("rest.port", 8081), ("jobmanager.rpc.port", 6123),
                   ("blob.server.port", 6124), ("metrics.internal.query-service.port", 0)),
    "taskmanager": (("taskmanager.rpc.port", 0), ("taskmanager.data.port", 0),
                    ("metrics.internal.query-service.port", 0)),
}
# Keys that take one number only (no range or list).
SINGLE = ("rest.port", "jobmanager.rpc.port", "taskmanager.data.port")
_PART_RE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_ports(key, value, option="flink_config"):
    """The set of ports a value allows, as (low, high) pairs; SpecError naming the key when Flink would not parse
    it. A bool is not a port (YAML reads ``on``/``yes`` as true)."""
    where = "%s.%s" % (option, key)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise SpecError("%r is not a port" % (value,), option=where, hint="Give a number from 0 to 65535")
    text = str(value)
    parts = [] if text.strip() == "" else text.split(",")
    hint = "Give a number from 0 to 65535" + ("" if key in SINGLE else ", a range such as 50100-50200 or a list of them")
    if not parts or (key in SINGLE and len(parts) > 1):
        raise SpecError("%r is not a port" % (value,), option=where, hint=hint)
    ranges = []
    for part in parts:
        match = _PART_RE.match(part)
        if not match or (match.group(2) is not None and key in SINGLE):
            raise SpecError("%r is not a port%s" % (value, "" if key in SINGLE else " or port range"), option=where,
                            hint=hint)
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) is not None else low
        if high > 65535 or low > high:
            raise SpecError("%r is outside the ports 0 to 65535 or an empty range" % (value,), option=where,
                            hint="Ports are 0 (any free port) to 65535; a range is low-high")
        ranges.append((low, high))
    return ranges


def check_ports(config, option="flink_config"):
    """Parse every port key of ``config`` (a flat dict) and refuse two of one process's ports set to the same
    fixed number. Returns {process: {key: port}} of the fixed ports (for tests and messages)."""
    fixed = {}
    for process, keys in PROCESS_PORTS.items():
        seen = {}
        for key, default in keys:
            if key == "rest.port" and "rest.bind-port" in config:
                continue  # the JobManager binds rest.bind-port; rest.port is then only what clients use
            if key in config:
                ranges = parse_ports(key, config[key], option)
            elif default is None:
                continue
            else:
                ranges = [(default, default)]
            if len(ranges) != 1 or ranges[0][0] != ranges[0][1] or ranges[0][0] == 0:
                continue  # any free port, or one Flink picks from a range: no fixed clash
            port = ranges[0][0]
            if port in seen.values():
                other = next(k for k, p in seen.items() if p == port)
                given = [k for k in (other, key) if k in config]
                defaulted = [k for k in (other, key) if k not in config]
                raise SpecError("%s and %s are both port %d in the %s; Flink binds both and the second fails" % (
                    other, key, port, process), option="%s.%s" % (option, given[-1]),
                    hint="Give each of the %s's ports its own number%s" % (process, "".join(
                        " (%s is %d when not set)" % (k, port) for k in defaulted)))
            seen[key] = port
        fixed[process] = seen
    return fixed
