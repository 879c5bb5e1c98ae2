"""The test bed's Flink images are built on the official `flink` image's recipe (../shared/upstream/flink-docker):
what the suite proves holds for the image users pull, not for an imitation."""

from __future__ import annotations

import os
import re

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.docker

UPSTREAM = os.environ.get("FLINKOPS_UPSTREAM", os.path.join(os.path.dirname(REPO), "shared", "upstream"))


def recipe(version):
    path = os.path.join(UPSTREAM, "flink-docker", ".".join(version.split(".")[:2]), "scala_2.12-java17-ubuntu")
    if not os.path.isfile(os.path.join(path, "docker-entrypoint.sh")):
        pytest.fail("no official image recipe at %s (../shared beside the checkout, or FLINKOPS_UPSTREAM)" % path)
    return path


def run_in(docker_client, image, *command, user=None):
    out = docker_client.containers.run(image, entrypoint=list(command), user=user, remove=True, network_mode="none")
    return out.decode("utf-8", "replace")


def test_image_follows_the_official_recipe(docker_client, image, flink_version):
    upstream = recipe(flink_version)
    with open(os.path.join(upstream, "docker-entrypoint.sh"), "rb") as handle:
        expected = handle.read()
    inside = docker_client.containers.run(image, entrypoint=["cat", "/docker-entrypoint.sh"], remove=True,
                                          network_mode="none")
    assert inside == expected, "the image's entrypoint is not the upstream file byte for byte"

    config = docker_client.images.get(image).attrs["Config"]
    assert config["Entrypoint"] == ["/docker-entrypoint.sh"] and config["Cmd"] == ["help"]
    assert set(config["ExposedPorts"]) == {"6123/tcp", "8081/tcp"}
    with open(os.path.join(upstream, "Dockerfile")) as handle:
        dockerfile = handle.read()
    runs_as_flink = re.search(r"^USER flink\s*$", dockerfile, re.M) is not None
    assert (config.get("User") or "root") == ("flink" if runs_as_flink else "root")

    facts = run_in(docker_client, image, "bash", "-c",
                   'id flink; stat -c "%u:%g" /opt/flink /opt/flink/conf/config.yaml; echo "$FLINK_HOME"; '
                   'ls /usr/lib/$(uname -m)-linux-gnu/libjemalloc.so; command -v envsubst gosu; '
                   "grep -E '^ *(bind-host|bind-address|address|host):' /opt/flink/conf/config.yaml | sort | uniq -c",
                   user="root").splitlines()
    assert facts[0].startswith("uid=9999(flink) gid=9999(flink)"), facts
    assert facts[1:3] == ["9999:9999", "9999:9999"] and facts[3] == "/opt/flink", facts
    assert facts[4].endswith("/libjemalloc.so") and len(facts[5:7]) == 2, facts
    # The Dockerfile's configuration step: rest.address and both bind-hosts are 0.0.0.0 (rest.bind-address is not
    # set in the distribution's file), taskmanager.host is gone; jobmanager.rpc.address keeps localhost (the
    # entrypoint sets it at start).
    assert sorted(" ".join(line.split()) for line in facts[7:]) == [
        "1 address: 0.0.0.0", "1 address: localhost", "2 bind-host: 0.0.0.0"], facts

    # The entrypoint itself: its help text (the image's CMD), jemalloc found (no "couldn't be found" warning).
    out = docker_client.containers.run(image, remove=True, network_mode="none").decode()
    assert out.startswith("Usage: docker-entrypoint.sh (jobmanager|standalone-job|taskmanager|history-server)"), out
    assert "jemalloc" in out and "couldn't be found" not in out, out
