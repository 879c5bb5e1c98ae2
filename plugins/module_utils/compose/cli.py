# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real ``docker compose`` (the v2 CLI plugin of the Docker CLI), run on the host the module runs on.

The CLI talks to the Docker host of ``docker_host`` (DOCKER_HOST and, with TLS, DOCKER_TLS_VERIFY and
DOCKER_CERT_PATH). Every call names the project (``-p``) and, where there is one, its file (``-f``), so the current
directory and the user's environment play no part. Errors name the command and quote Compose's own message.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import DEFAULT_DOCKER_HOST
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError

# `docker compose up --wait`-free flows, `-p` without a file for down: 2.x from 2.20 on has what the module uses
# (`scale:` in a service, `name:` at the top, `config --quiet`, down by project name).
MIN_VERSION = (2, 20)


def parse_version(text):
    match = re.search(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    return tuple(int(g or 0) for g in match.groups()) if match else None


class ComposeCli(object):
    """``docker compose`` for one project: ``name`` (-p) and ``directory`` (where its compose.yaml lives)."""

    def __init__(self, params, name, directory, compose_file):
        self.params = params
        self.name = name
        self.directory = directory
        self.compose_file = compose_file
        self._version = None

    def environment(self):
        env = dict(os.environ)
        for key in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES", "DOCKER_CONTEXT"):
            env.pop(key, None)
        env["DOCKER_HOST"] = self.params.get("docker_host") or DEFAULT_DOCKER_HOST
        if self.params.get("tls") or self.params.get("validate_certs"):
            env["DOCKER_TLS_VERIFY"] = "1" if self.params.get("validate_certs") else ""
            cert_dirs = set(os.path.dirname(p) for p in (self.params.get("ca_path"), self.params.get("client_cert"),
                                                         self.params.get("client_key")) if p)
            if len(cert_dirs) == 1:
                env["DOCKER_CERT_PATH"] = cert_dirs.pop()
        return env

    def docker(self):
        path = shutil.which("docker")
        if path is None:
            raise SpecError("platform compose runs `docker compose`, and no docker CLI is on the PATH of the host the "
                            "module runs on", option="platform",
                            hint="Install the Docker CLI and the Compose v2 plugin there (Debian: docker.io and "
                                 "docker-compose-plugin, or the plugin binary in /usr/local/lib/docker/cli-plugins)")
        return path

    def version(self):
        """The plugin's version (a tuple); fails naming the fix when it is missing or older than MIN_VERSION."""
        if self._version is not None:
            return self._version
        try:
            proc = subprocess.run([self.docker(), "compose", "version", "--short"], capture_output=True, text=True,
                                  env=self.environment(), timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackendError("running docker compose version failed: %s" % exc, option="platform")
        version = parse_version(proc.stdout) if proc.returncode == 0 else None
        if version is None:
            raise SpecError("the Docker Compose v2 plugin is missing (`docker compose version`: %s)" % (
                (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"])[0], option="platform",
                hint="Install the Compose v2 CLI plugin (docker-compose-plugin, or the docker-compose binary in "
                     "/usr/local/lib/docker/cli-plugins); the retired Python docker-compose 1.x is not enough")
        if version < MIN_VERSION:
            raise SpecError("Docker Compose %s is too old; platform compose needs %d.%d or newer" % (
                ".".join(str(v) for v in version), MIN_VERSION[0], MIN_VERSION[1]), option="platform",
                hint="Upgrade the Compose v2 plugin")
        self._version = version
        return version

    def run(self, *args, **kwargs):
        """``docker compose -p NAME [-f FILE] ARGS``; returns stdout, raises BackendError with Compose's message."""
        with_file = kwargs.get("with_file", True)
        command = [self.docker(), "compose", "--progress", "quiet", "-p", self.name]
        if with_file:
            command += ["-f", self.compose_file, "--project-directory", self.directory]
        command += list(args)
        try:
            proc = subprocess.run(command, capture_output=True, text=True, env=self.environment(),
                                  timeout=kwargs.get("timeout", 600), check=False,
                                  cwd=self.directory if with_file else None)
        except subprocess.TimeoutExpired:
            raise BackendError("docker compose %s did not finish within %s s" % (" ".join(args), kwargs.get("timeout", 600)))
        except OSError as exc:
            raise BackendError("running docker compose %s failed: %s" % (" ".join(args), exc))
        if proc.returncode != 0:
            message = (proc.stderr or proc.stdout).strip()
            raise BackendError("docker compose %s failed (exit %d): %s" % (
                " ".join(args), proc.returncode, message[-2000:]), option=kwargs.get("option"))
        return proc.stdout

    def check_config(self, option="platform"):
        """``docker compose config --quiet``: Compose itself accepts the file (before anything is touched)."""
        return self.run("config", "--quiet", option=option)
