"""Protocol logic of the two small HTTP clients an unchanged run uses instead of the Docker SDK and
ansible.module_utils.urls: docker_api.ReadClient (Docker Engine API reads) and rest.FlinkRest's plain-HTTP path.
They are driven here by a small HTTP server of Python's own (errors, kept-alive connections, a server that
closes them, redirects, proxies); tests/integration/docker/test_docker_api.py compares them with the SDK on the
real engine."""

from __future__ import annotations

import http.server
import itertools
import json
import os
import socket
import socketserver
import threading
import urllib.request

import docker
import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.docker import api as docker_api
from ansible_collections.flinkops.flink.plugins.module_utils.docker.api import (
    APIError, DaemonUnreachable, DockerApi, DockerException, ImageNotFound, NotFound, ReadClient, convert_filters, translate)
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError
from ansible_collections.flinkops.flink.plugins.module_utils.rest import FlinkRest, RestUnavailable

pytestmark = pytest.mark.unit


CONNECTIONS = itertools.count(1)


class Handler(http.server.BaseHTTPRequestHandler):
    """One instance per connection: ``number`` tells connections apart (object ids may be reused)."""
    protocol_version = "HTTP/1.1"  # keep-alive, as the Docker engine and Flink's REST endpoint
    routes = {}

    def setup(self):
        super().setup()
        self.number = next(CONNECTIONS)

    def log_message(self, *args):
        pass

    def _answer(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((method, self.path, self.client_address_key(), body))
        status, payload, extra = self.routes.get((method, self.path.split("?")[0]), (404, {"message": "nope"}, {}))
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.server.close_after:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def client_address_key(self):
        return self.number

    def do_GET(self):  # noqa: N802 - http.server's naming
        self._answer("GET")

    def do_POST(self):  # noqa: N802
        self._answer("POST")

    def do_DELETE(self):  # noqa: N802
        self._answer("DELETE")


def serve(server):
    server.seen = []
    server.close_after = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class TcpServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


@pytest.fixture(autouse=True)
def keep_urllib_opener(monkeypatch):
    """ansible.module_utils.urls installs its opener (with the proxies of that moment) as urllib's global one: put
    back the one before, so that a proxy set here does not reach later tests' urlopen in this process."""
    monkeypatch.setattr(urllib.request, "_opener", urllib.request._opener)


@pytest.fixture
def routes():
    Handler.routes = {}
    return Handler.routes


@pytest.fixture
def unix_server(tmp_path, routes):
    path = str(tmp_path / "docker.sock")
    server = serve(UnixServer(path, Handler))
    yield server, path
    server.shutdown()
    server.server_close()


@pytest.fixture
def tcp_server(routes):
    server = serve(TcpServer(("127.0.0.1", 0), Handler))
    yield server, server.server_address[1]
    server.shutdown()
    server.server_close()


# Docker ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("filters", [
    {"label": "org.flinkops.cluster=a"},
    {"label": ["a=b", "c=d"], "name": "^/x-"},
    {"dangling": True, "until": 10},
    {"status": ["running", "exited"], "dangling": False},
])
def test_filters_are_encoded_as_the_sdk_encodes_them(filters):
    assert convert_filters(filters) == docker.utils.convert_filters(filters)


@pytest.mark.parametrize("params,served", [
    ({}, True),
    ({"docker_host": "unix:///run/other.sock"}, True),
    ({"docker_host": "tcp://10.0.0.5:2375"}, True),
    ({"docker_host": "tcp://10.0.0.5:2376", "tls": True}, False),
    ({"docker_host": "tcp://10.0.0.5:2376", "validate_certs": True}, False),
    ({"docker_host": "ssh://user@host"}, False),
    ({"docker_host": "npipe:////./pipe/docker_engine"}, False),
])
def test_read_client_serves_plain_hosts_only(params, served):
    assert (ReadClient.for_params(params) is not None) is served


def test_read_client_reads_and_keeps_its_connection(unix_server, routes):
    server, path = unix_server
    routes[("GET", "/containers/json")] = (200, [{"Id": "abc"}], {})
    routes[("GET", "/v1.41/networks")] = (200, [{"Name": "n"}], {})
    client = ReadClient("unix://" + path)
    assert client.get("/containers/json", {"all": 1, "filters": convert_filters({"label": "x=y"})}) == [{"Id": "abc"}]
    assert client.get("/containers/json") == [{"Id": "abc"}]
    method, url, conn, _body = server.seen[0]
    assert url == "/containers/json?all=1&filters=%7B%22label%22%3A+%5B%22x%3Dy%22%5D%7D"
    assert server.seen[1][2] == conn, "the second request used a new connection"
    versioned = ReadClient("unix://" + path, api_version="1.41")
    assert versioned.get("/networks") == [{"Name": "n"}]
    assert ReadClient("unix://" + path, api_version="auto").prefix == ""


def test_read_client_errors_carry_status_and_explanation(unix_server, routes):
    _server, path = unix_server
    routes[("GET", "/images/nope:1/json")] = (404, {"message": "No such image: nope:1"}, {})
    routes[("GET", "/containers/gone/json")] = (404, {"message": "No such container: gone"}, {})
    routes[("GET", "/containers/json")] = (500, {"message": "daemon on fire"}, {})
    client = ReadClient("unix://" + path)
    with pytest.raises(ImageNotFound) as image_error:
        client.get("/images/nope:1/json", image=True)
    assert image_error.value.explanation == "No such image: nope:1" and image_error.value.status_code == 404
    with pytest.raises(NotFound) as not_found:
        client.get("/containers/gone/json")
    assert not isinstance(not_found.value, ImageNotFound)
    with pytest.raises(APIError) as api_error:
        client.get("/containers/json")
    assert not isinstance(api_error.value, NotFound) and "daemon on fire" in str(api_error.value)


def test_read_client_reconnects_when_the_engine_closed_the_connection(unix_server, routes):
    server, path = unix_server
    routes[("GET", "/_ping")] = (200, {"ok": 1}, {})
    client = ReadClient("unix://" + path)
    client.get("/_ping")
    conn = client._http._conn
    conn.sock.shutdown(socket.SHUT_RDWR)  # as if the engine had dropped the idle connection
    assert client.get("/_ping") == {"ok": 1}
    assert client._http._conn is not conn and len(server.seen) == 2


def test_read_client_names_the_daemon_it_cannot_reach(tmp_path):
    client = ReadClient("unix://%s" % (tmp_path / "absent.sock"))
    with pytest.raises(DaemonUnreachable) as error:
        client.get("/containers/json")
    assert str(error.value).startswith("docker_host: cannot reach the Docker daemon at unix://"), str(error.value)


def test_read_client_over_tcp(tcp_server, routes):
    _server, port = tcp_server
    routes[("GET", "/volumes/v1")] = (200, {"Name": "v1"}, {})
    api = DockerApi({"docker_host": "tcp://127.0.0.1:%d" % port})
    assert api.inspect_volume("v1") == {"Name": "v1"}
    assert api.sdk_used is False
    with pytest.raises(NotFound):
        api.inspect_volume("v2")


def test_sdk_exceptions_become_ours():
    response = type("R", (), {"status_code": 404, "reason": "Not Found", "url": "http://x/images/a/json"})()
    cases = [
        (docker.errors.ImageNotFound("no image", response=response, explanation="No such image: a"), ImageNotFound),
        (docker.errors.NotFound("no container", response=response, explanation="No such container"), NotFound),
        (docker.errors.APIError("boom", explanation="conflict"), APIError),
        (docker.errors.DockerException("broken"), DockerException),
    ]
    for sdk_error, ours in cases:
        translated = translate(sdk_error, docker.errors)
        assert translated.__class__ is ours
        assert str(translated) == str(sdk_error)
        assert translated.explanation == getattr(sdk_error, "explanation", None)


def test_writes_go_through_the_sdk_and_raise_our_exceptions(unix_server):
    _server, path = unix_server
    api = DockerApi({"docker_host": "unix://" + path, "api_version": "1.41"})
    assert api.sdk_used is False
    with pytest.raises(NotFound):  # the stand-in engine answers 404 to everything it does not know
        api.remove_container("nothing")
    assert api.sdk_used is True
    assert api.types.Mount is docker.types.Mount
    assert docker_api.DockerException is DockerException


# Flink REST -----------------------------------------------------------------------------------------------
def test_rest_gets_share_one_connection_and_posts_get_their_own(tcp_server, routes, monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server, port = tcp_server
    routes[("GET", "/overview")] = (200, {"taskmanagers": 2}, {})
    routes[("POST", "/jars/x/run")] = (200, {"jobid": "j1"}, {})
    rest = FlinkRest("http://127.0.0.1:%d/" % port)
    assert rest.overview() == {"taskmanagers": 2}
    assert rest.overview() == {"taskmanagers": 2}
    assert rest.run_jar("x", {"entryClass": "A"}) == "j1"
    assert rest.overview() == {"taskmanagers": 2}
    gets = [conn for method, _url, conn, _body in server.seen if method == "GET"]
    assert gets[0] == gets[1], "the second GET used a new connection"
    post = [entry for entry in server.seen if entry[0] == "POST"][0]
    assert post[2] not in gets and json.loads(post[3]) == {"entryClass": "A"}


def test_rest_errors(tcp_server, routes):
    server, port = tcp_server
    routes[("GET", "/overview")] = (503, {"errors": ["leader not elected"]}, {})
    routes[("GET", "/jobs/j/config")] = (
        500, {"errors": ["org.apache.flink.X: failed\n\tat a.b\nCaused by: java.io.IOException: disk full"]}, {})
    rest = FlinkRest("http://127.0.0.1:%d" % port)
    with pytest.raises(RestUnavailable):
        rest.overview()
    with pytest.raises(BackendError) as error:
        rest.job_config("j")
    assert not isinstance(error.value, RestUnavailable)
    assert "HTTP 500" in str(error.value) and "root cause: java.io.IOException: disk full" in str(error.value)
    server.close_after = True  # the server closes every connection: each call still gets its answer
    routes[("GET", "/taskmanagers")] = (200, {"taskmanagers": [{"id": "tm"}]}, {})
    assert rest.taskmanagers() == [{"id": "tm"}] and rest.taskmanagers() == [{"id": "tm"}]


def test_rest_unreachable_is_unavailable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RestUnavailable) as error:
        FlinkRest("http://127.0.0.1:%d" % port).overview()
    assert "GET http://127.0.0.1:%d/overview failed" % port in str(error.value)


def test_rest_follows_a_redirect_through_ansible_urls(tcp_server, routes):
    server, port = tcp_server
    routes[("GET", "/old")] = (302, None, {"Location": "http://127.0.0.1:%d/new" % port})
    routes[("GET", "/new")] = (200, {"moved": True}, {})
    assert FlinkRest("http://127.0.0.1:%d" % port).get("/old") == {"moved": True}
    assert [url for _m, url, _c, _b in server.seen] == ["/old", "/old", "/new"]


def test_rest_with_a_proxy_in_the_environment_uses_ansible_urls(tcp_server, routes, monkeypatch):
    server, port = tcp_server
    routes[("GET", "/overview")] = (200, {"via": "direct"}, {})
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # nothing listens there; no_proxy bypasses it
    rest = FlinkRest("http://127.0.0.1:%d" % port)
    assert rest.overview() == {"via": "direct"}
    assert rest._plain() is False and rest._http is None
    assert os.environ["http_proxy"] == "http://127.0.0.1:9"
