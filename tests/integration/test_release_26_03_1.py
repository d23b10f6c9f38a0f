"""Release 26.03.1 on a real control plane: the whole `example`, Kubeflow Hub's model registry, creds/status/smoke.

- The 26.03.1 `example` render (727 objects; its 29 webhook configurations stripped in
  this test input only, the testbed has no webhook servers) applies in one run of the
  Kubeflow step. Its 18 objects in kubeflow-user-example-com can only apply once the
  profile controller has made that namespace from the Profile. No controller runs on
  the testbed, so this test stands in for it: it creates the namespace after it has
  seen the Profile (the product never does; it waits as for any missing namespace).
- Without the stand-in the engine waits and, at the deadline, names the controller.
- The model registry is found where Kubeflow Hub puts it (no second copy applied), and
  `creds`, `status --json` and `smoke` work on that install: smoke reaches local
  stand-in services through its own port-forwards to the example's real pods.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kfbootstrap.kube.objects import dump_manifests
from kfbootstrap.releases import PROFILE_NAMESPACE
from tests.cli_helpers import run_cli
from tests.integration.conftest import _locate
from tests.shared_fixtures import render_without_webhooks
from tests.seaweedfs import SeaweedS3
from tests.smoke_standins import Platform
from tests.testbed.cluster import Testbed, wait_until

RELEASE = "26.03.1"
PROFILE_CRD = "profiles.kubeflow.org"


class ProfileControllerStandIn:
    """Test-only stand-in for Kubeflow's profile controller: once Profile NAME exists, create namespace NAME."""

    def __init__(self, bed: Testbed, name: str):
        self.bed, self.name = bed, name
        self.profile_seen_at: float | None = None
        self.namespace_created_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="profile-controller-stand-in", daemon=True)

    def __enter__(self) -> "ProfileControllerStandIn":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            found = self.bed.kubectl("get", PROFILE_CRD, self.name, "-o", "name", check=False)
            if found.returncode == 0 and found.stdout.strip():
                self.profile_seen_at = time.monotonic()
                self.bed.kubectl("create", "namespace", self.name)
                self.namespace_created_at = time.monotonic()
                return


def _config(bed: Testbed, manifests: Path, **flags: Any):
    from kfbootstrap.config import load_config

    return load_config(
        flags={"cluster.context": bed.context, "kubeflow.path": manifests, "kubeflow.version": RELEASE, **flags},
        env={},
        cwd=manifests.parent,
    ).config


def _context(config):
    from kfbootstrap.context import RunContext
    from kfbootstrap.tools.runner import ShRunner

    return RunContext(config=config, runner=ShRunner())


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> tuple[Path, list[dict[str, Any]]]:
    objects = render_without_webhooks("kubeflow-26.03.1", "example.yaml.xz")
    path = tmp_path_factory.mktemp("kubeflow-26.03.1") / "kubeflow.yaml"
    path.write_text(dump_manifests(objects))
    return path, objects


@pytest.fixture(scope="module")
def installed(example, tmp_path_factory):
    """A cluster of its own with the 26.03.1 example applied by the Kubeflow step (profile controller stood in for)."""
    from kfbootstrap.steps.kubeflow import KubeflowStep

    manifests, _ = example
    bin_dir, stage_dir = _locate()
    with Testbed(bin_dir, stage_dir, nodes=2) as bed, contextlib.ExitStack() as stack:
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        patch.setenv("KUBECONFIG", bed.kubeconfig)
        config = _config(bed, manifests)
        controller = stack.enter_context(ProfileControllerStandIn(bed, PROFILE_NAMESPACE))
        began = time.monotonic()
        note = KubeflowStep().run(_context(config))
        seconds = time.monotonic() - began
        print(
            f"\n26.03.1 example: applied in {seconds:.1f}s ({note}); profile namespace stood in for after "
            f"{(controller.namespace_created_at or began) - began:.1f}s"
        )
        yield bed, note, controller, began


def test_example_applies_in_one_pass_with_the_profile_namespace_stood_in_for(installed, example):
    bed, note, controller, began = installed
    _, objects = example
    assert len(objects) == 698 and sum(o["kind"] == "CustomResourceDefinition" for o in objects) == 79
    assert note.startswith("698/698 objects")
    assert controller.profile_seen_at is not None and controller.namespace_created_at is not None
    in_profile = {
        (o["kind"], o["metadata"]["name"]) for o in objects if o["metadata"].get("namespace") == PROFILE_NAMESPACE
    }
    assert len(in_profile) == 18
    for kind, name in in_profile:  # all 18 applied after the namespace appeared, in the same run
        got = bed.kubectl(
            "get",
            kind.lower() + ("." + _group(objects, kind) if _group(objects, kind) else ""),
            name,
            "-n",
            PROFILE_NAMESPACE,
            "-o",
            "name",
            check=False,
        )
        assert got.returncode == 0, f"{kind}/{name} missing: {got.stderr}"


def _group(objects: list[dict[str, Any]], kind: str) -> str:
    api_version = next(o["apiVersion"] for o in objects if o["kind"] == kind)
    return api_version.rpartition("/")[0]


def test_kserve_and_model_registry_apply_nothing_beyond_example(installed, example, monkeypatch):
    from kfbootstrap.steps.kserve import KServeStep
    from kfbootstrap.steps.model_registry import ModelRegistryStep

    bed, *_ = installed
    manifests, _ = example
    monkeypatch.setenv("KUBECONFIG", bed.kubeconfig)
    config = _config(bed, manifests, **{"timeouts.ready": 240})
    assert KServeStep().run(_context(config)) == f"not applied separately: KServe comes with the example of {RELEASE}"
    began = time.monotonic()
    note = ModelRegistryStep().run(_context(config))
    print(f"\nmodel registry ready after {time.monotonic() - began:.1f}s")
    assert note == f"Kubeflow Hub (in example), namespace {PROFILE_NAMESPACE}: nothing more to apply, ready"
    assert ModelRegistryStep().is_done(_context(config))
    # Nothing of ours outside what the example applied: no model-registry component label anywhere.
    labelled = bed.kubectl(
        "get", "deployments,services", "-A", "-l", "kfbootstrap.dev/component=model_registry", "-o", "name"
    ).stdout.split()
    assert labelled == []


def test_a_profile_namespace_nobody_creates_names_the_controller_at_the_deadline(installed):
    from kfbootstrap.kube.apply import ApplyFailed, apply_objects

    bed, *_ = installed
    name = "kfb-nobody-creates-this"
    objects = [
        {
            "apiVersion": "kubeflow.org/v1",
            "kind": "Profile",
            "metadata": {"name": name},
            "spec": {"owner": {"kind": "User", "name": "nobody@example.com"}},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "waits", "namespace": name}},
    ]
    began = time.monotonic()
    with pytest.raises(ApplyFailed) as caught:
        apply_objects(bed.api_client(), objects, component="profile-test", timeout=6)
    assert 6 <= time.monotonic() - began < 20
    error = caught.value
    assert error.report.applied == 1 and f"ConfigMap/{name}/waits" in error.details
    assert "1 namespace missing" in error.message and "namespace missing" in error.details
    assert (
        f"namespace {name} is still missing: waiting for the Kubeflow profile controller "
        f"(Deployment kubeflow/profiles-deployment) to create it from Profile {name}"
    ) in error.message
    assert error.hint.startswith(
        f"the Kubeflow profile controller (Deployment kubeflow/profiles-deployment) has not created {name}"
    )
    bed.kubectl("delete", PROFILE_CRD, name, "--wait=false", check=False)


@pytest.fixture
def cli(installed, monkeypatch):
    bed, *_ = installed
    monkeypatch.setenv("KUBECONFIG", bed.kubeconfig)
    monkeypatch.setenv("KFBOOTSTRAP_CLUSTER__CONTEXT", bed.context)
    monkeypatch.setenv("KFBOOTSTRAP_KUBEFLOW__VERSION", RELEASE)
    for off in ("METALLB", "PROMETHEUS", "GRAFANA"):
        monkeypatch.setenv(f"KFBOOTSTRAP_COMPONENTS__{off}", "false")
    # kwok runs no KServe controller and no predictor: serving is proven on Kind (tests/e2e/test_kind_serve.py).
    monkeypatch.setenv("KFBOOTSTRAP_SMOKE__KSERVE_MODEL", "")
    monkeypatch.delenv("KUBEFLOW_PASSWORD", raising=False)
    return bed


def _wait_available(bed: Testbed, namespace: str, *names: str) -> None:
    for name in names:
        bed.kubectl("wait", "-n", namespace, "--for=condition=Available", "--timeout=180s", f"deployment/{name}")


def test_status_json_finds_each_component_under_the_release_s_names(cli, capsys):
    _wait_available(cli, PROFILE_NAMESPACE, "model-registry-deployment")
    _wait_available(cli, "kubeflow", "dashboard", "kserve-models-web-application")
    result = run_cli(capsys, "status", "--json")
    assert result.code == 0, result.text
    by_name = {c["name"]: c for c in json.loads(result.out)["components"]}
    registry = by_name["model_registry"]
    assert (registry["version"], registry["version_from"]) == (
        "v0.3.9",
        f"{PROFILE_NAMESPACE}/deployment/model-registry-deployment",
    )
    assert registry["workloads"]["total"] == 3  # server, its Postgres and the UI
    assert (by_name["kubeflow"]["version"], by_name["kubeflow"]["version_from"]) == (
        "v2.0.0",
        "kubeflow/deployment/dashboard",
    )
    assert by_name["kserve"]["workloads"]["total"] == 4  # with kserve-models-web-application
    assert by_name["object_store"]["version_from"] == "kubeflow/deployment/seaweedfs"


def test_creds_read_the_example_s_secrets(cli, capsys):
    minio = run_cli(capsys, "creds", "minio", "--json")
    assert minio.code == 0, minio.text
    body = json.loads(minio.out)
    assert (body["service"], body["access_key"], body["secret_key"]) == ("seaweedfs", "minio", "minio123")
    assert body["cluster_endpoint"] == "http://seaweedfs.kubeflow.svc.cluster.local:9000"
    kubeflow = run_cli(capsys, "creds", "kubeflow", "--json")
    assert kubeflow.code == 0, kubeflow.text
    assert json.loads(kubeflow.out)["default_password"] is True


# (stand-in key, namespace, Deployment, container port its Service's targetPort reaches)
SMOKE_BACKENDS = [
    ("kubeflow", "istio-system", "istio-ingressgateway", 8080),
    ("pipelines", "kubeflow", "ml-pipeline", 8888),
    ("model_registry", PROFILE_NAMESPACE, "model-registry-deployment", 8080),
    ("object_store", "kubeflow", "seaweedfs", 8333),
]


def test_smoke_passes_through_forwards_to_the_example_s_pods(cli, capsys, tmp_path, weed_binary):
    with (
        SeaweedS3(weed_binary, "minio", "minio123") as store,  # the example's key pair, as the cluster has it
        Platform(object_store=store) as platform,
        contextlib.ExitStack() as forwards,
    ):
        for key, namespace, deployment, port in SMOKE_BACKENDS:
            _wait_available(cli, namespace, deployment)
            pods = json.loads(cli.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
            names = [p["metadata"]["name"] for p in pods if p["metadata"]["name"].startswith(deployment + "-")]
            assert names, f"no pod of {namespace}/{deployment}"
            for pod in names:
                forwards.enter_context(
                    cli.cluster_port_forward(platform.port(key), namespace=namespace, pod=pod, ports=[port])
                )

        def smoke():
            result = run_cli(capsys, "smoke", "--json")
            return result if result.code == 0 else None

        # kwok learns of ClusterPortForwards through a watch: the first runs may not be routed yet.
        result = wait_until(smoke, 90, interval=3, what="smoke to pass")
    body = json.loads(result.out)
    checks = {c["name"]: c["status"] for c in body["checks"]}
    assert checks == {
        "dashboard-redirects-to-dex": "passed",
        "dex-login": "passed",
        "pipelines-healthz": "passed",
        "pipelines-list": "passed",
        "model-registry-list": "passed",
        "object-store-list-buckets": "passed",
        "kserve-serves-a-model": "skipped",
        "grafana-health": "skipped",
        "prometheus-ready": "skipped",
    }


def test_expose_model_registry_forwards_to_kubeflow_hub_in_the_profile_namespace(cli, capsys):
    """No -n: the release table says where 26.03.1's registry runs, and the forward reaches that pod."""
    import socket

    from kfbootstrap.access import forwards
    from tests.testbed.cluster import free_ports
    from tests.token_server import TokenServer, get_over_socket

    _wait_available(cli, PROFILE_NAMESPACE, "model-registry-deployment")
    pods = json.loads(cli.kubectl("get", "pods", "-n", PROFILE_NAMESPACE, "-o", "json").stdout)["items"]
    (pod,) = [p["metadata"]["name"] for p in pods if p["metadata"]["name"].startswith("model-registry-deployment-")]
    (port,) = free_ports(1)

    def through_forward() -> bytes | None:
        try:
            with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as sock:
                return get_over_socket(sock)
        except (OSError, AssertionError):
            return None

    with (
        TokenServer() as server,
        cli.cluster_port_forward(server.port, namespace=PROFILE_NAMESPACE, pod=pod, ports=[8080]),
    ):
        try:
            started = run_cli(capsys, "expose", "model-registry", "--port", port, "--background", "--json")
            assert started.code == 0, started.text
            (record,) = forwards.read_records()
            assert (record.spec.namespace, record.spec.services) == (PROFILE_NAMESPACE, ["model-registry-service"])
            assert wait_until(through_forward, 60, interval=1, what="an answer through the forward") == server.token
        finally:
            forwards.stop_all()


def test_diagnose_collects_the_profile_namespace_and_names_the_release(cli, capsys, tmp_path):
    """diagnose reads every namespace, so Kubeflow Hub's pods in the profile namespace are in the bundle."""
    import tarfile

    result = run_cli(capsys, "diagnose", "--out", str(tmp_path), "--json")
    assert result.code == 0, result.text
    with tarfile.open(json.loads(result.out)["bundle"]) as archive:
        files = {
            Path(m.name).relative_to(Path(m.name).parts[0]).as_posix(): m for m in archive.getmembers() if m.isfile()
        }
        summary = archive.extractfile(files["summary.txt"]).read().decode()
        pods = archive.extractfile(files["cluster/pods.txt"]).read().decode()
    assert f"Kubeflow {RELEASE}" in summary
    registry_rows = [
        line for line in pods.splitlines() if PROFILE_NAMESPACE in line and "model-registry-deployment-" in line
    ]
    assert registry_rows, pods[:2000]
