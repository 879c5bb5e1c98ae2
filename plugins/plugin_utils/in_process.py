# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module of this collection inside Ansible's worker process when the task runs on the controller itself.

A module normally runs as a new Python process: Ansible builds an AnsiballZ payload (the module and every
module_utils file it may import), writes it to a temporary directory, starts the interpreter, which imports
``ansible.module_utils.basic`` and the Docker SDK again, and parses the JSON it prints. For this collection's
modules, which mostly talk to a Docker engine or an API server over the network, the target is usually the
controller (``connection: local``), and that overhead is most of an unchanged run (measured in
docs/benchmarks.md). When the task would run the module with the controller's own Python anyway, the action
plugin runs the same module code in the worker process that Ansible forked for this task:

- the same arguments (module_defaults applied, converted as for a module), validated by the same
  ``ModuleArgumentSpecValidator`` that ``AnsibleModule`` uses, with the same error messages;
- the same check mode and diff mode, the task's ``environment``, ``no_log`` values removed from the result,
  the result parsed by the same code as a module's output;
- everything else (another connection, become, async, another interpreter, delegation to another host, or the
  variable ``flinkops_flink_in_process: false``) runs the module the usual way.

The worker process ends with the task, so nothing the module imports or sets outlives it.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import traceback

from ansible.module_utils.common import warnings as _warnings
from ansible.module_utils.common.arg_spec import ModuleArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.flinkops.flink.plugins.plugin_utils import source_cache

try:  # ansible-core up to 2.20: module results are dicts, cleaned by this function
    from ansible.vars.clean import remove_internal_keys
except ImportError:  # ansible-core 2.21+: results are objects that clean themselves (see result_dict)
    remove_internal_keys = None

try:  # ansible-core 2.19+: modules exchange JSON through serialization profiles
    from ansible.module_utils.common.json import Direction, get_module_decoder, get_module_encoder
    AnsibleJSONEncoder = None
    HAS_PROFILES = True
except ImportError:  # ansible-core 2.17, 2.18
    from ansible.module_utils.common.json import AnsibleJSONEncoder
    Direction = get_module_decoder = get_module_encoder = None
    HAS_PROFILES = False

IN_PROCESS_VAR = "flinkops_flink_in_process"
PROFILE = "legacy"


def unsupported_reason():
    """None when this ansible-core has what the in-process path uses, else why not (the module then runs as a
    module process, with a warning: a newer ansible-core never stops a play)."""
    if remove_internal_keys is not None:
        return None
    try:
        from ansible._internal._task import UnifiedTaskResult  # pylint: disable=import-outside-toplevel
    except ImportError:
        UnifiedTaskResult = None  # pylint: disable=invalid-name
    if UnifiedTaskResult is not None and all(hasattr(UnifiedTaskResult, name) for name in (
            "remove_internal_keys", "as_result_dict")):
        return None
    from ansible.release import __version__  # pylint: disable=import-outside-toplevel
    return ("ansible-core %s has neither ansible.vars.clean.remove_internal_keys nor the task results of 2.21, which "
            "running in process needs" % __version__)


def result_dict(data):
    """The parsed module result as the dict an action returns: cleaned of internal keys as _execute_module does
    (a dict up to ansible-core 2.20, a task result object with its own cleaning from 2.21)."""
    if hasattr(data, "as_result_dict"):
        data.remove_internal_keys()
        return data.as_result_dict(for_round_trip=True)
    remove_internal_keys(data)
    return data


UNSUPPORTED = unsupported_reason()


class ModuleDone(BaseException):
    """exit_json/fail_json: ends the module like SystemExit does (a BaseException, so the module's own
    ``except Exception`` clauses do not catch it)."""

    def __init__(self, result):
        super(ModuleDone, self).__init__()
        self.result = result


def _controller_context():
    try:
        from ansible.module_utils import _internal  # ansible-core 2.19+
    except ImportError:
        return False
    return bool(getattr(_internal, "is_controller", False))


def _pending_messages():
    """Warnings and deprecations that module_utils collected for the result (ansible-core < 2.19; from 2.19 on,
    module_utils on the controller hand them straight to Ansible's display)."""
    if _controller_context() or not hasattr(_warnings, "get_warning_messages"):
        return [], []
    return list(_warnings.get_warning_messages()), list(_warnings.get_deprecation_messages())


def same_python(interpreter, executable):
    """Whether ``interpreter`` is the Python of ``executable`` with the same packages: the same binary in the same
    directory (a virtual environment's bin/python and bin/python3.11 are; the system Python, which the venv's links
    resolve to, is not). Directories are compared resolved: a virtual environment reached through a linked directory
    is the same environment."""
    interpreter = os.path.abspath(os.path.expanduser(interpreter))
    executable = os.path.abspath(executable)
    return os.path.realpath(os.path.dirname(interpreter)) == os.path.realpath(os.path.dirname(executable)) and \
        os.path.realpath(interpreter) == os.path.realpath(executable)


class ControllerModule(object):
    """What this collection's modules use of AnsibleModule, for a run inside the worker process: params,
    check_mode, _diff, warn, exit_json, fail_json. Validation is AnsibleModule's own validator."""

    def __init__(self, name, raw_params, check_mode, diff, argument_spec, bypass_checks=False, no_log=False,
                 mutually_exclusive=None, required_together=None, required_one_of=None, add_file_common_args=False,
                 supports_check_mode=False, required_if=None, required_by=None):
        if add_file_common_args:
            raise ValueError("add_file_common_args is not supported in process")
        self._name = name
        self.argument_spec = argument_spec
        self.supports_check_mode = supports_check_mode
        self.check_mode = check_mode
        self._diff = diff
        self.no_log = no_log
        self.no_log_values = set()
        self.params = dict(raw_params)
        validator = ModuleArgumentSpecValidator(argument_spec, mutually_exclusive, required_together,
                                                required_one_of, required_if, required_by)
        validation = validator.validate(self.params)
        self.params.update(validation.validated_parameters)
        self.no_log_values.update(validation._no_log_values)  # pylint: disable=protected-access
        try:
            error = validation.errors[0]
        except IndexError:
            error = None
        if error is not None:
            msg = validation.errors.msg
            if isinstance(error, UnsupportedError):
                msg = "Unsupported parameters for (%s) module: %s" % (name, msg)
            self.fail_json(msg=msg)
        if check_mode and not supports_check_mode:
            self.exit_json(skipped=True, msg="remote module (%s) does not support check mode" % name)

    def warn(self, warning):
        _warnings.warn(warning)

    def exit_json(self, **kwargs):
        raise ModuleDone(self._finish(kwargs))

    def fail_json(self, msg, **kwargs):
        kwargs["failed"] = True
        kwargs["msg"] = msg
        raise ModuleDone(self._finish(kwargs))

    def _finish(self, result):
        result.setdefault("invocation", {"module_args": self.params})
        return remove_values(result, self.no_log_values)


def to_module_args(args):
    """The task's arguments as a module receives them (JSON, as Ansible encodes them for modules)."""
    if HAS_PROFILES:
        return json.loads(json.dumps(args, cls=get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE)),
                          cls=get_module_decoder(PROFILE, Direction.CONTROLLER_TO_MODULE))
    return json.loads(json.dumps(args, cls=AnsibleJSONEncoder, vault_to_text=True))


def to_module_output(result):
    """A result dict as the JSON text a module prints."""
    if HAS_PROFILES:
        return json.dumps(result, cls=get_module_encoder(PROFILE, Direction.MODULE_TO_CONTROLLER))
    return json.dumps(result, cls=AnsibleJSONEncoder)


def run_module_main(main, name, raw_params, check_mode, diff):
    """Run a module's ``main(module_class)`` with a ControllerModule; returns the result dict."""
    warnings_before, deprecations_before = _pending_messages()

    def factory(**kwargs):
        return ControllerModule(name, raw_params, check_mode, diff, **kwargs)

    try:
        main(factory)
        result = {"failed": True, "msg": "module %s ended without exit_json or fail_json" % name}
    except ModuleDone as done:
        result = done.result
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # As a module process that dies: the error and its traceback, nothing raised into Ansible.
        result = {"failed": True, "msg": "MODULE FAILURE: %s: %s" % (type(exc).__name__, exc),
                  "exception": traceback.format_exc()}
    warnings_after, deprecations_after = _pending_messages()
    if warnings_after[len(warnings_before):]:
        result["warnings"] = warnings_after[len(warnings_before):]
    if deprecations_after[len(deprecations_before):]:
        result["deprecations"] = deprecations_after[len(deprecations_before):]
    return result


class InProcessModuleAction(ActionBase):
    """Base of this collection's action plugins: the module's own code, in process where that is the same."""

    _supports_check_mode = True
    _supports_async = True

    #: the module's Python name under plugins/modules
    MODULE = None

    def _target_vars(self, task_vars):
        if self._task.delegate_to:
            return (task_vars.get("ansible_delegated_vars") or {}).get(self._task.delegate_to) or {}
        return task_vars

    def in_process_reason(self, task_vars):
        """None when the module may run in process, else why not (shown with -vvv)."""
        use_vars = self._target_vars(task_vars)
        if UNSUPPORTED:
            return UNSUPPORTED
        setting = use_vars.get(IN_PROCESS_VAR, True)
        if isinstance(setting, str) and "{{" in setting:
            setting = self._templar.template(setting)
        if not boolean(setting, strict=False):
            return "%s is false" % IN_PROCESS_VAR
        if getattr(self._connection, "transport", None) != "local":
            return "the connection is not local"
        if self._play_context.become:
            return "become is set"
        if self._task.async_val:
            return "the task is async"
        interpreter = use_vars.get("ansible_python_interpreter")
        if isinstance(interpreter, str) and "{{" in interpreter:
            interpreter = self._templar.template(interpreter)
        if not isinstance(interpreter, str) or not same_python(interpreter, sys.executable):
            return "ansible_python_interpreter is not the controller's Python (%s)" % sys.executable
        return None

    def run(self, tmp=None, task_vars=None):
        result = super(InProcessModuleAction, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        reason = self.in_process_reason(task_vars)
        if reason is not None and reason == UNSUPPORTED:
            self._display.warning("%s runs as a module process: %s" % (self.MODULE, reason))
        if reason is not None:
            self._display.vvv("%s runs as a module process: %s" % (self.MODULE, reason))
            wrap_async = self._task.async_val and not self._connection.has_native_async
            result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        self._display.vvv("%s runs in the worker process (connection local, the controller's Python)"
                          % self.MODULE)
        return merge_hash(result, self._run_in_process(task_vars))

    def _run_in_process(self, task_vars):
        name = self._task.resolved_action or self._task.action
        raw_params = to_module_args(self._task.args)
        environment = {}
        self._compute_environment_string(environment)
        saved_environ = dict(os.environ)
        os.environ.update(dict((str(k), str(v)) for k, v in environment.items()))
        try:
            source_cache.install()  # this collection's files with Python's bytecode cache (see source_cache.py)
            module = importlib.import_module("ansible_collections.flinkops.flink.plugins.modules.%s" % self.MODULE)
            result = run_module_main(module.main, name, raw_params, bool(self._task.check_mode),
                                     bool(self._task.diff))
        finally:
            os.environ.clear()
            os.environ.update(saved_environ)
        output = {"rc": 0, "stdout": to_module_output(result), "stderr": ""}
        if "profile" in inspect.signature(self._parse_returned_data).parameters:
            data = self._parse_returned_data(output, PROFILE)
        else:
            data = self._parse_returned_data(output)
        return result_dict(data)
