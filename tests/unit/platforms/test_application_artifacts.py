"""job.artifacts and fetched jars (user.artifacts.artifact-list): Flink's rules for what its Kubernetes application
entrypoint fetches, checked before anything is touched, on native Kubernetes and the operator; refused where no
JobManager fetches anything. The real fetch from an HTTP server in the cluster is in
tests/integration/kubernetes/test_native_application.py."""

from __future__ import annotations

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.flows.cluster import desired_spec
from ansible_collections.flinkops.flink.plugins.module_utils.registry import platform_class
from tests.unit.platforms.record import RecordingModule, full_params

pytestmark = pytest.mark.unit

JAR = "https://jars.example.com/counter.jar"
CHECKPOINTS = {"execution.checkpointing.dir": "file:///savepoints/checkpoints"}


def application(mode="native", platform="kubernetes", jar=JAR, artifacts=(), flink_config=None, version="2.2.1"):
    params = {"name": "clicks", "platform": platform, "image": "flinkops/flink:%s-java17" % version,
              "flink_version": version, "state": "running", "flink_config": dict(CHECKPOINTS, **(flink_config or {})),
              "job": {"jar": jar, "entry_class": "org.flinkops.examples.StatefulCounter", "args": [],
                      "artifacts": list(artifacts), "savepoint_dir": "file:///savepoints", "upgrade_mode": "savepoint",
                      "restore": "auto", "allow_non_restored_state": False, "parallelism": None,
                      "savepoint_path": None, "job_id": None}}
    if platform == "swarm":
        params.update(rest_port=18081)
    if platform == "kubernetes":
        params.update(mode=mode, namespace="flink", service_account="flink", kubeconfig=None, context=None,
                      host="https://127.0.0.1:1", flink_home="/var/cache/flinkops/flink/%s" % version)
    params = full_params(params, "application")
    module = RecordingModule(params)
    cls = platform_class(params, "application")
    return cls(module, desired_spec(module, cls, require_image=True))


def refusal(**kwargs):
    with pytest.raises(SpecError) as err:
        application(**kwargs)
    return err.value


@pytest.mark.parametrize("mode", ["native", "operator"])
def test_artifacts_become_the_artifact_list_and_a_change_is_an_upgrade(mode):
    udf = "https://jars.example.com/udf-1.jar"
    app = application(mode=mode, artifacts=[udf, "local:///opt/flink/extra/format.jar"])
    conf = app.flink_settings()
    assert conf["user.artifacts.artifact-list"] == udf + ";local:///opt/flink/extra/format.jar"
    assert app.job.inputs()["artifacts"] == [udf, "local:///opt/flink/extra/format.jar"]
    other = application(mode=mode, artifacts=["https://jars.example.com/udf-2.jar"])
    assert other.job.digest() != app.job.digest()
    # Without artifacts the job's inputs (and so every existing cluster's hash) stay what they were.
    assert "artifacts" not in application(mode=mode).job.inputs()
    assert "user.artifacts.artifact-list" not in application(mode=mode).flink_settings()


@pytest.mark.parametrize("mode", ["native", "operator"])
@pytest.mark.parametrize("kwargs, option, text", [
    ({"jar": "http://jars.svc:8000/counter.jar"}, "job.jar", "user.artifacts.raw-http-enabled: true"),
    ({"artifacts": ["http://jars.svc:8000/udf.jar"]}, "job.artifacts", "plain http"),
    ({"artifacts": ["ftp://jars/udf.jar"]}, "job.artifacts", "not a URL"),
    ({"artifacts": ["local://opt/udf.jar"]}, "job.artifacts", "not a URL"),
    ({"artifacts": ["https://a.example.com/x/counter.jar"]}, "job.artifacts", "same file name counter.jar"),
    ({"artifacts": ["https://a/udf.jar"], "flink_config": {"user.artifacts.artifact-list": "https://b/udf.jar"}},
     "job.artifacts", "both"),
    ({"artifacts": ["https://a/udf.jar"], "version": "1.18.1"}, "job.artifacts", "came with 1.19"),
])
def test_fetch_rules_are_checked_before_anything_is_touched(mode, kwargs, option, text):
    err = refusal(mode=mode, **kwargs)
    assert err.option == option and text in str(err), str(err)


def test_plain_http_is_fetched_when_flink_is_told_so():
    app = application(jar="http://jars.svc:8000/counter.jar", artifacts=["http://jars.svc:8000/udf.jar"],
                      flink_config={"user.artifacts.raw-http-enabled": True})
    assert app.flink_settings()["user.artifacts.artifact-list"] == "http://jars.svc:8000/udf.jar"


@pytest.mark.parametrize("platform", ["docker", "swarm", "compose"])
def test_platforms_without_a_fetching_jobmanager_refuse_artifacts(platform):
    err = refusal(platform=platform, jar="/srv/jobs/counter.jar", artifacts=["https://a/udf.jar"])
    assert err.option == "job.artifacts" and "/opt/flink/usrlib" in err.hint, str(err)
