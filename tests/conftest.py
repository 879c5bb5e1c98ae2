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


# The test command's two pytest-xdist workers (scripts/test.sh) share the work in units: the tests of the swarm test
# bed are one unit, run by one worker from start to end in collection order, so the package fixture and the swarm
# lock work as in a serial run; the Kubernetes test bed's tests are two units (native mode and the roles, and the
# operator's tests with its Molecule scenario), which the two workers may run side by side on the one cluster: its
# users are counted (tests/lib/k8s_users.py), the last one out stops it. Every other test file, and every other
# Molecule scenario, is a unit of its own, handed to whichever worker is free. Most of a test's time is spent
# waiting for JVMs, so two streams nearly halve the wall time on two cores.
GROUP_KUBERNETES = "kubernetes"
GROUP_KUBERNETES_OPERATOR = "kubernetes-operator"
GROUP_SWARM = "swarm"
# The long units, handed out first in this order (one to each worker, the third to the first worker free).
LONG_UNITS = (GROUP_SWARM, GROUP_KUBERNETES, GROUP_KUBERNETES_OPERATOR)


def test_bed_group(nodeid):
    """The unit of work a test belongs to, from its node id: the Kubernetes (native, operator) or swarm test bed
    (their tests and the Molecule scenarios whose create playbook brings that test bed up), else its own file or
    scenario."""
    path = nodeid.split("::", 1)[0]
    if path.startswith("tests/integration/kubernetes/test_operator"):
        return GROUP_KUBERNETES_OPERATOR
    if path.startswith("tests/integration/kubernetes/"):
        return GROUP_KUBERNETES
    if path.startswith("tests/integration/swarm/"):
        return GROUP_SWARM
    if path == "tests/molecule/test_molecule.py" and "::test_scenario[" in nodeid:
        from tests.molecule.test_molecule import scenario_platform
        role = nodeid.split("::test_scenario[", 1)[1].split("]", 1)[0]
        platform = scenario_platform(role)
        if platform == GROUP_KUBERNETES and role == "operator":
            return GROUP_KUBERNETES_OPERATOR
        if platform in (GROUP_KUBERNETES, GROUP_SWARM):
            return platform
        return "molecule:%s" % role
    return path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Schedule by test_bed_group. (xdist's own ``--dist loadgroup`` reads xdist_group marks by rewriting node
    ids, which pytest 9.2 no longer allows: every test became its own group, tests of one test bed ran on both
    workers at once and one worker's package fixture stopped the Kubernetes cluster under the other's tests.)"""
    from xdist.scheduler import LoadScopeScheduling

    class TestBedScheduling(LoadScopeScheduling):
        ordered = False

        def _split_scope(self, nodeid):
            return test_bed_group(nodeid)

        def _assign_work_unit(self, node):
            # The long test-bed units first, one to each worker, the third to the first worker that runs low;
            # the other units, by size, to whichever worker runs low.
            if not self.ordered:
                self.ordered = True
                for scope in reversed(LONG_UNITS):
                    if scope in self.workqueue:
                        self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return TestBedScheduling(config, log)
