"""Shared fixtures: the collection as users install it, the real Docker engine, names and clean-up."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("FLINKOPS_CACHE", "/var/cache/flinkops")
FLINK_VERSIONS = os.environ.get("FLINKOPS_FLINK_VERSIONS", "1.20.5 2.2.1").split()
FLINK_DEFAULT = os.environ.get("FLINKOPS_FLINK_DEFAULT", "2.2.1")

# Unit tests import module_utils as Ansible does: ansible_collections.flinkops.flink.…
_DEV = os.path.join(CACHE, "dev-collections")
_LINK = os.path.join(_DEV, "ansible_collections", "flinkops", "flink")
if not os.path.islink(_LINK) or os.readlink(_LINK) != REPO:
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    tmp_link = _LINK + ".%d" % os.getpid()
    os.symlink(REPO, tmp_link)
    os.replace(tmp_link, _LINK)
if _DEV not in sys.path:
    sys.path.insert(0, _DEV)
sys.path.insert(0, REPO)


def flink_image(version):
    return "flinkops/flink:%s-java17" % version


@pytest.fixture(scope="session")
def collections_path():
    """Build the collection tarball and install it, exactly as a user would."""
    work = tempfile.mkdtemp(prefix="flinkops-collection-")
    bin_dir = os.path.dirname(sys.executable)
    subprocess.run([os.path.join(bin_dir, "ansible-galaxy"), "collection", "build", REPO, "--output-path", work],
                   check=True, capture_output=True)
    tarball = [f for f in os.listdir(work) if f.endswith(".tar.gz")][0]
    install_to = os.path.join(work, "collections")
    subprocess.run([os.path.join(bin_dir, "ansible-galaxy"), "collection", "install", "--force", "-p", install_to,
                    os.path.join(work, tarball)], check=True, capture_output=True)
    return install_to


@pytest.fixture(scope="session")
def docker_client():
    docker = pytest.importorskip("docker")
    client = docker.from_env(version="auto")
    client.ping()
    return client


@pytest.fixture
def cluster_name(request, docker_client):
    """A random cluster name; every container and network of it is removed after the test."""
    name = "t%s-%s" % (secrets.token_hex(3), request.node.name.split("[")[0].replace("test_", "")[:20].replace("_", "-"))
    name = name.rstrip("-")[:40]
    yield name
    remove_cluster(docker_client, name)


def remove_cluster(client, name):
    for container in client.containers.list(all=True, filters={"label": "org.flinkops.cluster=%s" % name}):
        container.remove(force=True)
    for network in client.networks.list(filters={"label": "org.flinkops.cluster=%s" % name}):
        network.remove()


def pytest_collection_modifyitems(config, items):
    """With pytest-xdist (scripts/test.sh runs two workers), split the suite into two groups of about equal
    length, each run by one worker from start to end: (a) the Docker engine and swarm tests, unit tests and
    lint; (b) the Kubernetes tests and the Molecule scenarios of Docker roles. Most of a test's time is spent
    waiting for JVMs, so two streams nearly halve the suite's wall time on two cores; within a group tests run
    in order, so the test beds' package fixtures (start, stop) and the swarm lock work as in a serial run."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if item.get_closest_marker("kubernetes") or (item.get_closest_marker("molecule")
                                                     and item.get_closest_marker("docker")):
            group = "kubernetes-and-molecule"
        else:
            group = "docker-swarm-lint"
        item.add_marker(pytest.mark.xdist_group(group))
