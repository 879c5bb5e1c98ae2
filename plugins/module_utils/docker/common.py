# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Docker connection options (the names and environment fallbacks of community.docker) and helpers that need no
Docker SDK. The SDK itself is in docker_sdk, the client of the Flink cluster modules in docker_api."""

from __future__ import annotations

import importlib.util
import io
import tarfile

from ansible.module_utils.basic import env_fallback, missing_required_lib

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

__all__ = ["DEFAULT_DOCKER_HOST", "DOCKER_ARGUMENT_SPEC", "docker_host_address", "listed_rest_url", "require_docker",
           "single_file_tar"]

DOCKER_ARGUMENT_SPEC = dict(
    docker_host=dict(type="str", fallback=(env_fallback, ["DOCKER_HOST"]), aliases=["docker_url"]),
    tls_hostname=dict(type="str", fallback=(env_fallback, ["DOCKER_TLS_HOSTNAME"])),
    api_version=dict(type="str", default="auto", fallback=(env_fallback, ["DOCKER_API_VERSION"]),
                     aliases=["docker_api_version"]),
    timeout=dict(type="int", default=60, fallback=(env_fallback, ["DOCKER_TIMEOUT"])),
    ca_path=dict(type="path", aliases=["ca_cert", "tls_ca_cert", "cacert_path"]),
    client_cert=dict(type="path", aliases=["tls_client_cert", "cert_path"]),
    client_key=dict(type="path", aliases=["tls_client_key", "key_path"], no_log=False),
    tls=dict(type="bool", default=False, fallback=(env_fallback, ["DOCKER_TLS"])),
    validate_certs=dict(type="bool", default=False, fallback=(env_fallback, ["DOCKER_TLS_VERIFY"]),
                        aliases=["tls_verify"]),
)


def require_docker(module):
    """Fail the module when the Docker SDK is not installed. Only looks for it: importing it (with requests and
    urllib3, about 0.1 s) is left to the code that needs it, which an unchanged run of flink_session may not."""
    if importlib.util.find_spec("docker") is None:
        module.fail_json(msg=missing_required_lib("docker"))


def docker_host_address(params, bind_address):
    """The address a client on the Ansible target uses to reach a port published on the Docker host."""
    host = params.get("docker_host") or DEFAULT_DOCKER_HOST
    for scheme in ("tcp://", "https://", "http://", "ssh://"):
        if host.startswith(scheme):
            rest = host[len(scheme):]
            rest = rest.split("@", 1)[-1]
            return rest.rsplit(":", 1)[0].strip("[]") if ":" in rest else rest
    if bind_address in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return bind_address


def listed_rest_url(params, container, port):
    """The REST URL of a JobManager container from the engine's container listing: its published TCP port on the
    Docker host, else its address on its (first) network with the container port ``port``; None without either."""
    for binding in container.get("Ports") or []:
        if binding.get("PublicPort") and binding.get("Type") == "tcp":
            return "http://%s:%d" % (docker_host_address(params, binding.get("IP") or "0.0.0.0"), binding["PublicPort"])
    for network in ((container.get("NetworkSettings") or {}).get("Networks") or {}).values():
        if network.get("IPAddress"):
            return "http://%s:%d" % (network["IPAddress"], port)
    return None


def single_file_tar(name, text, uid=9999, gid=9999, mode=0o644):
    """A tar archive holding one file, for put_archive (works on a created, not yet started, container)."""
    data = text.encode("utf-8")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name=name)
        info.size = len(data)
        info.mode = mode
        info.uid = uid
        info.gid = gid
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
