"""The artifacts role on the real Docker engine: job jars into a named volume that Flink containers mount as
usrlib, checked from inside a container; unchanged files are not copied again, changed ones are; the sha256 of
each artifact is recorded; check mode predicts; bad variables fail before anything is touched."""

from __future__ import annotations

import hashlib
import os
import secrets

import pytest

from tests.conftest import FLINK_DEFAULT, flink_image
from tests.lib.ansible import run_playbook

pytestmark = pytest.mark.docker


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def play(collections_path, check=False, includes=()):
    tasks = [{"name": "artifacts %d" % i, "ansible.builtin.include_role": {"name": "flinkops.flink.artifacts"},
              "vars": v} for i, v in enumerate(includes)]
    tasks.append({"name": "show", "ansible.builtin.debug": {"msg": {
        "checksums": "{{ artifacts_checksums }}", "changed": "{{ artifacts_changed }}", "path": "{{ artifacts_path }}"}}})
    return run_playbook(collections_path, tasks=tasks, check=check)


def role_changed(result):
    return [r["task"] for r in result.results if r["result"].get("changed") and "artifacts" in r["task"]]


def in_container(docker_client, volume):
    """sha256sum of everything in usrlib, as a Flink container that mounts the volume sees it."""
    out = docker_client.containers.run(flink_image(FLINK_DEFAULT), ["bash", "-c", "cd /opt/flink/usrlib && sha256sum *"],
                                       entrypoint=[], volumes={volume: {"bind": "/opt/flink/usrlib", "mode": "ro"}},
                                       remove=True, user="9999")
    return dict(reversed(line.split()) for line in out.decode().splitlines())


def test_docker_volume_skips_unchanged_and_copies_changed(collections_path, docker_client, tmp_path):
    volume = "t%s-usrlib" % secrets.token_hex(3)
    jar, udf = tmp_path / "job.jar", tmp_path / "udf.jar"
    jar.write_bytes(os.urandom(200000))
    udf.write_bytes(os.urandom(5000))
    files = [{"src": str(jar)}, {"src": str(udf), "name": "udf-1.0.jar"}]
    args = {"artifacts_target": "docker_volume", "artifacts_docker_volume": volume, "artifacts_files": files}
    try:
        predicted = play(collections_path, check=True, includes=[args])
        assert predicted.rc == 0, predicted
        assert role_changed(predicted), predicted
        assert not docker_client.volumes.list(filters={"name": volume})

        first = play(collections_path, includes=[args])
        assert first.rc == 0, first
        shown = first.task("show")["msg"]
        assert shown["checksums"] == {"job.jar": sha256(jar), "udf-1.0.jar": sha256(udf)}
        assert sorted(shown["changed"]) == ["job.jar", "udf-1.0.jar"]
        assert in_container(docker_client, volume) == {"job.jar": sha256(jar), "udf-1.0.jar": sha256(udf)}
        assert docker_client.volumes.get(volume).attrs["Labels"] == {"org.flinkops.artifacts": "true"}

        again = play(collections_path, includes=[args])
        assert again.rc == 0 and role_changed(again) == [], again
        assert again.task("show")["msg"]["changed"] == []
        assert role_changed(play(collections_path, check=True, includes=[args])) == []

        # A new build of the job: only that file is copied.
        jar.write_bytes(os.urandom(200000))
        changed = play(collections_path, includes=[args])
        assert changed.rc == 0, changed
        assert changed.task("show")["msg"]["changed"] == ["job.jar"]
        assert changed.task("show")["msg"]["checksums"]["job.jar"] == sha256(jar)
        assert in_container(docker_client, volume)["job.jar"] == sha256(jar)
    finally:
        for v in docker_client.volumes.list(filters={"name": volume}):
            v.remove(force=True)


def test_twice_in_one_play_and_bad_input(collections_path, docker_client, tmp_path):
    volume = "t%s-usrlib" % secrets.token_hex(3)
    jar = tmp_path / "job.jar"
    jar.write_bytes(os.urandom(1000))
    target_dir = tmp_path / "shared"
    try:
        both = play(collections_path, includes=[
            {"artifacts_target": "docker_volume", "artifacts_docker_volume": volume, "artifacts_files": [{"src": str(jar)}]},
            {"artifacts_target": "directory", "artifacts_dir": str(target_dir),
             "artifacts_files": [{"src": str(jar), "name": "other.jar"}]}])
        assert both.rc == 0, both
        assert in_container(docker_client, volume) == {"job.jar": sha256(jar)}
        assert sorted(os.listdir(target_dir)) == ["other.jar"]
        assert both.task("show")["msg"]["checksums"] == {"other.jar": sha256(jar)}

        wrong_choice = play(collections_path, includes=[{"artifacts_target": "s3", "artifacts_files": [{"src": str(jar)}]}])
        assert wrong_choice.rc != 0 and "artifacts_target" in wrong_choice.stdout, wrong_choice
        wrong_type = play(collections_path, includes=[{"artifacts_dir": str(target_dir), "artifacts_files": "job.jar"}])
        assert wrong_type.rc != 0 and "artifacts_files" in wrong_type.stdout, wrong_type
        no_dir = play(collections_path, includes=[{"artifacts_files": [{"src": str(jar)}]}])
        assert no_dir.rc != 0 and "artifacts_dir" in no_dir.stdout, no_dir
    finally:
        for v in docker_client.volumes.list(filters={"name": volume}):
            v.remove(force=True)
