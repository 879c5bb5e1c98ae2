"""Pure logic of flink_image: validation of the options, the Dockerfile, the build hash and the context."""

from __future__ import annotations

import hashlib
import os
import tarfile

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.docker.image_build import flink_version_of, parse_probe
from ansible_collections.flinkops.flink.plugins.module_utils.docker.image_recipe import (
    IMAGE_ARGUMENT_SPEC, ImageSpec, build_hash, render_dockerfile, resolve_builtin_plugins, spec_view, write_context)

pytestmark = pytest.mark.unit

BASE_ID = "sha256:" + "ab" * 32
OPT = ["flink-python-2.2.1.jar", "flink-s3-fs-hadoop-2.2.0.jar", "flink-s3-fs-hadoop-2.2.1.jar",
       "flink-sql-client-2.2.1.jar"]


@pytest.fixture
def jars(tmp_path):
    paths = {}
    for name, content in (("job.jar", b"job v1"), ("connector.jar", b"connector"), ("metrics.jar", b"metrics"),
                          ("other/job.jar", b"another job")):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        paths[name] = str(path)
    return paths


def params(**overrides):
    values = dict((k, v.get("default")) for k, v in IMAGE_ARGUMENT_SPEC.items())
    values.update(name="flink-app:1", base_image="flink:2.2.1-java17")
    values.update(overrides)
    return values


def full_spec(jars, **overrides):
    values = dict(usrlib=[jars["job.jar"]], lib=[jars["connector.jar"]], plugins={"metrics-custom": [jars["metrics.jar"]]},
                  env={"TZ": "UTC", "N": 3}, labels={"team": "orders"})
    values.update(overrides)
    return ImageSpec(params(**values))


def test_inputs_are_hashed_and_placed(jars):
    spec = full_spec(jars)
    assert [(i.option, i.context) for i in spec.inputs] == [
        ("lib[0]", "lib/connector.jar"), ("usrlib[0]", "usrlib/job.jar"),
        ("plugins.metrics-custom[0]", "plugins/metrics-custom/metrics.jar")]
    assert spec.inputs[1].sha256 == hashlib.sha256(b"job v1").hexdigest()
    assert spec.inputs[1].image_path("/opt/flink") == "/opt/flink/usrlib/job.jar"
    assert spec.env == {"N": "3", "TZ": "UTC"}


@pytest.mark.parametrize("overrides,option", [
    ({"usrlib": ["/nonexistent/job.jar"]}, "usrlib[0]"),
    ({"lib": ["JOB", "/nonexistent/a.jar"]}, "lib[1]"),
    ({"plugins": {"s3": ["JOB", "/nonexistent/s3.jar"]}}, "plugins.s3[1]"),
    ({"ca_certificates": ["/nonexistent/ca.crt"]}, "ca_certificates[0]"),
    ({"usrlib": ["TMP"]}, "usrlib[0]"),
])
def test_missing_files_name_option_and_index(jars, tmp_path, overrides, option):
    def fix(value):
        if value == "JOB":
            return jars["job.jar"]
        if value == "TMP":
            return str(tmp_path)
        return value
    for key, value in overrides.items():
        overrides[key] = dict((k, [fix(x) for x in v]) for k, v in value.items()) if isinstance(value, dict) \
            else [fix(v) for v in value]
    with pytest.raises(SpecError) as err:
        ImageSpec(params(**overrides))
    assert err.value.option == option
    assert str(err.value).startswith(option + ": ")


@pytest.mark.parametrize("overrides,option,words", [
    ({"name": "Flink_App:1"}, "name", "not a valid image name"),
    ({"name": "flink:2.2.1-java17"}, "name", "its own base image"),
    ({"name": "flink-app", "base_image": "flink-app:latest"}, "name", "its own base image"),
    ({"base_image": ""}, "base_image", "required"),
    ({"env": {"BAD-KEY": "x"}}, "env.BAD-KEY", "environment variable"),
    ({"env": {"A": "two\nlines"}}, "env.A", "multi-line"),
    ({"env": {"A": ["x"]}}, "env.A", "a string"),
    ({"labels": {"org.flinkops.build-hash": "x"}}, "labels.org.flinkops.build-hash", "set by the module"),
    ({"plugins": {"bad/dir": []}}, "plugins.bad/dir", "plugin directory name"),
    ({"plugins": {"s3": []}}, "plugins.s3", "non-empty list"),
    ({"builtin_plugins": ["opt/flink-s3.jar"]}, "builtin_plugins[0]", "not a jar name"),
])
def test_bad_options(overrides, option, words):
    with pytest.raises(SpecError) as err:
        ImageSpec(params(**overrides))
    assert err.value.option == option
    assert words in str(err.value)


def test_same_file_name_twice_in_one_directory(jars):
    with pytest.raises(SpecError) as err:
        ImageSpec(params(usrlib=[jars["job.jar"], jars["other/job.jar"]]))
    assert err.value.option == "usrlib[1]"
    assert "overwrite" in str(err.value)
    # The same name in different directories is fine.
    ImageSpec(params(usrlib=[jars["job.jar"]], lib=[jars["other/job.jar"]]))


def test_absent_needs_only_a_name():
    spec = ImageSpec({"name": "flink-app:1", "state": "absent", "usrlib": ["/nonexistent.jar"]})
    assert spec.inputs == []


def test_builtin_plugins_resolution():
    assert resolve_builtin_plugins(["flink-s3-fs-hadoop"], OPT, "2.2.1") == [
        ("flink-s3-fs-hadoop-2.2.1.jar", "flink-s3-fs-hadoop-2.2.1")]
    assert resolve_builtin_plugins(["flink-s3-fs-hadoop-2.2.0.jar", "flink-python"], OPT, "2.2.1") == [
        ("flink-s3-fs-hadoop-2.2.0.jar", "flink-s3-fs-hadoop-2.2.0"), ("flink-python-2.2.1.jar", "flink-python-2.2.1")]
    with pytest.raises(SpecError) as err:
        resolve_builtin_plugins(["flink-python", "flink-s3-fs-presto"], OPT, "2.2.1", "flink:2.2.1")
    assert err.value.option == "builtin_plugins[1]"
    assert "no flink-s3-fs-presto" in str(err.value) and "Choose one of: flink-python-2.2.1.jar" in str(err.value)
    with pytest.raises(SpecError) as err:
        resolve_builtin_plugins(["flink-s3-fs-hadoop"], OPT, None)
    assert "matches several jars" in str(err.value)
    with pytest.raises(SpecError) as err:
        resolve_builtin_plugins(["flink-python", "flink-python-2.2.1.jar"], OPT, "2.2.1")
    assert err.value.option == "builtin_plugins[1]" and "twice" in str(err.value)


def test_probe_and_version():
    facts = parse_probe("opt:flink-python-2.2.1.jar\nlib:flink-dist-2.2.1.jar\nlib:log4j-api-2.24.1.jar\n"
                        "apt-get:/usr/bin/apt-get\n")
    assert facts == {"opt": ["flink-python-2.2.1.jar"], "lib": ["flink-dist-2.2.1.jar", "log4j-api-2.24.1.jar"],
                     "apt_get": True}
    assert parse_probe("apt-get:\n")["apt_get"] is False
    assert flink_version_of(facts["lib"], {}, "x") == "2.2.1"
    assert flink_version_of(["flink-dist_2.12-1.14.6.jar"], {}, "x") == "1.14.6"
    assert flink_version_of([], {"FLINK_VERSION": "1.20.5"}, "x") == "1.20.5"
    assert flink_version_of([], {}, "flink:1.20.3-scala_2.12-java17") == "1.20.3"
    assert flink_version_of([], {}, "flink:latest") is None


def test_dockerfile_rendering(jars):
    spec = full_spec(jars, env={"TZ": "UTC", "ODD": 'a "quoted" $HOME \\ value'})
    text = render_dockerfile(BASE_ID, "/opt/flink", spec, [("flink-s3-fs-hadoop-2.2.1.jar", "flink-s3-fs-hadoop-2.2.1")],
                             None, "")
    lines = text.splitlines()
    assert lines[1] == "FROM " + BASE_ID
    assert lines[2] == "USER root"
    assert lines[3] == ("RUN set -eu; mkdir -p /opt/flink/plugins/flink-s3-fs-hadoop-2.2.1; "
                        "cp -L /opt/flink/opt/flink-s3-fs-hadoop-2.2.1.jar /opt/flink/plugins/flink-s3-fs-hadoop-2.2.1/; "
                        "chown -R 9999:9999 /opt/flink/plugins/flink-s3-fs-hadoop-2.2.1")
    assert lines[4:7] == ["COPY --chown=9999:9999 lib/ /opt/flink/lib/",
                          "COPY --chown=9999:9999 plugins/ /opt/flink/plugins/",
                          "COPY --chown=9999:9999 usrlib/ /opt/flink/usrlib/"]
    assert lines[7] == 'ENV ODD="a \\"quoted\\" \\$HOME \\\\ value" TZ="UTC"'
    assert len(lines) == 8
    assert "apt-get" not in text and "update-ca-certificates" not in text


def test_dockerfile_python_ca_and_user(jars, tmp_path):
    ca = tmp_path / "proxy-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    spec = ImageSpec(params(usrlib=[jars["job.jar"]], python=True, ca_certificates=[str(ca)]))
    assert spec.inputs[0].context == "ca-certificates/flinkops-0-proxy-ca.crt"
    assert spec.inputs[0].image_path("/opt/flink") == "/usr/local/share/ca-certificates/flinkops-0-proxy-ca.crt"
    text = render_dockerfile(BASE_ID, "/flink", spec, [], "1.20.5", "flink")
    lines = text.splitlines()
    assert lines[3:5] == ["COPY ca-certificates/ /usr/local/share/ca-certificates/", "RUN update-ca-certificates"]
    assert "apt-get install -y --no-install-recommends python3 python3-venv" in lines[5]
    assert "apache-flink==1.20.5" in lines[6] and "/usr/local/bin/python" in lines[6]
    assert lines[7] == "ENV PATH=/opt/flink-python/bin:$PATH"
    assert lines[8] == "COPY --chown=9999:9999 usrlib/ /flink/usrlib/"
    assert lines[-1] == "USER flink"
    # A root base user is not restored (USER root is already in effect).
    assert not render_dockerfile(BASE_ID, "/flink", spec, [], None, "0").endswith("USER 0\n")


def test_hash_is_stable_and_sensitive(jars, tmp_path):
    spec = full_spec(jars)
    text = render_dockerfile(BASE_ID, "/opt/flink", spec)
    first = build_hash(text, spec.inputs, spec.labels, BASE_ID)
    assert len(first) == 32
    # Same inputs, another ImageSpec and another order of the plugin dict / labels: the same hash.
    again = full_spec(jars)
    again.inputs.reverse()
    assert build_hash(render_dockerfile(BASE_ID, "/opt/flink", again), again.inputs, dict(reversed(list(
        again.labels.items()))), BASE_ID) == first
    # A touched file with the same content: the same hash.
    os.utime(jars["job.jar"], (1, 1))
    assert build_hash(text, full_spec(jars).inputs, spec.labels, BASE_ID) == first
    # Content, base image, labels, Dockerfile: each changes it.
    with open(jars["job.jar"], "wb") as handle:
        handle.write(b"job v2")
    changed = full_spec(jars)
    assert build_hash(text, changed.inputs, spec.labels, BASE_ID) != first
    assert build_hash(text, spec.inputs, spec.labels, "sha256:" + "cd" * 32) != first
    assert build_hash(text, spec.inputs, {"team": "payments"}, BASE_ID) != first
    assert build_hash(text + "ENV X=\"1\"\n", spec.inputs, spec.labels, BASE_ID) != first


def test_spec_view_lists_files(jars):
    spec = full_spec(jars)
    view = spec_view(spec, "/opt/flink", BASE_ID, [("flink-python-2.2.1.jar", "flink-python-2.2.1")], None, "h")
    assert view["build_hash"] == "h" and view["base_image"] == "flink:2.2.1-java17"
    assert view["files"][0].startswith("/opt/flink/lib/connector.jar sha256:")
    assert "/opt/flink/plugins/flink-python-2.2.1/flink-python-2.2.1.jar (from the base image's opt/)" in view["files"]


def test_context_archive(jars, tmp_path):
    spec = full_spec(jars)
    text = render_dockerfile(BASE_ID, "/opt/flink", spec)
    path = str(tmp_path / "context.tar")
    write_context(path, text, spec.inputs)
    with tarfile.open(path) as tar:
        names = tar.getnames()
        assert names[0] == "Dockerfile"
        assert tar.extractfile("Dockerfile").read().decode() == text
        assert {"lib", "lib/connector.jar", "usrlib/job.jar", "plugins", "plugins/metrics-custom",
                "plugins/metrics-custom/metrics.jar"} <= set(names)
        member = tar.getmember("usrlib/job.jar")
        assert (member.uid, member.gid, member.mode) == (9999, 9999, 0o644)
        assert tar.extractfile(member).read() == b"job v1"


def test_context_refuses_a_file_changed_after_planning(jars, tmp_path):
    spec = full_spec(jars)
    with open(jars["job.jar"], "wb") as handle:
        handle.write(b"job v3")
    with pytest.raises(BackendError) as err:
        write_context(str(tmp_path / "context.tar"), "FROM x\n", spec.inputs)
    assert err.value.option == "usrlib[0]" and "changed" in str(err.value)
