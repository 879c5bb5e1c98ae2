"""flink_image on the real Docker engine: an application image with a job jar and the S3 plugin, idempotency,
check and diff mode, a rebuild when a jar changes, the built image running as an application cluster, a remote
docker_host, PyFlink, and bad input that fails naming the option with no image produced."""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import secrets
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
import zipfile

import pytest

from tests.conftest import FLINK_DEFAULT, flink_image
from tests.integration.docker.conftest import examples_jar, free_port
from tests.lib.ansible import run_playbook

pytestmark = [pytest.mark.docker]

MODULE = "flinkops.flink.flink_image"


class Names(object):
    """A random prefix for the images, containers and networks of one test; all of them are removed after it."""

    def __init__(self, client):
        self.client = client
        self.prefix = "t%s-img" % secrets.token_hex(3)

    def image(self, suffix="app", tag="1"):
        return "%s-%s:%s" % (self.prefix, suffix, tag)

    def cleanup(self):
        for container in self.client.containers.list(all=True):
            if container.name.startswith(self.prefix):
                container.remove(force=True)
        for network in self.client.networks.list():
            if network.name.startswith(self.prefix):
                network.remove()
        # Untagged images built on top of ours (the cached steps of a failed build) first, newest first.
        ours = set(i.id for i in self.client.images.list() if any(t.startswith(self.prefix) for t in i.tags))
        every = self.client.api.images(all=True)
        children = {}
        for image in every:
            children.setdefault(image.get("ParentId"), []).append(image)
        dangling, todo = [], list(ours)
        while todo:
            for child in children.get(todo.pop(), []):
                if not [t for t in child.get("RepoTags") or [] if t != "<none>:<none>"]:
                    dangling.append(child["Id"])
                    todo.append(child["Id"])
        for image_id in reversed(dangling):
            self.client.images.remove(image_id, force=True)
        for image in self.client.images.list():
            for tag in image.tags:
                if tag.startswith(self.prefix):
                    self.client.images.remove(tag, force=True)

    def images(self):
        return sorted(t for i in self.client.images.list() for t in i.tags if t.startswith(self.prefix))


@pytest.fixture
def names(docker_client):
    found = Names(docker_client)
    yield found
    found.cleanup()


def task(name, title="image", check=False, **args):
    entry = {"name": title, MODULE: dict(name=name, **args), "register": "out"}
    if check:
        entry["check_mode"] = True
    return entry


def play(collections_path, tasks, **kwargs):
    result = run_playbook(collections_path, tasks=tasks, **kwargs)
    if result.rc != 0:
        failed = result.failures()
        pytest.fail("playbook failed: %s\n%s\n%s" % (failed, result.stdout[-3000:], result.stderr[-2000:]))
    return result


def in_image(client, image, script):
    """Run a shell script in the image (as root, no network) and return its output."""
    out = client.containers.run(image, entrypoint=["/bin/sh", "-c", script], user="0", remove=True,
                                network_mode="none")
    return out.decode("utf-8", "replace")


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def rest(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as response:
        return json.loads(response.read())


def run_application(client, names, image, version):
    """The built image as an application cluster (Flink docs: application mode on Docker): a JobManager running
    ``standalone-job`` with the job class from usrlib, one TaskManager; both from the built image."""
    network = names.prefix + "-net"
    client.networks.create(network, driver="bridge")
    jm = names.prefix + "-jobmanager"
    port = free_port()
    props = "jobmanager.rpc.address: %s\nparallelism.default: 1\n" % jm
    client.containers.run(image, name=jm, detach=True, network=network, ports={"8081/tcp": ("127.0.0.1", port)},
                          environment={"FLINK_PROPERTIES": props + "jobmanager.memory.process.size: 1024m\n"},
                          command=["standalone-job", "--job-classname", "org.flinkops.examples.StatefulCounter",
                                   "--rate", "5"])
    client.containers.run(image, name=names.prefix + "-taskmanager", detach=True, network=network,
                          environment={"FLINK_PROPERTIES": props + "taskmanager.numberOfTaskSlots: 1\n"
                                                                   "taskmanager.memory.process.size: 1152m\n"},
                          command=["taskmanager"])
    deadline = time.monotonic() + 240
    last = None
    while time.monotonic() < deadline:
        try:
            jobs = rest(port, "/jobs/overview")["jobs"]
            last = jobs
            if jobs and jobs[0]["state"] == "RUNNING" and jobs[0]["tasks"]["running"] == jobs[0]["tasks"]["total"]:
                return jm, jobs[0]
            assert not jobs or jobs[0]["state"] not in ("FAILED", "FINISHED", "CANCELED"), jobs
        except (urllib.error.URLError, ConnectionError, OSError, ValueError, KeyError):
            pass
        for container in client.containers.list(all=True, filters={"name": names.prefix}):
            assert container.status != "exited", "%s exited:\n%s" % (container.name, container.logs(tail=30).decode())
        time.sleep(2)
    pytest.fail("the application job is not RUNNING after 240 s; last seen %s\n%s" % (
        last, client.containers.get(jm).logs(tail=40).decode()))


@pytest.fixture
def job_jar(tmp_path, flink_version):
    path = tmp_path / "flinkops-examples.jar"
    shutil.copy(examples_jar(flink_version), path)
    return str(path)


def test_application_image(collections_path, docker_client, names, flink_version, job_jar):
    base = flink_image(flink_version)
    docker_client.images.get(base)
    name = names.image()
    args = {"base_image": base, "usrlib": [job_jar], "builtin_plugins": ["flink-s3-fs-hadoop"],
            "labels": {"org.example.team": "orders"}}
    plugin_dir = "/opt/flink/plugins/flink-s3-fs-hadoop-%s" % flink_version

    # Check mode on nothing: a build is predicted, nothing is built.
    result = play(collections_path, [task(name, "predict", check=True, **args)], diff=True)
    predicted = result.task("predict")
    assert predicted["changed"] is True and predicted["reason"] == "the image does not exist"
    assert predicted["image_id"] is None
    assert predicted["diff"]["before"] == {}
    assert predicted["diff"]["after"]["files"] == sorted([
        "/opt/flink/usrlib/flinkops-examples.jar sha256:%s" % sha256(job_jar)[:16],
        "%s/flink-s3-fs-hadoop-%s.jar (from the base image's opt/)" % (plugin_dir, flink_version)])
    assert names.images() == []

    # The build: the image carries the predicted hash; then unchanged runs, real and in check mode, change nothing.
    result = play(collections_path, [task(name, "build", **args), task(name, "again", **args),
                                     task(name, "again in check mode", check=True, **args)], diff=True)
    built, again, checked = result.task("build"), result.task("again"), result.task("again in check mode")
    assert built["changed"] is True and built["build_hash"] == predicted["build_hash"]
    image = docker_client.images.get(name)
    assert image.id == built["image_id"]
    assert image.labels["org.flinkops.build-hash"] == built["build_hash"]
    assert image.labels["org.example.team"] == "orders"
    assert built["files"][0] == {"path": "/opt/flink/usrlib/flinkops-examples.jar", "source": job_jar,
                                 "sha256": sha256(job_jar), "size": os.path.getsize(job_jar), "option": "usrlib[0]"}
    for unchanged in (again, checked):
        assert unchanged["changed"] is False and unchanged["reason"] == "up to date"
        assert unchanged["image_id"] == image.id and unchanged["build_hash"] == built["build_hash"]
        assert unchanged["diff"]["before"] == unchanged["diff"]["after"]
    assert result.changed == ["build"]

    # What is in the image: the jar and the plugin, owned by flink (9999).
    listing = in_image(docker_client, name, "stat -c '%%u:%%g %%n' /opt/flink/usrlib/flinkops-examples.jar %s %s/*.jar; "
                                            "sha256sum /opt/flink/usrlib/flinkops-examples.jar" % (plugin_dir, plugin_dir))
    assert listing.splitlines()[:3] == ["9999:9999 /opt/flink/usrlib/flinkops-examples.jar", "9999:9999 %s" % plugin_dir,
                                        "9999:9999 %s/flink-s3-fs-hadoop-%s.jar" % (plugin_dir, flink_version)]
    assert listing.splitlines()[3].split()[0] == sha256(job_jar)

    # The image works: application mode runs the job from usrlib, and Flink loads the S3 plugin.
    jm, job = run_application(docker_client, names, name, flink_version)
    assert job["name"] == "StatefulCounter"
    logs = docker_client.containers.get(jm).logs().decode("utf-8", "replace")
    assert "creating it: flink-s3-fs-hadoop-%s" % flink_version in logs
    for container in docker_client.containers.list(all=True, filters={"name": names.prefix}):
        container.remove(force=True)

    # A changed jar (same name, new content): predicted, then rebuilt; the old image is gone.
    with zipfile.ZipFile(job_jar, "a") as jar:
        jar.writestr("flinkops-test-marker.txt", "changed")
    result = play(collections_path, [task(name, "predict change", check=True, **args), task(name, "rebuild", **args)])
    predicted, rebuilt = result.task("predict change"), result.task("rebuild")
    assert predicted["changed"] is True and predicted["reason"].startswith("the inputs changed")
    assert predicted["image_id"] == image.id
    assert rebuilt["changed"] is True and rebuilt["build_hash"] == predicted["build_hash"] != built["build_hash"]
    assert rebuilt["image_id"] != image.id
    assert rebuilt["previous_image_id"] == image.id and rebuilt["previous_image_removed"] is True
    assert not docker_client.images.list(filters={"label": "org.flinkops.build-hash=%s" % built["build_hash"]})
    assert in_image(docker_client, name, "sha256sum /opt/flink/usrlib/flinkops-examples.jar").split()[0] == sha256(job_jar)

    # Removal: predicted, done, and then nothing to do.
    result = play(collections_path, [task(name, "predict removal", check=True, state="absent"),
                                     task(name, "remove", state="absent"), task(name, "remove again", state="absent")])
    assert result.task("predict removal")["changed"] is True
    assert result.task("remove")["changed"] is True
    assert result.task("remove again")["changed"] is False
    assert names.images() == []


BAD = {
    "missing usrlib jar": ({"usrlib": ["JOB", "/nonexistent/orders.jar"]}, "usrlib[1]", "does not exist"),
    "missing plugin jar": ({"plugins": {"metrics-custom": ["/nonexistent/metrics.jar"]}}, "plugins.metrics-custom[0]",
                           "does not exist"),
    "unknown built-in plugin": ({"builtin_plugins": ["flink-s3-fs-presto"]}, "builtin_plugins[0]", "Choose one of:"),
    "missing base image": ({"base_image": "flinkops/flink-missing:2.2.1-java17"}, "base_image", "could not be pulled"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_builds_nothing(case, collections_path, docker_client, names):
    overrides, option, words = BAD[case]
    args = {"base_image": flink_image(FLINK_DEFAULT), "usrlib": ["JOB"]}
    args.update(overrides)
    args["usrlib"] = [examples_jar(FLINK_DEFAULT) if p == "JOB" else p for p in args["usrlib"]]
    result = run_playbook(collections_path, tasks=[task(names.image(), **args)])
    assert result.rc != 0, result
    out = result.task("image")
    assert out["msg"].startswith(option + ": "), out["msg"]
    assert words in out["msg"], out["msg"]
    assert out["option"] == option
    assert names.images() == []


def test_failed_build_returns_the_log(collections_path, docker_client, names):
    """A build that fails (python on a base image without apt sources) fails the task with the end of the build
    log, and leaves no image under the name."""
    base = names.image("no-apt-sources")
    docker_client.images.build(fileobj=io.BytesIO(("FROM %s\nUSER root\nRUN rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*\n"
                                                   % flink_image(FLINK_DEFAULT)).encode()), tag=base, rm=True)
    name = names.image("python-fails")
    result = run_playbook(collections_path, tasks=[task(name, base_image=base, python=True)])
    assert result.rc != 0, result
    out = result.task("image")
    assert out["msg"].startswith("building %s failed: " % name), out["msg"]
    assert any("python3" in line for line in out["build_log"]), out["build_log"]
    assert "apt-get install" in "\n".join(out["build_log"])
    assert names.images() == [base]


class UnixForwarder(object):
    """A TCP port on 127.0.0.1 forwarded to the Docker socket: the Docker host as a client of a remote host sees
    it (the module cannot use the local socket or the local file system for the build)."""

    def __init__(self, socket_path="/var/run/docker.sock"):
        self.socket_path = socket_path
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _addr = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.socket_path)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self):
        self.closed = True
        self.server.close()


def test_remote_docker_host_env_and_labels(collections_path, docker_client, names, tmp_path):
    """Over tcp:// the context is uploaded through the API; env and label values with quotes, $ and backslashes
    arrive unchanged; lib/ and plugins/ get their files, owned by flink."""
    forwarder = UnixForwarder()
    try:
        lib_jar = tmp_path / "extra-connector.jar"
        lib_jar.write_bytes(b"not really a jar, but a file in lib/")
        plugin_jar = tmp_path / "metrics-custom.jar"
        plugin_jar.write_bytes(b"a plugin jar")
        odd = 'a "quoted" $HOME \\ value'
        name = names.image("remote")
        args = {"base_image": flink_image(FLINK_DEFAULT), "lib": [str(lib_jar)],
                "plugins": {"metrics-custom": [str(plugin_jar)]}, "env": {"ODD": odd, "COUNT": 3},
                "labels": {"org.example.odd": odd}, "docker_host": "tcp://127.0.0.1:%d" % forwarder.port}
        result = play(collections_path, [task(name, "build", **args), task(name, "again", **args)])
        assert result.changed == ["build"]
        image = docker_client.images.get(name)
        assert image.id == result.task("build")["image_id"]
        assert image.labels["org.example.odd"] == odd
        env = dict(e.split("=", 1) for e in image.attrs["Config"]["Env"])
        assert env["ODD"] == odd and env["COUNT"] == "3"
        listing = in_image(docker_client, name, "stat -c '%u:%g %n' /opt/flink/lib/extra-connector.jar "
                                                "/opt/flink/plugins/metrics-custom /opt/flink/plugins/metrics-custom/*")
        assert listing.splitlines() == ["9999:9999 /opt/flink/lib/extra-connector.jar",
                                        "9999:9999 /opt/flink/plugins/metrics-custom",
                                        "9999:9999 /opt/flink/plugins/metrics-custom/metrics-custom.jar"]
    finally:
        forwarder.close()


UDF_JOB = r'''
from pyflink.table import DataTypes, EnvironmentSettings, TableEnvironment
from pyflink.table.udf import udf

t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
t_env.get_config().set("parallelism.default", "1")


@udf(result_type=DataTypes.BIGINT())
def square(x):
    return x * x


table = t_env.from_elements([(1,), (2,), (3,)], ["x"])
print("SQUARES", sorted(row[0] for row in table.select(square(table.x)).execute().collect()))
'''


@pytest.mark.slow
def test_python_image(collections_path, docker_client, names, tmp_path):
    """python: true installs PyFlink of the image's Flink version; Flink's own client runs a Python job whose UDF
    runs in the Python worker (found as ``python`` on PATH)."""
    # The test bed reaches PyPI through a TLS-intercepting proxy: its CA goes in with ca_certificates.
    cas = sorted(glob.glob(os.environ.get("FLINKOPS_BUILD_CA_CERTS", "/usr/local/share/ca-certificates/*.crt")))
    name = names.image("python")
    args = {"base_image": flink_image(FLINK_DEFAULT), "python": True, "ca_certificates": cas}
    result = play(collections_path, [task(name, "build", **args), task(name, "again", **args)], timeout=2400)
    built = result.task("build")
    assert result.changed == ["build"], result.task("again")
    assert built["flink_version"] == FLINK_DEFAULT
    versions = in_image(docker_client, name, "env -i /usr/local/bin/python -c 'import pyflink.version as v; "
                                             "print(v.__version__)'; command -v python")
    assert versions.split() == [FLINK_DEFAULT, "/opt/flink-python/bin/python"]
    job = tmp_path / "udf_job.py"
    job.write_text(UDF_JOB)
    os.chmod(str(tmp_path), 0o755)
    container = docker_client.containers.run(name, command=["flink", "run", "-t", "local", "-py", "/tmp/job/udf_job.py"],
                                             volumes={str(tmp_path): {"bind": "/tmp/job", "mode": "ro"}}, detach=True,
                                             name=names.prefix + "-pyjob")
    status = container.wait(timeout=600)["StatusCode"]
    out = container.logs().decode("utf-8", "replace")
    assert status == 0 and "SQUARES [1, 4, 9]" in out, out[-5000:]
