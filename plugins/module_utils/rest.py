# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small client for Flink's REST API (the JobManager's port 8081 by default)."""

from __future__ import annotations

import json
import os
import ssl
import uuid

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import Request, make_context

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError


class RestUnavailable(BackendError):
    """The REST endpoint is not ready: connection refused, reset, timed out, or HTTP 502/503/504 (for
    example 503 while the JobManager elects its leader)."""


def _error_summary(text):
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    causes = [line[len("Caused by:"):].strip() for line in lines if line.startswith("Caused by:")]
    if causes and causes[-1] != lines[0]:
        return "%s (root cause: %s)" % (lines[0], causes[-1])
    return lines[0]


class FlinkRest(object):
    """Calls to one Flink REST endpoint. Every call raises BackendError with what it was doing."""

    def __init__(self, base_url, timeout=10, validate_certs=True, headers=None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.headers = dict(headers or {})
        self._ssl_context = None

    def _context(self):
        """One TLS context for all calls. open_url builds one, loading the CA bundle, on every call, also for
        plain HTTP where none is used: 70 ms a call on a 2-core machine, most of an unchanged run's REST time."""
        if self._ssl_context is None:
            if self.base_url.startswith("https://"):
                self._ssl_context = make_context(validate_certs=self.validate_certs)
            else:
                # Never used for http:// (a redirect to https would fail verification: no CA is loaded).
                self._ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        return self._ssl_context

    def _request(self, method, path, body=None, content_type=None, timeout=None):
        url = self.base_url + path
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        try:
            response = Request(context=self._context()).open(
                method, url, data=body, headers=headers, timeout=timeout or self.timeout,
                validate_certs=self.validate_certs, follow_redirects="safe")
            raw = response.read()
        except HTTPError as exc:
            detail = ""
            try:
                payload = json.loads(exc.read() or b"{}")
                errors = payload.get("errors") or []
                # Flink puts a Java stack trace in errors[]: its first line and its root cause say what went wrong.
                detail = "; ".join(_error_summary(str(e)) for e in errors if str(e).strip())
            except (ValueError, AttributeError):
                pass
            error_class = RestUnavailable if exc.code in (502, 503, 504) else BackendError
            raise error_class("%s %s answered HTTP %s%s" % (method, url, exc.code, (": " + detail) if detail else ""),
                              partial={"status": exc.code, "errors": detail})
        except (URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RestUnavailable("%s %s failed: %s" % (method, url, reason))
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise BackendError("%s %s did not answer JSON (is this a Flink REST endpoint?)" % (method, url))

    def wait_up(self, timeout, sleep):
        """Wait until the REST API answers (at most ``timeout`` seconds; 0 checks once)."""
        from ansible_collections.flinkops.flink.plugins.module_utils.wait import wait_for

        def probe():
            try:
                self.overview()
                return True, {}
            except RestUnavailable as exc:
                return False, {"summary": exc.message}
        wait_for(probe, timeout, sleep, "the REST API at %s" % self.base_url)

    def get(self, path, timeout=None):
        return self._request("GET", path, timeout=timeout)

    def post(self, path, payload=None, timeout=None):
        body = json.dumps(payload or {}).encode("utf-8")
        return self._request("POST", path, body=body, content_type="application/json", timeout=timeout)

    def patch(self, path, timeout=None):
        return self._request("PATCH", path, timeout=timeout)

    def delete(self, path, timeout=None):
        return self._request("DELETE", path, timeout=timeout)

    # Cluster -----------------------------------------------------------------------------
    def overview(self):
        return self.get("/overview")

    def jobmanager_config(self):
        """The JobManager's effective configuration as a dict."""
        return dict((item["key"], item["value"]) for item in self.get("/jobmanager/config"))

    def taskmanagers(self):
        return self.get("/taskmanagers").get("taskmanagers", [])

    # Jobs --------------------------------------------------------------------------------
    def jobs(self):
        return self.get("/jobs/overview").get("jobs", [])

    def job(self, job_id):
        return self.get("/jobs/%s" % job_id)

    def job_config(self, job_id):
        return self.get("/jobs/%s/config" % job_id)

    def jars(self):
        return self.get("/jars").get("files", [])

    def upload_jar(self, path, filename=None):
        """Upload a jar (multipart/form-data field ``jarfile``); returns the stored jar id."""
        boundary = "flinkops-%s" % uuid.uuid4().hex
        filename = filename or os.path.basename(path)
        with open(path, "rb") as handle:
            content = handle.read()
        body = b"".join([
            ("--%s\r\n" % boundary).encode("ascii"),
            ('Content-Disposition: form-data; name="jarfile"; filename="%s"\r\n' % filename).encode("utf-8"),
            b"Content-Type: application/x-java-archive\r\n\r\n",
            content,
            ("\r\n--%s--\r\n" % boundary).encode("ascii"),
        ])
        result = self._request("POST", "/jars/upload", body=body,
                               content_type="multipart/form-data; boundary=%s" % boundary, timeout=120)
        return os.path.basename(result.get("filename", ""))

    def delete_jar(self, jar_id):
        return self.delete("/jars/%s" % jar_id)

    def run_jar(self, jar_id, payload, timeout=120):
        return self.post("/jars/%s/run" % jar_id, payload, timeout=timeout).get("jobid")

    def cancel(self, job_id):
        return self.patch("/jobs/%s?mode=cancel" % job_id)

    def stop_with_savepoint(self, job_id, target_directory=None, drain=False):
        payload = {"drain": drain}
        if target_directory:
            payload["targetDirectory"] = target_directory
        return self.post("/jobs/%s/stop" % job_id, payload).get("request-id")

    def trigger_savepoint(self, job_id, target_directory=None, cancel_job=False):
        payload = {"cancel-job": cancel_job}
        if target_directory:
            payload["target-directory"] = target_directory
        return self.post("/jobs/%s/savepoints" % job_id, payload).get("request-id")

    def savepoint_status(self, job_id, request_id):
        return self.get("/jobs/%s/savepoints/%s" % (job_id, request_id))

    def checkpoints(self, job_id):
        return self.get("/jobs/%s/checkpoints" % job_id)
