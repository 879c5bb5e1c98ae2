# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options: {}
notes:
  - This module has an action plugin. When the task runs on the controller itself (C(connection=local), also
    through C(delegate_to=localhost)) with the controller's own Python as C(ansible_python_interpreter) (as for
    Ansible's implicit localhost), and without C(become) or C(async), the module's code runs inside Ansible's
    worker process instead of a new Python process, which saves most of a second per task. Arguments,
    validation, check mode, diff mode, the task's C(environment), C(no_log) and the result are the same. Set the
    variable C(flinkops_flink_in_process=false) to always run it as a module process; C(-vvv) shows which way
    a task ran.
"""
