"""Pure logic of k8s_apply: early validation of the definitions and what counts as a change."""

from __future__ import annotations

import pytest

from ansible_collections.flinkops.flink.plugins.module_utils.errors import SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.apply import (
    _clean, object_key, readiness, validate_definitions)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("definition, option, text", [
    ("not a mapping", "definitions[0]", "must be a mapping"),
    ({"kind": "Namespace", "metadata": {"name": "x"}}, "definitions[0]", "apiVersion is missing"),
    ({"apiVersion": "v1", "metadata": {"name": "x"}}, "definitions[0]", "kind is missing"),
    ({"apiVersion": "v1", "kind": "Namespace", "metadata": {}}, "definitions[0]", "metadata.name is missing"),
])
def test_bad_definitions_name_the_entry(definition, option, text):
    with pytest.raises(SpecError) as err:
        validate_definitions([definition])
    assert err.value.option == option and text in err.value.message


def test_server_maintained_fields_are_no_change():
    before = {"apiVersion": "v1", "kind": "ServiceAccount", "status": {},
              "metadata": {"name": "flink", "namespace": "ns", "resourceVersion": "1", "uid": "u",
                           "managedFields": [{"manager": "a"}], "creationTimestamp": "t", "labels": {"a": "b"}}}
    after = {"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": "flink", "namespace": "ns", "resourceVersion": "2", "uid": "u",
                          "managedFields": [{"manager": "b"}], "creationTimestamp": "t", "labels": {"a": "b"}}}
    assert _clean(before) == _clean(after)
    after["metadata"]["labels"]["a"] = "c"
    assert _clean(before) != _clean(after)
    assert object_key(before) == "ServiceAccount ns/flink"
    assert object_key({"kind": "Namespace", "metadata": {"name": "ns"}}) == "Namespace ns"


def _deployment(generation=2, observed=2, replicas=1, updated=1, available=1, total=1):
    return {"kind": "Deployment", "metadata": {"name": "op", "generation": generation},
            "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "updatedReplicas": updated,
                       "availableReplicas": available, "replicas": total}}


@pytest.mark.parametrize("deployment, ready", [
    (_deployment(), True),
    (_deployment(observed=1), False),           # the controller has not seen the new spec yet
    (_deployment(available=0), False),          # the pod has not passed its probes
    (_deployment(total=2), False),              # an old pod is still there during the roll-out
    (_deployment(replicas=2, updated=1, available=2, total=2), False),
])
def test_deployment_readiness_is_a_finished_rollout(deployment, ready):
    assert readiness(deployment)[0] is ready


def test_crd_readiness_is_established():
    crd = {"kind": "CustomResourceDefinition", "status": {"conditions": [{"type": "NamesAccepted", "status": "True"}]}}
    assert readiness(crd) == (False, "not established yet")
    crd["status"]["conditions"].append({"type": "Established", "status": "True"})
    assert readiness(crd) == (True, "established")
    assert readiness({"kind": "ConfigMap"}) == (True, "applied")
