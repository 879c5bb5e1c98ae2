"""Every registered platform implements the platform contract, for sessions and applications."""

from __future__ import annotations

import inspect

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.argspec import CLUSTER_ARGUMENT_SPEC
from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.platform import ApplicationPlatform, ClusterPlatform
from ansible_collections.flinkops.flink.plugins.module_utils.registry import (
    KINDS, PLATFORM_OPTIONS, PLATFORMS, check_options, platform_class, platform_key)

pytestmark = pytest.mark.unit
JOB_PLATFORMS = ("docker", "swarm", "compose")  # the platform choices of flink_job and flink_info


@pytest.mark.parametrize("key", sorted(PLATFORMS, key=str))
@pytest.mark.parametrize("kind", ["session", "application"])
def test_registered_platforms_implement_the_contract(key, kind):
    platform, mode = key
    if kind not in KINDS.get(key, ("session", "application")):
        with pytest.raises(SpecError) as err:
            platform_class({"platform": platform, "mode": mode}, kind)
        assert err.value.option == "platform" and "has no %s clusters" % kind in err.value.message
        return
    cls = platform_class({"platform": platform, "mode": mode}, kind)
    base = ApplicationPlatform if kind == "application" else ClusterPlatform
    assert issubclass(cls, base), cls
    assert not inspect.isabstract(cls), "%s leaves abstract: %s" % (cls.__name__, sorted(cls.__abstractmethods__))
    assert (cls.platform, cls.mode, cls.kind) == (platform, mode, kind)
    # flink_job and flink_info find a cluster by name on the platforms they offer.
    if platform in JOB_PLATFORMS:
        assert cls.find_rest_url.__func__ is not ClusterPlatform.find_rest_url.__func__, cls


def test_platform_choices_match_the_registry():
    assert sorted(CLUSTER_ARGUMENT_SPEC["platform"]["choices"]) == sorted(set(p for p, _m in PLATFORMS))
    assert platform_key({"platform": "kubernetes"}) == ("kubernetes", "native")
    assert platform_key({"platform": "swarm"}) == ("swarm", None)
    with pytest.raises(SpecError) as err:
        platform_key({"platform": "docker", "mode": "native"})
    assert err.value.option == "mode"


def test_every_platform_option_is_an_option():
    for option in PLATFORM_OPTIONS:
        parent, _dot, child = option.partition(".")
        if parent in CLUSTER_ARGUMENT_SPEC:
            assert not child or child in CLUSTER_ARGUMENT_SPEC[parent]["options"], option
        else:  # the Kubernetes options come from kubernetes.options
            from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.options import NATIVE_ARGUMENT_SPEC
            assert parent in NATIVE_ARGUMENT_SPEC, option


@pytest.mark.parametrize("platform,params,option,words", [
    ("docker", {"endpoint_mode": "dnsrr"}, "endpoint_mode", "platform swarm only"),
    ("docker", {"taskmanager": {"constraints": ["node.role==worker"]}}, "taskmanager.constraints", "swarm"),
    ("swarm", {"conf_dir": "/etc/flink"}, "conf_dir", "on swarm use flink_config"),
    ("swarm", {"namespace": "flink"}, "namespace", "platform kubernetes only"),
    ("kubernetes", {"mounts": [{"target": "/x"}]}, "mounts", "pod_template"),
    ("kubernetes", {"publish_mode": "host"}, "publish_mode", "platform swarm only"),
    ("swarm", {"jobmanager": {"replicas": 2}}, "jobmanager.replicas", "platform kubernetes only"),
])
def test_options_of_another_platform_are_refused(platform, params, option, words):
    with pytest.raises(SpecError) as err:
        check_options(dict(params, platform=platform))
    assert err.value.option == option and words in str(err.value), str(err.value)


def test_shared_options_pass_everywhere():
    for platform, _mode in PLATFORMS:
        check_options({"platform": platform, "taskmanager": {"replicas": 2, "slots": 2}, "jobmanager": {"replicas": 1},
                       "flink_config": {"a": 1}, "plugins": ["flink-s3-fs-hadoop"], "labels": {"team": "x"}})
