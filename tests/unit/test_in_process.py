"""Pure logic of the in-process module runner (plugins/plugin_utils/in_process.py): the stand-in for AnsibleModule
validates, masks and ends a module as AnsibleModule does. The runs through Ansible are in
tests/integration/docker/test_in_process.py."""

from __future__ import annotations

import os
import sys

import pytest

from ansible_collections.flinkops.flink.plugins.plugin_utils.in_process import (
    ControllerModule, ModuleDone, run_module_main, same_python, to_module_args)

pytestmark = pytest.mark.unit

SPEC = {
    "name": {"type": "str", "required": True},
    "replicas": {"type": "int", "default": 1},
    "password": {"type": "str", "no_log": True},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "image": {"type": "str"},
}


def make(params, check_mode=False, diff=False, **kwargs):
    return ControllerModule("flinkops.flink.demo", params, check_mode, diff, argument_spec=SPEC,
                            supports_check_mode=True, **kwargs)


def test_params_are_validated_and_converted():
    module = make({"name": "a", "replicas": "3"}, check_mode=True, diff=True)
    assert module.params == {"name": "a", "replicas": 3, "password": None, "state": "present", "image": None}
    assert module.check_mode is True and module._diff is True


@pytest.mark.parametrize("params,needle", [
    ({"name": "a", "bogus": 1}, "Unsupported parameters for (flinkops.flink.demo) module: bogus"),
    ({"replicas": 2}, "missing required arguments: name"),
    ({"name": "a", "replicas": "many"}, "replicas"),
    ({"name": "a", "state": "gone"}, "value of state must be one of: present, absent, got: gone"),
])
def test_invalid_params_fail_like_ansible_module(params, needle):
    with pytest.raises(ModuleDone) as done:
        make(params)
    assert done.value.result["failed"] is True
    assert needle in done.value.result["msg"]


def test_required_if_is_checked():
    with pytest.raises(ModuleDone) as done:
        make({"name": "a", "state": "present"}, required_if=[("state", "present", ("image",))])
    assert "state is present but all of the following are missing: image" in done.value.result["msg"]


def test_no_log_values_never_reach_the_result():
    module = make({"name": "a", "password": "s3cr3t-value"})
    with pytest.raises(ModuleDone) as done:
        module.exit_json(changed=True, echoed="the password is s3cr3t-value")
    text = repr(done.value.result)
    assert "s3cr3t-value" not in text
    assert done.value.result["changed"] is True
    assert done.value.result["invocation"]["module_args"]["password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_module_done_passes_through_except_exception():
    module = make({"name": "a"})
    with pytest.raises(ModuleDone):
        try:
            module.fail_json(msg="boom", option="name")
        except Exception:  # what module code does around its work; must not swallow the end of the module
            pytest.fail("fail_json was caught by 'except Exception'")


def test_run_module_main_results():
    def ok_main(module_class):
        module = module_class(argument_spec=SPEC, supports_check_mode=True)
        module.warn("careful")
        module.exit_json(changed=False, name=module.params["name"])

    result = run_module_main(ok_main, "flinkops.flink.demo", {"name": "x"}, False, False)
    assert result["changed"] is False and result["name"] == "x"

    def crashing_main(module_class):
        module_class(argument_spec=SPEC, supports_check_mode=True)
        raise KeyError("nope")

    result = run_module_main(crashing_main, "flinkops.flink.demo", {"name": "x"}, False, False)
    assert result["failed"] is True and "KeyError" in result["msg"] and "crashing_main" in result["exception"]

    def silent_main(module_class):
        module_class(argument_spec=SPEC, supports_check_mode=True)

    result = run_module_main(silent_main, "flinkops.flink.demo", {"name": "x"}, False, False)
    assert result["failed"] is True and "without exit_json" in result["msg"]


def test_check_mode_without_support_is_skipped():
    with pytest.raises(ModuleDone) as done:
        ControllerModule("flinkops.flink.demo", {"name": "a"}, True, False, argument_spec=SPEC)
    assert done.value.result["skipped"] is True


def test_to_module_args_gives_plain_json_types():
    class Tagged(str):
        pass

    args = to_module_args({"name": Tagged("a"), "list": ("x", 1), "nested": {"k": Tagged("v")}})
    assert args == {"name": "a", "list": ["x", 1], "nested": {"k": "v"}}
    assert not isinstance(args["name"], Tagged) and not isinstance(args["nested"]["k"], Tagged)


def test_same_python(tmp_path):
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python3.11").symlink_to(os.path.realpath(sys.executable))
    (venv_bin / "python").symlink_to("python3.11")
    assert same_python(str(venv_bin / "python"), str(venv_bin / "python3.11"))
    # The system Python the venv links to has other packages: not the same.
    assert not same_python(os.path.realpath(sys.executable), str(venv_bin / "python3.11"))
    assert not same_python("/usr/bin/env python3", str(venv_bin / "python3.11"))
    # The same venv reached through a linked directory (a cache linked elsewhere) is the same Python ...
    (tmp_path / "linked").symlink_to(tmp_path / "venv")
    assert same_python(str(tmp_path / "linked" / "bin" / "python"), str(venv_bin / "python3.11"))
    # ... a copy of the venv elsewhere is not.
    other_bin = tmp_path / "other" / "bin"
    other_bin.mkdir(parents=True)
    (other_bin / "python").symlink_to(os.path.realpath(sys.executable))
    assert not same_python(str(other_bin / "python"), str(venv_bin / "python3.11"))


def test_an_ansible_core_without_the_internals_it_uses_is_named_not_crashed(monkeypatch):
    """ansible-core 2.21 dropped ansible.vars.clean.remove_internal_keys (its results clean themselves); a release
    with neither is refused by name, and the action then runs the module as a module process with a warning."""
    import types
    from ansible_collections.flinkops.flink.plugins.plugin_utils import in_process
    assert in_process.unsupported_reason() is None  # the ansible-core of this venv
    monkeypatch.setattr(in_process, "remove_internal_keys", None)
    monkeypatch.setitem(sys.modules, "ansible._internal._task", types.ModuleType("ansible._internal._task"))
    reason = in_process.unsupported_reason()
    assert reason.startswith("ansible-core ") and "remove_internal_keys" in reason and "2.21" in reason

    class Result(object):  # the shape of 2.21's task result
        cleaned = False

        def remove_internal_keys(self):
            self.cleaned = True

        def as_result_dict(self, for_round_trip=False):
            return {"changed": False, "round_trip": for_round_trip, "cleaned": self.cleaned}

    assert in_process.result_dict(Result()) == {"changed": False, "round_trip": True, "cleaned": True}


def test_the_collections_own_files_load_with_pythons_bytecode_cache(tmp_path):
    """plugin_utils/source_cache.py: a module_utils file under a parent package's directory is loaded by Python's
    source loader (its bytecode cached in __pycache__ where writing is allowed), other names are left alone."""
    from ansible_collections.flinkops.flink.plugins.plugin_utils.source_cache import CollectionSourceFinder
    utils = tmp_path / "module_utils"
    (utils / "sub").mkdir(parents=True)
    (utils / "__init__.py").write_text("")
    (utils / "sub" / "__init__.py").write_text("")
    (utils / "sub" / "leaf.py").write_text("VALUE = 42\n")
    finder = CollectionSourceFinder()
    prefix = "ansible_collections.flinkops.flink.plugins.module_utils"
    package = finder.find_spec(prefix + ".sub", [str(utils)])
    assert package.submodule_search_locations == [str(utils / "sub")] and package.origin.endswith("__init__.py")
    leaf = finder.find_spec(prefix + ".sub.leaf", [str(utils / "sub")])
    assert leaf.origin == str(utils / "sub" / "leaf.py") and leaf.cached.endswith(".pyc")
    assert finder.find_spec(prefix + ".sub.missing", [str(utils / "sub")]) is None
    assert finder.find_spec("ansible_collections.other.coll.plugins.module_utils.sub", [str(utils)]) is None
    assert finder.find_spec(prefix + ".sub", None) is None
    module = __import__("importlib.util").util.module_from_spec(leaf)
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        leaf.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = saved
    assert module.VALUE == 42 and os.path.isfile(leaf.cached)
