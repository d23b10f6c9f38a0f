"""Small iris models trained for the serving tests, inside the runtime image (it holds scikit-learn;
the test venv does not), with no network: the model file and its own predictions of three rows."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

PYTHON = "/opt/kserve/bin/python"
TRAIN = """
import json, sys, joblib
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier
X, y = load_iris(return_X_y=True)
model = DecisionTreeClassifier(random_state=0, max_depth=int(sys.argv[1])).fit(X, y)
joblib.dump(model, "/models/model.joblib")
rows = [X[0].tolist(), X[60].tolist(), X[120].tolist()]
print(json.dumps({"instances": rows, "predictions": model.predict(rows).tolist()}))
"""


@dataclass(frozen=True)
class TrainedModel:
    path: Path  # the model.joblib file
    instances: list[list[float]]
    predictions: list[int]  # what the model itself predicts for `instances`


def train_iris(image: str, directory: Path, max_depth: int) -> TrainedModel:
    """A decision tree of `max_depth` (1 cannot tell virginica from versicolor; 2 can) in directory/model.joblib."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o777)  # the image runs as uid 1000
    ran = subprocess.run(
        ["docker", "run", "--rm", "--pull", "never", "--network", "none", "-v", f"{directory}:/models",
         "--entrypoint", PYTHON, image, "-c", TRAIN, str(max_depth)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    if ran.returncode != 0:
        raise RuntimeError(f"training in {image} failed: {ran.stderr[-2000:]}")
    answer = json.loads(ran.stdout)
    return TrainedModel(directory / "model.joblib", answer["instances"], answer["predictions"])
