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
        super(K8sProxyRest, self).__init__("%s/api/v1/namespaces/%s/services/%s:%s/proxy" % (
            api_client.configuration.host, namespace, service, port), timeout=timeout)
        self.api_client = api_client
        self.path_prefix = "/api/v1/namespaces/%s/services/%s:%s/proxy" % (namespace, service, port)

    def _request(self, method, path, body=None, content_type=None, timeout=None):
        """One request with the API client's TLS settings and credentials (urllib3 pool of the SDK)."""
        import urllib3
        conf = self.api_client.configuration
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        if getattr(conf, "refresh_api_key_hook", None):
            conf.refresh_api_key_hook(conf)
        for setting in (conf.auth_settings() or {}).values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        url = self.base_url + path
        try:
            response = self.api_client.rest_client.pool_manager.request(
                method, url, body=body, headers=headers, timeout=urllib3.Timeout(total=timeout or self.timeout),
                retries=False)
        except Exception as exc:  # urllib3 connection errors and time-outs: not ready (yet)
            raise RestUnavailable("%s %s failed: %s" % (method, url, exc))
        raw = response.data
        if response.status >= 400:
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
            unavailable = response.status in (502, 503, 504) or (response.status == 404 and not flink)
            error_class = RestUnavailable if unavailable else BackendError
            raise error_class("%s %s answered HTTP %s%s" % (
                method, url, response.status, (": " + detail) if detail else ""),
                partial={"status": response.status, "errors": detail})
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise BackendError("%s %s did not answer JSON (is this a Flink REST endpoint?)" % (method, url))
