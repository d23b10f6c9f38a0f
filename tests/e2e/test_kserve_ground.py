"""The serve tests' ground works: the real KServe v0.20 controller (tests/kserve_ground.py) runs on a
Kind cluster kfbootstrap created, and an InferenceService written by hand, in raw ("Standard") mode
with its model on a PVC a pod wrote, becomes Ready and answers a V1 prediction through a forward.

This checks the test ground, not the product: `serve`'s own e2e test builds on the same fixture.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request

import pytest
import yaml

from tests.e2e.conftest import make_session, unique_name, wait_until
from tests.kserve_ground import CONTROLLER, NAMESPACE, install_kserve

pytestmark = pytest.mark.kind

NAME = unique_name("kfb-e2e-kserve")
MODELS_NS = "kserve-ground"
ISVC = "tiny"
# KServe 0.20's name of the raw deployment mode (constants.Standard; "RawDeployment" is the old one)
RAW_MODE = "Standard"
# Trained in the cluster by a pod of the runtime image: one feature, below 1.5 is class 0.
TRAIN = """
import joblib, os
from sklearn.linear_model import LogisticRegression
os.makedirs("/models/tiny", exist_ok=True)
model = LogisticRegression().fit([[0], [1], [2], [3]], [0, 0, 1, 1])
joblib.dump(model, "/models/tiny/model.joblib")
"""
INSTANCES = [[-5], [10]]
EXPECTED = [0, 1]


@pytest.fixture(scope="module")
def cluster(ground, tmp_path_factory):
    session = make_session(ground, tmp_path_factory, NAME, workers=0)
    try:  # a failed install must not leave the cluster behind either
        session.kfb("up", timeout=1200, check=True)
        started = time.monotonic()
        install_kserve(session, ground)
        print(f"KServe installed in {time.monotonic() - started:.0f}s")
        yield session
    finally:
        session.delete_cluster()


def apply(session, *objects) -> None:
    subprocess.run(
        ["kubectl", "--context", session.context, "apply", "-f", "-"],
        input=yaml.safe_dump_all(objects), env=session.env(), text=True, capture_output=True, check=True,
    )  # fmt: skip


def condition(obj: dict, kind: str) -> dict:
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind), {})


def test_the_controller_is_available_in_kubeflow(cluster):
    deployment = cluster.kubectl_json("-n", NAMESPACE, "get", "deployment", CONTROLLER)
    assert condition(deployment, "Available").get("status") == "True"
    labels = deployment["metadata"]["labels"]
    assert labels["control-plane"] == CONTROLLER and labels["app.kubernetes.io/name"] == "kserve"
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(":v0.20.0"), image


def write_model(session, runtime_image: str) -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": MODELS_NS}}
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "models", "namespace": MODELS_NS},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Mi"}}},
    }
    trainer = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "trainer", "namespace": MODELS_NS},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "train",
                    "image": runtime_image,
                    "imagePullPolicy": "Never",
                    "command": ["/opt/kserve/bin/python", "-c", TRAIN],
                    "volumeMounts": [{"name": "models", "mountPath": "/models"}],
                }
            ],
            "volumes": [{"name": "models", "persistentVolumeClaim": {"claimName": "models"}}],
        },
    }
    apply(session, namespace, pvc, trainer)

    def trained():
        phase = session.kubectl_json("-n", MODELS_NS, "get", "pod", "trainer")["status"].get("phase")
        assert phase != "Failed", session.kubectl("-n", MODELS_NS, "logs", "trainer", check=False).stdout
        return phase == "Succeeded"

    wait_until(trained, 180, 1, "the trainer pod")


def inference_service() -> dict:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": ISVC,
            "namespace": MODELS_NS,
            "annotations": {"serving.kserve.io/deploymentMode": RAW_MODE},
        },
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "pvc://models/tiny"}}},
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def predict(port: int) -> list | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/models/{ISVC}:predict",
        data=json.dumps({"instances": INSTANCES}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)["predictions"]
    except OSError:
        return None


def test_a_raw_inference_service_on_a_pvc_becomes_ready_and_predicts(cluster, ground):
    write_model(cluster, ground.kserve_sklearn_image)
    apply(cluster, inference_service())

    def ready():
        isvc = cluster.kubectl_json("-n", MODELS_NS, "get", "inferenceservice", ISVC)
        return isvc if condition(isvc, "Ready").get("status") == "True" else None

    started = time.monotonic()
    try:
        isvc = wait_until(ready, 300, 2, "the InferenceService to be Ready")
    except TimeoutError:
        state = cluster.kubectl("-n", MODELS_NS, "get", "inferenceservice,deploy,pods", "-o", "yaml", check=False)
        logs = cluster.kubectl("-n", NAMESPACE, "logs", f"deploy/{CONTROLLER}", "--tail=40", check=False)
        pytest.fail(f"not Ready:\n{state.stdout[-6000:]}\ncontroller:\n{logs.stdout}")
    print(f"Ready after {time.monotonic() - started:.0f}s; status: {json.dumps(isvc['status'])}")
    cluster.kubectl("-n", MODELS_NS, "get", "deployment", f"{ISVC}-predictor")
    pods = cluster.kubectl_json("-n", MODELS_NS, "get", "pods", "-l", f"serving.kserve.io/inferenceservice={ISVC}")
    spec = pods["items"][0]["spec"]
    # the pod mutator mounted the PVC itself: no storage-initializer (its image is not built here)
    assert not spec.get("initContainers"), spec.get("initContainers")
    assert any(v.get("persistentVolumeClaim", {}).get("claimName") == "models" for v in spec["volumes"]), spec

    port = free_port()
    forward = subprocess.Popen(
        ["kubectl", "--context", cluster.context, "-n", MODELS_NS, "port-forward", "--address", "127.0.0.1",
         f"service/{ISVC}-predictor", f"{port}:80"],
        env=cluster.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert wait_until(lambda: predict(port), 60, 1, "a prediction") == EXPECTED
    finally:
        forward.terminate()
        forward.wait(10)
