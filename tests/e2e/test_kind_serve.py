"""`kfbootstrap serve` and smoke's KServe check against the real KServe v0.20.0 controller on real Kind.

The cluster is made by `up`, as a user makes it. KServe cannot come from `up` here (its upstream images
cannot be pulled), so tests/kserve_ground.py installs the controller built from its Go module the way
Kubeflow lays it out, with a sklearn runtime image built from PyPI; the config then says KServe is part
of the platform, as a user's would. Istio is not installed, but its AuthorizationPolicy CRD (from
Kubeflow's render, test data) is: `serve` must then create a policy, and `--delete` remove it.

Models are trained in the test. Every prediction goes through the forward `serve` started, on 127.0.0.1.
"""

from __future__ import annotations

import json
import lzma
import time
import urllib.error
import urllib.request

import pytest
import yaml

from tests.e2e.conftest import make_session, unique_name, wait_until
from tests.kserve_ground import install_kserve
from tests.shared_fixtures import fixture_path
from tests.sklearn_models import TrainedModel, train_iris

pytestmark = pytest.mark.kind

NAME = unique_name("kfb-e2e-serve")
PROFILE_NS = "kubeflow-user-example-com"  # serve.namespace's default: Kubeflow's default profile
MODEL = "iris"
OURS = f"kfbootstrap.io/served-model={MODEL}"
timings: dict[str, float] = {}


def istio_policy_crd() -> dict:
    with lzma.open(fixture_path("kubeflow-26.03.1", "example.yaml.xz"), "rt") as render:
        for obj in yaml.safe_load_all(render):
            if (
                obj
                and obj["kind"] == "CustomResourceDefinition"
                and obj["metadata"]["name"].startswith("authorizationpolicies.")
            ):
                return obj
    raise AssertionError("no AuthorizationPolicy CRD in the 26.03.1 render")


@pytest.fixture(scope="module")
def cluster(ground, tmp_path_factory):
    session = make_session(ground, tmp_path_factory, NAME, workers=0)
    session.kfb("up", timeout=1200, check=True)
    install_kserve(session, ground)
    session.kubectl("create", "namespace", PROFILE_NS)
    crd = session.root / "authorizationpolicies-crd.yaml"
    crd.write_text(yaml.safe_dump(istio_policy_crd()))
    session.kubectl("apply", "--server-side", "-f", str(crd))
    session.components["kserve"] = True  # KServe is part of this platform now: the config says so
    session.write_config()
    yield session
    session.kfb("serve", "--delete", MODEL)  # stops the forward should a test fail midway
    session.delete_cluster()


@pytest.fixture(scope="module")
def models(ground, tmp_path_factory) -> dict[str, TrainedModel]:
    root = tmp_path_factory.mktemp("models")
    first, second = (
        train_iris(ground.kserve_sklearn_image, root / "v1", 1),
        train_iris(ground.kserve_sklearn_image, root / "v2", 2),
    )
    assert first.predictions != second.predictions  # the retrained model answers differently
    return {"v1": first, "v2": second}


def predict(url: str, instances: list) -> list:
    body = json.dumps({"instances": instances}).encode()
    request = urllib.request.Request(f"{url}:predict", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["predictions"]


def served(session, model: TrainedModel) -> dict:
    result = session.kfb("serve", str(model.path), "--name", MODEL, "--json", timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def isvc(session) -> dict:
    return session.kubectl_json("-n", PROFILE_NS, "get", "inferenceservice", MODEL)


def test_the_ground_runs_the_real_kserve_020_controller_as_kubeflow_lays_it_out(cluster):
    deployment = cluster.kubectl_json("-n", "kubeflow", "get", "deployment", "kserve-controller-manager")
    assert deployment["metadata"]["labels"]["control-plane"] == "kserve-controller-manager"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v0.20.0")
    available = [c for c in deployment["status"]["conditions"] if c["type"] == "Available"]
    assert available and available[0]["status"] == "True"


def test_serve_answers_what_the_model_predicts_and_uses_kserve_020s_raw_mode(cluster, models):
    started = time.monotonic()
    answer = served(cluster, models["v1"])
    assert answer["url"].startswith("http://127.0.0.1:") and answer["copied"] is True
    assert predict(answer["url"], models["v1"].instances) == models["v1"].predictions
    timings["serve to first prediction"] = time.monotonic() - started
    print(f"\nserve -> first prediction: {timings['serve to first prediction']:.1f}s")
    annotations = isvc(cluster)["metadata"]["annotations"]
    assert annotations["serving.kserve.io/deploymentMode"] == "Standard"  # KServe >= 0.20 read from the cluster
    policy = cluster.kubectl_json("-n", PROFILE_NS, "get", "authorizationpolicies", f"kfb-model-{MODEL}")
    assert policy["spec"]["selector"]["matchLabels"] == {"serving.kserve.io/inferenceservice": MODEL}


def test_serving_the_same_model_again_changes_nothing(cluster, models):
    generation = isvc(cluster)["metadata"]["generation"]
    first = served(cluster, models["v1"])
    started = time.monotonic()
    again = served(cluster, models["v1"])
    print(f"\nserve again, same model: {time.monotonic() - started:.1f}s")
    assert again["copied"] is False and again["url"] == first["url"]
    assert isvc(cluster)["metadata"]["generation"] == generation
    pods = cluster.kubectl("-n", PROFILE_NS, "get", "pods", "-o", "name").stdout.split()
    assert f"pod/kfb-model-{MODEL}-copy" not in pods  # the copy pod went when the copy was made


def test_the_forward_answers_after_the_predictor_pod_is_deleted(cluster, models):
    url = served(cluster, models["v1"])["url"]
    selector = f"serving.kserve.io/inferenceservice={MODEL}"
    old = cluster.kubectl("-n", PROFILE_NS, "get", "pods", "-l", selector, "-o", "name").stdout.split()
    cluster.kubectl("-n", PROFILE_NS, "delete", *old, "--wait=false")

    def answers():
        try:
            return predict(url, models["v1"].instances) == models["v1"].predictions
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    wait_until(answers, 240, what="a prediction from the new predictor pod through the same forward")


def test_a_retrained_model_rolls_out_and_answers_its_new_predictions(cluster, models):
    before = isvc(cluster)["spec"]["predictor"]["model"]["storageUri"]
    answer = served(cluster, models["v2"])
    assert answer["copied"] is True
    assert isvc(cluster)["spec"]["predictor"]["model"]["storageUri"] != before
    assert predict(answer["url"], models["v2"].instances) == models["v2"].predictions


def test_list_shows_the_model_ready_with_its_url(cluster):
    listed = cluster.kfb("serve", "--list", "--json")
    assert listed.returncode == 0, listed.stderr
    row = next(m for m in json.loads(listed.stdout) if m["name"] == MODEL)
    assert row["namespace"] == PROFILE_NS and row["ready"] is True and row["ours"] is True
    assert row["model_format"] == "sklearn" and row["url"].startswith("http://127.0.0.1:")


def test_smoke_serves_smoke_kserve_model_and_gets_predictions(cluster, models):
    cluster.extra["smoke"] = {"kserve_model": str(models["v2"].path)}
    cluster.write_config()
    result = cluster.kfb("smoke", "--json", timeout=900)
    report = json.loads(result.stdout)
    check = next(r for r in report["checks"] if r["name"] == "kserve-serves-a-model")
    assert check["status"] == "passed", check
    assert result.returncode == 0, result.stderr
    # the check removes what it served; the user's model is untouched
    assert cluster.kubectl("-n", PROFILE_NS, "get", "inferenceservice", "kfb-smoke-model", check=False).returncode != 0
    assert isvc(cluster)["metadata"]["name"] == MODEL


def test_a_model_the_runtime_cannot_load_fails_in_time_and_says_why(cluster, tmp_path):
    broken = tmp_path / "broken" / "model.joblib"
    broken.parent.mkdir()
    broken.write_bytes(b"not a pickle")
    started = time.monotonic()
    result = cluster.kfb("serve", str(broken), "--name", "broken", "--timeout", "60", timeout=300)
    took = time.monotonic() - started
    try:
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"error: InferenceService {PROFILE_NS}/broken is not ready after 60s" in result.stderr
        assert "hint: re-run `kfbootstrap serve`" in result.stderr
        # up's table: the predictor Deployment and why its pod does not run, with its last log lines
        # (waiting out a back-off, or caught running again between two crashes)
        assert "broken-predictor" in result.stderr, result.stderr
        assert "CrashLoopBackOff" in result.stderr or "Restarting" in result.stderr, result.stderr
        assert "last log lines" in result.stderr and "pickle.py" in result.stderr, result.stderr  # joblib.load failing
        assert "PredictorReady" in result.stderr  # KServe's own condition, not only ours
        assert took < 150, took
    finally:
        cluster.kfb("serve", "--delete", "broken")


def test_delete_leaves_nothing_of_the_model(cluster):
    url = json.loads(cluster.kfb("serve", "--list", "--json").stdout)[0]["url"]
    result = cluster.kfb("serve", "--delete", MODEL)
    assert result.returncode == 0, result.stderr
    kinds = "inferenceservices,deployments,services,pods,pvc,authorizationpolicies"

    def gone():
        left = cluster.kubectl("-n", PROFILE_NS, "get", kinds, "-l", OURS, "-o", "name").stdout.split()
        predictors = cluster.kubectl(
            "-n",
            PROFILE_NS,
            "get",
            "deployments,pods",
            "-l",
            f"serving.kserve.io/inferenceservice={MODEL}",
            "-o",
            "name",
        ).stdout.split()
        return not left and not predictors

    wait_until(gone, 120, what="everything of the model to be deleted")
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        predict(url, [[1, 2, 3, 4]])
    listed = json.loads(cluster.kfb("serve", "--list", "--json").stdout)
    assert [m for m in listed if m["name"] == MODEL] == []
