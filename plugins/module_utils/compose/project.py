# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the Compose project of a Flink cluster is made of, and its files on disk.

``ComposeProject`` is a mixin of the Compose platforms (platforms/compose.py, platforms/compose_application.py): each
role's Flink settings and service, the whole ComposeFile (compose/render.py renders it), the secrets file, and the
writing of both (atomic, only when they differ). It needs ``self.spec``, ``self.kind``, ``self.image``
(docker.image.DockerImage), ``self.file_path``, ``self.secrets_path``, ``self.directory`` and
``self.external_network``.
"""

from __future__ import annotations

import os
import tempfile

from ansible_collections.flinkops.flink.plugins.module_utils.compose.render import (
    SECRET_NAME, SECRETS_FILE, ComposeFile)
from ansible_collections.flinkops.flink.plugins.module_utils.docker.image import plugin_jar
from ansible_collections.flinkops.flink.plugins.module_utils.flink_config import (
    entrypoint_settings, render_properties, role_config)
from ansible_collections.flinkops.flink.plugins.module_utils.image_entrypoint import CONF_SOURCE, wrapper_entrypoint
from ansible_collections.flinkops.flink.plugins.module_utils.memory import format_memory

ROLES = ("jobmanager", "taskmanager")
# As on Docker: a TaskManager that starts before the JobManager's ResourceManager answers retries after this delay
# (Flink's default, 10 s, is most of a deployment's wait).
START_DEFAULTS = {"cluster.registration.error-delay": "1000"}
RESTART = {"no": "no", "on-failure": "on-failure", "always": "always", "unless-stopped": "unless-stopped"}


class ComposeProject(object):
    """The project file and secrets file of a cluster."""

    def flink_settings(self, role):
        spec = self.spec
        config = dict(START_DEFAULTS)
        config["jobmanager.rpc.address"] = "jobmanager"
        if role == "jobmanager":
            config.update({"jobmanager.bind-host": "0.0.0.0", "rest.address": "jobmanager",
                           "rest.bind-address": "0.0.0.0", "jobmanager.memory.process.size": format_memory(spec.jm_memory)})
        else:
            config.update({"taskmanager.bind-host": "0.0.0.0", "taskmanager.numberOfTaskSlots": spec.tm_slots,
                           "taskmanager.memory.process.size": format_memory(spec.tm_memory)})
        config.update(role_config(spec.flink_config, role))
        return config

    def command(self, role):
        """The image's role command and its arguments."""
        return ["jobmanager"] if role == "jobmanager" else ["taskmanager"]

    def extra_mounts(self):
        return []

    def service(self, role, plugins):
        spec = self.spec
        body = {"image": spec.image, "command": self.command(role)}
        if role == "taskmanager":
            body["depends_on"] = ["jobmanager"]
            body["scale"] = spec.tm_replicas
        if role == "jobmanager" and spec.rest_port:
            body["ports"] = ["%s:%d:%d" % (spec.rest_bind_address, spec.rest_port, spec.rest_container_port)]
        env = dict(spec.env)
        if plugins:
            env["ENABLE_BUILT_IN_PLUGINS"] = ";".join(plugins)
        properties, java_env, dynamic = entrypoint_settings(self.flink_settings(role))
        env["FLINK_PROPERTIES"] = render_properties(properties, spec.version)
        env.update(java_env)
        body["environment"] = env
        if dynamic:
            body["command"] = body["command"][:1] + dynamic + body["command"][1:]
        volumes = []
        for mount in spec.mounts + self.extra_mounts():
            volume = {"type": mount["type"], "target": mount["target"]}
            if mount["type"] != "tmpfs":
                volume["source"] = mount["source"]
            if mount["read_only"]:
                volume["read_only"] = True
            volumes.append(volume)
        if spec.conf_dir:
            # Copied into the container's own conf/ by the wrapper (image_entrypoint): the image's entrypoint writes there.
            volumes.append({"type": "bind", "source": spec.conf_dir, "target": CONF_SOURCE, "read_only": True})
        if volumes:
            body["volumes"] = volumes
        if spec.secret_config:
            # Appended to FLINK_PROPERTIES inside the container only: in no file Compose shows, no label and no
            # `docker inspect` (Compose mounts the file read-only at /run/secrets/<name>). The renderer doubles `$`.
            body["secrets"] = [SECRET_NAME]
        entrypoint = wrapper_entrypoint(conf_source=bool(spec.conf_dir), entrypoint=spec.entrypoint,
                                        secret_file="/run/secrets/%s" % SECRET_NAME if spec.secret_config else None)
        if entrypoint:
            body["entrypoint"] = entrypoint
        memory = spec.jm_memory if role == "jobmanager" else spec.tm_memory
        body["mem_limit"] = format_memory(memory)
        cpu = spec.jm_cpu if role == "jobmanager" else spec.tm_cpu
        if cpu:
            body["cpus"] = cpu
        if spec.labels:
            body["labels"] = dict(spec.labels)
        body["restart"] = RESTART[spec.restart_policy]
        return body

    def header(self):
        return ["Flink %s cluster %s (Flink %s), written by flinkops.flink (platform compose)." % (
            self.kind, self.spec.name, self.spec.version),
            "Run it by hand: docker compose -f %s up -d" % self.file_path]

    def render(self):
        """The project as a ComposeFile (plugins as the jars of the image's Flink version: check_plugins)."""
        spec = self.spec
        project = ComposeFile(spec.name, self.header())
        plugins = [plugin_jar(p, spec.version) for p in spec.plugins]
        for role in ROLES:
            project.services[role] = self.service(role, plugins)
        named = [m["source"] for m in spec.mounts + self.extra_mounts() if m["type"] == "volume"]
        for source in sorted(set(named)):
            project.volumes[source] = {"name": source}
        if self.external_network:
            project.networks["default"] = {"name": self.external_network, "external": True}
        if spec.secret_config:
            project.secrets[SECRET_NAME] = {"file": "./%s" % SECRETS_FILE}
        return project

    def rendered(self):
        if self._rendered is None:
            self._rendered = self.render().render()
        return self._rendered

    def check_plugins(self):
        """The file names each plugin's jar of the image's Flink version; the image must have exactly that jar
        (read from the image only when the file changes)."""
        if self.spec.plugins:
            self.image.check_named_plugins()

    def secrets_text(self):
        """The secrets file, appended to FLINK_PROPERTIES in the container: the same rules as FLINK_PROPERTIES."""
        text = render_properties(dict(self.spec.secret_config), self.spec.version, option="flink_config_secrets")
        return text + "\n" if text else ""

    def write_files(self):
        """compose.yaml (and the secrets file, mode 0600) written atomically; unchanged files are not touched."""
        if not os.path.isdir(self.directory):
            os.makedirs(self.directory, mode=0o755)
        if self.spec.secret_config:
            _write(self.secrets_path, self.secrets_text(), 0o600)
        _write(self.file_path, self.rendered(), 0o644)

    def render_files(self, check_only):
        """state rendered: only the files, nothing of the engine touched; (changed, text)."""
        text = self.rendered()
        changed = False
        try:
            with open(self.file_path) as handle:
                changed = handle.read() != text
        except (IOError, OSError):
            changed = True
        if self.spec.secret_config:
            try:
                with open(self.secrets_path) as handle:
                    changed = changed or handle.read() != self.secrets_text()
            except (IOError, OSError):
                changed = True
        if changed and not check_only:
            self.write_files()
        return changed, text


def _write(path, text, mode):
    """Write ``text`` to ``path`` only when it differs, through a temporary file and a rename."""
    try:
        with open(path) as handle:
            if handle.read() == text:
                return False
    except (IOError, OSError):
        pass
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".flinkops-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True
