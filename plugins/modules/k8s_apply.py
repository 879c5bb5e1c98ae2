#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_apply
short_description: Apply or delete Kubernetes objects with server-side apply
version_added: 0.5.0
description:
  - Applies a list of Kubernetes objects with the API server's server-side apply, in order, or deletes them
    (in reverse order).
  - An object is reported changed only when the server's result differs from what was there, so a second run
    with the same objects changes nothing.
  - Check mode asks the API server for a dry run (C(dryRun=All)), so the prediction includes the server's defaults
    and validation. Objects in a namespace that does not exist yet are predicted as created without asking.
  - A small building block of the collection's Kubernetes roles (for example C(flinkops.flink.k8s_namespace));
    it needs only the kubernetes Python SDK, not the kubernetes.core collection.
author:
  - flinkops.flink contributors (@flinkops)
extends_documentation_fragment:
  - flinkops.flink.kubernetes
  - flinkops.flink.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  definitions:
    description:
      - The objects, each a mapping with C(apiVersion), C(kind), C(metadata.name) and, for namespaced kinds,
        C(metadata.namespace).
    type: list
    elements: dict
    required: true
  state:
    description:
      - C(present) applies the objects; C(absent) deletes those that exist.
    type: str
    default: present
    choices: [present, absent]
  field_manager:
    description:
      - The field manager name the server records for the applied fields.
    type: str
    default: flinkops
  force_conflicts:
    description:
      - Take over fields that another field manager owns (C(kubectl apply --server-side --force-conflicts)).
    type: bool
    default: true
  wait:
    description:
      - After applying, wait until each Deployment among the objects is rolled out (the new generation observed,
        every replica updated and available, so its pods passed their startup and readiness probes) and each
        CustomResourceDefinition is Established. Other kinds count as ready once applied.
      - Not in check mode, and not for O(state=absent).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait in all (O(wait)); on time-out the task fails with the last state seen.
    type: int
    default: 300
  wait_sleep:
    description: Seconds between two looks (O(wait)).
    type: float
    default: 2
seealso:
  - name: Server-side apply
    description: How the API server merges and tracks applied fields.
    link: https://kubernetes.io/docs/reference/using-api/server-side-apply/
"""

EXAMPLES = r"""
- name: A namespace and a service account for Flink
  flinkops.flink.k8s_apply:
    kubeconfig: ~/.kube/config
    definitions:
      - apiVersion: v1
        kind: Namespace
        metadata:
          name: flink
      - apiVersion: v1
        kind: ServiceAccount
        metadata:
          name: flink
          namespace: flink

- name: A Deployment, waiting until its pods pass their probes
  flinkops.flink.k8s_apply:
    definitions: "{{ lookup('ansible.builtin.file', 'operator-deployment.yml') | from_yaml_all | list }}"
    wait: true
    wait_timeout: 300

- name: Remove them again
  flinkops.flink.k8s_apply:
    state: absent
    definitions:
      - apiVersion: v1
        kind: ServiceAccount
        metadata:
          name: flink
          namespace: flink
"""

RETURN = r"""
ready:
  description: With O(wait), the readiness of each Deployment and CRD waited for, by key.
  returned: when O(wait) and not in check mode
  type: dict
  sample: {"Deployment flink-operator/flink-kubernetes-operator": "1/1 replicas updated, 1 available"}
results:
  description: One entry per object, in the order handled.
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: Kind, namespace and name.
      type: str
      sample: ServiceAccount flink/flink
    action:
      description: C(created), C(updated), C(unchanged), C(deleted) or C(absent) (predicted in check mode).
      type: str
      sample: created
actions:
  description: The changing actions, as text (applied unless in check mode).
  returned: always
  type: list
  elements: str
  sample: ["created: ServiceAccount flink/flink"]
option:
  description: On failure, the option at fault.
  returned: on failure, when an option is at fault
  type: str
  sample: definitions[0]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flinkops.flink.plugins.module_utils.errors import FlinkOpsError, fail
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.apply import (
    Applier, ReadinessWaiter, validate_definitions)
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import (
    K8S_ARGUMENT_SPEC, k8s_api_client, require_kubernetes)


def main():
    spec = dict(
        definitions=dict(type="list", elements="dict", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        field_manager=dict(type="str", default="flinkops"),
        force_conflicts=dict(type="bool", default=True),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=300),
        wait_sleep=dict(type="float", default=2),
    )
    spec.update(K8S_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    result = {"changed": False, "results": [], "actions": []}
    try:
        validate_definitions(module.params["definitions"])
        require_kubernetes(module)
        applier = Applier(k8s_api_client(module.params), field_manager=module.params["field_manager"],
                          force_conflicts=module.params["force_conflicts"], check_mode=module.check_mode)
        if module.params["state"] == "present":
            done = applier.apply(module.params["definitions"])
        else:
            done = applier.delete(module.params["definitions"])
        changing = [r for r in done if r["action"] in ("created", "updated", "deleted")]
        result["changed"] = bool(changing)
        result["actions"] = ["%s: %s" % (r["action"], r["key"]) for r in changing]
        result["results"] = [{"key": r["key"], "action": r["action"]} for r in done]
        if module._diff:
            result["diff"] = {"before": {r["key"]: r["before"] for r in changing},
                              "after": {r["key"]: r["after"] for r in changing}}
        if module.params["wait"] and module.params["state"] == "present" and not module.check_mode:
            result["ready"] = ReadinessWaiter(applier).wait(
                module.params["definitions"], module.params["wait_timeout"], module.params["wait_sleep"])
    except FlinkOpsError as exc:
        fail(module, exc, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
