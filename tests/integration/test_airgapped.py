"""The air-gapped recipe of docs/releases.md end to end: `render --out DIR` where the inputs are, then
`up --manifests DIR` on a fresh cluster with nothing else: no chart repository, no
kustomize, no model_registry.path, no charts.local_dir.

The inputs are the shared fixtures (the pre-rendered 26.03 model registry overlays and
the packaged charts). Kubeflow and KServe stay off: on the testbed their webhooks have
no servers and their PVCs never bind (tests/integration/test_apply_engine.py applies
the full render on its own); their files are covered by the render unit tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kfbootstrap.kube.objects import COMPONENT_LABEL
from tests.cli_helpers import run_cli
from tests.integration.test_addons import DockerFakingRunner, istio_crds, use_testbed_kubeconfig
from tests.shared_fixtures import fixture_path
from tests.testbed.cluster import Testbed, wait_until

OFF = {"kubeflow": False, "kserve": False}
CHARTS = ["grafana-10.5.15.tgz", "metallb-0.16.1.tgz", "prometheus-29.27.0.tgz"]


def _config(path: Path, **sections) -> Path:
    # 26.03: its model registry is applied beyond example (26.03.1's comes with it, nothing to render).
    release = {"kubeflow": {"version": "26.03"}}
    path.write_text(yaml.safe_dump({"components": OFF, "forwards": {"auto": False}, **release, **sections}))
    return path


def test_render_out_then_up_manifests_on_a_fresh_cluster_needs_nothing_else(testbed, tmp_path, monkeypatch, capsys):
    runner = DockerFakingRunner()
    monkeypatch.setattr("kfbootstrap.cli.common.new_runner", lambda: runner)
    helm = str(testbed.bin_dir / "helm")
    grafana = {"version": "10.5.15"}  # the version the fixtures hold

    # 1. Where the inputs are: render everything `up` needs into one directory.
    render_config = _config(
        tmp_path / "render.yaml", charts={"helm": helm, "local_dir": str(fixture_path("charts")), "grafana": grafana}
    )
    bundle = tmp_path / "bundle"
    rendered = run_cli(
        capsys, "render", "--config", render_config, "--manifests", fixture_path("kubeflow-26.03"), "--out", bundle
    )
    assert rendered.code == 0, rendered.text
    assert sorted(p.name for p in bundle.iterdir()) == ["charts", "model-registry-db.yaml", "model-registry-istio.yaml"]
    assert sorted(p.name for p in (bundle / "charts").iterdir()) == CHARTS
    docs = [d for d in yaml.safe_load_all((bundle / "model-registry-db.yaml").read_text()) if d]
    assert docs and {d["metadata"]["labels"][COMPONENT_LABEL] for d in docs} == {"model_registry"}

    # 2. Elsewhere, on a fresh cluster: only the bundle (and the testbed's own webhook setting).
    metallb_values = tmp_path / "metallb-values.yaml"
    metallb_values.write_text("crds:\n  validationFailurePolicy: Ignore  # no webhook servers on the testbed\n")
    up_config = _config(
        tmp_path / "up.yaml",
        charts={"helm": helm, "grafana": grafana, "metallb": {"values": str(metallb_values)}},
        timeouts={"apply": 180, "ready": 180},
    )
    with Testbed(testbed.bin_dir, testbed.stage_dir) as fresh:
        use_testbed_kubeconfig(fresh, monkeypatch)
        fresh.apply(istio_crds())  # what Kubeflow would have brought: the model registry's options/istio needs it
        wait_until(
            lambda: fresh.kubectl("get", "virtualservices", "-A", check=False).returncode == 0,
            60,
            what="Istio's CRDs served",
        )
        up = run_cli(capsys, "up", "--context", fresh.context, "--config", up_config, "--manifests", bundle)
        assert up.code == 0, up.text
        for chart in CHARTS:
            assert f"from {bundle / 'charts' / chart}" in up.err, up.err
        assert "Install the model registry" in up.err and "db, istio" in up.err
        listed = json.loads(fresh.helm("list", "-A", "-o", "json").stdout)
        assert sorted((r["name"], r["status"]) for r in listed) == [
            ("grafana", "deployed"),
            ("metallb", "deployed"),
            ("prometheus", "deployed"),
        ]
        deployment = json.loads(
            fresh.kubectl("get", "deployment", "model-registry-deployment", "-n", "kubeflow", "-o", "json").stdout
        )
        assert deployment["status"].get("readyReplicas") == 1
    assert not [argv for argv in runner.docker_calls if argv[:2] != ["docker", "network"]]
