# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flink versions and configuration files.

Flink 1.19 introduced ``conf/config.yaml`` (standard YAML: nested keys, lists and maps are YAML) and
ships it from 1.19 on; Flink 2.x reads nothing else. Before 1.19, and in images that still carry one,
``conf/flink-conf.yaml`` is a flat ``key: value`` file (lists ``a;b``, maps ``k1:v1,k2:v2``). The image's
own file decides the format; its defaults (for example the JVM options Java 17 needs) are kept and the
module's settings are merged over them.
"""

from __future__ import annotations

import json
import re

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.removed_keys import DEPRECATED_IN_2, REMOVED_IN_2

MIN_VERSION = (1, 18)
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")
_IMAGE_VERSION_RE = re.compile(r":(\d+\.\d+(?:\.\d+)?)(?:[-_].*)?$")
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-\[\]]*$")


class FlinkVersion(object):
    """A Flink version (major, minor, patch) with what the configuration depends on."""

    def __init__(self, text, option="flink_version"):
        match = _VERSION_RE.match(str(text).strip())
        if not match:
            raise SpecError("%r is not a Flink version" % (text,), option=option,
                            hint="Give it as MAJOR.MINOR[.PATCH], for example 2.2.1 or 1.20.3")
        self.major = int(match.group(1))
        self.minor = int(match.group(2))
        self.patch = int(match.group(3)) if match.group(3) is not None else None
        if (self.major, self.minor) < MIN_VERSION:
            raise SpecError("Flink %s is not supported" % text, option=option,
                            hint="Use Flink %d.%d or newer" % MIN_VERSION)
        self.text = str(text).strip()

    @property
    def series(self):
        return "%d.%d" % (self.major, self.minor)

    @property
    def config_file(self):
        """The file name a distribution of this version ships."""
        return "config.yaml" if (self.major, self.minor) >= (1, 19) else "flink-conf.yaml"

    @property
    def standard_yaml(self):
        return (self.major, self.minor) >= (1, 19)

    def same_series(self, other_text):
        """True when ``other_text`` (as reported by Flink) is of the same MAJOR.MINOR."""
        try:
            other = FlinkVersion(other_text)
        except SpecError:
            return False
        return (other.major, other.minor) == (self.major, self.minor)

    def __str__(self):
        return self.text


def version_from_image(image):
    """Guess the Flink version from an image tag such as ``flink:2.2.1-java17``; None if unknown."""
    if not image:
        return None
    match = _IMAGE_VERSION_RE.search(image.split("@")[0])
    return match.group(1) if match else None


def check_keys(config, version, option="flink_config"):
    """Validate configuration keys: syntax, and keys that Flink 2.x removed. Returns warnings for keys
    that Flink 2.x still reads but deprecates."""
    warnings = []
    for key in config:
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise SpecError("%r is not a valid configuration key" % (key,), option=option,
                            hint="Keys are dotted names such as execution.checkpointing.interval")
        if version.major >= 2 and key in REMOVED_IN_2:
            replacement = REMOVED_IN_2[key]
            hint = ("Use %s instead" % replacement) if replacement else \
                "Remove it; see the Flink 2.0 release notes for what replaces it"
            raise SpecError("key %r was removed in Flink 2.0 and Flink %s ignores it" % (key, version),
                            option="%s.%s" % (option, key), hint=hint)
        if version.major >= 2 and key in DEPRECATED_IN_2:
            warnings.append("%s.%s: key %r is deprecated in Flink %s; use %s" % (
                option, key, key, version, DEPRECATED_IN_2[key]))
    return warnings


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _legacy_value(key, value):
    """A value for flink-conf.yaml (Flink 1.x): one line; lists a;b; maps k1:v1,k2:v2."""
    if isinstance(value, (list, tuple)):
        text = ";".join(_scalar(v) for v in value)
    elif isinstance(value, dict):
        text = ",".join("%s:%s" % (k, _scalar(v)) for k, v in sorted(value.items()))
    else:
        text = _scalar(value)
    if "\n" in text or "\r" in text:
        raise SpecError("the value of %r spans several lines" % key, option="flink_config.%s" % key,
                        hint="Flink 1.x configuration values must fit on one line")
    return text


def _yaml_value(value):
    """A value for config.yaml (Flink 2.x). JSON is valid YAML; quote strings that YAML would retype."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True)
    text = str(value)
    if re.match(r"^[A-Za-z0-9_./:@%+\-]+$", text) and not re.match(
            r"^(true|false|yes|no|on|off|null|~|[-+]?[0-9.]+([eE][-+]?[0-9]+)?)$", text, re.I) \
            and not text.startswith(("-", ":", "@", "%")):
        return text
    return json.dumps(text)


def flatten(data, prefix=""):
    """Flatten nested YAML maps into Flink's dotted keys."""
    flat = {}
    for key, value in (data or {}).items():
        name = "%s.%s" % (prefix, key) if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def parse_config_file(file_name, text):
    """Parse an image's configuration file into a flat dict (what Flink would read)."""
    if file_name == "config.yaml":
        import yaml  # ansible-core requires PyYAML; imported late so module_utils load without it
        return flatten(yaml.safe_load(text) or {})
    flat = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        flat[key.strip()] = value.strip()
    return flat


def render(config, standard_yaml):
    """Render a configuration file from a flat dict, in standard YAML (config.yaml) or the legacy
    flink-conf.yaml format; keys sorted so the same settings always give the same file."""
    lines = ["# Rendered by flinkops.flink; changes here are replaced on the next run."]
    for key in sorted(config):
        value = config[key]
        if standard_yaml:
            lines.append("%s: %s" % (key, _yaml_value(value)))
        else:
            lines.append("%s: %s" % (key, _legacy_value(key, value)))
    return "\n".join(lines) + "\n"


_UNSAFE_START = tuple("\"'{[#&*!|>%@`,")


# The JVM options of a role, read by Flink's start scripts (bin/config.sh) from these variables when they are set,
# from the configuration file otherwise.
# The keys of each role's JVM options, which Flink's start scripts (and its native Kubernetes mode) add to
# env.java.opts.all (where the distribution's configuration keeps the --add-opens/--add-exports Java 17 needs).
JAVA_OPTS_KEYS = {"jobmanager": "env.java.opts.jobmanager", "taskmanager": "env.java.opts.taskmanager"}
ROLE_JAVA_OPTS_ENV = {JAVA_OPTS_KEYS["jobmanager"]: "FLINK_ENV_JAVA_OPTS_JM",
                      JAVA_OPTS_KEYS["taskmanager"]: "FLINK_ENV_JAVA_OPTS_TM"}


def role_config(config, role):
    """The user's flink_config as one role's process gets it: without the other role's JVM options, which that
    process never reads (so that taskmanager.java_opts does not replace the JobManager, nor the other way round)."""
    other = JAVA_OPTS_KEYS["taskmanager" if role == "jobmanager" else "jobmanager"]
    return dict((k, v) for k, v in config.items() if k != other)


def entrypoint_settings(config, option="flink_config"):
    """Split a configuration given to the image's entrypoint into (FLINK_PROPERTIES part, environment, arguments).

    The official image's entrypoint removes every whitespace character from each FLINK_PROPERTIES line
    (``tr -d '[:space:]'``): ``pipeline.name: My Job`` arrives as ``MyJob``, JVM options run together. Values with
    whitespace therefore travel another way: a role's JVM options as the variable Flink's start scripts read
    instead of the file (FLINK_ENV_JAVA_OPTS_JM / _TM), other keys as the role command's dynamic properties
    (``-D key=value``, one argument each, which the entrypoint passes on untouched). The start scripts read the
    other ``env.*`` keys from the file only: those are refused, naming the key.
    """
    properties, env, args = {}, {}, []
    for key in sorted(config):
        text = _legacy_value(key, config[key])
        if not re.search(r"\s", text):
            properties[key] = config[key]
        elif key in ROLE_JAVA_OPTS_ENV:
            env[ROLE_JAVA_OPTS_ENV[key]] = text
        elif key.startswith("env."):
            raise SpecError("%r has whitespace in its value, which the flink image's entrypoint removes from "
                            "FLINK_PROPERTIES, and Flink's start scripts read env.* keys from the file only" % key,
                            option="%s.%s" % (option, key),
                            hint="Give JVM options as java_opts, jobmanager.java_opts or taskmanager.java_opts")
        elif "\n" in text:
            raise SpecError("the value of %r spans lines, which no start command can pass" % key,
                            option="%s.%s" % (option, key), hint="Give it on one line")
        else:
            args += ["-D", "%s=%s" % (key, text)]
    return properties, env, args


def render_properties(config, version, option="flink_config"):
    """Render ``FLINK_PROPERTIES`` (one ``key: value`` a line), used where a config file can't be placed.

    Entrypoints either append these lines to the configuration file (YAML then decodes them) or pass
    them on as ``-Dkey=value`` (taken literally). A value is passed only when both readings give the same
    string: Flink's own string form (lists ``a;b``, maps ``k:v,k:v``), on one line, without characters
    that YAML would read differently, and without whitespace, which the official image's entrypoint removes
    (entrypoint_settings routes such values of flink_config another way). Anything else is refused with the
    key named.
    """
    lines = []
    for key in sorted(config):
        text = _legacy_value(key, config[key])
        if re.search(r"\s", text):
            raise SpecError("the value of %r has whitespace, which the flink image's entrypoint removes from "
                            "FLINK_PROPERTIES" % key, option="%s.%s" % (option, key),
                            hint="Give a value without spaces (secrets travel in FLINK_PROPERTIES only)")
        if text != text.strip() or text.startswith(_UNSAFE_START) or ": " in text or " #" in text or \
                text.lower() in ("true", "false", "null", "~", "yes", "no", "on", "off") and not isinstance(config[key], bool):
            raise SpecError("the value of %r cannot be passed safely in FLINK_PROPERTIES" % key,
                            option="%s.%s" % (option, key),
                            hint="Put this key in the configuration file of conf_dir instead")
        lines.append("%s: %s" % (key, text))
    return "\n".join(lines)
