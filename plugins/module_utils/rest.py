# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small client for Flink's REST API (the JobManager's port 8081 by default).

Plain ``http://`` endpoints without a proxy in the environment are called through ``http.client`` on one
kept-alive connection (what an unchanged run of a module does: a few GETs). Everything else (``https://``,
a proxy from ``http_proxy``/``all_proxy``, a redirect) goes through ansible.module_utils.urls, imported then:
its import (with cryptography for TLS channel binding) and a TCP connection per call cost more than the calls.
"""

from __future__ import annotations

import http.client
import json
import os
import uuid
from urllib.parse import urlsplit

from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError
from ansible_collections.flinkops.flink.plugins.module_utils.http_keepalive import TRANSPORT_ERRORS, KeptAlive


class RestUnavailable(BackendError):
    """The REST endpoint is not ready: connection refused, reset, timed out, or HTTP 502/503/504 (for
    example 503 while the JobManager elects its leader)."""


def with_slots(taskmanagers):
    """The TaskManagers of a /taskmanagers answer that have reported their slots: one is listed as registered a
    moment before its slot report arrives (slotsNumber 0 meanwhile), and is not ready for a job until then."""
    return [tm for tm in taskmanagers if (tm.get("slotsNumber") or 0) > 0]


def _error_summary(text):
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    causes = [line[len("Caused by:"):].strip() for line in lines if line.startswith("Caused by:")]
    if causes and causes[-1] != lines[0]:
        return "%s (root cause: %s)" % (lines[0], causes[-1])
    return lines[0]


PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")
REDIRECTS = (301, 302, 303, 307, 308)


class _Answer(object):
    """Status and body of one answer, whichever client got it."""

    def __init__(self, status, body):
        self.status = status
        self.body = body


class FlinkRest(object):
    """Calls to one Flink REST endpoint. Every call raises BackendError with what it was doing."""

    def __init__(self, base_url, timeout=10, validate_certs=True, headers=None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.headers = dict(headers or {})
        self._ssl_context = None
        self._direct = None
        self._http = None

    def _context(self):
        """One TLS context for all calls. open_url builds one, loading the CA bundle, on every call: 70 ms a call
        on a 2-core machine."""
        from ansible.module_utils.urls import make_context
        if self._ssl_context is None:
            self._ssl_context = make_context(validate_certs=self.validate_certs)
        return self._ssl_context

    def _plain(self):
        """Whether calls can go through http.client: plain HTTP and no proxy in the environment."""
        if self._direct is None:
            parts = urlsplit(self.base_url)
            self._direct = parts.scheme == "http" and bool(parts.hostname) and \
                not any(os.environ.get(name) for name in PROXY_VARIABLES)
        return self._direct

    def _send_plain(self, method, url, body, headers, timeout):
        """One call on the kept-alive connection (http_keepalive.KeptAlive: GETs reuse it, other methods never
        are sent twice)."""
        parts = urlsplit(url)
        if self._http is None:
            self._http = KeptAlive(lambda t: http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=t))
        try:
            status, raw = self._http.request(method, parts.path + ("?" + parts.query if parts.query else ""),
                                             timeout, body=body, headers=headers)
        except TRANSPORT_ERRORS as exc:
            raise RestUnavailable("%s %s failed: %s" % (method, url, exc))
        return _Answer(status, raw)

    def _send_urls(self, method, url, body, headers, timeout):
        from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
        from ansible.module_utils.urls import Request
        try:
            response = Request(context=self._context()).open(
                method, url, data=body, headers=headers, timeout=timeout,
                validate_certs=self.validate_certs, follow_redirects="safe")
            return _Answer(response.getcode() or 200, response.read())
        except HTTPError as exc:
            try:
                return _Answer(exc.code, exc.read())
            except (OSError, AttributeError):
                return _Answer(exc.code, b"")
        except (URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RestUnavailable("%s %s failed: %s" % (method, url, reason))

    def _request(self, method, path, body=None, content_type=None, timeout=None):
        url = self.base_url + path
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        timeout = timeout or self.timeout
        answer = None
        if self._plain():
            answer = self._send_plain(method, url, body, headers, timeout)
            if answer.status in REDIRECTS:
                answer = None  # followed as open_url does ("safe": GET and HEAD only)
        if answer is None:
            answer = self._send_urls(method, url, body, headers, timeout)
        if answer.status >= 300:
            detail = ""
            try:
                payload = json.loads(answer.body or b"{}")
                errors = payload.get("errors") or []
                # Flink puts a Java stack trace in errors[]: its first line and its root cause say what went wrong.
                detail = "; ".join(_error_summary(str(e)) for e in errors if str(e).strip())
            except (ValueError, AttributeError):
                pass
            error_class = RestUnavailable if answer.status in (502, 503, 504) else BackendError
            raise error_class("%s %s answered HTTP %s%s" % (method, url, answer.status,
                                                            (": " + detail) if detail else ""),
                              partial={"status": answer.status, "errors": detail})
        raw = answer.body
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise BackendError("%s %s did not answer JSON (is this a Flink REST endpoint?)" % (method, url))

    def close(self):
        if self._http is not None:
            self._http.close()

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
