# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The few reads of an unchanged run, over one kept-alive HTTPS connection, without the Kubernetes SDK.

Importing the ``kubernetes`` package costs 0.2-0.3 s on a 2-core machine (its client package loads every API and
model class; 36.x measured, 37.x 0.9-1.3 s). An unchanged run of flink_session on Kubernetes only reads: the
Deployment, its Services, ConfigMaps and pods, the FlinkDeployment, Flink's REST API through the service proxy.
This transport serves those reads from the kubeconfig's cluster and credentials with ``http.client``; objects come
back as :class:`Resource`, a ``dict`` of the API server's JSON whose attributes read like the SDK's models
(``pod.status.container_statuses``), so the code that reads them does not know which client answered.

Only what it fully understands: a server URL (no proxy), a CA file or data or ``insecure-skip-tls-verify``, and
client certificate and key (files or data) or a bearer token (or token file). Anything else (exec or
auth-provider plugins, a proxy, the in-cluster account) gives ``None`` and the SDK serves every call.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shutil
import ssl
import tempfile
from urllib.parse import quote, urlencode, urlsplit

from ansible_collections.flinkops.flink.plugins.module_utils.http_keepalive import TRANSPORT_ERRORS, KeptAlive

__all__ = ["LiteTransport", "LiteUnavailable", "Resource", "load"]


class LiteUnavailable(Exception):
    """The transport could not get an answer (connection refused, reset, TLS, time-out): the SDK tries instead,
    so that errors look exactly as they always did."""


def _camel(name):
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class Resource(dict):
    """The API server's JSON object, read also as the SDK's model: ``obj.metadata.owner_references`` is
    ``obj["metadata"]["ownerReferences"]``, a missing field is None (as in the SDK's models), and setting an
    attribute sets the field. Keys of maps (labels, annotations, data) are never touched: a Resource is a dict,
    ``.get`` and ``[]`` read them as they are. A nested object becomes a Resource in place when first read, so
    what is read through attributes is the object itself, not a copy. A field named like one of dict's own
    methods (``items``, ``keys``, ``values``, ``get``...) must be read by key: ``volume["configMap"]["items"]``.
    List answers are common.ResourceList, whose ``.items`` is the list."""

    __slots__ = ()

    def _key(self, name):
        key = _camel(name)
        if key in self:
            return key
        # The SDK's irregular names: cluster_ip -> clusterIP, pod_ip -> podIP, cluster_i_ps -> clusterIPs.
        folded = name.replace("_", "").lower()
        return next((k for k in self if k.lower() == folded), None)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        key = self._key(name)
        if key is None:
            return None
        value = self[key]
        wrapped = wrap(value)
        if wrapped is not value:
            dict.__setitem__(self, key, wrapped)
        return wrapped

    def __setattr__(self, name, value):
        self[self._key(name) or _camel(name)] = value

    def to_dict(self):
        return json.loads(json.dumps(self))


def wrap(value):
    """``value`` with its JSON objects as Resources (the same object when nothing needs wrapping)."""
    if isinstance(value, dict) and not isinstance(value, Resource):
        return Resource(value)
    if isinstance(value, list) and any(isinstance(v, (dict, list)) and not isinstance(v, Resource) for v in value):
        return [wrap(v) for v in value]
    return value


def _expand(path, base):
    return path if not path or os.path.isabs(path) else os.path.join(base, path)


def _select(items, name):
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            return item
    return None


def default_kubeconfig(environ=None):
    """The kubeconfig used when the option is not given: E(KUBECONFIG)'s first file, else ~/.kube/config (as the
    SDK's loader and kubectl take it)."""
    environ = os.environ if environ is None else environ
    return environ.get("KUBECONFIG", "").split(os.pathsep)[0] or os.path.expanduser("~/.kube/config")


def settings(params, environ=None):
    """The transport's settings from the connection options and kubeconfig, resolved as ``k8s_api_client`` resolves
    them: {"server", "ca_file", "ca_data", "verify", "cert_file", "key_file", "cert_data", "key_data", "token"},
    or None when something here is beyond this transport (the SDK then serves every call)."""
    environ = os.environ if environ is None else environ
    if params.get("proxy"):
        return None
    kubeconfig = params.get("kubeconfig")
    default = default_kubeconfig(environ)
    out = {"verify": True}
    if kubeconfig or not params.get("host"):
        path = kubeconfig or default
        if not os.path.isfile(path):
            return None  # in-cluster account or a missing file: the SDK path says which
        try:
            import yaml  # only here: the module_utils import test refuses it at the top
            with open(path) as handle:
                # libyaml's loader when PyYAML has it: 0.2 ms against 23 ms for a kubeconfig with inline certificates
                config = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except Exception:  # an unreadable file: the SDK path tells why
            return None
        if not isinstance(config, dict):
            return None
        context = _select(config.get("contexts"), params.get("context") or config.get("current-context"))
        if context is None or not isinstance(context.get("context"), dict):
            return None
        cluster = _select(config.get("clusters"), context["context"].get("cluster"))
        user = _select(config.get("users"), context["context"].get("user")) or {"user": {}}
        if cluster is None or not isinstance(cluster.get("cluster"), dict) or not isinstance(user.get("user"), dict):
            return None
        cluster, user, base = cluster["cluster"], user["user"] or {}, os.path.dirname(os.path.abspath(path))
        if set(cluster) - {"server", "certificate-authority", "certificate-authority-data",
                           "insecure-skip-tls-verify", "extensions"}:
            return None  # proxy-url, tls-server-name and the like: the SDK knows them
        if set(user) - {"client-certificate", "client-certificate-data", "client-key", "client-key-data", "token",
                        "tokenFile", "extensions"}:
            return None  # exec, auth-provider, username/password, impersonation
        out.update(server=cluster.get("server"), ca_file=_expand(cluster.get("certificate-authority"), base),
                   ca_data=cluster.get("certificate-authority-data"),
                   verify=not cluster.get("insecure-skip-tls-verify"),
                   cert_file=_expand(user.get("client-certificate"), base),
                   cert_data=user.get("client-certificate-data"),
                   key_file=_expand(user.get("client-key"), base), key_data=user.get("client-key-data"),
                   token=user.get("token"))
        if user.get("tokenFile"):
            try:
                with open(_expand(user["tokenFile"], base)) as handle:
                    out["token"] = handle.read().strip()
            except OSError:
                return None
    # Explicit options override the kubeconfig's, as in k8s_api_client.
    for option, key in (("host", "server"), ("api_key", "token"), ("ca_cert", "ca_file"),
                        ("client_cert", "cert_file"), ("client_key", "key_file")):
        if params.get(option):
            out[key] = params[option]
            if key in ("ca_file", "cert_file", "key_file"):
                out[key.replace("_file", "_data")] = None
    if params.get("validate_certs") is not None:
        out["verify"] = params["validate_certs"]
    server = urlsplit(out.get("server") or "")
    if server.scheme not in ("http", "https") or not server.hostname:
        return None
    return out


def _context(conf):
    # The system's CA store only when the kubeconfig names no CA of its own (loading it costs 15 ms here).
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not conf["verify"]:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif conf.get("ca_data"):
        context.load_verify_locations(cadata=base64.b64decode(conf["ca_data"]).decode("ascii"))
    elif conf.get("ca_file"):
        context.load_verify_locations(cafile=conf["ca_file"])
    else:
        context.load_default_certs()
    if conf.get("cert_data") or conf.get("key_data"):
        # ssl loads a certificate chain from files only: a private directory, removed at once.
        workdir = tempfile.mkdtemp(prefix="flinkops-k8s-")
        try:
            files = []
            for name, data, path in (("cert", conf.get("cert_data"), conf.get("cert_file")),
                                     ("key", conf.get("key_data"), conf.get("key_file"))):
                if data:
                    path = os.path.join(workdir, name)
                    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
                        handle.write(base64.b64decode(data))
                files.append(path)
            context.load_cert_chain(files[0], files[1])
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    elif conf.get("cert_file"):
        context.load_cert_chain(conf["cert_file"], conf.get("key_file"))
    return context


class LiteTransport(object):
    """Requests to the API server over one kept-alive connection (http_keepalive.KeptAlive: GETs reuse it)."""

    def __init__(self, conf, timeout=30):
        self.conf = conf
        self.host = conf["server"].rstrip("/")
        self.timeout = timeout
        self._ssl = None
        self._http = KeptAlive(self._connect)

    def _connect(self, timeout):
        url = urlsplit(self.host)
        if url.scheme == "https":
            if self._ssl is None:
                self._ssl = _context(self.conf)
            return http.client.HTTPSConnection(url.hostname, url.port or 443, timeout=timeout, context=self._ssl)
        return http.client.HTTPConnection(url.hostname, url.port or 80, timeout=timeout)

    def request(self, method, path, query=None, body=None, headers=None, timeout=None):
        """(status, bytes) of one request; LiteUnavailable when there is no answer."""
        target = urlsplit(self.host).path.rstrip("/") + path + ("?" + urlencode(query) if query else "")
        sent = {"Accept": "application/json", "User-Agent": "flinkops.flink"}
        if self.conf.get("token"):
            sent["Authorization"] = "Bearer %s" % self.conf["token"]
        sent.update(headers or {})
        try:
            return self._http.request(method, target, timeout or self.timeout, body=body, headers=sent)
        except TRANSPORT_ERRORS + (ValueError,) as exc:  # ssl.SSLError is an OSError; a bad PEM a ValueError
            raise LiteUnavailable(str(exc) or type(exc).__name__)

    def get(self, path, query=None):
        """The object at ``path`` as a Resource; an error answer as LiteError."""
        status, data = self.request("GET", path, query=query)
        if status >= 400:
            raise LiteError(status, http.client.responses.get(status, ""), data)
        return wrap(json.loads(data or b"{}"))

    def close(self):
        self._http.close()


class LiteError(Exception):
    """An error answer of the API server (common.py turns it into its ApiException)."""

    def __init__(self, status, reason, body):
        super(LiteError, self).__init__("HTTP %s %s" % (status, reason))
        self.status, self.reason, self.body = status, reason, body


def load(params):
    """A LiteTransport for the connection options, or None when the SDK must serve them."""
    conf = settings(params)
    return LiteTransport(conf) if conf else None


_SEGMENT = re.compile(r"^[A-Za-z0-9._:-]+$")


def segment(value):
    """One path segment of a name or namespace (quoted when it is not a plain Kubernetes name)."""
    value = str(value)
    return value if _SEGMENT.match(value) else quote(value, safe="")
