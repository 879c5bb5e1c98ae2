"""Adopting a session cluster Flink's client started by hand: what counts as the same configuration."""

from __future__ import annotations

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes import adopt

pytestmark = pytest.mark.unit

DESIRED = {"kubernetes.cluster-id": "orders", "kubernetes.namespace": "default", "kubernetes.service-account": "flink",
           "kubernetes.container.image.ref": "flink:2.2.1", "kubernetes.container.image.pull-policy": "IfNotPresent",
           "kubernetes.rest-service.exposed.type": "ClusterIP", "execution.attached": False,
           "jobmanager.memory.process.size": "1073741824b", "taskmanager.memory.process.size": "%db" % (1200 << 20),
           "taskmanager.numberOfTaskSlots": 1, "kubernetes.jobmanager.cpu.amount": 0.25,
           "kubernetes.jobmanager.labels": {"team": "data"}, "heartbeat.timeout": 180000}


def test_the_same_settings_in_the_clients_spelling_match():
    running = {"kubernetes.cluster-id": "orders", "kubernetes.service-account": "flink",
               "kubernetes.container.image": "flink:2.2.1",  # the older key
               "jobmanager.memory.process.size": "1g", "taskmanager.memory.process.size": "1200m",
               "kubernetes.jobmanager.cpu.amount": "0.25", "kubernetes.jobmanager.labels": "team:data",
               "heartbeat.timeout": "180000", "execution.attached": "true"}
    # namespace, pull policy, exposure and slots are Flink's defaults; execution.attached only steers the client.
    assert adopt.differences(DESIRED, running) == []


def test_differences_name_the_option():
    running = {"kubernetes.cluster-id": "orders", "kubernetes.service-account": "flink",
               "kubernetes.container.image.ref": "flink:2.2.1", "jobmanager.memory.process.size": "1024m",
               "taskmanager.memory.process.size": "1200m", "taskmanager.numberOfTaskSlots": "2",
               "kubernetes.jobmanager.cpu.amount": "0.25", "kubernetes.jobmanager.labels": "team:data"}
    found = adopt.differences(DESIRED, running)
    assert [(option, key) for option, key, _have, _want in found] == [
        ("flink_config.heartbeat.timeout", "heartbeat.timeout"), ("taskmanager.slots", "taskmanager.numberOfTaskSlots")]
    err = adopt.refusal("orders", "default", found)
    assert err.option == "flink_config.heartbeat.timeout"
    assert "taskmanager.slots (taskmanager.numberOfTaskSlots: running 2, spec 1)" in str(err)
    assert "heartbeat.timeout: running unset, spec 180000" in str(err)
