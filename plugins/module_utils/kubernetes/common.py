# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes connection options (the names and K8S_AUTH_* fallbacks of kubernetes.core) and the API client.

Modules add ``K8S_ARGUMENT_SPEC`` to their argument spec, call ``require_kubernetes(module)`` first and
``k8s_api_client(module.params)`` to get a configured ``kubernetes.client.ApiClient``.
"""

from __future__ import annotations

import json
import os
import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.options import K8S_ARGUMENT_SPEC

K8S_IMPORT_ERROR = None
try:
    import kubernetes
    from kubernetes.client.rest import ApiException
    from kubernetes.config.config_exception import ConfigException
    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False
    K8S_IMPORT_ERROR = traceback.format_exc()

    class ApiException(Exception):  # type: ignore[no-redef]
        """Stand-in so that except clauses work when the SDK is missing (the module fails first)."""

    class ConfigException(Exception):  # type: ignore[no-redef]
        """Stand-in so that except clauses work when the SDK is missing (the module fails first)."""

__all__ = ["ApiException", "ConfigException", "HAS_KUBERNETES", "K8S_ARGUMENT_SPEC", "api_error",
           "api_unreachable", "k8s_api_client", "require_kubernetes"]

# What the API server answers while it restarts, is overloaded or sits behind a load balancer that lost it.
TRANSIENT_STATUSES = (0, 429, 500, 502, 503, 504)


def require_kubernetes(module):
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=K8S_IMPORT_ERROR)


def _in_cluster():
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and os.path.exists(
        "/var/run/secrets/kubernetes.io/serviceaccount/token")


def check_context(path, context):
    """SpecError naming ``context`` when the kubeconfig has no context of that name (the client library's own
    message only says the file is invalid)."""
    if not context:
        return
    try:
        contexts, _active = kubernetes.config.list_kube_config_contexts(config_file=path)
    except ConfigException:
        return  # an unreadable file: load_kube_config says why
    names = sorted(c.get("name") for c in contexts or [])
    if context not in names:
        raise SpecError("context %s is not in kubeconfig %s (its contexts: %s)" % (
            context, path, ", ".join(names) or "none"), option="context",
            hint="Give one of its contexts, or leave context out to use the kubeconfig's current context")


def k8s_api_client(params):
    """An ApiClient from the connection options, resolved as kubernetes.core does.

    Order: ``host`` (+ ``api_key`` / client certificates) alone if no kubeconfig is given; otherwise the
    kubeconfig (``kubeconfig`` option, E(KUBECONFIG), then ~/.kube/config) with ``context``; in a pod
    without any of these, the in-cluster service account. Explicit options override the kubeconfig's.
    """
    configuration = kubernetes.client.Configuration()
    kubeconfig = params.get("kubeconfig")
    default_kubeconfig = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or os.path.expanduser("~/.kube/config")
    try:
        if kubeconfig or not params.get("host"):
            if kubeconfig or os.path.exists(default_kubeconfig) or not _in_cluster():
                path = kubeconfig or default_kubeconfig
                if not os.path.exists(path):
                    raise BackendError("kubeconfig %s does not exist" % path, option="kubeconfig",
                                       hint="Set kubeconfig (or K8S_AUTH_KUBECONFIG / KUBECONFIG) to the cluster's "
                                            "kubeconfig, or host and api_key")
                check_context(path, params.get("context"))
                kubernetes.config.load_kube_config(config_file=path, context=params.get("context"),
                                                   client_configuration=configuration)
            else:
                kubernetes.config.load_incluster_config(client_configuration=configuration)
    except ConfigException as exc:
        raise BackendError("cannot load the Kubernetes client configuration: %s" % exc, option="kubeconfig",
                           hint="Check the kubeconfig file and the context name")
    if params.get("host"):
        configuration.host = params["host"]
    if params.get("api_key"):
        configuration.api_key = {"authorization": "Bearer %s" % params["api_key"]}
    if params.get("validate_certs") is not None:
        configuration.verify_ssl = params["validate_certs"]
    if params.get("ca_cert"):
        configuration.ssl_ca_cert = params["ca_cert"]
    if params.get("client_cert"):
        configuration.cert_file = params["client_cert"]
    if params.get("client_key"):
        configuration.key_file = params["client_key"]
    if params.get("proxy"):
        configuration.proxy = params["proxy"]
    return kubernetes.client.ApiClient(configuration)


def api_unreachable(exc):
    """A short description when ``exc`` says the API server cannot be reached or answer now (connection refused
    or reset, a time-out, 5xx/429 while it restarts): a wait then waits on; None for a real answer."""
    if isinstance(exc, ApiException):
        status = getattr(exc, "status", None) or 0
        return "HTTP %s %s" % (status, getattr(exc, "reason", "") or "") if status in TRANSIENT_STATUSES else None
    try:
        import urllib3
    except ImportError:  # pragma: no cover - the kubernetes SDK brings it
        return None
    if isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)):
        text = str(getattr(exc, "reason", None) or exc)
        return text if len(text) < 200 else text[:200] + "..."
    return None


def api_error(exc):
    """The API server's message of an ApiException."""
    try:
        body = json.loads(exc.body or "{}")
        if body.get("message"):
            return "%s (HTTP %s)" % (body["message"], exc.status)
    except (ValueError, TypeError, AttributeError):
        pass
    return "HTTP %s %s" % (getattr(exc, "status", "?"), getattr(exc, "reason", "") or "")
