# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Flink cluster as a Compose file a person would write, and the reading of such a file back into its services.

Pure logic: no Docker, no Compose CLI. ``ComposeFile`` holds the project (services ``jobmanager`` and
``taskmanager``, their FLINK_PROPERTIES, volumes, ports, secrets) as ordered data and renders it as YAML with the
configuration as a literal block, the way the Flink docs show it. The renderer is ours (no PyYAML on the hosts the
modules run on is assumed) and emits only what Compose reads the same in every version: plain scalars where they
cannot be mistaken for anything else, double-quoted (JSON) ones otherwise, ``$`` doubled (Compose interpolates
``$``).

``service_sections(text)`` splits a file this module wrote into its services' texts, so a plan can tell which
service a change touches (a service whose text changed is recreated by ``docker compose up``; ``scale`` alone only
adds or removes containers) without a YAML parser.
"""

from __future__ import annotations

import json
import re

COMPOSE_FILE = "compose.yaml"
SECRETS_FILE = "flink-config-secrets"
SECRET_NAME = "flink-config-secrets"
_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./@+-]*$")
_RESERVED = ("true", "false", "yes", "no", "on", "off", "null", "y", "n", "~")


def _scalar(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value).replace("$", "$$")
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)


def _literal(text, indent):
    """A multi-line string as a YAML literal block (``|``, keep the last newline only)."""
    pad = " " * indent
    return "|\n" + "".join(pad + line.replace("$", "$$") + "\n" if line else "\n" for line in text.split("\n"))


def emit(data, indent=0):
    """YAML lines (a list) for ``data``: dicts keep their order, lists of scalars are flow-free block lists."""
    pad = " " * indent
    lines = []
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, (dict, list)) and value:
                lines.append("%s%s:" % (pad, _scalar(key)))
                lines.extend(emit(value, indent + 2))
            elif isinstance(value, str) and "\n" in value:
                lines.append("%s%s: %s" % (pad, _scalar(key), _literal(value, indent + 2).rstrip("\n")))
            else:
                text = "{}" if value == {} else "[]" if value == [] else _scalar(value)
                lines.append("%s%s: %s" % (pad, _scalar(key), text))
    else:
        for item in data:
            if isinstance(item, dict) and item:
                inner = emit(item, indent + 2)
                lines.append("%s- %s" % (pad, inner[0].lstrip()))
                lines.extend(inner[1:])
            else:
                lines.append("%s- %s" % (pad, _scalar(item)))
    return lines


class ComposeFile(object):
    """The project: ``services`` (name -> ordered dict), top-level ``volumes``, ``networks``, ``secrets``."""

    def __init__(self, name, header):
        self.name = name
        self.header = header
        self.services = {}
        self.volumes = {}
        self.networks = {}
        self.secrets = {}

    def render(self):
        lines = ["# %s" % line if line else "#" for line in self.header]
        lines.append("name: %s" % _scalar(self.name))
        lines.append("services:")
        for service, body in self.services.items():
            lines.append("  %s:" % service)
            lines.extend(emit(body, 4))
        for section in ("volumes", "networks", "secrets"):
            value = getattr(self, section)
            if value:
                lines.append("%s:" % section)
                lines.extend(emit(value, 2))
        return "\n".join(lines) + "\n"


def service_sections(text):
    """{service: its lines (a tuple)} of a file this module wrote, and the rest of the file as ``None``'s entry."""
    sections = {None: []}
    current = None
    in_services = False
    for line in (text or "").splitlines():
        if line and not line.startswith(" "):
            in_services = line.rstrip() == "services:"
            current = None
            sections[None].append(line)
            continue
        if in_services and re.match(r"^  [A-Za-z0-9_.-]+:\s*$", line):
            current = line.strip()[:-1]
            sections[current] = []
            continue
        sections[current if in_services else None].append(line)
    return dict((k, tuple(v)) for k, v in sections.items())


def without_scale(lines):
    """A service's lines without its ``scale`` (a changed count adds or removes containers, recreates none)."""
    return tuple(line for line in lines if not re.match(r"^    scale: ", line))


def changed_keys(old_lines, new_lines):
    """The keys of the lines that differ between two versions of a service (for a plan's reason):
    ``FLINK_PROPERTIES`` lines by their Flink key, other lines by their Compose key."""
    keys = []
    for line in sorted(set(old_lines) ^ set(new_lines)):
        match = re.match(r"^\s*(?:- )?([^:\s]+)\s*:", line) or re.match(r"^\s*- (\S+)", line)
        key = match.group(1).strip('"') if match else line.strip()
        if key not in keys:
            keys.append(key)
    return keys
