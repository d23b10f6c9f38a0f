"""`kfbootstrap serve` against a real API server: every refusal is one line, a hint and exit 2 (or 1 for
what a re-run of `up` fixes), and nothing is left behind. Serving itself needs pods that run: that is the
real KServe on Kind (tests/e2e/test_kind_serve.py).

KServe's kinds are stood in for by CRDs this test writes (any schema: the API server stores what we
send); the controller Deployment runs on kwok's fake node, which is all `serve` reads of it.
"""

from __future__ import annotations

import pytest

from tests.cli_helpers import run_cli
from tests.integration.conftest import _locate
from tests.testbed.cluster import CommandFailed, Testbed, wait_until


def crd(plural: str, kind: str, version: str, scope: str = "Namespaced") -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.serving.kserve.io"},
        "spec": {
            "group": "serving.kserve.io",
            "scope": scope,
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"},
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }


CONTROLLER = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "kserve-controller-manager", "labels": {"control-plane": "kserve-controller-manager"}},
    "spec": {
        "selector": {"matchLabels": {"control-plane": "kserve-controller-manager"}},
        "template": {
            "metadata": {"labels": {"control-plane": "kserve-controller-manager"}},
            "spec": {"containers": [{"name": "manager", "image": "kfbootstrap.test/kserve-controller:v0.20.0"}]},
        },
    },
}
SKLEARN_RUNTIME = {
    "apiVersion": "serving.kserve.io/v1alpha1",
    "kind": "ClusterServingRuntime",
    "metadata": {"name": "kserve-sklearnserver"},
    "spec": {
        "supportedModelFormats": [{"name": "sklearn", "autoSelect": True, "priority": 1}],
        "containers": [{"name": "kserve-container", "image": "kfbootstrap.test/kserve-sklearnserver:v0.20.0"}],
    },
}


@pytest.fixture(scope="module")
def bed():
    bin_dir, stage_dir = _locate()
    with Testbed(bin_dir, stage_dir, nodes=1) as testbed:
        testbed.kubectl("create", "namespace", "models")
        yield testbed


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.joblib"
    path.write_bytes(b"a model")
    return path


def serve(capsys, bed, monkeypatch, *args: str, kserve_on: bool = False):
    monkeypatch.setenv("KUBECONFIG", bed.kubeconfig)
    monkeypatch.setenv("KFBOOTSTRAP_CLUSTER__CONTEXT", bed.context)
    monkeypatch.setenv("KFBOOTSTRAP_COMPONENTS__KSERVE", "true" if kserve_on else "false")
    return run_cli(capsys, "serve", *args)


def applied(bed, obj: dict) -> bool:
    try:
        bed.apply([obj])
    except CommandFailed:
        return False
    return True


def one_error(result) -> str:
    lines = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "hint:" in result.err and "Traceback" not in result.text, result.text
    return lines[0]


def test_without_kserve_on_the_cluster_or_in_the_config_serve_says_both(capsys, bed, monkeypatch, model):
    result = serve(capsys, bed, monkeypatch, str(model), "--name", "iris", "-n", "models")
    assert result.code == 2 and "components.kserve is off" in one_error(result)
    result = serve(capsys, bed, monkeypatch, str(model), "--name", "iris", "-n", "models", kserve_on=True)
    assert result.code == 1 and "KServe is not installed on this cluster" in one_error(result)


def test_bad_inputs_are_refused_before_anything_is_created(capsys, bed, monkeypatch, model, tmp_path):
    bed.apply(
        [
            crd("inferenceservices", "InferenceService", "v1beta1"),
            crd("servingruntimes", "ServingRuntime", "v1alpha1"),
            crd("clusterservingruntimes", "ClusterServingRuntime", "v1alpha1", "Cluster"),
        ]
    )
    bed.wait_for_condition("crd", "Established")
    # A new CRD's storage answers 429 for a moment after Established; `up` would have waited it out.
    wait_until(lambda: applied(bed, SKLEARN_RUNTIME), 60, what="the CRDs to serve")
    wait_until(
        lambda: bed.kubectl("get", "servingruntimes,inferenceservices", "-A", check=False).returncode == 0,
        60,
        what="the CRDs to list",
    )
    bed.apply([CONTROLLER], namespace="default")
    cases = [
        ((str(tmp_path / "nope.joblib"), "--name", "iris"), "does not exist"),
        ((str(model), "--name", "Iris_1"), "cannot name an InferenceService"),
        ((str(model), "--name", "iris", "-n", "no-such-ns"), "namespace no-such-ns does not exist"),
        ((str(model), "--name", "iris", "-n", "models", "--format", "lightgbm"), "no serving runtime"),
        ((str(model), "--list"), "one of them"),
    ]
    for args, words in cases:
        result = serve(capsys, bed, monkeypatch, *args)
        assert result.code == 2 and words in one_error(result), (args, result.text)
    unserved = serve(capsys, bed, monkeypatch, str(model), "--name", "x", "-n", "models", "--format", "onnx")
    assert "the cluster's runtimes: kserve-sklearnserver (sklearn)" in unserved.err  # what there is to choose
    claims = bed.kubectl("get", "pvc,pods", "-n", "models", "-o", "name").stdout.split()
    assert claims == []  # nothing half-done to clean up


def test_an_inference_service_kfbootstrap_did_not_create_is_never_replaced_or_deleted(capsys, bed, monkeypatch, model):
    bed.apply(
        [
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {"name": "theirs"},
                "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://x/y"}}},
            }
        ],
        namespace="models",
    )
    result = serve(capsys, bed, monkeypatch, str(model), "--name", "theirs", "-n", "models")
    assert result.code == 2 and "kfbootstrap did not create" in one_error(result)
    result = serve(capsys, bed, monkeypatch, "--delete", "theirs", "-n", "models")
    assert result.code == 2 and "kfbootstrap did not create" in one_error(result)
    assert bed.kubectl("get", "inferenceservice", "theirs", "-n", "models", check=False).returncode == 0
    listed = serve(capsys, bed, monkeypatch, "--list", "--json")
    assert listed.code == 0 and '"name": "theirs"' in listed.out and '"ours": false' in listed.out
    result = serve(capsys, bed, monkeypatch, "--delete", "ghost", "-n", "models")
    assert result.code == 1 and "no model ghost served by kfbootstrap" in one_error(result)
