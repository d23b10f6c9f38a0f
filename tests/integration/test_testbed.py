"""Prove the testbed is a real control plane, not a mock.

Each test exercises a behaviour the product depends on and that a fake API
would get wrong: CRD establishment, controllers + kwok making workloads ready,
the apiserver's 256 KiB annotation limit, helm's readiness wait, and
port-forwarding through the apiserver to a local process.
"""

from __future__ import annotations

import json
import lzma
import secrets
import socket
import time

import yaml

from tests.shared_fixtures import fixture_path
from tests.token_server import TokenServer, get_over_socket

ANNOTATION_LIMIT = 262_144  # kube-apiserver's total annotation size limit (bytes)


def get_json(testbed, *args: str) -> dict:
    return json.loads(testbed.kubectl("get", *args, "-o", "json").stdout)


def widget_crd(group: str) -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer", "minimum": 1}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


def test_crd_becomes_established_and_serves_its_kind(testbed, namespace):
    group = f"t{secrets.token_hex(3)}.kfbootstrap.test"
    crd = widget_crd(group)
    testbed.apply([crd])
    try:
        testbed.wait_for_condition(f"crd/widgets.{group}", "Established")
        widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}}
        testbed.apply([widget], namespace=namespace)
        assert get_json(testbed, f"widgets.{group}", "w1", "-n", namespace)["spec"]["size"] == 3

        # The schema is enforced by the real apiserver, not just stored.
        bad = dict(widget, metadata={"name": "w2"}, spec={"size": 0})
        rejected = testbed.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(bad), check=False)
        assert rejected.returncode != 0
        assert "spec.size" in rejected.stderr
    finally:
        testbed.kubectl("delete", "crd", f"widgets.{group}", "--wait=false", check=False)


def test_deployment_becomes_available_on_kwok_nodes(testbed, namespace):
    labels = {"app": "web"}
    testbed.apply(
        [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]},
                    },
                },
            }
        ],
        namespace=namespace,
    )
    deployment = testbed.wait_for_condition("deployment/web", "Available", namespace=namespace, timeout=90)
    assert deployment["status"]["readyReplicas"] == 2
    nodes = {
        n["metadata"]["name"]
        for n in get_json(testbed, "nodes")["items"]
        if n["metadata"].get("annotations", {}).get("kwok.x-k8s.io/node") == "fake"
    }
    pods = get_json(testbed, "pods", "-n", namespace, "-l", "app=web")["items"]
    assert len(pods) == 2
    for pod in pods:
        assert pod["status"]["phase"] == "Running"
        assert pod["spec"]["nodeName"] in nodes  # placed by the real scheduler


def kserve_inferenceservice_crd() -> dict:
    with lzma.open(fixture_path("kubeflow-26.03", "kserve.yaml.xz"), "rt") as stream:
        for doc in yaml.safe_load_all(stream):
            if (
                doc
                and doc.get("kind") == "CustomResourceDefinition"
                and doc["metadata"]["name"] == "inferenceservices.serving.kserve.io"
            ):
                return doc
    raise AssertionError("inferenceservices CRD not found in kserve.yaml.xz")


def test_large_crd_needs_server_side_apply(testbed):
    crd = kserve_inferenceservice_crd()
    manifest = json.dumps(crd, separators=(",", ":"))
    assert len(manifest) > ANNOTATION_LIMIT  # else this test would prove nothing
    name = crd["metadata"]["name"]
    try:
        client_side = testbed.kubectl("apply", "-f", "-", input=manifest, check=False)
        assert client_side.returncode != 0
        assert "Too long" in client_side.stderr and str(ANNOTATION_LIMIT) in client_side.stderr
        assert testbed.kubectl("get", "crd", name, check=False).returncode != 0

        testbed.apply(manifest)
        established = testbed.wait_for_condition(f"crd/{name}", "Established")
        annotations = established["metadata"].get("annotations", {})
        assert "kubectl.kubernetes.io/last-applied-configuration" not in annotations
    finally:
        testbed.kubectl("delete", "crd", name, "--ignore-not-found", "--wait=false", check=False)


def test_helm_install_wait_succeeds(testbed, namespace):
    """grafana with a PVC and a LoadBalancer Service: --wait needs both kwok extras."""
    chart = fixture_path("charts", "grafana-10.5.15.tgz")
    testbed.helm(
        "install",
        "graf",
        str(chart),
        "-n",
        namespace,
        "--wait",
        "--timeout",
        "150s",
        "--set",
        "persistence.enabled=true",
        "--set",
        "service.type=LoadBalancer",
        timeout=200,
    )

    status = json.loads(testbed.helm("status", "graf", "-n", namespace, "-o", "json").stdout)
    assert status["info"]["status"] == "deployed"
    pvc = get_json(testbed, "pvc", "graf-grafana", "-n", namespace)
    assert pvc["status"]["phase"] == "Bound"
    assert pvc["spec"]["storageClassName"] == "kwok-volume"  # defaulted by admission
    service = get_json(testbed, "service", "graf-grafana", "-n", namespace)
    assert service["status"]["loadBalancer"]["ingress"][0]["ip"] == testbed.load_balancer_ip


def retry(action, timeout: float = 30):
    """kwok learns of a new ClusterPortForward via a watch; retry until it has."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return action()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def run_pod(testbed, namespace: str, name: str, port: int) -> None:
    testbed.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "registry.invalid/app:1", "ports": [{"containerPort": port}]}
                    ]
                },
            }
        ],
        namespace=namespace,
    )
    testbed.wait_for_condition(f"pod/{name}", "Ready", namespace=namespace)


def test_port_forward_reaches_local_server(testbed, namespace):
    run_pod(testbed, namespace, "app", 8080)
    with (
        TokenServer() as server,
        testbed.cluster_port_forward(server.port, namespace=namespace, pod="app", ports=[8080]),
    ):

        def via_kubectl() -> bytes:
            with testbed.kubectl_port_forward(namespace, "pod/app", 8080) as local_port:
                with socket.create_connection(("127.0.0.1", local_port), timeout=10) as sock:
                    return get_over_socket(sock)

        assert retry(via_kubectl) == server.token
        assert python_client_port_forward(testbed, namespace, "app", 8080) == server.token


def python_client_port_forward(testbed, namespace: str, pod: str, port: int) -> bytes:
    """The kubernetes client's WebSocket (v4.channel.k8s.io) port-forward, as kfbootstrap uses."""
    from kubernetes import client
    from kubernetes.stream import portforward

    api = client.CoreV1Api(testbed.api_client())
    forward = portforward(api.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
    try:
        sock = forward.socket(port)
        sock.settimeout(10)
        body = get_over_socket(sock)
        assert forward.error(port) is None
        return body
    finally:
        forward.close()
