"""The collection in an execution environment: the real ansible-builder reads its meta/execution-environment.yml
and writes a build context for an EE that installs it (building the image needs a base image from a registry,
which this machine cannot reach; docs/execution-environment.md)."""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.lint

BUILDER = os.path.join(os.path.dirname(sys.executable), "ansible-builder")


def builder(*args, cwd=None):
    proc = subprocess.run([BUILDER] + list(args), capture_output=True, text=True, timeout=300, cwd=cwd, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_introspect_lists_the_collections_requirements(collections_path):
    found = yaml.safe_load(builder("introspect", "--sanitize", collections_path))
    python = [line for line in found["python"] if "flinkops.flink" in line]
    system = [line for line in found["system"] if "flinkops.flink" in line]
    assert any(line.startswith("docker>=7.0,<8") for line in python), found["python"]
    assert any(line.startswith("kubernetes>=31") for line in python), found["python"]
    assert not any(line.startswith("ansible") for line in python), python  # ansible-core comes with the base image
    assert any("openjdk-17-jre-headless [platform:dpkg]" in line for line in system), found["system"]


def test_create_writes_a_build_context(collections_path, tmp_path):
    tarball = glob.glob(os.path.join(os.path.dirname(collections_path), "flinkops-flink-*.tar.gz"))[0]
    (tmp_path / "requirements.yml").write_text(yaml.safe_dump({"collections": [{"name": tarball, "type": "file"}]}))
    (tmp_path / "execution-environment.yml").write_text(yaml.safe_dump({
        "version": 3,
        "images": {"base_image": {"name": "quay.io/ansible/awx-ee:latest"}},
        "dependencies": {"galaxy": "requirements.yml", "python_interpreter": {"python_path": "/usr/bin/python3"}},
    }))
    builder("create", "-f", "execution-environment.yml", "--context", "context", cwd=str(tmp_path))
    # Containerfile, or Dockerfile where ansible-builder finds docker rather than podman.
    written = [tmp_path / "context" / n for n in ("Containerfile", "Dockerfile") if (tmp_path / "context" / n).exists()]
    assert written, os.listdir(str(tmp_path / "context"))
    containerfile = written[0].read_text()
    assert "quay.io/ansible/awx-ee:latest" in containerfile
    assert "ansible-galaxy" in containerfile and "introspect" in containerfile, containerfile
    copied = yaml.safe_load((tmp_path / "context" / "_build" / "requirements.yml").read_text())
    assert copied == {"collections": [{"name": tarball, "type": "file"}]}
