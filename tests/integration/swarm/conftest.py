"""Fixtures for the Swarm platform: three Docker-in-Docker nodes of testbed/swarm/nodes.sh (1 manager,
2 workers, each its own dockerd on the test network) and the local registry the nodes pull from.

The package-scoped fixture ``swarm_nodes`` runs ``nodes.sh up``, replaces nodes that are or were in a swarm
(an earlier run, the Molecule swarm scenario) by new ones (so the role really forms it), and runs
``nodes.sh down`` after the last test of this directory (FLINKOPS_SWARM_KEEP=1 keeps the nodes). Tests talk to the nodes' daemons over TCP: no mocks.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import yaml

from tests.conftest import CACHE, FLINK_DEFAULT, REPO, flink_image
from tests.lib.ansible import run_playbook

NODES_SH = os.path.join(REPO, "testbed", "swarm", "nodes.sh")
INVENTORY = os.path.join(REPO, "playbooks", "inventory", "swarm-testbed.yml")
SWARM_PLAYBOOK = os.path.join(REPO, "playbooks", "swarm.yml")


class SwarmNodes(object):
    def __init__(self, inventory):
        self.inventory = inventory
        groups = inventory["all"]["children"]
        self.hosts = {}
        for group in ("swarm_managers", "swarm_workers"):
            for name, hostvars in groups[group]["hosts"].items():
                self.hosts[name] = dict(hostvars, group=group)
        self.manager = [n for n, h in self.hosts.items() if h["group"] == "swarm_managers"][0]
        self.workers = sorted(n for n, h in self.hosts.items() if h["group"] == "swarm_workers")
        self.registry = inventory["all"]["vars"]["registry"]

    def docker_host(self, name):
        return self.hosts[name]["docker_host"]

    def address(self, name):
        return self.hosts[name]["swarm_advertise_addr"]

    @property
    def manager_docker_host(self):
        return self.docker_host(self.manager)

    def client(self, name=None):
        import docker
        return docker.DockerClient(base_url=self.docker_host(name or self.manager), version="auto", timeout=60)

    def image(self, version=FLINK_DEFAULT):
        return "%s/%s" % (self.registry, flink_image(version))


REGISTRY_PUSH = "127.0.0.1:%s" % os.environ.get("SWARM_REGISTRY_PORT", "15000")


def push_image(swarm, local, repo_tag):
    """Push the host engine's image ``local`` to the test-bed registry as ``repo_tag`` (as nodes.sh does: the
    host pushes through 127.0.0.1) and return (the reference the nodes pull, its registry digest as the manager's
    daemon resolves it)."""
    pushed = "%s/%s" % (REGISTRY_PUSH, repo_tag)
    for cmd in (["docker", "tag", local, pushed], ["docker", "push", "-q", pushed], ["docker", "rmi", pushed]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, "%s: %s%s" % (" ".join(cmd), proc.stdout, proc.stderr)
    ref = "%s/%s" % (swarm.registry, repo_tag)
    client = swarm.client()
    digest = client.api.inspect_distribution(ref)["Descriptor"]["digest"]
    client.close()
    return ref, digest


def build_image(tag, dockerfile, files=None):
    """Build an image on the host engine from a Dockerfile text and files (name -> path) copied into the
    context; returns the image id."""
    context = tempfile.mkdtemp(prefix="flinkops-build-")
    with open(os.path.join(context, "Dockerfile"), "w") as handle:
        handle.write(dockerfile)
    for name, path in (files or {}).items():
        shutil.copy(path, os.path.join(context, name))
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    proc = subprocess.run(["docker", "build", "-q", "-t", tag, context], capture_output=True, text=True,
                          timeout=600, check=False, env=env)
    shutil.rmtree(context, ignore_errors=True)
    assert proc.returncode == 0, "docker build %s: %s%s" % (tag, proc.stdout, proc.stderr)
    return proc.stdout.strip()


def nodes_sh(*args, timeout=900):
    proc = subprocess.run(["bash", NODES_SH] + list(args), capture_output=True, text=True, timeout=timeout,
                          check=False)
    if proc.returncode != 0:
        raise AssertionError("nodes.sh %s failed (%d):\n%s%s" % (" ".join(args), proc.returncode, proc.stdout,
                                                                 proc.stderr[-4000:]))
    return proc


LOCK_FILE = os.path.join(CACHE, "swarm", "tests.lock")
LOCK_WAIT = int(os.environ.get("FLINKOPS_SWARM_LOCK_WAIT", "1500"))


@pytest.fixture(scope="package")
def swarm_lock():
    """One run of these tests at a time on a machine: the nodes, addresses and swarm are shared, and a second
    run (another pytest of the whole suite) would re-form the swarm and tear the nodes down under this one."""
    os.makedirs(os.path.dirname(LOCK_FILE), exist_ok=True)
    handle = open(LOCK_FILE, "w")  # pylint: disable=consider-using-with
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError:
            if time.monotonic() > deadline:
                handle.close()
                pytest.fail("another run of the Swarm tests holds %s for more than %ss" % (LOCK_FILE, LOCK_WAIT))
            time.sleep(2)
    yield
    fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()


def node_used(nodes, name):
    """Whether the node is in a swarm or was in one (docker_gwbridge, made when a node joins, outlives leaving)."""
    client = nodes.client(name)
    try:
        if (client.info().get("Swarm") or {}).get("LocalNodeState") != "inactive":
            return True
        return bool(client.networks.list(names=["docker_gwbridge"]))
    finally:
        client.close()


@pytest.fixture(scope="package")
def swarm_nodes(swarm_lock):  # pylint: disable=unused-argument,redefined-outer-name
    nodes_sh("up")
    with open(INVENTORY) as handle:
        nodes = SwarmNodes(yaml.safe_load(handle))
    if any(node_used(nodes, name) for name in nodes.hosts):
        # Nodes a swarm ran on before (an earlier run with FLINKOPS_SWARM_KEEP=1, a killed run, the Molecule swarm
        # scenario): new ones, so that the role really forms the swarm on hosts as CI has them. A full run where
        # the nodes had been in a swarm before once left TaskManager tasks "starting" for the whole wait
        # (suspected: the old swarm's overlay state on the reused nodes); runs on new nodes never showed it.
        nodes_sh("down")
        nodes_sh("up")
        assert not any(node_used(nodes, name) for name in nodes.hosts)
    yield nodes
    if os.environ.get("FLINKOPS_SWARM_KEEP") != "1":
        nodes_sh("down")


def play_swarm_role(collections_path, inventory=INVENTORY, **kwargs):
    return run_playbook(collections_path, playbook_path=SWARM_PLAYBOOK, inventory=inventory,
                        extra_vars={"ansible_python_interpreter": sys.executable}, **kwargs)


@pytest.fixture(scope="package")
def swarm(swarm_nodes, collections_path):
    """The swarm formed by the role from the test-bed inventory (the first test checks how)."""
    swarm_nodes.check_run = play_swarm_role(collections_path, check=True, diff=True)
    result = play_swarm_role(collections_path)
    assert result.rc == 0, result
    swarm_nodes.first_run = result
    return swarm_nodes


@pytest.fixture
def prefix(swarm):
    """A random name prefix; the services and networks of the test are removed afterwards."""
    name = "flinkops-swarm-%s" % secrets.token_hex(3)
    yield name
    from docker import errors as docker_errors
    client = swarm.client()
    for service in client.services.list():
        if service.name.startswith(name):
            service.remove()
    deadline = time.monotonic() + 30
    for network in client.networks.list():
        while network.name.startswith(name):
            try:
                network.remove()
                break
            except docker_errors.NotFound:
                break  # removed meanwhile (by the module under test)
            except Exception:  # pylint: disable=broad-except
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)  # tasks still detaching
    client.close()
