# -*- coding: utf-8 -*-
# Copyright (c) flinkops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The few steps a container runs before the image's own entrypoint (Docker, Compose, Swarm).

The official ``flink`` image's entrypoint writes the configuration it is given (JOB_MANAGER_RPC_ADDRESS,
FLINK_PROPERTIES, its fixed blob and query ports) into ``$FLINK_HOME/conf`` with Flink's config-parser-utils.sh.
A configuration directory mounted there read-only (as a user's ``conf_dir`` must be: the module never writes to
it) cannot take those writes: the entrypoint prints "Read-only file system", goes on, and a TaskManager is left
looking for its JobManager at ``localhost``. So the directory is mounted at CONF_SOURCE and copied into the
container's own ``$FLINK_HOME/conf`` first, replacing the image's files as the mount did. Secrets that must not
appear in ``docker inspect`` are appended to FLINK_PROPERTIES from a secret file inside the container only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex

IMAGE_ENTRYPOINT = "/docker-entrypoint.sh"
CONF_SOURCE = "/etc/flinkops/conf"
WRAPPER_NAME = "flinkops-entrypoint"


def wrapper_entrypoint(conf_source=False, secret_file=None, entrypoint=None):
    """The container's entrypoint as a list (``bash -c <script> flinkops-entrypoint``; the command follows as "$@"),
    or, when nothing needs to run first, the user's ``entrypoint`` (a list) or None (the image's own).
    ``conf_source``: copy CONF_SOURCE over the image's configuration directory. ``secret_file``: a file whose lines
    are appended to FLINK_PROPERTIES."""
    steps = []
    if conf_source:
        steps.append('rm -rf "$FLINK_HOME"/conf/* && cp -RL %s/. "$FLINK_HOME"/conf/ || '
                     '{ echo "flinkops: cannot copy the configuration directory %s into $FLINK_HOME/conf" >&2; exit 1; }'
                     % (CONF_SOURCE, CONF_SOURCE))
    if secret_file:
        steps.append('FLINK_PROPERTIES="${FLINK_PROPERTIES}"$\'\\n\'"$(cat %s)"; export FLINK_PROPERTIES'
                     % shlex.quote(secret_file))
    if not steps:
        return list(entrypoint) if entrypoint else None
    steps.append('exec %s "$@"' % " ".join(shlex.quote(part) for part in (entrypoint or [IMAGE_ENTRYPOINT])))
    return ["bash", "-c", "; ".join(steps), WRAPPER_NAME]
