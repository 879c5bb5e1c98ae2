# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""This collection's modules and module_utils, imported in Ansible's worker process with Python's own source loader.

Ansible's collection loader compiles every file it imports from source, each time: it never reads or writes
bytecode. For a module run in the worker process (plugin_utils/in_process.py) that is most of an unchanged run's own
cost after its requests (30 to 45 ms for the 30 to 45 files a platform imports, measured in docs/benchmarks.md). The
finder here loads ``ansible_collections.flinkops.flink.plugins.modules.*`` and ``...plugins.module_utils.*`` from the
same files with ``importlib``'s standard loader instead, which reads ``__pycache__`` when it is current and writes it
as Python does for any installed package: not when ``PYTHONDONTWRITEBYTECODE`` is set or the directory is read-only
(then it compiles, as Ansible's loader would). The parent packages stay Ansible's; a name it cannot find as a file of
a parent's directories is left to Ansible's loader. Nothing changes for a module run as a module process.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys

PREFIXES = ("ansible_collections.flinkops.flink.plugins.module_utils.",
            "ansible_collections.flinkops.flink.plugins.modules.")


class CollectionSourceFinder(object):
    """A meta path finder for this collection's module and module_utils files (see the module's docstring)."""

    def find_spec(self, fullname, path, target=None):  # pylint: disable=unused-argument
        if not fullname.startswith(PREFIXES) or not path:
            return None
        name = fullname.rsplit(".", 1)[1]
        for entry in path:
            if not isinstance(entry, str) or not os.path.isdir(entry):
                continue
            package = os.path.join(entry, name)
            init = os.path.join(package, "__init__.py")
            if os.path.isfile(init):
                return importlib.util.spec_from_file_location(
                    fullname, init, loader=importlib.machinery.SourceFileLoader(fullname, init),
                    submodule_search_locations=[package])
            source = package + ".py"
            if os.path.isfile(source):
                return importlib.util.spec_from_file_location(
                    fullname, source, loader=importlib.machinery.SourceFileLoader(fullname, source))
        return None


def install():
    """Put the finder first on ``sys.meta_path`` (once); the worker process ends with its task."""
    if not any(isinstance(finder, CollectionSourceFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, CollectionSourceFinder())
