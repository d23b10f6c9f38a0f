"""The test ground's `kserve-sklearnserver` image (tests/kind/kserve_runtime.sh) serves a model.

The image stands in for KServe's sklearnserver, so it is checked the way the ClusterServingRuntime
runs it: a model trained here (inside the image, which holds scikit-learn; no network) is mounted
at /mnt/models, the container gets the runtime's arguments, and a V1 prediction over the port
published on 127.0.0.1 must equal the model's own prediction.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.kind

PYTHON = "/opt/kserve/bin/python"
TRAIN = """
import json, joblib
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier
X, y = load_iris(return_X_y=True)
model = DecisionTreeClassifier(random_state=0, max_depth=2).fit(X, y)
joblib.dump(model, "/models/model.joblib")
rows = [X[0].tolist(), X[60].tolist(), X[120].tolist()]
print(json.dumps({"instances": rows, "predictions": model.predict(rows).tolist()}))
"""


@pytest.fixture(scope="module")
def image(ground) -> str:
    return ground.kserve_sklearn_image


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


def offline(image: str, models: Path, *args: str, entrypoint: str = "") -> subprocess.CompletedProcess:
    """A run of the image with no network, the model directory at /models."""
    options = ["--entrypoint", entrypoint] if entrypoint else []
    return docker(
        "run", "--rm", "--pull", "never", "--network", "none", "-v", f"{models}:/models", *options, image, *args
    )


def get_json(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_ready(url: str, container: str, timeout: float = 120) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if get_json(url).get("ready"):
                return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.25)
    pytest.fail(f"{url} not ready after {timeout:.0f}s; logs:\n{docker('logs', container).stderr}")


def test_the_image_runs_as_uid_1000_and_has_tar(image, tmp_path):
    config = json.loads(docker("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == "1000"
    ran = offline(image, tmp_path, "-u", entrypoint="id")
    assert ran.stdout.strip() == "1000", ran.stderr
    ran = offline(image, tmp_path, "--version", entrypoint="tar")
    assert ran.returncode == 0 and "GNU tar" in ran.stdout, ran.stderr


def test_a_model_dir_without_one_model_file_stops_the_server(image, tmp_path):
    tmp_path.chmod(0o777)
    ran = offline(image, tmp_path, "--model_name", "iris", "--model_dir", "/models", "--http_port", "8080")
    assert ran.returncode != 0
    assert "expected one of .joblib/.pkl/.pickle in /models, found none" in ran.stderr


def test_a_trained_model_answers_v1_predictions_as_it_predicts_locally(image, tmp_path):
    tmp_path.chmod(0o777)  # the image trains and serves as uid 1000
    trained = offline(image, tmp_path, "-c", TRAIN, entrypoint=PYTHON)
    assert trained.returncode == 0, trained.stderr
    local = json.loads(trained.stdout)
    assert len(set(local["predictions"])) == 3  # three rows of three classes: a wrong model cannot pass

    name = f"kfb-sklearn-{secrets.token_hex(3)}"
    started = docker(
        "run", "-d", "--pull", "never", "--name", name, "-p", "127.0.0.1::8080", "-v", f"{tmp_path}:/mnt/models:ro",
        image, "--model_name=iris", "--model_dir=/mnt/models", "--http_port=8080", "--workers=1",
    )  # fmt: skip
    try:
        assert started.returncode == 0, started.stderr
        port = docker("port", name, "8080/tcp").stdout.split(":")[-1].strip()
        base = f"http://127.0.0.1:{port}/v1/models/iris"
        took = wait_ready(base, name)
        print(f"\nkserve-sklearnserver: start to ready {took:.1f}s")
        assert get_json(base) == {"name": "iris", "ready": True}
        answer = get_json(f"{base}:predict", {"instances": local["instances"]})
        assert answer == {"predictions": local["predictions"]}
    finally:
        docker("rm", "-f", name)
