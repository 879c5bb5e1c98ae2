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
