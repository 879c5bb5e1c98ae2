"""Which Kubernetes client errors mean "the API server cannot answer now" (a wait waits on) and which are answers."""

from __future__ import annotations

import pytest
import urllib3
from kubernetes.client.rest import ApiException as SdkApiException

from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import ApiException, api_unreachable

pytestmark = pytest.mark.unit


@pytest.fixture(params=[ApiException, SdkApiException], ids=["ours", "sdk"])
def api_exception(request):
    """Ours (every K8sClient call) and the SDK's own (apply.py's dynamic client) mean the same."""
    return request.param


def test_connection_errors_and_restart_statuses_are_transient(api_exception):
    ApiException = api_exception  # pylint: disable=invalid-name
    reset = urllib3.exceptions.MaxRetryError(None, "/api/v1/pods", reason=urllib3.exceptions.ProtocolError(
        "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")))
    assert "Connection aborted" in api_unreachable(reset)
    assert api_unreachable(ConnectionRefusedError(111, "Connection refused"))
    assert api_unreachable(ApiException(status=503, reason="Service Unavailable")) == "HTTP 503 Service Unavailable"
    assert api_unreachable(ApiException(status=429, reason="Too Many Requests"))


def test_answers_are_not_transient(api_exception):
    ApiException = api_exception  # pylint: disable=invalid-name
    assert api_unreachable(ApiException(status=403, reason="Forbidden")) is None
    assert api_unreachable(ApiException(status=404, reason="Not Found")) is None
    assert api_unreachable(ValueError("bad")) is None


def test_refused_credentials_and_rights_name_the_kubeconfig():
    from ansible_collections.flinkops.flink.plugins.module_utils.errors import BackendError, SpecError
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import read_error
    denied = read_error(ApiException(status=403, body='{"message": "deployments.apps \\"x\\" is forbidden: User '
                                                      '\\"system:serviceaccount:ns:nobody\\" cannot get resource"}'),
                        "cluster x in namespace ns")
    assert isinstance(denied, SpecError) and denied.option == "kubeconfig"
    assert "may not read cluster x in namespace ns" in denied.message and "nobody" in denied.message
    refused = read_error(ApiException(status=401, reason="Unauthorized", body='{"message": "Unauthorized"}'), "it")
    assert isinstance(refused, SpecError) and refused.option == "kubeconfig" and "credentials" in refused.message
    other = read_error(ApiException(status=500, reason="Internal Server Error"), "it")
    assert isinstance(other, BackendError) and other.option is None and "HTTP 500" in other.message


def test_the_sdks_transport_errors_come_out_as_api_exceptions_that_may_pass():
    """A connection the API server refuses (nothing listens: a real socket, no mock) is an ApiException of status 0
    through K8sClient's APIs (code that handles ApiException handles it), and a transient one."""
    import socket
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import K8sClient
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the call: refused
    client = K8sClient({"host": "http://127.0.0.1:%d" % port, "kubeconfig": None}, use_lite=False)
    with pytest.raises(ApiException) as caught:
        client.apps.patch_namespaced_deployment("x", "ns", {"metadata": {"annotations": {"a": "b"}}})
    assert caught.value.status == 0 and "no answer from the API server" in caught.value.reason, caught.value
    assert api_unreachable(caught.value) == caught.value.reason
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import api_error
    assert api_error(caught.value) == caught.value.reason


def test_through_restart_calls_again_while_the_api_server_does_not_answer():
    from ansible_collections.flinkops.flink.plugins.module_utils.kubernetes.common import through_restart
    # The error each call raises in turn (None: it answers).
    answers = [ApiException(0, "no answer from the API server: refused"), ApiException(503, "Service Unavailable"),
               None]
    calls = []

    def call():
        calls.append(1)
        error = answers[len(calls) - 1]
        if error is not None:
            raise error
        return "patched"
    assert through_restart(call, timeout=10, sleep=0.01) == "patched" and len(calls) == 3
    # A real answer is not called again; nor is anything past the time-out.
    denied = ApiException(403, "Forbidden")
    calls[:] = []
    answers[:] = [denied, None]
    with pytest.raises(ApiException) as caught:
        through_restart(call, timeout=10, sleep=0.01)
    assert caught.value is denied and len(calls) == 1
    calls[:] = []
    answers[:] = [ApiException(0, "no answer")] * 100
    with pytest.raises(ApiException):
        through_restart(call, timeout=0.05, sleep=0.01)
    assert 1 < len(calls) < 10
