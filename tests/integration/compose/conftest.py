"""Fixtures of the Compose platform: a project name and directory, removed with everything Compose made."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

# The Docker platform's fixtures, used by the Compose tests too.
from tests.integration.docker.conftest import (  # noqa: F401  pylint: disable=unused-import
    default_image, dirs, flink_version, image, port)


def compose(project_dir, *args, check=True):
    """The real `docker compose` on a project directory, as a user runs it."""
    return subprocess.run(["docker", "compose", "-f", os.path.join(project_dir, "compose.yaml")] + list(args),
                          capture_output=True, text=True, check=check, timeout=300)


@pytest.fixture
def project(cluster_name, docker_client, tmp_path):
    """(name, project_dir): the cluster's Compose project; its containers, networks and volumes go afterwards."""
    directory = str(tmp_path / "compose" / cluster_name)
    yield cluster_name, directory
    label = "com.docker.compose.project=%s" % cluster_name
    for container in docker_client.containers.list(all=True, filters={"label": label}):
        container.remove(force=True)
    for network in docker_client.networks.list(filters={"label": label}):
        network.remove()
    for volume in docker_client.volumes.list(filters={"name": "flinkops-%s-state" % cluster_name}):
        volume.remove(force=True)
    shutil.rmtree(directory, ignore_errors=True)


def project_containers(docker_client, name):
    """{container name: container} of a Compose project."""
    found = docker_client.containers.list(all=True, filters={"label": "com.docker.compose.project=%s" % name})
    return dict((c.name, c) for c in found)
