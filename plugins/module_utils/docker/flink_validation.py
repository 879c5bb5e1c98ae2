# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flink's own check of a role's memory settings, run before a container is created or replaced.

Flink's start scripts run ``BashJavaUtils GET_JM_RESOURCE_PARAMS`` / ``GET_TM_RESOURCE_PARAMS`` (Flink's memory
model) before the JVM starts; a size below Flink's minimum or fractions that do not add up fail there, in a crash
loop, after the old container is gone. The same class runs here first, in a short-lived container of the target
image (its Flink, its configuration file, the settings the new container would get as ``-D``), with no network.
A verdict of "valid" is cached on the host that runs the module by the hash of image id, role and settings, so a
second run with the same values pays nothing. Secret settings are never passed (they would show in the
container's ``docker inspect``); they are not memory settings.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex

from ansible_collections.flinkops.flink.plugins.module_utils.docker.api import DockerException
from ansible_collections.flinkops.flink.plugins.module_utils.docker.image import LABEL_MANAGED, MANAGED_BY
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError

COMMANDS = {"jobmanager": "GET_JM_RESOURCE_PARAMS", "taskmanager": "GET_TM_RESOURCE_PARAMS"}
JAVA = ('home="${FLINK_HOME:-/opt/flink}"; dist="$(ls "$home"/lib/flink-dist*.jar | head -n 1)"; '
        'run() { java -Xmx64m -cp "$home/bin/bash-java-utils.jar:$dist" '
        'org.apache.flink.runtime.util.bash.BashJavaUtils "$@" 2>&1; }; ')
RESULT_MARK = "BASH_JAVA_UTILS_EXEC_RESULT:"


def cache_dir():
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "flinkops", "validated")


def verdict_key(image_id, role, settings):
    data = json.dumps([image_id, role, sorted((k, str(v)) for k, v in settings.items())])
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def flink_reason(output):
    """Flink's reason from BashJavaUtils' output: the message of the exception it ended with."""
    for line in output.splitlines():
        match = re.match(r'^Exception in thread "main" [\w.$]+: (.*)$', line.strip())
        if match:
            return match.group(1)
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def option_at_fault(role, reason, settings):
    """The option to name for Flink's refusal: flink_config.<key> when Flink quotes a key of flink_config (every
    setting but the process size and slots comes from there), else <role>.memory."""
    for key in re.findall(r"'([a-z0-9][\w.-]*)'", reason):
        if key in settings and key not in ("%s.memory.process.size" % role, "taskmanager.numberOfTaskSlots"):
            return "flink_config.%s" % key
    return "%s.memory" % role


def dynamic_args(settings):
    args = []
    for key, value in sorted(settings.items()):
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (list, dict)):
            value = json.dumps(value)
        args += ["-D", "%s=%s" % (key, value)]
    return args


def script(checks):
    """One bash script that runs BashJavaUtils for each (role, settings) and stops at the first refusal, printing
    ``ROLE <role>`` before each (one container and one JVM start per role, instead of a container per role)."""
    lines = [JAVA]
    for role, settings in checks:
        args = " ".join(shlex.quote(a) for a in [COMMANDS[role], "--configDir", "/opt/flink/conf"] + dynamic_args(settings))
        lines.append("echo ROLE %s; run %s || exit 3; " % (role, args))
    return "".join(lines)


def check_memory(client, image, image_id, checks, timeout=120):
    """Run Flink's memory calculation for each (role, settings) of ``checks`` in ``image``; SpecError naming the
    role's memory option with Flink's reason when Flink refuses them. ``client`` is a docker.DockerClient.
    Returns the roles checked (cached verdicts are not checked again)."""
    todo = [(role, settings) for role, settings in checks
            if not os.path.exists(os.path.join(cache_dir(), verdict_key(image_id, role, settings)))]
    if not todo:
        return []
    try:
        container = client.containers.create(image, entrypoint=["bash", "-c", script(todo)], network_disabled=True,
                                             labels={LABEL_MANAGED: MANAGED_BY})
        try:
            container.start()
            status = container.wait(timeout=timeout)
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        finally:
            container.remove(force=True)
    except DockerException as exc:
        raise BackendError("running Flink's memory check in image %s failed: %s" % (image, exc), option="image")
    code = status.get("StatusCode") if isinstance(status, dict) else status
    sections = re.split(r"^ROLE (\w+)$", output, flags=re.M)
    results = dict(zip(sections[1::2], sections[2::2]))
    for role, settings in todo:
        part = results.get(role)
        if code == 0 and part is None:
            raise BackendError("Flink's memory check in image %s printed nothing for the %s: %s" % (
                image, role, output[-500:]), option="image")
        judge(role, part or output, settings, "in image %s" % image)
        remember(verdict_key(image_id, role, settings))
    return [role for role, _settings in todo]


def judge(role, output, settings, where):
    """SpecError naming the option at fault with Flink's reason, unless BashJavaUtils' ``output`` for ``role``
    holds its result (Flink accepted the settings)."""
    if RESULT_MARK in output:
        return
    reason = flink_reason(output)
    raise SpecError("Flink refuses the %s's memory settings, nothing was changed: %s" % (role, reason),
                    option=option_at_fault(role, reason, settings),
                    hint="Raise %s.memory, or change the %s.memory.* keys of flink_config (checked with Flink's own "
                         "BashJavaUtils %s %s)" % (role, role, COMMANDS[role], where))


def check_roles(client, image, image_id, settings_by_role, secret_keys=()):
    """check_memory for the roles of ``settings_by_role`` ({role: flat Flink settings}), leaving out the secret
    keys; nothing when the image is not known yet (``image_id`` None: in check mode before a pull)."""
    if not image_id or str(image_id).startswith("to-be-pulled:"):
        return []
    checks = [(role, dict((k, v) for k, v in settings.items() if k not in secret_keys))
              for role, settings in sorted(settings_by_role.items())]
    return check_memory(client, image, image_id, checks)


def remember(key):
    try:
        os.makedirs(cache_dir(), exist_ok=True)
        with open(os.path.join(cache_dir(), key), "w") as handle:
            handle.write("valid\n")
    except OSError:
        pass  # no cache: the next changing run checks again
