"""`render` chooses what it writes the way `up` chooses what it applies: the same flags (--profile, --apps,
--sizing), the same objects, and the same refusal of a render that names an object twice."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kfbootstrap import errors
from kfbootstrap.config import load_config
from kfbootstrap.context import RunContext
from kfbootstrap.errors import KfbError
from kfbootstrap.kube.apply import apply_objects
from kfbootstrap.kube.objects import ref_of
from kfbootstrap.pipeline import build_steps
from kfbootstrap.steps.kubeflow import ManifestsStep
from kfbootstrap.tools.runner import ShRunner
from tests.cli_helpers import run_cli
from tests.shared_fixtures import fixture_path

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: kubeflow\ndata: {{k: v}}\n"


def _written(directory: Path) -> set[str]:
    return {
        str(ref_of(obj))
        for path in directory.glob("*.yaml")
        for obj in yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        if obj
    }


def _planned(flags: dict) -> set[str]:
    """What `up` with the same flags would apply: the objects of every manifests step of its plan."""
    config = load_config(None, flags, env={}).config
    ctx = RunContext(config=config, runner=ShRunner())
    refs = set()
    for step in build_steps(config):
        if isinstance(step, ManifestsStep):
            render = step.rendered(ctx)
            if render is not None:
                refs |= {str(ref_of(obj)) for obj in step.objects(ctx, render)}
    return refs


def test_render_profile_pipelines_writes_what_up_profile_pipelines_applies(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    render = fixture_path("kubeflow-26.03.1", "example-origin.yaml.xz")
    out = tmp_path / "out"
    result = run_cli(
        capsys, "render", "--profile", "pipelines", "--kubeflow-version", "26.03.1", "--manifests", render, "--out", out
    )
    assert result.code == 0, result.text
    written = _written(out)
    planned = _planned({"profile": "pipelines", "kubeflow.version": "26.03.1", "kubeflow.path": str(render)})
    assert written == planned
    assert len(written) == 344  # the pipelines app and what it needs (README's table), not the 727 of everything
    # The profile's sizing too: istiod asks for Istio's demo-profile 100Mi, not upstream's 2048Mi.
    istiod = next(
        obj
        for obj in yaml.load_all((out / "kubeflow.yaml").read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        if obj and obj["kind"] == "Deployment" and obj["metadata"]["name"] == "istiod"
    )
    assert istiod["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"] == "100Mi"
    # and its components: no chart archives of Prometheus, Grafana or MetalLB, which the profile leaves out
    assert not (out / "charts").exists()


def test_render_refuses_an_object_named_twice_as_up_does(tmp_path, capsys, monkeypatch):
    for off in ("KSERVE", "MODEL_REGISTRY"):
        monkeypatch.setenv(f"KFBOOTSTRAP_COMPONENTS__{off}", "false")
    twice = tmp_path / "twice.yaml"
    objects_text = "---\n".join(CONFIGMAP.format(name=name) for name in ("a", "b", "a"))
    twice.write_text(objects_text)
    out = tmp_path / "out"

    result = run_cli(capsys, "render", "--manifests", twice, "--out", out)

    with pytest.raises(KfbError) as by_up:  # what `up` says before it sends anything
        apply_objects(None, list(yaml.safe_load_all(objects_text)), component="kubeflow")  # type: ignore[arg-type]
    assert result.code == by_up.value.exit_code == errors.FAILED
    assert f"error: {by_up.value.message}" in result.err
    assert "kubeflow: 1 objects occur more than once, e.g. ConfigMap/kubeflow/a" in result.err
    assert not (out / "kubeflow.yaml").exists()  # nothing written that `up --manifests` would then refuse
