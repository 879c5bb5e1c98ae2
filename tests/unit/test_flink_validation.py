"""Pure parts of Flink's own memory check (docker/flink_validation.py): the -D arguments, Flink's reason taken from
BashJavaUtils' output as Flink 2.2.1 prints it, and the verdict key. The check itself runs in the image in
tests/integration/docker/test_session.py."""

from __future__ import annotations

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.docker import flink_validation

pytestmark = pytest.mark.unit

# The head of BashJavaUtils' output for taskmanager.memory.process.size=600m (Flink 2.2.1, recorded).
OUTPUT = """Exception in thread "main" org.apache.flink.configuration.IllegalConfigurationException: TaskManager memory \
configuration failed: Sum of configured Framework Heap Memory (128.000mb (134217728 bytes)), Framework Off-Heap Memory \
(128.000mb (134217728 bytes)), Task Off-Heap Memory (0 bytes), Managed Memory (60.800mb (63753421 bytes)) and Network \
Memory (64.000mb (67108864 bytes)) exceed configured Total Flink Memory (152.000mb (159383552 bytes)).
\tat org.apache.flink.runtime.clusterframework.TaskExecutorProcessUtils.processSpecFromConfig(TaskExecutorProcessUtils.java:153)
Caused by: org.apache.flink.configuration.IllegalConfigurationException: Sum of configured Framework Heap Memory
"""


def test_reason_is_the_message_flink_ended_with():
    reason = flink_validation.flink_reason(OUTPUT)
    assert reason.startswith("TaskManager memory configuration failed: Sum of configured Framework Heap Memory")
    assert reason.endswith("exceed configured Total Flink Memory (152.000mb (159383552 bytes)).")
    assert flink_validation.flink_reason("") == "no output"


def test_dynamic_args_and_key():
    args = flink_validation.dynamic_args({"b": True, "a": "600m", "c": [1, 2]})
    assert args == ["-D", "a=600m", "-D", "b=true", "-D", "c=[1, 2]"]
    key = flink_validation.verdict_key("sha256:1", "taskmanager", {"a": "600m"})
    assert key == flink_validation.verdict_key("sha256:1", "taskmanager", {"a": "600m"})
    assert key != flink_validation.verdict_key("sha256:1", "jobmanager", {"a": "600m"})
    assert key != flink_validation.verdict_key("sha256:2", "taskmanager", {"a": "600m"})
    assert key != flink_validation.verdict_key("sha256:1", "taskmanager", {"a": "700m"})


def test_script_checks_each_role_and_stops_at_the_first_refusal():
    text = flink_validation.script([("jobmanager", {"a": "x y"}), ("taskmanager", {"b": "1"})])
    assert "echo ROLE jobmanager; run GET_JM_RESOURCE_PARAMS --configDir /opt/flink/conf -D 'a=x y' || exit 3" in text
    assert text.index("ROLE jobmanager") < text.index("ROLE taskmanager")


def test_a_refusal_that_quotes_a_key_of_flink_config_names_that_key():
    settings = {"taskmanager.memory.process.size": "1728m", "taskmanager.memory.jvm-overhead.fraction": "lots"}
    reason = "Could not parse value 'lots' for key 'taskmanager.memory.jvm-overhead.fraction'."
    assert flink_validation.option_at_fault("taskmanager", reason, settings) == "flink_config.taskmanager.memory.jvm-overhead.fraction"
    # A key Flink derived (not given) or the process size itself: the role's memory option.
    derived = "Inconsistently configured Key: 'taskmanager.memory.network.fraction'"
    assert flink_validation.option_at_fault("taskmanager", derived, settings) == "taskmanager.memory"
    size = {"jobmanager.memory.process.size": "200m"}
    assert flink_validation.option_at_fault("jobmanager", "'jobmanager.memory.process.size' too small", size) \
        == "jobmanager.memory"
