# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Docker Engine API as the Flink cluster modules (flink_session, flink_application) use it.

An unchanged run only reads: it lists the cluster's containers and network and inspects a few objects. Those
reads go through a small client of our own (``http.client`` on the engine's socket, one kept-alive connection)
instead of the Docker SDK, whose import alone (with requests and urllib3) takes about 0.1 s, a third of what
such a run adds to Ansible's own start-up. Everything that changes something (create, start, pull, ...) goes
through the Docker SDK, imported the first time it is needed; its exceptions are turned into the ones below,
so callers catch one set whichever client answered.

The small client serves ``unix://`` sockets and plain ``tcp://`` / ``http://`` hosts. With TLS (``tls``,
``validate_certs``), over ``ssh://`` or for any other address, reads go through the SDK as well.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import types
from urllib.parse import quote, urlencode

from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import DEFAULT_DOCKER_HOST
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError
from ansible_collections.flinkops.flink.plugins.module_utils.http_keepalive import TRANSPORT_ERRORS, KeptAlive

__all__ = ["APIError", "DockerApi", "DockerException", "EngineClient", "ImageNotFound", "NotFound", "convert_filters"]


class DockerException(Exception):
    """A Docker request failed (the SDK's exception of the same name, or the small client's)."""

    def __init__(self, message, explanation=None, status_code=None):
        super(DockerException, self).__init__(message)
        self.explanation = explanation
        self.status_code = status_code


class DaemonUnreachable(BackendError):
    """The Docker daemon does not answer (it is down or restarting, or docker_host points nowhere): a module error
    naming docker_host, and for a wait a moment to wait through."""

    def __init__(self, base_url, reason):
        super(DaemonUnreachable, self).__init__(
            "cannot reach the Docker daemon at %s: %s" % (base_url, reason), option="docker_host",
            hint="Check that the daemon runs and that docker_host points to it")


class APIError(DockerException):
    """The engine answered with an error status."""


class NotFound(APIError):
    """HTTP 404: no such container, network, volume or image."""


class ImageNotFound(NotFound):
    """HTTP 404 for an image."""


def convert_filters(filters):
    """The ``filters`` query parameter as the Docker SDK encodes it: every value a list of strings."""
    result = {}
    for key, value in filters.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, list):
            value = [value]
        result[key] = [item if isinstance(item, str) else str(item) for item in value]
    return json.dumps(result)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super(_UnixConnection, self).__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class ReadClient(object):
    """GET requests to the Docker Engine API over one kept-alive connection."""

    def __init__(self, base_url, timeout=60, api_version=None):
        self.base_url = base_url
        self.timeout = timeout
        self.prefix = "/v%s" % api_version if api_version and api_version != "auto" else ""
        self._http = KeptAlive(self._connect)

    @classmethod
    def for_params(cls, params):
        """A client for these connection options, or None when the SDK must serve them (TLS, ssh, ...)."""
        if params.get("tls") or params.get("validate_certs"):
            return None
        base_url = params.get("docker_host") or DEFAULT_DOCKER_HOST
        if not (base_url.startswith("unix://") or base_url.startswith("tcp://") or base_url.startswith("http://")):
            return None
        return cls(base_url, timeout=params.get("timeout") or 60, api_version=params.get("api_version"))

    def _connect(self, timeout):
        if self.base_url.startswith("unix://"):
            return _UnixConnection(self.base_url[len("unix://"):], timeout)
        address = self.base_url.split("://", 1)[1].split("/", 1)[0]
        host, _sep, port = address.rpartition(":")
        if not host or not port.isdigit():
            host, port = address, "2375"
        return http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)

    def get(self, path, params=None, image=False):
        url = self.prefix + path
        if params:
            url += "?" + urlencode(params)
        try:
            status, body = self._http.request("GET", url, self.timeout, headers={"Accept": "application/json"})
        except TRANSPORT_ERRORS as exc:
            raise DaemonUnreachable(self.base_url, exc)
        if status >= 400:
            try:
                explanation = json.loads(body or b"{}").get("message") or ""
            except (ValueError, AttributeError):
                explanation = body.decode("utf-8", "replace").strip()
            error_class = APIError
            if status == 404:
                error_class = ImageNotFound if image else NotFound
            raise error_class("%s Client Error for %s%s: %s" % (status, self.base_url, url, explanation),
                              explanation=explanation, status_code=status)
        return json.loads(body) if body else None


class _Translated(object):
    """An SDK object whose calls raise this module's exceptions instead of the SDK's."""

    def __init__(self, target, sdk_errors):
        self._target = target
        self._errors = sdk_errors

    def __getattr__(self, name):
        attribute = getattr(self._target, name)
        if not isinstance(attribute, (types.MethodType, types.FunctionType, types.BuiltinFunctionType)):
            # An object such as DockerClient.containers (callable, but only to say it is not): wrap its methods.
            return _Translated(attribute, self._errors) if hasattr(attribute, "__dict__") else attribute
        errors = self._errors

        def call(*args, **kwargs):
            try:
                return attribute(*args, **kwargs)
            except errors.DockerException as exc:
                raise translate(exc, errors) from exc
            except Exception as exc:  # pylint: disable=broad-exception-caught
                import requests  # the SDK's transport, loaded with it
                if isinstance(exc, requests.exceptions.ConnectionError):
                    raise DaemonUnreachable(getattr(self._target, "base_url", None) or "docker_host", exc) from exc
                raise
        return call


def translate(exc, sdk_errors):
    """The exception of this module that matches an SDK exception (same message, explanation, status)."""
    if isinstance(exc, sdk_errors.ImageNotFound):
        error_class = ImageNotFound
    elif isinstance(exc, sdk_errors.NotFound):
        error_class = NotFound
    elif isinstance(exc, sdk_errors.APIError):
        error_class = APIError
    else:
        error_class = DockerException
    return error_class(str(exc), explanation=getattr(exc, "explanation", None),
                       status_code=getattr(exc, "status_code", None))


class DockerApi(object):
    """Reads through ReadClient where it serves the connection options, everything else through the SDK's
    low-level API (``docker.APIClient`` methods, same names and arguments)."""

    def __init__(self, params):
        self.params = params
        self._reader = ReadClient.for_params(params)
        self._sdk_client = None
        self._lock = threading.Lock()

    # The SDK, on first use ---------------------------------------------------------------------------
    def _client(self):
        with self._lock:  # threads that create containers side by side may ask first at the same time
            if self._sdk_client is None:
                from ansible_collections.flinkops.flink.plugins.module_utils.docker import sdk as docker_sdk
                self._sdk_client = (docker_sdk.docker_client(self.params), docker_sdk)
        return self._sdk_client

    @property
    def sdk_used(self):
        return self._sdk_client is not None

    @property
    def client(self):
        """The SDK's high-level DockerClient (``containers.run`` and the like), raising this module's errors."""
        client, docker_sdk = self._client()
        return _Translated(client, docker_sdk.docker.errors)

    @property
    def types(self):
        """``docker.types`` (Mount and friends)."""
        return self._client()[1].docker.types

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        client, docker_sdk = self._client()
        return getattr(_Translated(client.api, docker_sdk.docker.errors), name)

    # Reads ---------------------------------------------------------------------------------------------
    def containers(self, all=False, filters=None):  # pylint: disable=redefined-builtin
        if self._reader is None:
            return self.__getattr__("containers")(all=all, filters=filters)
        params = {"all": 1 if all else 0}
        if filters:
            params["filters"] = convert_filters(filters)
        return self._reader.get("/containers/json", params)

    def networks(self, names=None, filters=None):
        if self._reader is None:
            return self.__getattr__("networks")(names=names, filters=filters)
        filters = dict(filters or {})
        if names:
            filters["name"] = list(names)  # what the SDK does with names=
        return self._reader.get("/networks", {"filters": convert_filters(filters)} if filters else None)

    def inspect_container(self, container):
        if self._reader is None:
            return self.__getattr__("inspect_container")(container)
        return self._reader.get("/containers/%s/json" % quote(container, safe=""))

    def inspect_image(self, image):
        if self._reader is None:
            return self.__getattr__("inspect_image")(image)
        return self._reader.get("/images/%s/json" % quote(image, safe="/:@"), image=True)

    def inspect_volume(self, volume):
        if self._reader is None:
            return self.__getattr__("inspect_volume")(volume)
        return self._reader.get("/volumes/%s" % quote(volume, safe=""))

    # Swarm (a manager's daemon) -----------------------------------------------------------------------
    def force_update_service(self, service):
        """Restart every task of a service (``docker service update --force``)."""
        client, docker_sdk = self._client()
        try:
            return client.services.get(service).force_update()
        except docker_sdk.docker.errors.DockerException as exc:
            raise translate(exc, docker_sdk.docker.errors) from exc

    def update_service_spec(self, service, version, spec, rollback=False):
        """Update a service to ``spec`` as the API returned it (a whole ServiceSpec), or with ``rollback`` put it back
        on its previous spec (``docker service rollback``; the API ignores the body's spec then, but wants one). The
        SDK has neither: it builds specs from its own types, without a rollback parameter."""
        client, docker_sdk = self._client()
        api = client.api
        params = {"version": version}
        if rollback:
            params["rollback"] = "previous"
        try:
            response = api._post_json(api._url("/services/{0}/update", service), data=spec, params=params)
            api._raise_for_status(response)
        except docker_sdk.docker.errors.DockerException as exc:
            raise translate(exc, docker_sdk.docker.errors) from exc

    def info(self):
        if self._reader is None:
            return self.__getattr__("info")()
        return self._reader.get("/info")

    def inspect_service(self, service):
        if self._reader is None:
            return self.__getattr__("inspect_service")(service)
        return self._reader.get("/services/%s" % quote(service, safe=""))

    def inspect_network(self, net_id):
        if self._reader is None:
            return self.__getattr__("inspect_network")(net_id)
        return self._reader.get("/networks/%s" % quote(net_id, safe=""))

    def inspect_node(self, node_id):
        if self._reader is None:
            return self.__getattr__("inspect_node")(node_id)
        return self._reader.get("/nodes/%s" % quote(node_id, safe=""))

    def inspect_distribution(self, image):
        if self._reader is not None:
            try:
                return self._reader.get("/distribution/%s/json" % quote(image, safe="/:@"), image=True)
            except APIError:
                pass  # a registry that wants credentials: the SDK sends them from the Docker config file
        return self.__getattr__("inspect_distribution")(image)

    def _listing(self, name, path, filters):
        if self._reader is None:
            return self.__getattr__(name)(filters=filters)
        return self._reader.get(path, {"filters": convert_filters(filters)} if filters else None)

    def nodes(self, filters=None):
        return self._listing("nodes", "/nodes", filters)

    def tasks(self, filters=None):
        return self._listing("tasks", "/tasks", filters)

    def secrets(self, filters=None):
        return self._listing("secrets", "/secrets", filters)

    def configs(self, filters=None):
        return self._listing("configs", "/configs", filters)


class EngineClient(object):
    """The shape of the SDK's DockerClient that the swarm code uses (``info()`` and ``api``) over DockerApi.

    Reads go through the small client, the rest through the SDK on first use, with this module's errors.
    """

    def __init__(self, params):
        self.api = DockerApi(params)

    def info(self):
        return self.api.info()

    def close(self):
        if self.api.sdk_used:
            self.api.client.close()
