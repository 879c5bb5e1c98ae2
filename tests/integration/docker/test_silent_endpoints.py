"""Unreachable and silent endpoints: a REST URL whose listener accepts connections and never answers, and one
where nothing listens. Every module that talks to Flink's REST API fails within its own time-out (not the
connection's forever), with a message that names rest_url; nothing else is touched."""

from __future__ import annotations

import os
import socket
import time

import pytest

from tests.conftest import CACHE, FLINK_DEFAULT
from tests.lib.ansible import run_playbook

pytestmark = [pytest.mark.docker]


@pytest.fixture
def silent_url():
    """A listener that completes TCP handshakes (the kernel's backlog) and never reads or writes."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield "http://127.0.0.1:%d" % sock.getsockname()[1]
    sock.close()


@pytest.fixture
def closed_url():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connections are refused
    return "http://127.0.0.1:%d" % port


def timed(collections_path, module, args):
    start = time.monotonic()
    result = run_playbook(collections_path, tasks=[{"name": "t", "register": "out", module: args}])
    return time.monotonic() - start, result


JAR = os.path.join(CACHE, "jobs", FLINK_DEFAULT, "flinkops-examples.jar")


def cases(url):
    """(module, arguments, bound in seconds): wait_timeout plus one request's 10 s time-out and Ansible's start."""
    return [
        ("flinkops.flink.flink_info", {"rest_url": url, "wait": False}, 30),
        ("flinkops.flink.flink_info", {"rest_url": url, "wait": True, "wait_timeout": 8}, 30),
        ("flinkops.flink.flink_job", {"name": "silent", "rest_url": url, "jar": JAR, "wait_timeout": 8,
                                      "entry_class": "org.flinkops.examples.BoundedCounter"}, 30),
        ("flinkops.flink.flink_job", {"name": "silent", "rest_url": url, "state": "cancelled", "wait_timeout": 8},
         30),
    ]


@pytest.mark.parametrize("kind", ["silent", "closed"])
def test_rest_endpoints_that_never_answer_fail_within_the_time_out(kind, collections_path, silent_url, closed_url):
    url = silent_url if kind == "silent" else closed_url
    for module, args, bound in cases(url):
        seconds, result = timed(collections_path, module, args)
        out = result.task("t")
        assert result.rc != 0, (module, args, out)
        assert seconds < bound, "%s %s took %.0f s (bound %d s): %s" % (module, args, seconds, bound, out["msg"])
        assert "127.0.0.1" in out["msg"] or out.get("option") == "rest_url", (module, out["msg"])
        print("%s %s: failed after %.1f s: %s" % (module, kind, seconds, out["msg"][:200]))
