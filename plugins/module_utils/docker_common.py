# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Docker connection options (the names and environment fallbacks of community.docker) and the client."""

from __future__ import annotations

import io
import os
import tarfile
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError

DOCKER_IMPORT_ERROR = None
try:
    import docker
    from docker.errors import APIError, DockerException, ImageNotFound, NotFound
    from docker.tls import TLSConfig
    HAS_DOCKER = True
except ImportError:
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()

    class DockerException(Exception):  # type: ignore[no-redef]
        """Stand-in so that except clauses work when the SDK is missing (the module fails first)."""

    class APIError(DockerException):  # type: ignore[no-redef]
        pass

    class NotFound(APIError):  # type: ignore[no-redef]
        pass

    class ImageNotFound(NotFound):  # type: ignore[no-redef]
        pass

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

__all__ = ["APIError", "DockerException", "ImageNotFound", "NotFound", "HAS_DOCKER", "DOCKER_ARGUMENT_SPEC",
           "docker_client", "docker_host_address", "require_docker", "single_file_tar"]

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
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)


def docker_client(params):
    """A DockerClient from the connection options; TLS files default to DOCKER_CERT_PATH as the CLI does."""
    base_url = params.get("docker_host") or DEFAULT_DOCKER_HOST
    tls_config = None
    if params.get("tls") or params.get("validate_certs"):
        cert_path = os.environ.get("DOCKER_CERT_PATH") or os.path.expanduser("~/.docker")
        ca = params.get("ca_path") or os.path.join(cert_path, "ca.pem")
        cert = params.get("client_cert") or os.path.join(cert_path, "cert.pem")
        key = params.get("client_key") or os.path.join(cert_path, "key.pem")
        client_cert = (cert, key) if os.path.exists(cert) and os.path.exists(key) else None
        tls_config = TLSConfig(client_cert=client_cert,
                               ca_cert=ca if params.get("validate_certs") and os.path.exists(ca) else None,
                               verify=bool(params.get("validate_certs")),
                               assert_hostname=params.get("tls_hostname"))
        if base_url.startswith("tcp://"):
            base_url = "https://" + base_url[len("tcp://"):]
    try:
        return docker.DockerClient(base_url=base_url, version=params.get("api_version") or "auto",
                                   timeout=params.get("timeout") or 60, tls=tls_config or False)
    except DockerException as exc:
        raise BackendError("cannot connect to the Docker daemon at %s: %s" % (base_url, exc),
                           option="docker_host",
                           hint="Check that Docker runs there and that docker_host / DOCKER_HOST points to it")


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
