#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: flink_image
short_description: Build a custom Flink image from a base Flink image
version_added: 0.1.0
description:
  - Builds an image C(FROM) a Flink image, as the Flink documentation's I(advanced customization) of the Docker
    image describes. Job jars go to C(usrlib/) (application mode), extra jars to C(lib/) and C(plugins/<name>/),
    built-in plugins are copied from the image's C(opt/) into C(plugins/), and O(python=true) installs Python 3
    and the PyFlink release of the image's Flink version.
  - Files added to the Flink directory belong to uid and gid 9999, the C(flink) user of the official image.
  - Idempotent. A hash of the generated Dockerfile, the content of every input file, the labels and the base
    image id is stored in the label C(org.flinkops.build-hash) of the result; when the image already carries
    the same hash nothing is built. Check mode reports whether a build would happen, diff mode shows the hash
    and the files before and after.
  - Every input file is checked and hashed before the Docker host is asked for anything; a missing file fails
    naming the option and its index. The build context is written as a tar archive in a temporary directory
    on the host that runs the module and uploaded through the Docker API, so a remote O(docker_host) works.
  - Builds with the Docker engine's classic builder. Unchanged steps come from its layer cache (the Python
    installation is done once per base image).
author:
  - flinkops.flink contributors (@flinkops)
extends_documentation_fragment:
  - flinkops.flink.docker
  - flinkops.flink.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  name:
    description:
      - The image to produce, as C([registry/]repository[:tag]); C(latest) when no tag is given.
      - Must differ from O(base_image).
    type: str
    required: true
  base_image:
    description:
      - The Flink image to build from, laid out like the official C(flink) image (C(FLINK_HOME), by default
        C(/opt/flink), with C(lib/), C(opt/), C(plugins/), C(usrlib/)).
      - Pulled when the Docker host does not have it. Required when O(state=present).
      - The image is built C(FROM) the base image's id, so the result matches the hash even if the tag moves.
    type: str
  usrlib:
    description:
      - Local files (job jars, Python files) to copy to C(usrlib/), where application mode
        (C(standalone-job)) finds the job.
    type: list
    elements: path
    default: []
  lib:
    description:
      - Local jars to copy to C(lib/) (the Flink classpath), for example connectors or formats.
    type: list
    elements: path
    default: []
  plugins:
    description:
      - Local plugin jars, as a mapping of a plugin directory name to a list of jar paths; each list goes to
        C(plugins/<name>/).
    type: dict
    default: {}
  builtin_plugins:
    description:
      - Jars of the base image's C(opt/) directory to enable as plugins; each is copied to
        C(plugins/<jar name without .jar>/) at build time.
      - Give the jar name (C(flink-s3-fs-hadoop-2.2.1.jar)) or its name without version and C(.jar)
        (C(flink-s3-fs-hadoop)); when several versions are there, the image's Flink version wins.
      - A name the base image does not have fails, listing what it has.
    type: list
    elements: str
    default: []
  python:
    description:
      - Install Python 3 (Debian's, with C(apt-get)) and PyFlink (C(apache-flink) from PyPI, the version of
        the base image's Flink) into a virtual environment C(/opt/flink-python). Its C(bin/) comes first on
        C(PATH), and C(/usr/local/bin/python) runs it, so C(python) is the Python that PyFlink needs.
      - Needs a base image with C(apt-get) and Debian or Ubuntu package sources (the official images have
        them), and access to those and to PyPI during the build.
    type: bool
    default: false
  ca_certificates:
    description:
      - Local PEM files of CA certificates to add to the image's trust store
        (C(/usr/local/share/ca-certificates/), then C(update-ca-certificates)) before anything is installed.
      - For a TLS-intercepting proxy or a private package index between the Docker host and PyPI; they stay
        in the image.
    type: list
    elements: path
    default: []
  env:
    description:
      - Environment variables of the image. Values are strings (numbers and booleans are converted), on one line.
    type: dict
    default: {}
  labels:
    description:
      - Labels of the image. The keys C(org.flinkops.build-hash), C(org.flinkops.build-spec) and
        C(org.flinkops.managed-by) are set by the module.
    type: dict
    default: {}
  state:
    description:
      - C(present) builds the image unless it carries the build hash of the inputs. The image the tag pointed to
        before is removed when no other tag and no container uses it.
      - C(absent) removes the tag O(name) (and the image, when no other tag points to it).
    type: str
    default: present
    choices: [present, absent]
  force:
    description:
      - With O(state=present), build even when the image is up to date, without the layer cache.
      - With O(state=absent), remove the image even when containers use it.
    type: bool
    default: false
notes:
  - The build output may stay silent for up to 15 minutes (or O(timeout) seconds, if longer) before the module
    gives up.
seealso:
  - module: flinkops.flink.flink_session
  - name: Flink on Docker, advanced customization
    description: The image extension this module automates.
    link: https://nightlies.apache.org/flink/flink-docs-stable/docs/deployment/resource-providers/standalone/docker/#advanced-customization
"""

EXAMPLES = r"""
- name: An application image with the job jar and the S3 plugin
  flinkops.flink.flink_image:
    name: registry.example.com/orders-app:1.4.0
    base_image: flink:2.2.1-java17
    usrlib:
      - /srv/build/orders-enrichment-1.4.0.jar
    builtin_plugins:
      - flink-s3-fs-hadoop
    env:
      TZ: UTC
    labels:
      org.opencontainers.image.version: 1.4.0
  register: app_image

- name: A session image with a connector on the classpath, a metrics plugin and PyFlink
  flinkops.flink.flink_image:
    name: flink-custom:2.2.1
    base_image: flink:2.2.1-java17
    lib:
      - /srv/jars/flink-sql-connector-kafka-4.0.0-2.0.jar
    plugins:
      metrics-custom:
        - /srv/jars/metrics-custom-1.0.jar
    python: true

- name: Remove the image
  flinkops.flink.flink_image:
    name: registry.example.com/orders-app:1.4.0
    state: absent
"""

RETURN = r"""
image_id:
  description: Id of the image (after the build, when one ran); null when there is none.
  returned: always
  type: str
  sample: sha256:8e7959d54a8970febb6b355b1a75b95255059111b80bf11321454fa85b034358
build_hash:
  description: Hash of the inputs, stored in the image label C(org.flinkops.build-hash).
  returned: when state is present
  type: str
  sample: 3f0c9d1e6b2a48c7a1e0f5d2b9c84e17
reason:
  description: Why the image is (or would be) built, or C(up to date).
  returned: when state is present
  type: str
  sample: the inputs changed (build hash 3f0c9d1e6b2a48c7a1e0f5d2b9c84e17, image has 0b1a4c6e2f9d7a3b5c8e1f0a2d4b6c8e)
files:
  description: The files the image adds, with their source and content hash (null for built-in plugins).
  returned: when state is present
  type: list
  elements: dict
  sample: [{"path": "/opt/flink/usrlib/orders.jar", "source": "/srv/build/orders.jar", "option": "usrlib[0]",
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "size": 48213}]
dockerfile:
  description: The generated Dockerfile.
  returned: when state is present and the base image is on the Docker host
  type: str
  sample: "FROM sha256:0e80...\nUSER root\nCOPY --chown=9999:9999 usrlib/ /opt/flink/usrlib/\n"
base_image_id:
  description: Id of the base image the image is built from.
  returned: when state is present and the base image is on the Docker host
  type: str
  sample: sha256:0e80ee0c53a4c1f6a8e0c7f6b3a24d1a9c6e1c2f3b4a5d6e7f8091a2b3c4d5e6
flink_version:
  description: The PyFlink version installed (the base image's Flink version); null without O(python).
  returned: when state is present and the base image is on the Docker host
  type: str
  sample: 2.2.1
build_log:
  description: The last lines of the build output.
  returned: when a build ran, also when it failed
  type: list
  elements: str
  sample: ["Step 5/5 : COPY --chown=9999:9999 usrlib/ /opt/flink/usrlib/", "Successfully tagged orders-app:1.4.0"]
previous_image_id:
  description: Id of the image the tag pointed to before the build.
  returned: when a build replaced an image
  type: str
  sample: sha256:59cea59447c2b1f6a8e0c7f6b3a24d1a9c6e1c2f3b4a5d6e7f8091a2b3c4d5e6
previous_image_removed:
  description: Whether that image was removed (it is kept when another tag or a container uses it).
  returned: when a build replaced an image
  type: bool
  sample: true
option:
  description: On failure, the option at fault.
  returned: on failure, when an option is at fault
  type: str
  sample: usrlib[0]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flinkops.flink.plugins.module_utils.docker.common import require_docker
from ansible_collections.flinkops.flink.plugins.module_utils.docker.image_build import run
from ansible_collections.flinkops.flink.plugins.module_utils.docker.image_recipe import image_argument_spec


def main():
    module = AnsibleModule(argument_spec=image_argument_spec(), supports_check_mode=True,
                           required_if=[("state", "present", ("base_image",))])
    require_docker(module)
    run(module)


if __name__ == "__main__":
    main()
