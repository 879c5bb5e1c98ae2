"""Fixtures for the Docker platform: images, free ports, the host-side Flink client."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest

from tests.conftest import CACHE, FLINK_DEFAULT, FLINK_VERSIONS, flink_image


@pytest.fixture(params=FLINK_VERSIONS, ids=lambda v: "flink-%s" % v)
def flink_version(request):
    return request.param


@pytest.fixture
def image(flink_version, docker_client):
    name = flink_image(flink_version)
    docker_client.images.get(name)  # fails the test when the test bed did not build it
    return name


@pytest.fixture
def default_image(docker_client):
    name = flink_image(FLINK_DEFAULT)
    docker_client.images.get(name)
    return name


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def port():
    return free_port()


def flink_client(version):
    return os.path.join(CACHE, "flink", version, "bin", "flink")


def examples_jar(version):
    return os.path.join(CACHE, "jobs", version, "flinkops-examples.jar")


def flink_run(version, rest_port, *args, timeout=180):
    """Submit with the real Flink client, the way a user does (``flink run -m host:port``)."""
    cmd = [flink_client(version), "run", "-m", "127.0.0.1:%d" % rest_port] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def dirs(tmp_path):
    made = {}
    for name in ("savepoints", "out", "jars"):
        path = tmp_path / name
        path.mkdir()
        path.chmod(0o777)  # Flink runs as uid 9999 in the containers
        made[name] = str(path)
    yield made
    shutil.rmtree(str(tmp_path), ignore_errors=True)
