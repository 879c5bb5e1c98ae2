# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Docker SDK for Python: its client made from the connection options, and its exceptions (stand-ins when
the SDK is missing, so that except clauses work; require_docker fails the module first)."""

from __future__ import annotations

import os
import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import DEFAULT_DOCKER_HOST
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError

DOCKER_IMPORT_ERROR = None
try:
    import docker
    from docker.errors import APIError, DockerException, ImageNotFound, NotFound
    from docker.tls import TLSConfig
    HAS_DOCKER = True
except ImportError:
    docker = None
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

__all__ = ["APIError", "DockerException", "ImageNotFound", "NotFound", "HAS_DOCKER", "docker", "docker_client"]


def docker_client(params):
    """A DockerClient from the connection options; TLS files default to DOCKER_CERT_PATH as the CLI does."""
    if not HAS_DOCKER:
        raise BackendError(missing_required_lib("docker"), hint=DOCKER_IMPORT_ERROR.strip().splitlines()[-1])
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
