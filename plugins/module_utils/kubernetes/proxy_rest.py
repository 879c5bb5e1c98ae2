# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flink's REST API through the Kubernetes API server's service proxy: the kubeconfig is all it needs."""

from __future__ import annotations

import json

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError
from ansible_collections.flinkops.flink.plugins.module_utils.rest import FlinkRest, RestUnavailable


class K8sProxyRest(FlinkRest):
    """Flink's REST API through the API server's service proxy (authenticated with the kubeconfig)."""

    def __init__(self, api_client, namespace, service, port="rest", timeout=10):
        self.path_prefix = "/api/v1/namespaces/%s/services/%s:%s/proxy" % (namespace, service, port)
        super(K8sProxyRest, self).__init__(api_client.host + self.path_prefix, timeout=timeout)
        self.api_client = api_client

    def _request(self, method, path, body=None, content_type=None, timeout=None):
        """One request with the client's TLS settings and credentials (K8sClient.raw_request)."""
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        url = self.base_url + path
        try:
            status, raw = self.api_client.raw_request(method, self.path_prefix + path, body=body, headers=headers,
                                                      timeout=timeout or self.timeout)
        except Exception as exc:  # connection errors and time-outs: not ready (yet)
            raise RestUnavailable("%s %s failed: %s" % (method, url, exc))
        if status >= 400:
            detail = ""
            try:
                payload = json.loads(raw or b"{}")
                detail = "; ".join(" ".join(str(e).strip().splitlines()[:3]) for e in payload.get("errors") or []
                                   if str(e).strip())
                if not detail and payload.get("message"):
                    detail = payload["message"]
                flink = "errors" in payload
            except (ValueError, AttributeError, TypeError):
                flink = False
            # From the API server (not Flink): 503 no endpoint yet, 404 no Service yet, 502/504 proxy errors.
            unavailable = status in (502, 503, 504) or (status == 404 and not flink)
            error_class = RestUnavailable if unavailable else BackendError
            raise error_class("%s %s answered HTTP %s%s" % (
                method, url, status, (": " + detail) if detail else ""),
                partial={"status": status, "errors": detail})
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise BackendError("%s %s did not answer JSON (is this a Flink REST endpoint?)" % (method, url))
