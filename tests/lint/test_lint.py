"""The collection passes ansible-lint (production profile) and ansible-test sanity, with no ignore lists;
the generated table of removed configuration keys matches the real distributions."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import CACHE, REPO

pytestmark = [pytest.mark.lint]


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False, **kwargs)


def test_ansible_lint_production_profile():
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(CACHE, "dev-collections"))
    result = run([os.path.join(os.path.dirname(sys.executable), "ansible-lint"), "--profile", "production"],
                 env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr


def test_no_sanity_ignore_lists():
    assert not [f for f in os.listdir(os.path.join(REPO, "tests", "sanity")) if f.startswith("ignore")]


def test_ansible_test_sanity():
    result = run(["bash", os.path.join(REPO, "tests", "sanity", "run.sh")], timeout=1800)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]


def test_removed_keys_table_matches_the_distributions():
    homes = [os.path.join(CACHE, "flink", v) for v in ("1.20.5", "2.2.1")]
    result = run([sys.executable, os.path.join(REPO, "tools", "removed_keys", "generate.py")] + homes, timeout=600)
    assert result.returncode == 0, result.stderr
    with open(os.path.join(REPO, "plugins", "module_utils", "removed_keys.py")) as handle:
        assert handle.read() == result.stdout
