# -*- coding: utf-8 -*-
# Copyright (c) flinkops.flink contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes options of the modules and which platform each belongs to, without the Kubernetes SDK.

Kept apart from k8s_common and k8s_native so that a module run on Docker does not import the ``kubernetes``
package (0.6-0.9 s of its start-up on a 2-core machine, measured with cProfile).
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback


# kubernetes.core's connection options and their K8S_AUTH_* fallbacks (k8s_common re-exports them).
K8S_ARGUMENT_SPEC = dict(
    kubeconfig=dict(type="path", fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG"])),
    context=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
    host=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_HOST"])),
    api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_API_KEY"])),
    validate_certs=dict(type="bool", aliases=["verify_ssl"], fallback=(env_fallback, ["K8S_AUTH_VERIFY_SSL"])),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"], fallback=(env_fallback, ["K8S_AUTH_SSL_CA_CERT"])),
    client_cert=dict(type="path", aliases=["cert_file"], fallback=(env_fallback, ["K8S_AUTH_CERT_FILE"])),
    client_key=dict(type="path", aliases=["key_file"], no_log=False, fallback=(env_fallback, ["K8S_AUTH_KEY_FILE"])),
    proxy=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_PROXY"])),
)

# Connection options: kubernetes.core's names where they are free; the TLS ones go by kubernetes.core's aliases
# (verify_ssl, ssl_ca_cert, cert_file, key_file) because validate_certs, ca_cert, client_cert and client_key are
# the Docker connection's options in these modules. Derived from k8s_common's spec, so the fallbacks stay one.
_ALIAS_NAME = dict((name, spec["aliases"][0]) for name, spec in K8S_ARGUMENT_SPEC.items() if spec.get("aliases"))
K8S_CONNECTION_SPEC = dict((_ALIAS_NAME.get(name, name), dict((k, v) for k, v in spec.items() if k != "aliases"))
                           for name, spec in K8S_ARGUMENT_SPEC.items())

NATIVE_ARGUMENT_SPEC = dict(
    mode=dict(type="str", choices=["native", "operator"]),
    namespace=dict(type="str"),
    service_account=dict(type="str"),
    image_pull_secrets=dict(type="list", elements="str", default=[], no_log=False),
    rest_exposure=dict(type="str"),
    flink_home=dict(type="path", fallback=(env_fallback, ["FLINK_HOME"])),
    high_availability=dict(type="dict", options=dict(
        enabled=dict(type="bool", default=False),
        storage_dir=dict(type="str"),
    )),
    pod_template=dict(type="raw"),
    node_selector=dict(type="dict", default={}),
    tolerations=dict(type="list", elements="dict", default=[]),
    annotations=dict(type="dict", default={}),
    secrets=dict(type="list", elements="dict", default=[], no_log=False, options=dict(
        name=dict(type="str", required=True),
        mount_path=dict(type="str", required=True),
    )),
    env_secrets=dict(type="list", elements="dict", default=[], no_log=False, options=dict(
        env=dict(type="str", required=True),
        secret=dict(type="str", required=True, no_log=False),
        key=dict(type="str", required=True, no_log=False),
    )),
    log_level=dict(type="str", choices=["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"]),
)
NATIVE_ARGUMENT_SPEC.update(K8S_CONNECTION_SPEC)


def connection_params(params):
    """Our option names mapped to kubernetes.common's (kubernetes.core's primary names)."""
    return dict((name, params.get(_ALIAS_NAME.get(name, name))) for name in K8S_ARGUMENT_SPEC)
