"""`kfbootstrap serve`'s pure parts: the model on disk, what the cluster's KServe calls raw deployment,
which runtime serves a format, and the objects it creates. The cluster-facing parts run against the real
control plane (tests/integration/test_serve_refusals.py) and a real KServe on Kind (tests/e2e/test_kind_serve.py)."""

from __future__ import annotations

import io
import tarfile

import pytest

from kfbootstrap.errors import UsageError
from kfbootstrap.serving import manifests
from kfbootstrap.serving.kserve_cluster import KServe, Runtime, controller_version, runtime_for
from kfbootstrap.serving.model_files import read_model
from kfbootstrap.serving.serve import check_name, is_uri


def test_the_same_files_have_the_same_digest_and_tar_and_new_contents_a_new_digest(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "model.joblib").write_bytes(b"one")
    (tmp_path / "a" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "a" / ".ipynb_checkpoints" / "x").write_bytes(b"not the model")
    first, again = read_model(tmp_path / "a"), read_model(tmp_path / "a")
    assert first.digest == again.digest and first.tar() == again.tar()
    assert [name for name, _ in first.files] == ["model.joblib"]  # hidden files are not the model's
    (tmp_path / "a" / "model.joblib").write_bytes(b"two")
    assert read_model(tmp_path / "a").digest != first.digest
    names = tarfile.open(fileobj=io.BytesIO(first.tar())).getnames()
    assert names == ["model.joblib"]


def test_a_file_is_served_from_its_own_directory_and_its_suffix_names_the_format(tmp_path):
    path = tmp_path / "iris.pkl"
    path.write_bytes(b"x")
    model = read_model(path)
    assert model.files == (("iris.pkl", b"x"),) and model.guess_format() == "sklearn"
    (tmp_path / "weights.bin").write_bytes(b"y")
    assert read_model(tmp_path).guess_format() == "sklearn"  # only one suffix says a format
    (tmp_path / "booster.bst").write_bytes(b"z")
    assert read_model(tmp_path).guess_format() is None  # two formats: the user says which


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_nothing_to_serve_is_a_usage_error(tmp_path, make):
    path = tmp_path / "model"
    if make == "empty":
        path.mkdir()
    with pytest.raises(UsageError) as caught:
        read_model(path)
    assert str(path) in caught.value.message and caught.value.hint


@pytest.mark.parametrize(
    "image, version, mode",
    [
        ("kserve/kserve-controller:v0.18.0", (0, 18), "RawDeployment"),
        ("kserve/kserve-controller:v0.19.2", (0, 19), "RawDeployment"),
        ("kfbootstrap.test/kserve-controller:v0.20.0", (0, 20), "Standard"),
        ("registry:5000/kserve/kserve-controller:v1.0.1", (1, 0), "Standard"),
        ("kserve/kserve-controller@sha256:" + "a" * 64, None, "Standard"),
    ],
)
def test_the_raw_mode_follows_the_controller_image_tag(image, version, mode):
    deployment = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "rbac", "image": "x:v9.9"}, {"name": "manager", "image": image}]}
            }
        }
    }
    found = controller_version(deployment)
    assert found == version and KServe("kubeflow", found).raw_mode == mode


def test_the_namespace_runtime_wins_then_priority_and_an_unserved_format_lists_what_is_served():
    cluster = Runtime("kserve-sklearnserver", True, ("sklearn",), {"sklearn": 1}, "a")
    mlserver = Runtime("kserve-mlserver", True, ("sklearn", "xgboost"), {"sklearn": 2, "xgboost": 2}, "b")
    mine = Runtime("my-sklearn", False, ("sklearn",), {"sklearn": 0}, "c")
    assert runtime_for([cluster, mlserver], "sklearn").name == "kserve-mlserver"
    assert runtime_for([cluster, mlserver, mine], "sklearn").name == "my-sklearn"
    with pytest.raises(UsageError) as caught:
        runtime_for([cluster, mlserver], "lightgbm")
    assert "'lightgbm'" in caught.value.message
    assert "kserve-sklearnserver (sklearn); kserve-mlserver (sklearn, xgboost)" in (caught.value.hint or "")


@pytest.mark.parametrize("name", ["Iris", "1iris", "iris_v2", "iris-", "", "a" * 41])
def test_names_kubernetes_would_refuse_are_usage_errors(name):
    with pytest.raises(UsageError):
        check_name(name)


def test_storage_uris_are_not_paths():
    assert is_uri("gs://kfserving-examples/models/sklearn/1.0/model") and not is_uri("./model.joblib")


def test_the_inference_service_names_its_copy_and_mode_and_is_labelled_ours():
    isvc = manifests.inference_service(
        "iris", "ns", "sklearn", manifests.copy_uri("iris", "abc123"), "abc123", "Standard"
    )
    meta, model = isvc["metadata"], isvc["spec"]["predictor"]["model"]
    assert meta["annotations"][manifests.MODE_ANNOTATION] == "Standard"
    assert meta["labels"][manifests.MANAGED_BY] == "kfbootstrap"
    assert model["storageUri"] == "pvc://kfb-model-iris/abc123" and model["modelFormat"] == {"name": "sklearn"}
    policy = manifests.authorization_policy("iris", "ns", "v1")
    assert policy["spec"]["selector"]["matchLabels"] == {"serving.kserve.io/inferenceservice": "iris"}
    claim = manifests.model_claim("iris", "ns", 3 * 1024**3)
    assert claim["spec"]["resources"]["requests"]["storage"] == "6Gi"  # two revisions fit
