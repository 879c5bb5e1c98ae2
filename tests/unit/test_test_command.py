"""Pure logic of the test command and of module start-up: which unit of work a test belongs to, and that a Docker
run of the cluster modules does not import the Kubernetes SDK."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import _DEV, GROUP_KUBERNETES, GROUP_SWARM
from tests.conftest import test_bed_group as group_of  # (not test_*: pytest would collect it)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("nodeid,group", [
    ("tests/integration/kubernetes/test_native_session.py::test_native_session_lifecycle[flink-2.2.1]",
     GROUP_KUBERNETES),
    ("tests/integration/kubernetes/test_cluster.py::test_x", GROUP_KUBERNETES),
    # Scenarios follow the test bed their create playbook brings up: swarm with the swarm tests (one lock,
    # one package fixture), Kubernetes with the Kubernetes tests; Docker ones are units of their own.
    ("tests/molecule/test_molecule.py::test_scenario[swarm]", GROUP_SWARM),
    ("tests/molecule/test_molecule.py::test_scenario[k8s_namespace]", GROUP_KUBERNETES),
    ("tests/molecule/test_molecule.py::test_scenario[flink_client]", GROUP_KUBERNETES),
    ("tests/molecule/test_molecule.py::test_scenario[session]", "molecule:session"),
    ("tests/molecule/test_molecule.py::test_wrong_variable_fails_at_argument_validation[swarm]",
     "tests/molecule/test_molecule.py"),
    ("tests/integration/swarm/test_session.py::test_session_cluster_across_nodes", GROUP_SWARM),
    # Docker tests share no started/stopped test bed: each file is a unit for whichever worker is free.
    ("tests/integration/docker/test_session.py::test_session_lifecycle[flink-1.20.5]",
     "tests/integration/docker/test_session.py"),
    ("tests/lint/test_lint.py::test_ansible_test_sanity", "tests/lint/test_lint.py"),
])
def test_test_bed_group(nodeid, group):
    assert group_of(nodeid) == group


@pytest.mark.parametrize("module", ["flink_session", "flink_application"])
def test_docker_path_does_not_import_the_kubernetes_sdk(module):
    code = ("import sys; sys.path.insert(0, %r); "
            "import ansible_collections.flinkops.flink.plugins.modules.%s; "
            "print(sorted(m for m in sys.modules if m == 'kubernetes' or m.startswith('kubernetes.')))" % (_DEV, module))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
