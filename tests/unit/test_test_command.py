"""Pure logic of the test command and of module start-up: which unit of work a test belongs to, and that a Docker
run of the cluster modules does not import the Kubernetes SDK."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import _DEV, GROUP_KUBERNETES, GROUP_KUBERNETES_OPERATOR, GROUP_SWARM
from tests.conftest import test_bed_group as group_of  # (not test_*: pytest would collect it)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("nodeid,group", [
    ("tests/integration/kubernetes/test_native_session.py::test_native_session_lifecycle[flink-2.2.1]",
     GROUP_KUBERNETES),
    ("tests/integration/kubernetes/test_cluster.py::test_x", GROUP_KUBERNETES),
    # The operator's tests are a second Kubernetes unit, which the other worker may run at the same time.
    ("tests/integration/kubernetes/test_operator_application.py::test_x[flink-2.2.1]", GROUP_KUBERNETES_OPERATOR),
    ("tests/integration/kubernetes/test_operator.py::test_session_operator_playbook", GROUP_KUBERNETES_OPERATOR),
    ("tests/molecule/test_molecule.py::test_scenario[operator]", GROUP_KUBERNETES_OPERATOR),
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


def test_the_last_user_of_the_kubernetes_test_bed_stops_it_only_if_the_tests_started_it(tmp_path, monkeypatch):
    from tests.lib import k8s_users
    monkeypatch.setattr(k8s_users, "USERS_DIR", str(tmp_path))
    monkeypatch.setattr(k8s_users, "STARTED_MARK", str(tmp_path / "started-by-tests"))
    monkeypatch.delenv("FLINKOPS_K8S_KEEP", raising=False)
    stopped = []
    # Two workers: the first starts the cluster, the second finds it up; the first one out does not stop it.
    first = k8s_users.register(was_up=False)
    second = k8s_users.register(was_up=True)
    assert k8s_users.release(first, lambda: stopped.append("first")) is False
    assert k8s_users.release(second, lambda: stopped.append("second")) is True and stopped == ["second"]
    # A cluster that was up before any test: never stopped, even after a killed run left its mark behind.
    (tmp_path / "started-by-tests").write_text("")
    (tmp_path / "999999999-dead").write_text("")  # a registration of a process that is gone
    third = k8s_users.register(was_up=True)
    assert k8s_users.release(third, lambda: stopped.append("third")) is False and stopped == ["second"]
    # FLINKOPS_K8S_KEEP=1 keeps one the tests started.
    monkeypatch.setenv("FLINKOPS_K8S_KEEP", "1")
    fourth = k8s_users.register(was_up=False)
    assert k8s_users.release(fourth, lambda: stopped.append("fourth")) is False and stopped == ["second"]
