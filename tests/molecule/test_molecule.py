"""Every role of the collection proves itself with its Molecule scenario (extensions/molecule/<role>), on the real
engines: the local Docker engine, the swarm test bed and the Kubernetes test bed. The collection Molecule sees is
the tarball of this working tree, installed by the ``collections_path`` fixture (ANSIBLE_COLLECTIONS_PATH).

- A role without a scenario fails; so does a scenario that does not run the role, or whose test sequence
  (create, converge, idempotence, verify, destroy) fails.
- For every role, a deliberately wrong variable (wrong type, unknown choice, taken from the role's own
  meta/argument_specs.yml) fails at argument validation, before any task, with the variable's name.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import subprocess
import sys
import time

import pytest
import yaml

from tests.conftest import CACHE, REPO
from tests.lib import k8s_users
from tests.lib.ansible import run_playbook

ROLES_DIR = os.path.join(REPO, "roles")
SCENARIOS_DIR = os.path.join(REPO, "extensions", "molecule")
VENV_BIN = os.path.dirname(sys.executable)
ROLES = sorted(d for d in os.listdir(ROLES_DIR) if os.path.isdir(os.path.join(ROLES_DIR, d)))
# The swarm tests' lock (tests/integration/swarm/conftest.py): one user of the swarm test bed at a time.
SWARM_LOCK = os.path.join(CACHE, "swarm", "tests.lock")
SCENARIO_TIMEOUT = int(os.environ.get("FLINKOPS_MOLECULE_TIMEOUT", "1800"))


# The test bed each shared create playbook (extensions/molecule/resources) brings up, as a pytest marker. The
# client scenario runs on this machine as the host of native Kubernetes commands.
CREATE_PLATFORM = {"create_docker.yml": "docker", "create_swarm.yml": "swarm", "create_kubernetes.yml": "kubernetes",
                   "create_client.yml": "kubernetes", "create_operator.yml": "kubernetes"}


def scenario_platform(role):
    """docker, swarm or kubernetes: which test bed the scenario's create playbook brings up."""
    path = os.path.join(SCENARIOS_DIR, role, "molecule.yml")
    if not os.path.exists(path):
        return "docker"
    with open(path) as handle:
        config = yaml.safe_load(handle) or {}
    create = ((config.get("ansible") or {}).get("playbooks") or {}).get("create", "create_docker.yml")
    return CREATE_PLATFORM.get(os.path.basename(create), "docker")


def scenario_params():
    return [pytest.param(role, id=role, marks=[pytest.mark.molecule, getattr(pytest.mark, scenario_platform(role)),
                                               pytest.mark.slow])
            for role in ROLES]


@contextlib.contextmanager
def k8s_user(platform):
    """A scenario on the Kubernetes test bed is one of its users (tests/lib/k8s_users.py): the other worker's
    Kubernetes tests do not stop the cluster under it, and it stops the cluster when it is the last user of one
    the tests started (its create playbook brings it up)."""
    if platform != "kubernetes":
        yield
        return
    cluster_sh = os.path.join(REPO, "testbed", "kubernetes", "cluster.sh")
    was_up = subprocess.run(["bash", cluster_sh, "status"], capture_output=True, timeout=60,
                            check=False).returncode == 0
    token = k8s_users.register(was_up)
    try:
        yield
    finally:
        def down():
            subprocess.run(["bash", cluster_sh, "down"], capture_output=True, timeout=300, check=False)
        k8s_users.release(token, down)


@contextlib.contextmanager
def swarm_lock(platform):
    if platform != "swarm":
        yield
        return
    os.makedirs(os.path.dirname(SWARM_LOCK), exist_ok=True)
    with open(SWARM_LOCK, "w") as handle:
        deadline = time.monotonic() + SCENARIO_TIMEOUT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                assert time.monotonic() < deadline, "another run holds %s" % SWARM_LOCK
                time.sleep(2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def molecule_env(collections_path):
    env = dict(os.environ)
    # The test bed's download cache of the PyPI dists (testbed/docker/images.sh): the client scenario installs
    # from it instead of downloading 300 MB again (tests/integration/kubernetes/test_flink_client_role.py uses PyPI).
    pypi_cache = os.path.join(CACHE, "downloads", "pypi")
    if os.path.isdir(pypi_cache) and "FLINKOPS_PIP_FIND_LINKS" not in env:
        env["FLINKOPS_PIP_FIND_LINKS"] = pypi_cache
    env.update({"ANSIBLE_COLLECTIONS_PATH": collections_path, "PATH": VENV_BIN + os.pathsep + env.get("PATH", ""),
                "ANSIBLE_NOCOLOR": "1", "NO_COLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "PY_COLORS": "0"})
    return env


@pytest.mark.parametrize("role", scenario_params())
def test_scenario(role, collections_path):
    scenario = os.path.join(SCENARIOS_DIR, role)
    for name in ("molecule.yml", "converge.yml", "verify.yml"):
        assert os.path.exists(os.path.join(scenario, name)), (
            "role %s has no Molecule scenario: %s is missing (every role needs extensions/molecule/%s/ with "
            "molecule.yml, converge.yml and a verify.yml that checks what a user cares about)" % (role, name, role))
    with open(os.path.join(scenario, "converge.yml")) as handle:
        converge = handle.read()
    assert converge.count("flinkops.flink.%s" % role) >= 1, "converge.yml of %s does not run the role" % role
    with open(os.path.join(scenario, "verify.yml")) as handle:
        assert "ansible.builtin.assert" in handle.read(), "verify.yml of %s asserts nothing" % role

    start = time.monotonic()
    with swarm_lock(scenario_platform(role)), k8s_user(scenario_platform(role)):
        proc = subprocess.run([os.path.join(VENV_BIN, "molecule"), "test", "-s", role], cwd=REPO,
                              env=molecule_env(collections_path), capture_output=True, text=True,
                              timeout=SCENARIO_TIMEOUT, check=False)
    output = proc.stdout + proc.stderr
    print("molecule test -s %s: rc=%d in %.0fs" % (role, proc.returncode, time.monotonic() - start))
    assert proc.returncode == 0, "molecule test -s %s failed:\n%s" % (role, output[-12000:])
    # The sequence really ran each step (a step without its playbook is reported "Missing playbook").
    for step in ("create", "converge", "idempotence", "verify", "destroy"):
        assert re.search(r"%s\s*\S*\s*%s\W+Executed: Successful" % (re.escape(role), step), output), (
            "step %s of scenario %s did not run successfully:\n%s" % (step, role, output[-6000:]))


def _wrong_values(role):
    """(variable, wrong value, why) from the role's argument spec: a wrong type and an unknown choice."""
    with open(os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    wrong = {"bool": "perhaps", "int": "many", "float": "much", "dict": "not-a-mapping", "list": {"not": "a list"}}
    typed = [(name, wrong[spec.get("type", "str")], "wrong type") for name, spec in options.items()
             if spec.get("type", "str") in wrong and "choices" not in spec]
    choice = [(name, "no-such-choice", "unknown choice") for name, spec in options.items() if spec.get("choices")]
    required = {name: "x" for name, spec in options.items() if spec.get("required") and spec.get("type", "str") == "str"}
    return typed[:1] + choice[:1], required


@pytest.mark.molecule
@pytest.mark.parametrize("role", ROLES)
def test_wrong_variable_fails_at_argument_validation(role, collections_path):
    cases, required = _wrong_values(role)
    assert cases, "role %s has no typed or choice option to check" % role
    for name, value, why in cases:
        variables = dict(required)
        variables[name] = value
        result = run_playbook(collections_path, tasks=[
            {"name": "the role with a %s" % why, "ansible.builtin.include_role": {"name": "flinkops.flink.%s" % role},
             "vars": variables}])
        assert result.rc != 0, "%s=%r (%s) was accepted by role %s" % (name, value, why, role)
        ran = [r["task"] for r in result.results if not r["task"].startswith("the role with")]
        # The only task of the role that ran is the argument validation: nothing was touched.
        assert ran and all("Validating arguments against arg spec" in t for t in ran), ran
        failed = result.results[-1]["result"]
        assert name in failed.get("msg", "") + " ".join(failed.get("argument_errors", [])), (
            "the failure for %s=%r does not name the variable: %s" % (name, value, failed.get("msg")))
