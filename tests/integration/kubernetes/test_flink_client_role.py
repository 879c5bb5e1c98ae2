"""The flink_client role on this machine: Java (already here) and a Flink client from PyPI (through the
machine's TLS-intercepting proxy, with pip --cert) or from a tarball; `$FLINK_HOME/bin/flink --version` prints
the version; a second run changes nothing; twice in one play with different versions."""

from __future__ import annotations

import os
import subprocess
import tarfile

import pytest

from tests.conftest import CACHE, FLINK_DEFAULT, FLINK_VERSIONS
from tests.lib.ansible import run_playbook

pytestmark = [pytest.mark.kubernetes, pytest.mark.slow]

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def client_play(collections_path, includes, check=False):
    tasks = []
    for i, variables in enumerate(includes):
        tasks.append({"name": "client %d" % i, "ansible.builtin.include_role": {"name": "flinkops.flink.flink_client"},
                      "vars": variables})
        tasks.append({"name": "facts %d" % i, "ansible.builtin.debug": {"msg": {
            "home": "{{ flink_client_home }}", "bin": "{{ flink_client_bin }}"}}})
    return run_playbook(collections_path, tasks=tasks, check=check, timeout=1800)


def version_of(home):
    env = dict(os.environ, FLINK_HOME=home)
    env.pop("FLINK_CONF_DIR", None)
    proc = subprocess.run([os.path.join(home, "bin", "flink"), "--version"], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def role_changed(result):
    return [r["task"] for r in result.results if r["result"].get("changed") and "flink_client" in r["task"]]


def test_client_from_pypi_and_from_a_tarball(collections_path, tmp_path):
    pypi = {"flink_client_version": FLINK_DEFAULT, "flink_client_install_dir": str(tmp_path / "clients"),
            "flink_client_pip_cert": CA_BUNDLE}
    predicted = client_play(collections_path, [pypi], check=True)
    assert predicted.rc == 0 and role_changed(predicted), predicted
    assert not os.path.exists(tmp_path / "clients")

    first = client_play(collections_path, [pypi])
    assert first.rc == 0, first
    facts = first.task("facts 0")["msg"]
    assert facts["home"].endswith("/site-packages/pyflink") and facts["bin"] == facts["home"] + "/bin"
    assert facts["home"].startswith(str(tmp_path / "clients" / ("venv-" + FLINK_DEFAULT)))
    assert "Version: %s," % FLINK_DEFAULT in version_of(facts["home"])
    for script in ("kubernetes-session.sh", "config.sh"):
        assert os.path.exists(os.path.join(facts["bin"], script))

    again = client_play(collections_path, [pypi])
    assert again.rc == 0 and role_changed(again) == [], again

    # A tarball of another version, next to the first (the layout of flink-<v>-bin-scala_2.12.tgz).
    other = [v for v in FLINK_VERSIONS if v != FLINK_DEFAULT][0] if len(FLINK_VERSIONS) > 1 else FLINK_DEFAULT
    dist = os.path.join(CACHE, "flink", other)
    if not os.path.exists(os.path.join(dist, "bin", "flink")):
        pytest.fail("%s is missing: testbed/docker/images.sh builds it" % dist)
    tarball = tmp_path / ("flink-%s-bin.tgz" % other)
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(dist, arcname="flink-%s" % other, filter=lambda i: None if i.name.endswith("/log") else i)
    archive = {"flink_client_version": other, "flink_client_source": "archive", "flink_client_archive": str(tarball),
               "flink_client_install_dir": str(tmp_path / "clients")}
    both = client_play(collections_path, [pypi, archive])
    assert both.rc == 0, both
    assert both.task("facts 1")["msg"]["home"] == str(tmp_path / "clients" / ("flink-" + other))
    assert "Version: %s," % other in version_of(both.task("facts 1")["msg"]["home"])
    assert role_changed(client_play(collections_path, [pypi, archive])) == []

    # A distribution that is not the version asked for fails the role's own check.
    wrong = client_play(collections_path, [{"flink_client_source": "directory", "flink_client_directory": dist,
                                            "flink_client_version": "1.2.3"}])
    assert wrong.rc != 0 and "Version: %s" % other in wrong.stdout, wrong


def test_bad_variables_fail_first(collections_path):
    bad = client_play(collections_path, [{"flink_client_source": "maven"}])
    assert bad.rc != 0 and "flink_client_source" in bad.stdout, bad
    bad = client_play(collections_path, [{"flink_client_java_install": "perhaps"}])
    assert bad.rc != 0 and "flink_client_java_install" in bad.stdout, bad
