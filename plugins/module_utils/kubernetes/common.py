# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes connection options (the names and K8S_AUTH_* fallbacks of kubernetes.core) and the API client.

Modules add ``K8S_ARGUMENT_SPEC`` to their argument spec, call ``require_kubernetes(module)`` first and
``k8s_api_client(module.params)`` to get a :class:`K8sClient`: its ``core``, ``apps``, ``authz``, ``custom`` and
``apiext`` have the methods of the SDK's CoreV1Api, AppsV1Api, AuthorizationV1Api, CustomObjectsApi and
ApiextensionsV1Api. The reads of an unchanged run go through kubernetes/lite.py without importing the SDK; every
other call (and every read the lite transport cannot make) goes to the SDK, imported on first use. Either way an
error answer is this module's :class:`ApiException`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes import lite
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.options import K8S_ARGUMENT_SPEC

HAS_KUBERNETES = importlib.util.find_spec("kubernetes") is not None
K8S_IMPORT_ERROR = None if HAS_KUBERNETES else "No module named 'kubernetes'"

__all__ = ["ApiException", "HAS_KUBERNETES", "K8S_ARGUMENT_SPEC", "K8sClient", "api_error", "api_unreachable",
           "k8s_api_client", "require_kubernetes", "sdk_client", "through_restart"]


class ApiException(Exception):
    """An error answer of the API server (status, reason, body), whichever client got it: the SDK's own
    ApiException is turned into this one by :class:`K8sClient`'s APIs."""

    def __init__(self, status=None, reason=None, body=None, headers=None):
        super(ApiException, self).__init__("(%s) Reason: %s" % (status, reason))
        self.status, self.reason, self.body, self.headers = status, reason, body, headers


# What the API server answers while it restarts, is overloaded or sits behind a load balancer that lost it.
TRANSIENT_STATUSES = (0, 429, 500, 502, 503, 504)


def require_kubernetes(module):
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=K8S_IMPORT_ERROR)


def _in_cluster():
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and os.path.exists(
        "/var/run/secrets/kubernetes.io/serviceaccount/token")


def check_context(kubernetes, path, context):
    """SpecError naming ``context`` when the kubeconfig has no context of that name (the client library's own
    message only says the file is invalid)."""
    if not context:
        return
    try:
        contexts, _active = kubernetes.config.list_kube_config_contexts(config_file=path)
    except kubernetes.config.ConfigException:
        return  # an unreadable file: load_kube_config says why
    names = sorted(c.get("name") for c in contexts or [])
    if context not in names:
        raise SpecError("context %s is not in kubeconfig %s (its contexts: %s)" % (
            context, path, ", ".join(names) or "none"), option="context",
            hint="Give one of its contexts, or leave context out to use the kubeconfig's current context")


def _sdk_api_client(params):
    """The SDK's ApiClient from the connection options, resolved as kubernetes.core does.

    Order: ``host`` (+ ``api_key`` / client certificates) alone if no kubeconfig is given; otherwise the
    kubeconfig (``kubeconfig`` option, E(KUBECONFIG), then ~/.kube/config) with ``context``; in a pod
    without any of these, the in-cluster service account. Explicit options override the kubeconfig's.
    """
    import kubernetes
    configuration = kubernetes.client.Configuration()
    kubeconfig = params.get("kubeconfig")
    default_kubeconfig = lite.default_kubeconfig()
    try:
        if kubeconfig or not params.get("host"):
            if kubeconfig or os.path.exists(default_kubeconfig) or not _in_cluster():
                path = kubeconfig or default_kubeconfig
                if not os.path.exists(path):
                    raise BackendError("kubeconfig %s does not exist" % path, option="kubeconfig",
                                       hint="Set kubeconfig (or K8S_AUTH_KUBECONFIG / KUBECONFIG) to the cluster's "
                                            "kubeconfig, or host and api_key")
                check_context(kubernetes, path, params.get("context"))
                kubernetes.config.load_kube_config(config_file=path, context=params.get("context"),
                                                   client_configuration=configuration)
            else:
                kubernetes.config.load_incluster_config(client_configuration=configuration)
    except kubernetes.config.ConfigException as exc:
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


def _path(template, names):
    return template.format(*[lite.segment(n) for n in names])


# The reads the lite transport serves: (SDK class, method) -> (path template, positional arguments, result is a
# list (SDK model with .items) rather than an object). Query arguments it passes on: label and field selectors.
_LITE_READS = {
    ("CoreV1Api", "read_namespace"): ("/api/v1/namespaces/{0}", 1, False),
    ("CoreV1Api", "read_namespaced_service"): ("/api/v1/namespaces/{1}/services/{0}", 2, False),
    ("CoreV1Api", "read_namespaced_config_map"): ("/api/v1/namespaces/{1}/configmaps/{0}", 2, False),
    ("CoreV1Api", "list_namespaced_config_map"): ("/api/v1/namespaces/{0}/configmaps", 1, True),
    ("CoreV1Api", "list_namespaced_pod"): ("/api/v1/namespaces/{0}/pods", 1, True),
    ("CoreV1Api", "list_namespaced_service"): ("/api/v1/namespaces/{0}/services", 1, True),
    ("CoreV1Api", "list_node"): ("/api/v1/nodes", 0, True),
    ("AppsV1Api", "read_namespaced_deployment"): ("/apis/apps/v1/namespaces/{1}/deployments/{0}", 2, False),
    ("CustomObjectsApi", "get_namespaced_custom_object"): ("/apis/{0}/{1}/namespaces/{2}/{3}/{4}", 5, False),
    ("CustomObjectsApi", "list_namespaced_custom_object"): ("/apis/{0}/{1}/namespaces/{2}/{3}", 4, False),
    ("ApiextensionsV1Api", "read_custom_resource_definition"): (
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{0}", 1, False),
}
_QUERY = {"label_selector": "labelSelector", "field_selector": "fieldSelector"}


class ResourceList(object):
    """A list answer read as the SDK's list models: ``.items`` (Resources) and ``.metadata``."""

    def __init__(self, data):
        self.items = lite.wrap(data.get("items") or [])
        self.metadata = lite.wrap(data.get("metadata") or {})


class _Api(object):
    """One SDK API class (``CoreV1Api`` ...) of a K8sClient: its reads through the lite transport where it can,
    everything through the SDK; the SDK's ApiException comes out as this module's."""

    def __init__(self, client, name):
        self._client, self._name = client, name

    def __getattr__(self, method):
        if method.startswith("_"):
            raise AttributeError(method)
        client, name = self._client, self._name
        read = _LITE_READS.get((name, method)) if client.lite is not None else None

        def call(*args, **kwargs):
            if read is not None and len(args) == read[1] and set(kwargs) <= set(_QUERY):
                query = dict((_QUERY[k], v) for k, v in kwargs.items() if v)
                try:
                    data = client.lite.get(_path(read[0], args), query=query)
                except lite.LiteError as exc:
                    raise ApiException(exc.status, exc.reason, exc.body)
                except lite.LiteUnavailable:
                    pass  # no answer: the SDK asks again and fails as it always did
                else:
                    return ResourceList(data) if read[2] else data
            return client.sdk_call(name, method, args, kwargs)
        return call


class K8sClient(object):
    """The API server, for one module run: the lite transport for reads when the connection options allow it,
    the SDK (imported on first use) for the rest."""

    def __init__(self, params, use_lite=True):
        self.params = params
        self.lite = lite.load(params) if use_lite and os.environ.get("FLINKOPS_K8S_SDK_ONLY") != "1" else None
        self._sdk = None
        if self.lite is None:
            self.sdk()  # the options' errors (missing kubeconfig, unknown context) now, as before anything else
        self.core, self.apps, self.authz = _Api(self, "CoreV1Api"), _Api(self, "AppsV1Api"), \
            _Api(self, "AuthorizationV1Api")
        self.custom, self.apiext = _Api(self, "CustomObjectsApi"), _Api(self, "ApiextensionsV1Api")

    def sdk(self):
        """The SDK's configured ApiClient (imports the SDK)."""
        if self._sdk is None:
            self._sdk = _sdk_api_client(self.params)
        return self._sdk

    @property
    def configuration(self):
        return self.sdk().configuration

    @property
    def host(self):
        return self.lite.host if self.lite is not None else self.sdk().configuration.host

    def sdk_call(self, api, method, args, kwargs):
        """One call of the SDK. Its error answers, and the transport's errors (urllib3 raises those as they are:
        a connection refused, or reset while the API server restarts) come out as this module's ApiException (the
        latter with status 0, as the SDK's own TLS errors), so that code which handles ApiException handles a lost
        API server too, and api_unreachable() says it may answer again."""
        import kubernetes
        import urllib3
        from kubernetes.client.rest import ApiException as SdkApiException
        try:
            return getattr(getattr(kubernetes.client, api)(self.sdk()), method)(*args, **kwargs)
        except SdkApiException as exc:
            raise ApiException(exc.status, exc.reason, exc.body, getattr(exc, "headers", None))
        except urllib3.exceptions.HTTPError as exc:
            raise ApiException(0, "no answer from the API server: %s" % _short(exc))

    def sanitize_for_serialization(self, obj):
        """The JSON form of an object either client read."""
        if isinstance(obj, dict):
            return json.loads(json.dumps(obj))
        return self.sdk().sanitize_for_serialization(obj)

    def raw_request(self, method, path, body=None, headers=None, timeout=10):
        """(status, bytes) of a request to ``path`` on the API server (the REST proxy's), with the credentials."""
        if self.lite is not None:
            try:
                return self.lite.request(method, path, body=body, headers=headers, timeout=timeout)
            except lite.LiteUnavailable as exc:
                raise ConnectionError(str(exc))
        import urllib3
        conf = self.configuration
        headers = dict(headers or {})
        if getattr(conf, "refresh_api_key_hook", None):
            conf.refresh_api_key_hook(conf)
        for setting in (conf.auth_settings() or {}).values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        response = self.sdk().rest_client.pool_manager.request(
            method, conf.host + path, body=body, headers=headers, timeout=urllib3.Timeout(total=timeout),
            retries=False)
        return response.status, response.data


def k8s_api_client(params):
    """A K8sClient from the connection options (see K8sClient and _sdk_api_client for how they resolve)."""
    return K8sClient(params)


def sdk_client(client):
    """The SDK's ApiClient of a K8sClient (or of an SDK ApiClient given as it is)."""
    return client.sdk() if isinstance(client, K8sClient) else client


def api_unreachable(exc):
    """A short description when ``exc`` says the API server cannot be reached or answer now (connection refused
    or reset, a time-out, 5xx/429 while it restarts): a wait then waits on; None for a real answer."""
    # This module's ApiException, or the SDK's own (the dynamic client of apply.py raises those).
    if isinstance(exc, ApiException) or type(exc).__module__.startswith("kubernetes.") and hasattr(exc, "status"):
        status = getattr(exc, "status", None) or 0
        return _no_answer(exc) or (
            "HTTP %s %s" % (status, getattr(exc, "reason", "") or "") if status in TRANSIENT_STATUSES else None)
    try:
        import urllib3
    except ImportError:  # pragma: no cover - the kubernetes SDK brings it
        return None
    if isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)):
        return _short(exc)
    return None


def _no_answer(exc):
    """What the transport said, for an ApiException of status 0 (no answer at all: see K8sClient.sdk_call)."""
    return str(exc.reason) if getattr(exc, "status", None) == 0 and getattr(exc, "reason", None) else None


def _short(exc):
    text = str(getattr(exc, "reason", None) or exc)
    return text if len(text) < 200 else text[:200] + "..."


def through_restart(call, timeout, sleep=1.0):
    """``call()``, called again while the API server does not answer (api_unreachable: it restarts), for up to
    ``timeout`` seconds; then its error. For calls that may be made twice: reads, and writes whose second time
    changes nothing more (a merge patch of the same body)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except Exception as exc:  # pylint: disable=broad-exception-caught
            if not api_unreachable(exc) or time.monotonic() + sleep > deadline:
                raise
        time.sleep(sleep)


def read_error(exc, what):
    """The error of reading ``what`` (``cluster x in namespace y``): credentials the API server does not accept
    (401) and rights the module's user lacks (403) name option kubeconfig, before anything is touched; anything else
    is the API server's failure."""
    if getattr(exc, "status", None) == 401:
        return SpecError("the API server does not accept the credentials of the kubeconfig's user (reading %s): %s"
                         % (what, api_error(exc)), option="kubeconfig",
                         hint="Renew the user's token or client certificate (kubectl auth whoami says whom the API "
                              "server takes them for)")
    if getattr(exc, "status", None) == 403:
        return SpecError("the module's Kubernetes user may not read %s: %s" % (what, api_error(exc)),
                         option="kubeconfig",
                         hint="Use credentials that may read and change the cluster's objects in the namespace (for "
                              "example the namespace's edit ClusterRole)")
    return BackendError("reading %s failed: %s" % (what, api_error(exc)))


def api_error(exc):
    """The API server's message of an ApiException."""
    no_answer = _no_answer(exc)
    if no_answer:
        return no_answer
    try:
        body = json.loads(exc.body or "{}")
        if body.get("message"):
            return "%s (HTTP %s)" % (body["message"], exc.status)
    except (ValueError, TypeError, AttributeError):
        pass
    return "HTTP %s %s" % (getattr(exc, "status", "?"), getattr(exc, "reason", "") or "")
