# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Building a custom Flink image FROM a base Flink image (flink_image), as the Flink docs' "advanced customization"
describes; the recipe (inputs, Dockerfile, hash, context) is docker/image_recipe.py.

Idempotency: the Dockerfile, the content of every input file, the labels and the base image ID are hashed; the
hash is stored in the label ``org.flinkops.build-hash`` of the result. The same hash on the existing image means
nothing to do. Inputs are validated (and hashed) before the Docker daemon is asked for anything; the build
context is written as a tar archive in a temporary directory and uploaded through the API, so a remote
``docker_host`` works the same as the local socket.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import tempfile

from ansible_collections.flinkops.flink.plugins.module_utils.docker import sdk as docker_sdk
from ansible_collections.flinkops.flink.plugins.module_utils.docker.image_recipe import (
    DEFAULT_FLINK_HOME, LABEL_BUILD_HASH, LABEL_BUILD_SPEC, LABEL_MANAGED, LOG_TAIL_LINES, MANAGED_BY,
    MIN_BUILD_READ_TIMEOUT, _FLINK_DIST_RE, _VERSION_RE, ImageSpec, build_hash, render_dockerfile, resolve_builtin_plugins, spec_view, write_context)
from ansible_collections.flinkops.flink.plugins.module_utils.docker.sdk import DockerException, ImageNotFound, NotFound
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, FlinkOpsError, SpecError


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
