# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a Flink image on a Docker host holds: its id (pulled as image_pull says), its own configuration file and
the plugin jars of its opt/ directory. Read once per run, before the plan; nothing here changes a cluster."""

from __future__ import annotations

import io
import tarfile

from ansible_collections.flinkops.flink.plugins.module_utils.docker.api import DockerException, ImageNotFound, NotFound
from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.flink_config import parse_config_file

FLINK_HOME = "/opt/flink"
LABEL_MANAGED = "org.flinkops.managed-by"
MANAGED_BY = "flinkops.flink"


class DockerImage(object):
    """The spec's image on the Docker host of ``api`` (docker.api.DockerApi); ``warn`` takes warnings."""

    def __init__(self, api, spec, warn):
        self.api = api
        self.spec = spec
        self.warn = warn
        self._image_id = None
        self._image_checked = False
        self._opt_jars = None
        self._image_conf = None

    def id(self, check_only=False):
        """The id of the spec's image on the Docker host, pulling it as image_pull says.

        Raises SpecError naming ``image`` when it is not there and cannot be had; nothing else is touched.
        """
        if self._image_checked:
            return self._image_id
        image = self.spec.image
        policy = self.spec.image_pull
        image_id = None
        if policy != "always":
            try:
                image_id = self.api.inspect_image(image)["Id"]
            except (ImageNotFound, NotFound):
                image_id = None
            except DockerException as exc:
                raise BackendError("inspecting image %s failed: %s" % (image, exc), option="image")
        if image_id is None or policy == "always":
            if policy == "never":
                raise SpecError("image %s is not on the Docker host and image_pull is never" % image, option="image",
                                hint="Build or load the image there, or set image_pull to missing")
            if check_only:
                try:
                    self.api.inspect_distribution(image)
                except DockerException as exc:
                    if image_id is None:
                        raise SpecError("image %s is not on the Docker host and its registry does not have it: %s"
                                        % (image, short_error(exc)), option="image",
                                        hint="Check the image name and tag, or build/load the image on the host")
                image_id = image_id or "to-be-pulled:%s" % image
            else:
                try:
                    repository, tag = split_image(image)
                    self.api.pull(repository, tag=tag)
                    image_id = self.api.inspect_image(image)["Id"]
                except DockerException as exc:
                    if image_id is None:
                        raise SpecError("image %s is not on the Docker host and could not be pulled: %s"
                                        % (image, short_error(exc)), option="image",
                                        hint="Check the image name and tag, or build/load the image on the host")
                    self.warn("pulling %s failed, using the local image: %s" % (image, short_error(exc)))
        self._image_id = image_id
        self._image_checked = True
        return image_id

    def conf(self):
        """The image's own configuration file: (file name, flat settings). Its defaults (for example the
        JVM options Java 17 needs) are kept; the module's settings are merged over them."""
        if self._image_conf is None:
            try:
                created = self.api.create_container(self.spec.image, command=["true"], labels={LABEL_MANAGED: MANAGED_BY})
                try:
                    stream, _stat = self.api.get_archive(created["Id"], FLINK_HOME + "/conf")
                    data = b"".join(stream)
                finally:
                    self.api.remove_container(created["Id"], force=True)
            except DockerException as exc:
                raise BackendError("reading %s/conf of image %s failed: %s" % (
                    FLINK_HOME, self.spec.image, short_error(exc)), option="image")
            files = {}
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                for member in tar.getmembers():
                    base = member.name.rsplit("/", 1)[-1]
                    if member.isfile() and base in ("config.yaml", "flink-conf.yaml"):
                        files[base] = tar.extractfile(member).read().decode("utf-8", "replace")
            # Flink 1.19/1.20 still read a flink-conf.yaml when one exists; 2.x read only config.yaml.
            if "flink-conf.yaml" in files and self.spec.version.major < 2:
                name = "flink-conf.yaml"
            elif "config.yaml" in files or self.spec.version.major >= 2:
                name = "config.yaml"
            else:
                name = self.spec.version.config_file
            self._image_conf = (name, parse_config_file(name, files[name]) if name in files else {})
        return self._image_conf

    def opt_jars(self):
        """Jar names in the image's opt/ directory (what ENABLE_BUILT_IN_PLUGINS can enable)."""
        if self._opt_jars is None:
            try:
                output = self.api.client.containers.run(self.spec.image, entrypoint=["ls", "-1", FLINK_HOME + "/opt"],
                                                        remove=True, network_mode="none", stdout=True, stderr=True,
                                                        labels={LABEL_MANAGED: MANAGED_BY})
            except DockerException as exc:
                raise BackendError("listing %s/opt in image %s failed: %s" % (
                    FLINK_HOME, self.spec.image, short_error(exc)), option="plugins")
            self._opt_jars = [line.strip() for line in output.decode("utf-8", "replace").splitlines()
                              if line.strip().endswith(".jar")]
        return self._opt_jars

    def resolve_plugins(self):
        """Map plugin names to the jar names of the image; SpecError for a plugin the image lacks."""
        if not self.spec.plugins:
            return []
        jars = self.opt_jars()
        resolved = []
        for index, plugin in enumerate(self.spec.plugins):
            base = plugin[:-4] if plugin.endswith(".jar") else plugin
            matches = [j for j in jars if j == base + ".jar" or
                       (j.startswith(base + "-") and j[len(base) + 1:len(base) + 2].isdigit())]
            if len(matches) > 1:
                # Several versions of one plugin: the one of the image's Flink version.
                own = "%s-%s.jar" % (base, self.spec.version)
                matches = [j for j in matches if j == own] or matches
            if len(matches) != 1:
                available = sorted(j[:-4] for j in jars)
                raise SpecError("image %s has no plugin %r in %s/opt" % (self.spec.image, plugin, FLINK_HOME)
                                if not matches else "plugin %r matches several jars: %s" % (plugin, matches),
                                option="plugins[%d]" % index,
                                hint="Choose one of: %s; or add the jar to the image" % ", ".join(available))
            resolved.append(matches[0])
        return resolved

    def check_named_plugins(self):
        """The jars a rendered spec names (plugin_jar: the image's Flink version) are exactly the image's; a plugin
        the image lacks, or a jar of another version, fails naming plugins[i] (read from the image, so only when
        the spec changes). Platforms that cannot resolve the names at every run (compose, swarm) call it."""
        for index, (plugin, jar) in enumerate(zip(self.spec.plugins, self.resolve_plugins())):
            named = plugin_jar(plugin, self.spec.version)
            if jar != named:
                raise SpecError("the image's jar for plugin %r is %s, not %s" % (plugin, jar, named),
                                option="plugins[%d]" % index, hint="Give the jar's name: %s" % jar)


def plugin_jar(plugin, version):
    """The jar a plugin name stands for in an image of Flink ``version`` (a jar name stays as it is)."""
    return plugin if plugin.endswith(".jar") else "%s-%s.jar" % (plugin, version)


def split_image(image):
    name = image.split("@")[0]
    if "@" in image:
        return image.split("@")[0], image.split("@")[1]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = name.rsplit(":", 1)
        return repository, tag
    return name, "latest"


def short_error(exc):
    explanation = getattr(exc, "explanation", None)
    if explanation:
        return str(explanation)
    return str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
