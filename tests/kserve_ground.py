"""The real KServe controller on an e2e test's Kind cluster, laid out as Kubeflow installs it.

No image can be pulled here, so tests/kind/kserve.sh builds KServe's manager from its Go module
(image tag = KServe's version, which the product reads) and generates its CRDs and ClusterRole
with controller-gen; helper script kserve_runtime.sh builds the sklearn runtime's image. This
module puts them on a cluster:
- the generated CRDs (server-side apply: the InferenceService CRD is too big for the
  last-applied annotation) and ClusterRole;
- from Kubeflow's own KServe render (test data, ../shared/fixtures): the ServiceAccount,
  leader-election Role, bindings, webhook Service, the `inferenceservice-config` ConfigMap,
  the `kserve-controller-manager` Deployment and the webhook configurations the manager
  serves, with our images and a certificate made here;
- the ClusterServingRuntime `kserve-sklearnserver` from the same render, on our runtime image.
Changes to Kubeflow's objects are only what this ground needs, each said where it is made.
"""

from __future__ import annotations

import base64
import json
import lzma
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tests.shared_fixtures import fixture_path
from tests.testbed.cluster import wait_until

NAMESPACE = "kubeflow"
CONTROLLER = "kserve-controller-manager"
WEBHOOK_SERVICE = "kserve-webhook-server-service"
CERT_SECRET = "kserve-webhook-server-cert"
RUNTIME = "kserve-sklearnserver"
KUBEFLOW_RENDER = ("kubeflow-26.03.1", "kserve.yaml.xz")
# The paths cmd/manager/main.go of KServe v0.20.0 registers: /mutate-pods and the two runtime
# validators by hand, the rest through controller-runtime's WebhookManagedBy (its path scheme).
# Kubeflow's render also has webhooks of the llmisvc and localmodel controllers, which this
# ground does not run; with failurePolicy Fail they would refuse those objects, so they go.
MANAGER_WEBHOOK_PATHS = frozenset(
    {
        "/mutate-pods",
        "/mutate-serving-kserve-io-v1beta1-inferenceservice",
        "/validate-serving-kserve-io-v1beta1-inferenceservice",
        "/validate-serving-kserve-io-v1alpha1-servingruntime",
        "/validate-serving-kserve-io-v1alpha1-clusterservingruntime",
        "/validate-serving-kserve-io-v1alpha1-trainedmodel",
        "/validate-serving-kserve-io-v1alpha1-inferencegraph",
    }
)
# The render's objects taken as they are (the ClusterRole comes from controller-gen instead).
KEPT = {
    ("ServiceAccount", CONTROLLER),
    ("Role", "kserve-leader-election-role"),
    ("RoleBinding", "kserve-leader-election-rolebinding"),
    ("ClusterRoleBinding", "kserve-manager-rolebinding"),
    ("Service", WEBHOOK_SERVICE),
}
# One node with about two cores runs the control plane, the controller and a predictor:
# Kubeflow's defaults (1 CPU, 2Gi per predictor) would not schedule.
SMALL_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}


def kubeflow_render() -> list[dict[str, Any]]:
    text = lzma.decompress(fixture_path(*KUBEFLOW_RENDER).read_bytes()).decode()
    return [o for o in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if o]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def webhook_certificate() -> tuple[bytes, bytes]:
    """A self-signed certificate for the webhook Service's DNS name: (cert PEM, key PEM)."""
    host = f"{WEBHOOK_SERVICE}.{NAMESPACE}.svc"
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={host}",
             "-addext", f"subjectAltName=DNS:{host},DNS:{host}.cluster.local",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        return cert.read_bytes(), key.read_bytes()


def certificate_secret(cert: bytes, key: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": CERT_SECRET, "namespace": NAMESPACE},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()},
    }


def manager_webhooks(render: list[dict[str, Any]], ca_bundle: bytes) -> list[dict[str, Any]]:
    """Kubeflow's webhook configurations, only the webhooks our manager serves, with our CA."""
    configurations = []
    for config in render:
        if config["kind"] not in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            continue
        hooks = [h for h in config["webhooks"] if h["clientConfig"]["service"]["path"] in MANAGER_WEBHOOK_PATHS]
        if not hooks:
            continue
        for hook in hooks:
            hook["clientConfig"]["caBundle"] = base64.b64encode(ca_bundle).decode()
        # cert-manager would inject the CA; there is none here
        config["metadata"].pop("annotations", None)
        config["metadata"].pop("creationTimestamp", None)
        configurations.append({**config, "webhooks": hooks})
    return configurations


def inference_service_config(render: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """Kubeflow's ConfigMap, its KServe images at our version and small predictor defaults.
    The deployment mode stays Kubeflow's (Serverless): whoever wants raw mode must ask for it."""
    config = find(render, "ConfigMap", "inferenceservice-config")
    rendered_version = find(render, "Deployment", CONTROLLER)["spec"]["template"]["spec"]["containers"][0]["image"]
    old = rendered_version.rsplit(":", 1)[1]
    data = {k: v.replace(f":{old}", f":{version}") for k, v in config["data"].items()}
    defaults = json.loads(data["inferenceService"])
    defaults["resource"] = {
        "cpuRequest": SMALL_RESOURCES["requests"]["cpu"],
        "memoryRequest": SMALL_RESOURCES["requests"]["memory"],
        "cpuLimit": SMALL_RESOURCES["limits"]["cpu"],
        "memoryLimit": SMALL_RESOURCES["limits"]["memory"],
    }
    data["inferenceService"] = json.dumps(defaults, indent=2)
    return {**config, "data": data}


def controller_deployment(render: list[dict[str, Any]], image: str) -> dict[str, Any]:
    """Kubeflow's Deployment with our image. Its kube-rbac-proxy sidecar (metrics over TLS)
    goes: its image is not on this machine and nothing here scrapes metrics."""
    deployment = find(render, "Deployment", CONTROLLER)
    pod = deployment["spec"]["template"]["spec"]
    pod["containers"] = [c for c in pod["containers"] if c["name"] == "manager"]
    manager = pod["containers"][0]
    manager["image"] = image
    manager["imagePullPolicy"] = "Never"  # `kind load` put it on the node; nothing can be pulled
    return deployment


def sklearn_runtime(render: list[dict[str, Any]], image: str) -> dict[str, Any]:
    runtime = find(render, "ClusterServingRuntime", RUNTIME)
    container = runtime["spec"]["containers"][0]
    container["image"] = image
    container["imagePullPolicy"] = "Never"
    container["resources"] = SMALL_RESOURCES
    return runtime


def control_plane_objects(ground, render: list[dict[str, Any]]) -> list[dict[str, Any]]:
    version = ground.kserve_controller_image.rsplit(":", 1)[1]
    cert, key = webhook_certificate()
    cluster_role = yaml.safe_load((ground.kserve_dir / "rbac" / "role.yaml").read_text())
    kept = [o for o in render if (o["kind"], o["metadata"]["name"]) in KEPT]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        cluster_role,
        *kept,
        certificate_secret(cert, key),
        inference_service_config(render, version),
        controller_deployment(render, ground.kserve_controller_image),
        *manager_webhooks(render, cert),
    ]


def server_side_apply(session, objects: list[dict[str, Any]] | Path) -> None:
    args = ["apply", "--server-side", "--force-conflicts", "--field-manager=kserve-ground"]
    if isinstance(objects, Path):
        session.kubectl(*args, "-f", str(objects), timeout=300)
        return
    text = yaml.safe_dump_all(objects, sort_keys=False)
    result = subprocess.run(
        ["kubectl", "--context", session.context, *args, "-f", "-"],
        input=text, env=session.env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"kubectl apply failed: {result.stderr}")


def all_established(session, crds: Path) -> bool:
    # `kubectl wait` fails outright on a CRD whose status the API server has not written yet
    names = {json.loads(path.read_text())["metadata"]["name"] for path in crds.glob("*.json")}
    listed = session.kubectl_json("get", "crd")["items"]
    established = {
        crd["metadata"]["name"]
        for crd in listed
        if any(
            c["type"] == "Established" and c["status"] == "True"
            for c in (crd.get("status") or {}).get("conditions") or []
        )
    }
    return names <= established


def install_kserve(session, ground) -> None:
    """The real KServe v0.20 controller and the sklearn runtime on the session's cluster,
    returning once the controller is Available and the runtime accepted by its webhook."""
    for image in (ground.kserve_controller_image, ground.kserve_sklearn_image):
        session.kind("load", "docker-image", "--name", session.name, image)
    crds = ground.kserve_dir / "crd"
    server_side_apply(session, crds)
    wait_until(lambda: all_established(session, crds), 120, 1, "KServe's CRDs to be established")
    render = kubeflow_render()
    server_side_apply(session, control_plane_objects(ground, render))
    available = session.kubectl(
        "-n", NAMESPACE, "wait", "--for=condition=Available", "--timeout=300s", f"deployment/{CONTROLLER}",
        timeout=320, check=False,
    )  # fmt: skip
    if available.returncode != 0:
        pods = session.kubectl("-n", NAMESPACE, "get", "pods", "-o", "wide", check=False).stdout
        logs = session.kubectl("-n", NAMESPACE, "logs", f"deployment/{CONTROLLER}", "--tail=30", check=False)
        raise RuntimeError(f"{CONTROLLER} is not Available: {available.stderr}\n{pods}\n{logs.stdout}{logs.stderr}")
    # The runtime's validating webhook is the manager itself, so it goes in last, and again until the
    # webhook's Service routes to it (Available comes a moment before kube-proxy's rules do).
    runtime = sklearn_runtime(render, ground.kserve_sklearn_image)
    wait_until(lambda: _applied_past_the_webhook(session, runtime), 120, 2, "KServe's webhook to accept the runtime")


def _applied_past_the_webhook(session, runtime: dict[str, Any]) -> bool:
    try:
        server_side_apply(session, [runtime])
    except RuntimeError as exc:
        if "failed calling webhook" in str(exc):
            return False
        raise
    return True
