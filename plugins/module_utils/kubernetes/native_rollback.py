# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback of a native Kubernetes cluster whose recreate did not get ready.

Before a recreate deletes the running cluster, what it is made of (Deployment, Services, Flink's ConfigMaps, the
config Secret: kubernetes/native_snapshot.py) is kept in memory; when the new cluster does not get ready, it is
deleted and those objects are created again, and the wait expects the restored spec's JobManagers and TaskManagers.
"""

from __future__ import annotations

import json

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes import config_secret
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import ApiException, api_error
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.native_spec import ANNOTATION_SPEC


class NativeRollback(object):
    """The rollback part of platforms/k8s_native.K8sNativeCluster (its api_client, core and apps APIs, namespace,
    cluster id, native spec and delete_deployment())."""

    _snapshot = None  # what the cluster was made of before a recreate (roll_back)

    def snapshots(self):
        # Imported here: only a change that deletes the cluster needs it.
        from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.native_snapshot import (  # pylint: disable=import-outside-toplevel
            NativeSnapshot)
        return NativeSnapshot(self.api_client, self.core, self.apps, self.namespace, self.cluster_id,
                              config_secret.secret_name(self.cluster_id))

    def take_snapshot(self):
        """Keep what the running cluster is made of (kubernetes/native_snapshot.py), before the recreate deletes
        it: the last stable spec a failed change rolls back to."""
        try:
            deployment = self.apps.read_namespaced_deployment(self.cluster_id, self.namespace)
        except ApiException as exc:
            raise BackendError("reading deployment %s failed: %s" % (self.cluster_id, api_error(exc)))
        self._snapshot = self.snapshots().take(deployment)

    def settle(self):
        self._snapshot = None

    def before_restore(self, snapshot):
        """What the kind changes in the snapshot before it is created again (a session: nothing)."""
        return None

    def roll_back(self):
        """The recreated cluster did not get ready: delete it and create the objects of the one before again (the
        same Deployment, Services, ConfigMaps and config Secret). The wait that follows expects the restored
        cluster's JobManagers and TaskManagers. Nothing when nothing was recreated."""
        if self._snapshot is None:
            return []
        snapshot, self._snapshot = self._snapshot, None
        self.delete_deployment(wait=True)
        self.before_restore(snapshot)
        restored = self.snapshots().restore(snapshot)
        deployment = snapshot["deployment"]
        self.native.jm_replicas = (deployment.get("spec") or {}).get("replicas") or 1
        self.expect_restored_view(deployment["metadata"].get("annotations"))
        return restored

    def expect_restored_view(self, annotations):
        """After a rollback, the wait expects the TaskManagers of the restored spec, whose view is in the restored
        object's ``annotations``, not the failed spec's."""
        try:
            view = json.loads((annotations or {}).get(ANNOTATION_SPEC) or "{}")
        except ValueError:
            view = {}
        replicas = (view.get("taskmanager") or {}).get("replicas")
        if replicas is not None:
            self.native.tm_min = replicas
