"""Pure logic: memory sizes, versions, configuration rendering and spec validation."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.flink_config import (
    FlinkVersion, entrypoint_settings, parse_config_file, render, render_properties, version_from_image)
from ansible_collections.flinkops.flink.plugins.module_utils.memory import format_memory, parse_memory
from ansible_collections.flinkops.flink.plugins.module_utils.spec import ClusterSpec

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text,size", [("1600m", 1600 * 2 ** 20), ("1g", 2 ** 30), ("1728 mb", 1728 * 2 ** 20),
                                       ("512k", 512 * 1024), ("1024", 1024), (2048, 2048), ("2G", 2 ** 31)])
def test_parse_memory(text, size):
    assert parse_memory(text, "x") == size


@pytest.mark.parametrize("text", ["1.5g", "lots", "", "-1g", "0m", "12 parsecs", True])
def test_parse_memory_rejects(text):
    with pytest.raises(SpecError) as err:
        parse_memory(text, "taskmanager.memory")
    assert "taskmanager.memory" in str(err.value)


def test_format_memory():
    assert format_memory(1600 * 2 ** 20) == "1600m"
    assert format_memory(2 ** 31) == "2g"
    assert format_memory(1000) == "1000b"


def test_versions():
    assert FlinkVersion("2.2.1").config_file == "config.yaml"
    assert FlinkVersion("1.20.5").config_file == "config.yaml"
    assert FlinkVersion("1.18.1").config_file == "flink-conf.yaml"
    assert FlinkVersion("2.2").same_series("2.2.1")
    assert not FlinkVersion("2.2").same_series("1.20.1")
    assert version_from_image("flink:2.2.1-java17") == "2.2.1"
    assert version_from_image("registry.local:5000/flink:1.20") == "1.20"
    assert version_from_image("flinkops/flink:1.20.5-java17") == "1.20.5"
    assert version_from_image("flink:latest") is None
    for bad in ("two", "1.12.0", "2"):
        with pytest.raises(SpecError):
            FlinkVersion(bad)


CONFIG = {"execution.checkpointing.interval": "10s", "parallelism.default": 2, "pipeline.auto-watermark-interval": "200 ms",
          "state.backend.type": "rocksdb", "pipeline.jars": ["file:///a.jar", "file:///b.jar"],
          "metrics.reporter.prom.factory.class": "org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
          "yes.like.value": "yes", "rest.flamegraph.enabled": True, "env.java.opts.all": "-Dx=1 -Dy=2",
          "metrics.scope.jm": "<host>.jobmanager", "pipeline.global-job-parameters": {"a": "1", "b": "x"}}


def test_render_standard_yaml_parses_back():
    text = render(CONFIG, True)
    data = yaml.safe_load(text)
    assert data["execution.checkpointing.interval"] == "10s"
    assert data["parallelism.default"] == 2
    assert data["pipeline.jars"] == ["file:///a.jar", "file:///b.jar"]
    assert data["yes.like.value"] == "yes"          # quoted: YAML must not turn it into a boolean
    assert data["rest.flamegraph.enabled"] is True
    assert data["env.java.opts.all"] == "-Dx=1 -Dy=2"
    assert data["metrics.scope.jm"] == "<host>.jobmanager"
    assert data["pipeline.global-job-parameters"] == {"a": "1", "b": "x"}


def test_render_legacy_format():
    text = render(CONFIG, False)
    lines = dict(line.split(": ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert lines["pipeline.jars"] == "file:///a.jar;file:///b.jar"
    assert lines["rest.flamegraph.enabled"] == "true"
    assert lines["pipeline.global-job-parameters"] == "a:1,b:x"
    assert lines["env.java.opts.all"] == "-Dx=1 -Dy=2"


def test_render_is_stable():
    assert render(CONFIG, True) == render(dict(reversed(list(CONFIG.items()))), True)


def test_parse_nested_config_yaml():
    text = "env:\n  java:\n    opts:\n      all: --add-opens=x\ntaskmanager:\n  numberOfTaskSlots: 1\n"
    assert parse_config_file("config.yaml", text) == {"env.java.opts.all": "--add-opens=x", "taskmanager.numberOfTaskSlots": 1}
    assert parse_config_file("flink-conf.yaml", "# c\na.b: 1\nc: x:y\n") == {"a.b": "1", "c": "x:y"}


def test_properties_refuse_multiline():
    for value in ("x\ny", "{a: 1}", "'quoted'", "a: b", "yes", " padded"):
        with pytest.raises(SpecError) as err:
            render_properties({"a.b": value}, FlinkVersion("2.2.1"))
        assert "flink_config.a.b" in str(err.value)


def test_properties_plain_values():
    text = render_properties({"rest.bind-address": "0.0.0.0", "x.enabled": True, "p.jars": ["a.jar", "b.jar"],
                              "env.java.opts.all": "-Dx=1", "s3.endpoint": "http://minio:9000"}, FlinkVersion("2.2.1"))
    assert text.splitlines() == ["env.java.opts.all: -Dx=1", "p.jars: a.jar;b.jar", "rest.bind-address: 0.0.0.0",
                                 "s3.endpoint: http://minio:9000", "x.enabled: true"]


def test_properties_refuse_whitespace_the_official_entrypoint_strips():
    # docker-entrypoint.sh of flink:2.2.1-java17 / 1.20: tr -d '[:space:]' on every FLINK_PROPERTIES line; seen
    # with the upstream entrypoint: "pipeline.name: My Job" became "MyJob" in config.yaml.
    with pytest.raises(SpecError) as err:
        render_properties({"password": "two words"}, FlinkVersion("2.2.1"), option="flink_config_secrets")
    assert str(err.value).startswith("flink_config_secrets.password: the value of 'password' has whitespace")


def test_entrypoint_settings_route_values_with_whitespace():
    properties, env, args = entrypoint_settings({
        "pipeline.name": "My Job", "rest.port": 8081, "env.java.opts.jobmanager": "-Da=1 -XX:+UseG1GC",
        "env.java.opts.taskmanager": "-Db=2"})
    assert properties == {"rest.port": 8081, "env.java.opts.taskmanager": "-Db=2"}
    assert env == {"FLINK_ENV_JAVA_OPTS_JM": "-Da=1 -XX:+UseG1GC"}
    assert args == ["-D", "pipeline.name=My Job"]
    with pytest.raises(SpecError) as err:
        entrypoint_settings({"env.java.opts.all": "-Da=1 -Db=2"})
    assert str(err.value).startswith("flink_config.env.java.opts.all:") and "java_opts" in str(err.value)


BASE = {"name": "orders", "image": "flink:2.2.1-java17"}


def spec(**params):
    merged = dict(BASE)
    merged.update(params)
    return ClusterSpec.from_params(merged)


def test_defaults():
    s = spec()
    assert str(s.version) == "2.2.1"
    assert s.tm_replicas == 1 and s.tm_slots == 1
    assert s.jm_memory == 1600 * 2 ** 20 and s.tm_memory == 1728 * 2 ** 20
    assert s.network == "flink-orders"


@pytest.mark.parametrize("params,option", [
    ({"name": "Orders_1"}, "name"),
    ({"name": "a" * 46}, "name"),
    ({"name": "-x"}, "name"),
    ({"taskmanager": {"memory": "lots"}}, "taskmanager.memory"),
    ({"taskmanager": {"slots": 0}}, "taskmanager.slots"),
    ({"taskmanager": {"replicas": -1}}, "taskmanager.replicas"),
    ({"jobmanager": {"cpu": 0}}, "jobmanager.cpu"),
    ({"flink_config": {"taskmanager.heap.size": "1g"}}, "flink_config.taskmanager.heap.size"),
    ({"flink_config": {"taskmanager.numberOfTaskSlots": 4}}, "flink_config.taskmanager.numberOfTaskSlots"),
    ({"flink_version": "1.20.5"}, "flink_version"),
    ({"image": "myflink:latest"}, "flink_version"),
    ({"env": {"FLINK_PROPERTIES": "x: y"}}, "env.FLINK_PROPERTIES"),
    ({"conf_dir": "relative/conf"}, "conf_dir"),
    ({"conf_dir": "/etc/flink", "mounts": [{"target": "/opt/flink/conf", "source": "/x"}]}, "mounts[0].target"),
    ({"labels": {"org.flinkops.cluster": "x"}}, "labels"),
    ({"flink_config": {"a": 1}, "flink_config_secrets": {"a": 2}}, "flink_config_secrets"),
    ({"rest_port": 70000}, "rest_port"),
    ({"java_opts": "-Da=1", "flink_config": {"env.java.opts.taskmanager": "-Db=2"}},
     "flink_config.env.java.opts.taskmanager"),
    ({"env": {"DISABLE_JEMALLOC": "true"}}, "env.DISABLE_JEMALLOC"),
    ({"mounts": [{"target": "/data", "source": "data"}]}, "mounts[0].source"),
    ({"mounts": [{"target": "/data", "source": "./data"}]}, "mounts[0].source"),
    ({"mounts": [{"target": "/data", "source": "/vol/a", "type": "volume"}]}, "mounts[0].source"),
    ({"mounts": [{"target": "/data", "source": "/a"}, {"target": "/data/", "source": "/b"}]}, "mounts[1].target"),
    ({"mounts": [{"target": "data", "source": "/a"}]}, "mounts[0].target"),
    ({"flink_config": {"jobmanager.rpc.port": 8081}}, "flink_config.jobmanager.rpc.port"),
    ({"flink_config": {"rest.port": "http"}}, "flink_config.rest.port"),
])
def test_bad_input_names_the_option(params, option):
    with pytest.raises(SpecError) as err:
        spec(**params)
    assert err.value.option == option, str(err.value)
    assert str(err.value).startswith(option)


def test_removed_key_is_fine_on_flink_1():
    s = spec(image="flink:1.20.5-java17", flink_config={"taskmanager.heap.size": "1g"})
    assert s.flink_config == {"taskmanager.heap.size": "1g"} and s.warnings == []


def test_removed_key_names_replacement():
    with pytest.raises(SpecError) as err:
        spec(flink_config={"state.backend.rocksdb.checkpointdir": "/tmp/x"})
    assert "state.backend.rocksdb.localdir" in str(err.value)


def test_deprecated_key_warns_on_flink_2():
    s = spec(flink_config={"state.backend": "rocksdb"})
    assert s.warnings and "state.backend.type" in s.warnings[0]


def test_secrets_masked_in_public_view():
    s = spec(flink_config_secrets={"s3.secret-key": "hunter2"})
    assert "hunter2" not in repr(s.public_view())


def test_jemalloc_false_is_the_images_switch_and_unset_changes_nothing():
    assert spec(jemalloc=False).env == {"DISABLE_JEMALLOC": "true"}
    assert spec(jemalloc=True).env == {} and spec().env == {}
    assert spec(jemalloc=True).public_view() == spec().public_view()


def test_java_opts_are_the_roles_keys_added_to_the_images_opts():
    s = spec(java_opts="-XX:+UseG1GC", jobmanager={"java_opts": "-Dwho=jm"}, taskmanager={"java_opts": " "})
    assert s.flink_config == {"env.java.opts.jobmanager": "-XX:+UseG1GC -Dwho=jm",
                              "env.java.opts.taskmanager": "-XX:+UseG1GC"}
    assert s.warnings == []
    # Without them the configuration is exactly what it was (no empty keys: unchanged clusters stay unchanged).
    assert spec().flink_config == {}
    replaced = spec(flink_config={"env.java.opts.all": "-Xss2m"})
    assert replaced.flink_config == {"env.java.opts.all": "-Xss2m"}
    assert [w for w in replaced.warnings if w.startswith("flink_config.env.java.opts.all replaces")], replaced.warnings
