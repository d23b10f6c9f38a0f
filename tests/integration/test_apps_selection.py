"""Chosen Kubeflow apps on the real control plane: each choice applies in one run, nothing else is created,
and changing the choice on an existing install keeps (or, when asked, removes) the dropped apps.

Input: the 26.03.1 example rendered with origin annotations (shared fixture), as a
pre-rendered file, without webhook configurations (the testbed runs no webhook
servers). Each choice gets a cluster of its own, so "nothing outside the selection"
is checked against an empty cluster.
"""

from __future__ import annotations

import lzma
import time
from pathlib import Path
from typing import Any

import pytest

from kfbootstrap.release_parts import CATALOG_26_03_1 as CATALOG
from kfbootstrap.apps.select import PART_LABEL, select
from kfbootstrap.config import profile_config
from kfbootstrap.kube.objects import COMPONENT_LABEL, WEBHOOK_KINDS, dump_manifests, parse_manifests
from kfbootstrap.kube.api import Kube
from kfbootstrap.kube.rest import KubeRest
from kfbootstrap.kube.state import read_marker
from tests.integration.test_apply_engine import _expected, _our_objects
from tests.shared_fixtures import fixture_path
from tests.testbed.cluster import Testbed, wait_until

KUBEFLOW = f"{COMPONENT_LABEL}=kubeflow"  # what the Kubeflow step applied (the state ConfigMap is not)


@pytest.fixture(scope="module")
def render(tmp_path_factory) -> tuple[Path, list[dict[str, Any]]]:
    example = fixture_path("kubeflow-26.03.1", "example-origin.yaml.xz")
    objects = [
        o
        for o in parse_manifests(lzma.decompress(example.read_bytes()).decode(), str(example))
        if o["kind"] not in WEBHOOK_KINDS
    ]
    path = tmp_path_factory.mktemp("apps") / "example-origin.yaml"
    path.write_text(dump_manifests(objects))
    return path, objects


def _step(bed: Testbed, manifests: Path, monkeypatch, apps: list[str] | None, **settings: Any):
    from kfbootstrap.config import load_config
    from kfbootstrap.context import RunContext
    from kfbootstrap.steps.kubeflow import KubeflowStep
    from kfbootstrap.tools.runner import ShRunner

    monkeypatch.setenv("KUBECONFIG", bed.kubeconfig)
    flags = {
        "cluster.context": bed.context,
        "kubeflow.path": manifests,
        "kubeflow.version": "26.03.1",
        "kubeflow.apps": ",".join(apps) if apps is not None else None,
        **settings,
    }
    config = load_config(flags=flags, env={}, cwd=manifests.parent).config
    return KubeflowStep(), RunContext(config=config, runner=ShRunner())


def _apply(bed: Testbed, manifests: Path, monkeypatch, apps: list[str] | None, **settings: Any) -> str:
    step, ctx = _step(bed, manifests, monkeypatch, apps, **settings)
    assert not step.is_done(ctx)
    began = time.monotonic()
    note = step.run(ctx)
    print(f"\n{apps}: {note} in {time.monotonic() - began:.1f}s")
    again, ctx = _step(bed, manifests, monkeypatch, apps, **settings)
    assert again.is_done(ctx)  # a re-run with the same choice skips
    return note


def _only(bed: Testbed, objects: list[dict[str, Any]], chosen) -> None:
    """Exactly the chosen objects exist (every kind of the whole render is looked at), labelled with their parts."""
    rest = KubeRest(bed.api_client())
    present = _our_objects(rest, objects, KUBEFLOW)
    assert set(present) == _expected(rest, chosen.objects)
    assert {meta["labels"][PART_LABEL] for meta in present.values()} == set(chosen.parts)
    assert not any("config.kubernetes.io/origin" in (meta.get("annotations") or {}) for meta in present.values())
    served = {
        crd["metadata"]["name"]
        for crd in rest.get_json("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")["items"]
    }
    dropped_crds = {o["metadata"]["name"] for o in objects if o["kind"] == "CustomResourceDefinition"} - {
        o["metadata"]["name"] for o in chosen.objects if o["kind"] == "CustomResourceDefinition"
    }
    assert dropped_crds and not served & dropped_crds
    assert read_marker(Kube(rest), "kubeflow").parts == chosen.parts


# The pipelines profile's choice is applied first in the last test, on its own cluster too.
CHOICES = {"kserve": ["kserve"], "trainer+spark": ["trainer", "spark"]}


@pytest.mark.parametrize("apps", CHOICES.values(), ids=CHOICES.keys())
def test_a_choice_applies_in_one_run_and_creates_nothing_else(testbed, render, monkeypatch, apps):
    manifests, objects = render
    chosen = select(objects, CATALOG, apps)
    with Testbed(testbed.bin_dir, testbed.stage_dir) as bed:
        note = _apply(bed, manifests, monkeypatch, apps)
        assert note.startswith(f"{len(chosen.objects)}/{len(chosen.objects)} objects")  # one run converged
        _only(bed, objects, chosen)


def test_changing_the_choice_keeps_dropped_apps_unless_asked_to_remove_them(testbed, render, monkeypatch, capsys):
    manifests, objects = render
    pipelines = select(objects, CATALOG, ["pipelines"])
    kserve = select(objects, CATALOG, ["kserve"])
    dropped = sorted(set(pipelines.parts) - set(kserve.parts))
    assert dropped == ["dashboard", "pipelines", "profiles", "user-namespace"]
    with Testbed(testbed.bin_dir, testbed.stage_dir) as bed:
        rest = KubeRest(bed.api_client())
        # The pipelines profile's choice, on an empty cluster: one run, nothing else.
        note = _apply(bed, manifests, monkeypatch, profile_config("pipelines", "26.03.1").kubeflow.apps)
        assert note.startswith(f"{len(pipelines.objects)}/{len(pipelines.objects)} objects")
        _only(bed, objects, pipelines)

        # pipelines -> kserve: KServe and Knative are added, pipelines and what only it needed stay (kept).
        note = _apply(bed, manifests, monkeypatch, ["kserve"])
        assert note.endswith(f"kept, no longer chosen: {', '.join(dropped)}")
        present = _our_objects(rest, objects, KUBEFLOW)
        assert set(present) == _expected(rest, pipelines.objects) | _expected(rest, kserve.objects)
        marker = read_marker(Kube(rest), "kubeflow")
        assert (marker.parts, marker.kept) == (kserve.parts, dropped)

        from tests.cli_helpers import run_cli

        status = run_cli(capsys, "status", "--context", bed.context, "--json")
        assert status.code == 0, status.text
        import json

        apps = json.loads(status.out)["apps"]
        assert apps["kept"] == dropped

        # Asked to remove them: everything of the dropped parts goes, CRDs included; the rest stays.
        note = _apply(bed, manifests, monkeypatch, ["kserve"], **{"kubeflow.remove_dropped": True})
        assert "kept" not in note

        def only_kserve() -> bool:
            left = {
                ref for ref, meta in _our_objects(rest, objects, KUBEFLOW).items() if not meta.get("deletionTimestamp")
            }
            return left == _expected(rest, kserve.objects)

        wait_until(only_kserve, 120, interval=2, what="the dropped apps' objects to be deleted")
        assert read_marker(Kube(rest), "kubeflow").kept == []
