"""The program of the test ground's `kserve-sklearnserver` image, standing in for KServe's own.

KServe's sklearnserver package is not on PyPI, so this serves a scikit-learn model the way it
does, on the SDK's `kserve.Model` and `kserve.ModelServer`: it takes the arguments the
ClusterServingRuntime passes (`--model_name`, `--model_dir`, `--http_port`, and ignores the
rest), loads the one `*.joblib` / `*.pkl` / `*.pickle` file in the model directory, and answers
the V1 protocol (`GET /v1/models/NAME`, `POST /v1/models/NAME:predict`).
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path
from typing import Any

import joblib
import kserve
import numpy

MODEL_SUFFIXES = (".joblib", ".pkl", ".pickle")


def model_file(model_dir: Path) -> Path:
    """The single model file, as sklearnserver insists: none or several is a startup error."""
    found = sorted(p for p in model_dir.iterdir() if p.suffix in MODEL_SUFFIXES)
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise RuntimeError(f"expected one of {'/'.join(MODEL_SUFFIXES)} in {model_dir}, found {names}")
    return found[0]


def load_estimator(path: Path) -> Any:
    if path.suffix == ".joblib":
        return joblib.load(path)
    with path.open("rb") as f:
        return pickle.load(f)


class SKLearnModel(kserve.Model):
    def __init__(self, name: str, model_dir: Path) -> None:
        super().__init__(name)
        self.model_dir = model_dir
        self.estimator: Any = None

    def load(self) -> bool:
        self.estimator = load_estimator(model_file(self.model_dir))
        self.ready = True
        return self.ready

    def predict(self, payload: dict, headers: dict[str, str] | None = None) -> dict:
        instances = numpy.asarray(payload["instances"])
        return {"predictions": self.estimator.predict(instances).tolist()}


def main() -> None:
    # kserve.model_server parses the server's own options (--http_port, ...) from argv itself.
    parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
    parser.add_argument("--model_dir", required=True, type=Path)
    args, _ = parser.parse_known_args()
    model = SKLearnModel(args.model_name, args.model_dir)
    model.load()
    kserve.ModelServer(http_port=args.http_port).start([model])


if __name__ == "__main__":
    main()
