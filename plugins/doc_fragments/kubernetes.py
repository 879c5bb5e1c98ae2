# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path of the kubeconfig file to use.
      - If not set, the value of E(K8S_AUTH_KUBECONFIG) is used, then E(KUBECONFIG), then C(~/.kube/config);
        inside a pod without any of these, the pod's service account.
    type: path
  context:
    description:
      - The kubeconfig context to use. If not set, the value of E(K8S_AUTH_CONTEXT), then the current context.
    type: str
  host:
    description:
      - URL of the Kubernetes API server, overriding the kubeconfig's. If not set, the value of E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token for the API server. If not set, the value of E(K8S_AUTH_API_KEY).
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's certificate. If not set, the value of E(K8S_AUTH_VERIFY_SSL),
        then the kubeconfig's setting.
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - CA certificate of the API server. If not set, the value of E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Client certificate for the API server. If not set, the value of E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Key of the client certificate. If not set, the value of E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
  proxy:
    description:
      - HTTP proxy for the API server. If not set, the value of E(K8S_AUTH_PROXY).
    type: str
requirements:
  - kubernetes (Python SDK) >= 31
notes:
  - The Kubernetes connection options follow the names and environment variables of M(kubernetes.core.k8s).
"""
