# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight of native mode: may the module's user do what the deployment does, and may the JobManager's service
account do what Flink does (SelfSubjectAccessReviews and SubjectAccessReviews; nothing is changed).

``RightsCheck`` is a mixin of the native-mode platforms: it needs ``self.k8s`` (the SDK), ``self.authz``,
``self.core``, ``self.namespace``, ``self.native`` (NativeSpec) and ``self.module``.
"""

from __future__ import annotations

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import ApiException, api_error

# What the JobManager's service account must be allowed to do (Flink docs, "Native Kubernetes", RBAC).
SA_RIGHTS = [("pods", "", v) for v in ("get", "list", "watch", "create", "delete")] + [
    ("deployments", "apps", "get")]
SA_HA_RIGHTS = [("configmaps", "", v) for v in ("get", "list", "watch", "create", "update", "delete")]
# What the module's own user must be allowed to do.
USER_RIGHTS = [("deployments", "apps", v) for v in ("create", "get", "patch", "delete")] + [
    ("services", "", "create"), ("configmaps", "", "create"), ("configmaps", "", "list"),
    ("configmaps", "", "delete"), ("pods", "", "list")]
# And with flink_config_secrets (kept in a Secret of the cluster's, see config_secret).
SECRET_RIGHTS = [("secrets", "", v) for v in ("create", "update", "delete")]


class RightsCheck(object):
    """What the module's user and the Flink service account may do, asked from the API server."""

    def can_i(self, verb, resource, group="", user=None, groups=None):
        client = self.k8s.client
        attrs = client.V1ResourceAttributes(namespace=self.namespace, verb=verb, resource=resource, group=group)
        try:
            if user is None:
                answer = self.authz.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
                    spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attrs)))
            else:
                answer = self.authz.create_subject_access_review(client.V1SubjectAccessReview(
                    spec=client.V1SubjectAccessReviewSpec(resource_attributes=attrs, user=user, groups=groups)))
        except ApiException as exc:
            if exc.status in (401, 403, 404):
                return None
            raise BackendError("asking the API server whether %s may %s %s failed: %s" % (
                user or "the module's user", verb, resource, api_error(exc)))
        return bool(answer.status.allowed)

    def check_rights(self, user_rights=None):
        """The module's user may do what the deployment does (``user_rights``, native mode's by default), and the
        Flink service account exists with the rights Flink's JobManager needs."""
        missing = []
        for resource, group, verb in USER_RIGHTS if user_rights is None else user_rights:
            if self.can_i(verb, resource, group) is False:
                missing.append("%s %s" % (verb, resource + ("." + group if group else "")))
        if missing:
            raise SpecError("the module's Kubernetes user may not %s in namespace %s" % (
                ", ".join(missing), self.namespace), option="kubeconfig",
                hint="Use credentials with these rights (for example the namespace's edit ClusterRole)")
        self.check_service_account()

    def check_service_account(self):
        try:
            self.core.read_namespaced_service_account(self.native.service_account, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise SpecError("service account %s does not exist in namespace %s" % (
                    self.native.service_account, self.namespace), option="service_account",
                    hint="Create it with the rights Flink needs (role flinkops.flink.k8s_namespace, or with mode "
                         "operator the operator role's operator_watch_namespaces)")
            if exc.status != 403:
                raise BackendError("reading service account %s failed: %s" % (
                    self.native.service_account, api_error(exc)))
        user = "system:serviceaccount:%s:%s" % (self.namespace, self.native.service_account)
        groups = ["system:serviceaccounts", "system:serviceaccounts:%s" % self.namespace, "system:authenticated"]
        needed = SA_RIGHTS + (SA_HA_RIGHTS if self.native.ha else [])
        missing = []
        for resource, group, verb in needed:
            answer = self.can_i(verb, resource, group, user=user, groups=groups)
            if answer is None:
                self.module.warn("could not check the rights of service account %s (the module's user may not "
                                 "create SubjectAccessReviews)" % self.native.service_account)
                return
            if not answer:
                missing.append("%s %s" % (verb, resource + ("." + group if group else "")))
        if missing:
            raise SpecError("service account %s may not %s in namespace %s; the JobManager needs these to run "
                            "TaskManager pods%s" % (self.native.service_account, ", ".join(missing), self.namespace,
                                                    " and for high availability" if self.native.ha else ""),
                            option="service_account",
                            hint="Grant them with a Role and RoleBinding (role flinkops.flink.k8s_namespace), or "
                                 "bind the ClusterRole edit to the service account")
