# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A custom Flink image built FROM a base Flink image, as the Flink docs' "advanced customization" describes.

Job jars go to ``usrlib/``, extra jars to ``lib/`` and ``plugins/<name>/``, built-in plugins are copied from the
base image's ``opt/`` into ``plugins/<jar name without .jar>/``, and ``python`` installs Python 3 and the PyFlink
release of the image's Flink version. Everything added belongs to uid/gid 9999 (the image's ``flink`` user).

Idempotency: the Dockerfile, the content of every input file, the labels and the base image ID are hashed; the
hash is stored in the label ``org.flinkops.build-hash`` of the result. The same hash on the existing image means
nothing to do. Inputs are validated (and hashed) before the Docker daemon is asked for anything; the build
context is written as a tar archive in a temporary directory and uploaded through the API, so a remote
``docker_host`` works the same as the local socket.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import tarfile
import tempfile

from ansible_collections.flinkops.flink.plugins.module_utils import docker_sdk
from ansible_collections.flinkops.flink.plugins.module_utils.docker_common import DOCKER_ARGUMENT_SPEC
from ansible_collections.flinkops.flink.plugins.module_utils.docker_sdk import DockerException, ImageNotFound, NotFound
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, FlinkOpsError, SpecError

LABEL_BUILD_HASH = "org.flinkops.build-hash"
LABEL_BUILD_SPEC = "org.flinkops.build-spec"
LABEL_MANAGED = "org.flinkops.managed-by"
MANAGED_BY = "flinkops.flink"
RESERVED_LABELS = (LABEL_BUILD_HASH, LABEL_BUILD_SPEC, LABEL_MANAGED)
FLINK_UID = 9999
DEFAULT_FLINK_HOME = "/opt/flink"
PYTHON_VENV = "/opt/flink-python"
# Bump when the way an image is built changes in a way the Dockerfile text does not show.
RECIPE_VERSION = 1
# The build's output stream may be silent this long (pip and apt steps can be quiet for minutes).
MIN_BUILD_READ_TIMEOUT = 900
LOG_TAIL_LINES = 40

IMAGE_ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    base_image=dict(type="str"),
    usrlib=dict(type="list", elements="path", default=[]),
    lib=dict(type="list", elements="path", default=[]),
    plugins=dict(type="dict", default={}),
    builtin_plugins=dict(type="list", elements="str", default=[]),
    python=dict(type="bool", default=False),
    ca_certificates=dict(type="list", elements="path", default=[]),
    env=dict(type="dict", default={}),
    labels=dict(type="dict", default={}),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    force=dict(type="bool", default=False),
)

_NAME_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_NAME_RE = re.compile(r"^(?:(?:[a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+(?::[0-9]+)?/)?%s(?:/%s)*(?::[\w][\w.-]{0,127})?$"
                            % (_NAME_COMPONENT, _NAME_COMPONENT))
_PLUGIN_DIR_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_JAR_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*\.jar$")
_ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LABEL_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
_FLINK_DIST_RE = re.compile(r"^flink-dist(?:_\d+\.\d+)?-(\d+\.\d+\.\d+)\.jar$")
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")


def image_argument_spec():
    spec = dict(IMAGE_ARGUMENT_SPEC)
    spec.update(DOCKER_ARGUMENT_SPEC)
    return spec


# Pure logic: validation, inputs, Dockerfile, hash --------------------------------------------------------------

def normalize_name(name):
    """``repo`` and ``repo:latest`` are the same image name."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last or "@" in name else name + ":latest"


def _string_value(value, option):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) or isinstance(value, str):
        return str(value)
    raise SpecError("must be a string, a number or a boolean, not %s" % type(value).__name__, option=option)


class InputFile(object):
    """A local file that goes into the image: ``context`` is its path in the build context (and, under
    FLINK_HOME, in the image), ``option`` the option (with index) that named it."""

    def __init__(self, option, source, context):
        self.option = option
        self.source = source
        self.context = context
        self.sha256 = None
        self.size = None

    def digest(self):
        """Hash the file's content. SpecError naming the option when it is missing or unreadable."""
        if not os.path.exists(self.source):
            raise SpecError("file %s does not exist" % self.source, option=self.option,
                            hint="Check the path; it is read on the host that runs the module")
        if not os.path.isfile(self.source):
            raise SpecError("%s is not a regular file" % self.source, option=self.option,
                            hint="Name the file itself, not a directory")
        sha = hashlib.sha256()
        size = 0
        try:
            with open(self.source, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    sha.update(block)
                    size += len(block)
        except (IOError, OSError) as exc:
            raise SpecError("cannot read %s: %s" % (self.source, exc), option=self.option)
        self.sha256 = sha.hexdigest()
        self.size = size
        return self.sha256

    def as_dict(self, flink_home):
        return {"path": self.image_path(flink_home), "source": self.source, "sha256": self.sha256,
                "size": self.size, "option": self.option}

    def image_path(self, flink_home):
        if self.context.startswith("ca-certificates/"):
            return "/usr/local/share/ca-certificates/" + self.context.split("/", 1)[1]
        return flink_home + "/" + self.context


class ImageSpec(object):
    """The validated options. Raises SpecError naming the option; touches nothing."""

    def __init__(self, params):
        self.name = (params.get("name") or "").strip()
        self.state = params.get("state") or "present"
        self.force = bool(params.get("force"))
        if not _IMAGE_NAME_RE.match(self.name):
            raise SpecError("%r is not a valid image name" % params.get("name"), option="name",
                            hint="Give it as [registry/]repository[:tag] in lower case, for example "
                                 "registry.example.com/flink-orders:1.4")
        self.base_image = (params.get("base_image") or "").strip()
        if self.state == "absent":
            self.inputs = []
            return
        if not self.base_image:
            raise SpecError("is required when state is present", option="base_image")
        if normalize_name(self.base_image) == normalize_name(self.name):
            raise SpecError("the image to build cannot be its own base image (%s)" % self.name, option="name",
                            hint="Give the custom image its own name or tag")
        self.python = bool(params.get("python"))
        self.builtin_plugins = []
        for index, jar in enumerate(params.get("builtin_plugins") or []):
            jar = (jar or "").strip()
            if not jar or "/" in jar:
                raise SpecError("%r is not a jar name" % jar, option="builtin_plugins[%d]" % index,
                                hint="Give the name of a jar in the base image's opt/ directory, for example "
                                     "flink-s3-fs-hadoop or flink-s3-fs-hadoop-2.2.1.jar")
            self.builtin_plugins.append(jar)
        self.env = {}
        for key, value in sorted((params.get("env") or {}).items()):
            option = "env.%s" % key
            if not _ENV_KEY_RE.match(str(key)):
                raise SpecError("%r is not a valid environment variable name" % key, option=option,
                                hint="Use letters, digits and underscores, not starting with a digit")
            text = _string_value(value, option)
            if "\n" in text or "\r" in text:
                raise SpecError("multi-line values are not supported", option=option)
            self.env[str(key)] = text
        self.labels = {}
        for key, value in sorted((params.get("labels") or {}).items()):
            option = "labels.%s" % key
            if key in RESERVED_LABELS:
                raise SpecError("the label is set by the module", option=option, hint="Use another label key")
            if not _LABEL_KEY_RE.match(str(key)):
                raise SpecError("%r is not a valid label key" % key, option=option)
            text = _string_value(value, option)
            if "\n" in text or "\r" in text:
                raise SpecError("multi-line values are not supported", option=option)
            self.labels[str(key)] = text
        self.inputs = self._inputs(params)

    def _inputs(self, params):
        inputs = []
        seen = {}

        def add(option, source, context):
            if not source or not isinstance(source, str):
                raise SpecError("must be a file path", option=option)
            if context in seen:
                raise SpecError("%s would overwrite %s from %s: both are named %s" % (
                    source, context, seen[context], os.path.basename(source)), option=option,
                    hint="Each file in one directory of the image needs its own name")
            seen[context] = option
            inputs.append(InputFile(option, source, context))

        for index, path in enumerate(params.get("ca_certificates") or []):
            # update-ca-certificates only picks up *.crt files; the index keeps names apart.
            base = os.path.basename(path or "")
            base = base[:-4] if base.endswith((".crt", ".pem")) else base
            add("ca_certificates[%d]" % index, path, "ca-certificates/flinkops-%d-%s.crt" % (index, base))
        for option in ("lib", "usrlib"):
            for index, path in enumerate(params.get(option) or []):
                add("%s[%d]" % (option, index), path, "%s/%s" % (option, os.path.basename(path or "")))
        plugins = params.get("plugins") or {}
        for plugin in sorted(plugins):
            option = "plugins.%s" % plugin
            if not _PLUGIN_DIR_RE.match(str(plugin)):
                raise SpecError("%r is not a valid plugin directory name" % plugin, option=option,
                                hint="Use letters, digits, '.', '_' and '-', for example s3-fs-presto")
            jars = plugins[plugin]
            if isinstance(jars, str):
                jars = [jars]
            if not isinstance(jars, list) or not jars:
                raise SpecError("must be a non-empty list of jar paths", option=option)
            for index, path in enumerate(jars):
                add("%s[%d]" % (option, index), path, "plugins/%s/%s" % (plugin, os.path.basename(path or "")))
        for item in inputs:
            item.digest()
        return inputs

    def has_dir(self, top):
        return any(i.context.startswith(top + "/") for i in self.inputs)


def resolve_builtin_plugins(names, opt_jars, flink_version=None, base_image=""):
    """Map each name of ``builtin_plugins`` to a jar of the base image's opt/ directory.

    A name is a jar name (``flink-s3-fs-hadoop-2.2.1.jar``) or the jar name without version and ``.jar``
    (``flink-s3-fs-hadoop``); when several versions match, the image's Flink version wins.
    Returns a list of (jar, plugin directory name); SpecError naming ``builtin_plugins[i]`` otherwise.
    """
    resolved = []
    for index, name in enumerate(names):
        base = name[:-4] if name.endswith(".jar") else name
        matches = [j for j in opt_jars if j == base + ".jar" or
                   (j.startswith(base + "-") and j[len(base) + 1:len(base) + 2].isdigit())]
        if len(matches) > 1 and flink_version:
            own = "%s-%s.jar" % (base, flink_version)
            matches = [j for j in matches if j == own] or matches
        if len(matches) != 1:
            available = ", ".join(sorted(opt_jars)) or "none"
            raise SpecError("base image %s has no %s in its opt/ directory" % (base_image, name) if not matches
                            else "%s matches several jars of the base image's opt/ directory: %s" % (
                                name, ", ".join(sorted(matches))),
                            option="builtin_plugins[%d]" % index, hint="Choose one of: %s" % available)
        jar = matches[0]
        if not _JAR_NAME_RE.match(jar):
            raise SpecError("jar name %r is not supported" % jar, option="builtin_plugins[%d]" % index)
        plugin_dir = jar[:-4]
        if plugin_dir in [d for _j, d in resolved]:
            raise SpecError("%s is named twice" % jar, option="builtin_plugins[%d]" % index)
        resolved.append((jar, plugin_dir))
    return resolved


def _dockerfile_quote(value):
    """A double-quoted Dockerfile word: backslash, double quote and $ (variable expansion) escaped."""
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")


def render_dockerfile(base_image_id, flink_home, spec, builtin=(), python_version=None, base_user="", labels=None):
    """The Dockerfile of the image; slow, rarely changing steps first so the layer cache keeps them.

    ``labels`` (the user's and the module's, except the build hash, which is given to the build call
    because it is computed from this text) go into one LABEL instruction."""
    home = flink_home.rstrip("/")
    owner = "%d:%d" % (FLINK_UID, FLINK_UID)
    lines = ["# flinkops.flink.flink_image (recipe %d)" % RECIPE_VERSION,
             "FROM %s" % base_image_id,
             "USER root"]
    if spec.has_dir("ca-certificates"):
        lines += ["COPY ca-certificates/ /usr/local/share/ca-certificates/",
                  "RUN update-ca-certificates"]
    if python_version:
        lines += [
            "RUN set -eux; apt-get update; "
            "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv; "
            "rm -rf /var/lib/apt/lists/*",
            "RUN set -eux; python3 -m venv %s; %s/bin/pip install --no-cache-dir --progress-bar off "
            "--disable-pip-version-check apache-flink==%s; "
            "printf '#!/bin/sh\\nexec %s/bin/python \"$@\"\\n' > /usr/local/bin/python; chmod 0755 /usr/local/bin/python; "
            "%s/bin/python -c 'import pyflink.version as v; assert v.__version__ == \"%s\", v.__version__'"
            % (PYTHON_VENV, PYTHON_VENV, python_version, PYTHON_VENV, PYTHON_VENV, python_version),
            "ENV PATH=%s/bin:$PATH" % PYTHON_VENV,
        ]
    for jar, plugin_dir in builtin:
        target = "%s/plugins/%s" % (home, plugin_dir)
        lines.append("RUN set -eu; mkdir -p %s; cp -L %s %s/; chown -R %s %s" % (
            shlex.quote(target), shlex.quote("%s/opt/%s" % (home, jar)), shlex.quote(target), owner,
            shlex.quote(target)))
    for top in ("lib", "plugins", "usrlib"):
        if spec.has_dir(top):
            lines.append("COPY --chown=%s %s/ %s/%s/" % (owner, top, home, top))
    if spec.env:
        lines.append("ENV " + " ".join("%s=%s" % (k, _dockerfile_quote(v)) for k, v in sorted(spec.env.items())))
    if labels:
        lines.append("LABEL " + " ".join("%s=%s" % (k, _dockerfile_quote(v)) for k, v in sorted(labels.items())))
    if base_user and base_user not in ("root", "0", "0:0"):
        lines.append("USER %s" % base_user)
    return "\n".join(lines) + "\n"


def build_hash(dockerfile, inputs, labels, base_image_id):
    """Content hash of everything the image is built from (stable: independent of order and file times)."""
    data = {"recipe": RECIPE_VERSION, "dockerfile": dockerfile, "base_image_id": base_image_id,
            "files": sorted([i.context, i.sha256] for i in inputs), "labels": dict(sorted(labels.items()))}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:32]


def spec_view(spec, flink_home, base_image_id, builtin, python_version, digest):
    """What the image is built from, for diff mode and the build-spec label."""
    files = ["%s sha256:%s" % (i.image_path(flink_home), i.sha256[:16]) for i in spec.inputs]
    files += ["%s/plugins/%s/%s (from the base image's opt/)" % (flink_home, d, j) for j, d in builtin]
    return {"build_hash": digest, "base_image": spec.base_image, "base_image_id": base_image_id,
            "files": sorted(files), "python": python_version, "env": dict(spec.env), "labels": dict(spec.labels)}


def write_context(path, dockerfile, inputs):
    """Write the build context as a tar archive; every file is re-hashed while it is copied, so a file
    changed after planning fails the run instead of producing an image that does not match its hash."""
    with tarfile.open(path, "w") as tar:
        data = dockerfile.encode("utf-8")
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, _BytesReader(data))
        dirs = set()
        for item in inputs:
            parts = item.context.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                directory = "/".join(parts[:depth])
                if directory not in dirs:
                    dirs.add(directory)
                    dinfo = tarfile.TarInfo(directory)
                    dinfo.type = tarfile.DIRTYPE
                    dinfo.mode = 0o755
                    dinfo.uid = dinfo.gid = FLINK_UID
                    tar.addfile(dinfo)
            info = tarfile.TarInfo(item.context)
            info.size = item.size
            info.mode = 0o644
            info.uid = info.gid = FLINK_UID
            try:
                info.mtime = int(os.stat(item.source).st_mtime)
                with open(item.source, "rb") as handle:
                    reader = _HashingReader(handle)
                    tar.addfile(info, reader)
            except (IOError, OSError, tarfile.TarError) as exc:
                raise BackendError("copying %s into the build context failed: %s" % (item.source, exc),
                                   option=item.option)
            if reader.sha.hexdigest() != item.sha256 or reader.count != item.size:
                raise BackendError("%s changed while the image was being prepared" % item.source, option=item.option,
                                   hint="Run again once the file is complete")


class _BytesReader(object):
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def read(self, size=-1):
        end = len(self.data) if size is None or size < 0 else self.pos + size
        chunk = self.data[self.pos:end]
        self.pos += len(chunk)
        return chunk


class _HashingReader(object):
    def __init__(self, handle):
        self.handle = handle
        self.sha = hashlib.sha256()
        self.count = 0

    def read(self, size=-1):
        chunk = self.handle.read(size)
        self.sha.update(chunk)
        self.count += len(chunk)
        return chunk


def parse_probe(output):
    """Facts about the base image from the probe container's output (lines ``kind:value``)."""
    facts = {"opt": [], "lib": [], "apt_get": False}
    for line in output.splitlines():
        kind, _sep, value = line.strip().partition(":")
        if kind in ("opt", "lib") and value:
            facts[kind].append(value)
        elif kind == "apt-get" and value:
            facts["apt_get"] = True
    return facts


def flink_version_of(lib_jars, env, image_name):
    """The base image's Flink version: its flink-dist jar, else FLINK_VERSION, else the image tag."""
    for jar in lib_jars:
        match = _FLINK_DIST_RE.match(jar)
        if match:
            return match.group(1)
    if _VERSION_RE.match(env.get("FLINK_VERSION", "")):
        return env["FLINK_VERSION"]
    match = re.search(r":(\d+\.\d+\.\d+)(?:[-_].*)?$", image_name.split("@")[0])
    return match.group(1) if match else None


def _image_env(config):
    env = {}
    for item in (config or {}).get("Env") or []:
        key, _sep, value = item.partition("=")
        env[key] = value
    return env


def _short(exc):
    explanation = getattr(exc, "explanation", None)
    if explanation:
        return str(explanation)
    return str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__


# Docker ------------------------------------------------------------------------------------------------------

class ImageBuilder(object):
    """Plans and builds one image on one Docker host."""

    def __init__(self, module, spec, client):
        self.module = module
        self.spec = spec
        self.client = client
        self.api = client.api

    def inspect(self, name):
        try:
            return self.api.inspect_image(name)
        except (ImageNotFound, NotFound):
            return None
        except DockerException as exc:
            raise BackendError("inspecting image %s failed: %s" % (name, _short(exc)), option="name")

    def base(self, check_only):
        """The base image's inspect data, pulled when missing (not in check mode). SpecError on base_image."""
        image = self.spec.base_image
        try:
            data = self.api.inspect_image(image)
            return data
        except (ImageNotFound, NotFound):
            pass
        except DockerException as exc:
            raise BackendError("inspecting image %s failed: %s" % (image, _short(exc)), option="base_image")
        hint = "Check the name and tag, or build or load the image on the Docker host"
        if check_only:
            try:
                self.api.inspect_distribution(image)
            except DockerException as exc:
                raise SpecError("image %s is not on the Docker host and its registry does not have it: %s"
                                % (image, _short(exc)), option="base_image", hint=hint)
            return None  # a real run pulls it, then builds
        try:
            self.client.images.pull(image)
            return self.api.inspect_image(image)
        except DockerException as exc:
            raise SpecError("image %s is not on the Docker host and could not be pulled: %s" % (image, _short(exc)),
                            option="base_image", hint=hint)

    def probe(self, base_id, flink_home, option):
        """List opt/ and lib/ of the base image and whether it has apt-get, from a short-lived container."""
        script = ("for f in %(h)s/opt/*; do [ -e \"$f\" ] && echo \"opt:${f##*/}\"; done; "
                  "for f in %(h)s/lib/*; do [ -e \"$f\" ] && echo \"lib:${f##*/}\"; done; "
                  "echo \"apt-get:$(command -v apt-get)\"; true") % {"h": shlex.quote(flink_home)}
        try:
            output = self.client.containers.run(base_id, entrypoint=["/bin/sh", "-c", script], user="0",
                                                remove=True, network_mode="none", stdout=True, stderr=False,
                                                labels={LABEL_MANAGED: MANAGED_BY})
        except DockerException as exc:
            raise BackendError("looking into %s of image %s failed: %s" % (
                flink_home, self.spec.base_image, _short(exc)), option=option)
        return parse_probe(output.decode("utf-8", "replace"))

    def build(self, context_path, digest, timeout):
        """Run the build; returns (image id, log lines). BackendError with the log tail on failure."""
        log = []
        image_id = None
        error = None
        try:
            with open(context_path, "rb") as handle:
                stream = self.api.build(fileobj=handle, custom_context=True, tag=self.spec.name, rm=True,
                                        forcerm=True, nocache=self.spec.force, pull=False,
                                        labels={LABEL_BUILD_HASH: digest},
                                        decode=True, timeout=timeout)
                for chunk in stream:
                    if "stream" in chunk:
                        log.extend(line for line in chunk["stream"].splitlines() if line.strip())
                    if "error" in chunk:
                        error = chunk.get("error")
                        log.append(str(error).strip())
                    if isinstance(chunk.get("aux"), dict) and chunk["aux"].get("ID"):
                        image_id = chunk["aux"]["ID"]
        except DockerException as exc:
            error = _short(exc)
            log.append(error)
        except Exception as exc:  # pylint: disable=broad-except
            # requests raises its own errors (read timeouts, broken connections) during the stream
            error = "%s: %s" % (exc.__class__.__name__, exc)
            log.append(error)
        tail = log[-LOG_TAIL_LINES:]
        if error:
            raise BackendError("building %s failed: %s" % (self.spec.name, str(error).strip()), option=None,
                               hint="The end of the build log is in build_log", partial={"build_log": tail})
        built = self.inspect(self.spec.name)
        if not built or (built.get("Config") or {}).get("Labels", {}).get(LABEL_BUILD_HASH) != digest:
            raise BackendError("the build of %s finished but the image does not carry build hash %s" % (
                self.spec.name, digest), partial={"build_log": tail})
        return built["Id"] or image_id, tail

    def remove_if_unused(self, image_id):
        """Remove an image the tag no longer points to, unless another tag or a container uses it."""
        try:
            data = self.api.inspect_image(image_id)
            if data.get("RepoTags"):
                return False
            self.api.remove_image(image_id, force=False, noprune=False)
            return True
        except DockerException:
            return False


def run(module):
    """The module: validate, plan, then build (or remove) exactly what the plan says."""
    params = module.params
    result = {"changed": False}
    try:
        spec = ImageSpec(params)
        client = docker_sdk.docker_client(params)
        builder = ImageBuilder(module, spec, client)
        current = builder.inspect(spec.name)
        current_labels = ((current or {}).get("Config") or {}).get("Labels") or {}
        result["image_id"] = current["Id"] if current else None
        if spec.state == "absent":
            _absent(module, builder, spec, current, current_labels, result)
            module.exit_json(**result)
        _present(module, builder, spec, current, current_labels, result)
    except FlinkOpsError as exc:
        extra = exc.partial or {}
        if exc.option:
            result["option"] = exc.option
        result.update(extra)
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


def _current_view(current, current_labels):
    if not current:
        return {}
    try:
        view = json.loads(current_labels.get(LABEL_BUILD_SPEC) or "{}")
    except ValueError:
        view = {}
    view["build_hash"] = current_labels.get(LABEL_BUILD_HASH)
    view["image_id"] = current["Id"]
    return view


def _absent(module, builder, spec, current, current_labels, result):
    result["changed"] = current is not None
    if module._diff:
        result["diff"] = {"before": _current_view(current, current_labels), "after": {}}
    if current is None or module.check_mode:
        return
    try:
        builder.api.remove_image(spec.name, force=spec.force, noprune=False)
    except DockerException as exc:
        raise BackendError("removing image %s failed: %s" % (spec.name, _short(exc)), option="name",
                           hint="Remove the containers that use it first, or set force=true")


def _present(module, builder, spec, current, current_labels, result):
    params = module.params
    base = builder.base(check_only=module.check_mode)
    if base is None:
        result.update(changed=True, build_hash=None, reason="the base image would be pulled, then the image built",
                      files=[i.as_dict(DEFAULT_FLINK_HOME) for i in spec.inputs])
        if module._diff:
            result["diff"] = {"before": _current_view(current, current_labels),
                              "after": {"base_image": spec.base_image, "build_hash": "(known after the pull)"}}
        return
    base_id = base["Id"]
    base_config = base.get("Config") or {}
    base_env = _image_env(base_config)
    flink_home = base_env.get("FLINK_HOME") or DEFAULT_FLINK_HOME
    builtin = []
    python_version = None
    if spec.builtin_plugins or spec.python:
        facts = builder.probe(base_id, flink_home, "builtin_plugins" if spec.builtin_plugins else "python")
        version = flink_version_of(facts["lib"], base_env, spec.base_image)
        builtin = resolve_builtin_plugins(spec.builtin_plugins, facts["opt"], version, spec.base_image)
        if spec.python:
            if not version:
                raise SpecError("the Flink version of image %s is unknown (no %s/lib/flink-dist-*.jar, no FLINK_VERSION)"
                                % (spec.base_image, flink_home), option="python",
                                hint="PyFlink must match the image's Flink version; use an image laid out like the "
                                     "official flink image")
            if not facts["apt_get"]:
                raise SpecError("image %s has no apt-get to install Python 3 with" % spec.base_image, option="python",
                                hint="Use a Debian or Ubuntu based Flink image, such as the official flink images")
            python_version = version
    view = spec_view(spec, flink_home, base_id, builtin, python_version, None)
    labels = dict(spec.labels)
    labels[LABEL_MANAGED] = MANAGED_BY
    labels[LABEL_BUILD_SPEC] = json.dumps(dict((k, v) for k, v in view.items() if k != "build_hash"), sort_keys=True)
    dockerfile = render_dockerfile(base_id, flink_home, spec, builtin, python_version, base_config.get("User") or "",
                                   labels)
    digest = build_hash(dockerfile, spec.inputs, spec.labels, base_id)
    view["build_hash"] = digest
    current_hash = current_labels.get(LABEL_BUILD_HASH) if current else None
    if spec.force:
        reason = "forced"
    elif current is None:
        reason = "the image does not exist"
    elif current_hash != digest:
        reason = "the inputs changed (build hash %s, image has %s)" % (digest, current_hash or "none")
    else:
        reason = None
    files = [i.as_dict(flink_home) for i in spec.inputs]
    files += [{"path": "%s/plugins/%s/%s" % (flink_home, d, j), "source": "%s/opt/%s" % (flink_home, j),
               "sha256": None, "size": None, "option": "builtin_plugins[%d]" % n} for n, (j, d) in enumerate(builtin)]
    result.update(changed=reason is not None, build_hash=digest, reason=reason or "up to date", files=files,
                  dockerfile=dockerfile, base_image_id=base_id, flink_version=python_version)
    if module._diff:
        before = _current_view(current, current_labels)
        result["diff"] = {"before": before, "after": dict(view, image_id=(current["Id"] if current else None))
                          if reason is None else view}
    if reason is None or module.check_mode:
        return
    timeout = max(int(params.get("timeout") or 60), MIN_BUILD_READ_TIMEOUT)
    workdir = tempfile.mkdtemp(prefix="flinkops-image-")
    try:
        context = os.path.join(workdir, "context.tar")
        write_context(context, dockerfile, spec.inputs)
        image_id, tail = builder.build(context, digest, timeout)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result.update(image_id=image_id, build_log=tail)
    if current and current["Id"] != image_id:
        result["previous_image_id"] = current["Id"]
        result["previous_image_removed"] = builder.remove_if_unused(current["Id"])
