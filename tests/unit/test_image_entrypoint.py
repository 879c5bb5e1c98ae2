"""What runs before the image's entrypoint (image_entrypoint.wrapper_entrypoint), checked by running it with bash."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.image_entrypoint import CONF_SOURCE, wrapper_entrypoint

pytestmark = pytest.mark.unit


def run(entrypoint, args, env):
    return subprocess.run(entrypoint + list(args), env=env, capture_output=True, text=True, check=False)


def test_nothing_to_do_keeps_the_images_or_the_users_entrypoint():
    assert wrapper_entrypoint() is None
    assert wrapper_entrypoint(entrypoint=["/custom.sh", "-x"]) == ["/custom.sh", "-x"]


def test_secrets_are_appended_to_flink_properties_and_the_command_gets_the_arguments(tmp_path):
    secret = tmp_path / "secrets"
    secret.write_text("s3.secret-key: hunter2")
    show = tmp_path / "show.sh"
    show.write_text('#!/bin/bash\nprintf "%s|" "$@"; printf "\\n%s" "$FLINK_PROPERTIES"\n')
    show.chmod(0o755)
    entrypoint = wrapper_entrypoint(secret_file=str(secret), entrypoint=[str(show)])
    assert entrypoint[:2] == ["bash", "-c"] and "hunter2" not in " ".join(entrypoint)
    out = run(entrypoint, ["jobmanager", "-D", "a=b c"], dict(os.environ, FLINK_PROPERTIES="a: 1"))
    assert out.returncode == 0, out.stderr
    assert out.stdout == "jobmanager|-D|a=b c|\na: 1\ns3.secret-key: hunter2"


def test_conf_source_replaces_the_images_conf_dir():
    entrypoint = wrapper_entrypoint(conf_source=True)
    script = entrypoint[2]
    assert script.startswith('rm -rf "$FLINK_HOME"/conf/* && cp -RL %s/. "$FLINK_HOME"/conf/' % CONF_SOURCE)
    assert script.endswith('exec /docker-entrypoint.sh "$@"')
