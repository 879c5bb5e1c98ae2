"""docker_api.ReadClient, the small client that serves an unchanged run's reads, against the real engine: the
same answers as the Docker SDK for every read the modules make (over the socket and over tcp://), the same
errors for what does not exist, and the SDK only when something is written."""

from __future__ import annotations

import secrets

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.docker.api import DockerApi, ImageNotFound, NotFound
from tests.integration.docker.test_image import UnixForwarder

pytestmark = [pytest.mark.docker]

# Fields of a container listing that change while we look (a created, never started, container has none).
VOLATILE = ("Status",)


@pytest.fixture
def objects(docker_client, default_image):
    """A network, a volume and a created container on it, all labelled with a random name."""
    name = "tapi-%s" % secrets.token_hex(3)
    labels = {"org.flinkops.cluster": name}
    network = docker_client.networks.create(name, labels=labels)
    volume = docker_client.volumes.create(name, labels=labels)
    container = docker_client.containers.create(default_image, command=["true"], name=name + "-c", labels=labels,
                                                network=name)
    yield {"name": name, "image": default_image, "container": container, "network": network, "volume": volume}
    container.remove(force=True)
    network.remove()
    volume.remove(force=True)


def strip(listing):
    return [dict((k, v) for k, v in item.items() if k not in VOLATILE) for item in listing]


@pytest.mark.parametrize("over", ["unix", "tcp"])
def test_reads_agree_with_the_sdk(docker_client, objects, over):
    forwarder = UnixForwarder() if over == "tcp" else None
    try:
        params = {"docker_host": "tcp://127.0.0.1:%d" % forwarder.port} if forwarder else {}
        api = DockerApi(params)
        sdk = docker_client.api
        name = objects["name"]
        label = {"label": "org.flinkops.cluster=%s" % name}
        mine = api.containers(all=True, filters=label)
        assert len(mine) == 1 and strip(mine) == strip(sdk.containers(all=True, filters=label))
        assert api.containers(all=False, filters=label) == [] == sdk.containers(all=False, filters=label)
        by_name = {"name": "^/%s-" % name}
        assert strip(api.containers(all=True, filters=by_name)) == strip(sdk.containers(all=True, filters=by_name))
        assert api.networks(filters={"name": name}) == sdk.networks(filters={"name": name})
        assert api.networks(filters={"name": name})[0]["Name"] == name
        assert api.inspect_container(name + "-c") == sdk.inspect_container(name + "-c")
        assert api.inspect_image(objects["image"]) == sdk.inspect_image(objects["image"])
        assert api.inspect_volume(name) == sdk.inspect_volume(name)
        with pytest.raises(NotFound):
            api.inspect_container(name + "-absent")
        with pytest.raises(NotFound):
            api.inspect_volume(name + "-absent")
        with pytest.raises(ImageNotFound) as missing:
            api.inspect_image("flinkops/absent:%s" % name)
        assert "No such image" in missing.value.explanation
        assert api.sdk_used is False
    finally:
        if forwarder:
            forwarder.close()


def test_writes_use_the_sdk_and_raise_our_errors(docker_client, objects):
    api = DockerApi({})
    name = objects["name"]
    api.start(name + "-c")  # through the SDK: the container runs `true` and exits
    assert api.sdk_used is True
    with pytest.raises(NotFound):
        api.remove_container(name + "-absent")
    output = api.client.containers.run(objects["image"], entrypoint=["echo", "hi"], remove=True,
                                       network_mode="none", labels={"org.flinkops.cluster": name})
    assert output.strip() == b"hi"
    with pytest.raises(ImageNotFound):  # the SDK's docker.errors.ImageNotFound, as ours
        api.create_container("flinkops/absent:%s" % name, command=["true"])
