# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recipe of a custom Flink image (flink_image): the validated inputs, the Dockerfile, the build hash and the
build context. Pure: nothing here talks to Docker (docker/image_build.py builds it).

Job jars go to ``usrlib/``, extra jars to ``lib/`` and ``plugins/<name>/``, built-in plugins are copied from the
base image's ``opt/`` into ``plugins/<jar name without .jar>/``, and ``python`` installs Python 3 and the PyFlink
release of the image's Flink version. Everything added belongs to uid/gid 9999 (the image's ``flink`` user).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import tarfile

from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import DOCKER_ARGUMENT_SPEC
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError

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
