# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The Docker daemon to talk to, as C(unix:///path), C(tcp://host:port) or C(ssh://user@host).
      - If not set, the value of the E(DOCKER_HOST) environment variable is used, then C(unix:///var/run/docker.sock).
    type: str
    aliases: [docker_url]
  tls_hostname:
    description:
      - The host name expected in the Docker daemon's TLS certificate.
      - If not set, the value of E(DOCKER_TLS_HOSTNAME) is used.
    type: str
  api_version:
    description:
      - The Docker API version to use. C(auto) asks the daemon.
      - If not set, the value of E(DOCKER_API_VERSION) is used, then C(auto).
    type: str
    default: auto
    aliases: [docker_api_version]
  timeout:
    description:
      - Seconds to wait for an answer from the Docker API.
      - If not set, the value of E(DOCKER_TIMEOUT) is used, then 60.
    type: int
    default: 60
  ca_path:
    description:
      - CA certificate to verify the daemon with. Defaults to C(ca.pem) in E(DOCKER_CERT_PATH).
    type: path
    aliases: [ca_cert, tls_ca_cert, cacert_path]
  client_cert:
    description:
      - Client certificate for TLS. Defaults to C(cert.pem) in E(DOCKER_CERT_PATH).
    type: path
    aliases: [tls_client_cert, cert_path]
  client_key:
    description:
      - Client key for TLS. Defaults to C(key.pem) in E(DOCKER_CERT_PATH).
    type: path
    aliases: [tls_client_key, key_path]
  tls:
    description:
      - Connect with TLS without verifying the daemon's certificate.
      - If not set, the value of E(DOCKER_TLS) is used.
    type: bool
    default: false
  validate_certs:
    description:
      - Connect with TLS and verify the daemon's certificate.
      - If not set, the value of E(DOCKER_TLS_VERIFY) is used.
    type: bool
    default: false
    aliases: [tls_verify]
requirements:
  - docker (Python SDK) >= 7.0
notes:
  - The Docker connection options follow the names and environment variables of M(community.docker.docker_container).
"""
