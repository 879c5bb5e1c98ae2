# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One kept-alive HTTP/1.1 connection (``http.client``), shared by the small Docker Engine API reader
(docker_api.ReadClient) and the plain-HTTP path of the Flink REST client (rest.FlinkRest)."""

from __future__ import annotations

import http.client
import threading

__all__ = ["KeptAlive", "TRANSPORT_ERRORS"]

#: what a request raises when the connection fails (callers turn it into their own error)
TRANSPORT_ERRORS = (http.client.HTTPException, OSError)


class KeptAlive(object):
    """Requests one at a time (threads take turns) over one connection made by ``connect(timeout)``.

    A GET reuses the connection and is sent once more on a new one when the server had closed it meanwhile (that
    fails on first use). Any other method gets a new connection, closed afterwards, so that a request that changes
    something is never sent twice.
    """

    def __init__(self, connect):
        self._connect = connect
        self._conn = None
        self._lock = threading.Lock()

    def request(self, method, target, timeout, body=None, headers=None):
        """(status, body) of the answer; raises one of TRANSPORT_ERRORS when there is none."""
        with self._lock:
            for attempt in (1, 2):
                if method != "GET":
                    self._close()
                fresh = self._conn is None
                if fresh:
                    self._conn = self._connect(timeout)
                elif self._conn.sock is not None:
                    self._conn.sock.settimeout(timeout)
                try:
                    self._conn.request(method, target, body=body, headers=headers or {})
                    response = self._conn.getresponse()
                    answer = (response.status, response.read())
                    if response.will_close or method != "GET":
                        self._close()
                    return answer
                except TRANSPORT_ERRORS:
                    self._close()
                    if fresh or attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def close(self):
        with self._lock:
            self._close()

    def _close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
