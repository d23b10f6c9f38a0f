"""kubeflow.sizing: laptop lowers requests of upstream's production-sized Istio objects, and nothing else.

Checked on the real 26.03.1 `example` render (shared fixture example.yaml.xz, 675+ objects):
which objects change, to what, that limits and every other field stay as rendered, and the
totals the pipelines profile then requests (the issue's goal: at most 4 GiB, sidecars included).
"""

from __future__ import annotations

import copy
import json
import lzma
from pathlib import Path

import pytest

from kfbootstrap.release_parts import CATALOG_26_03_1 as CATALOG
from kfbootstrap.apps.measure import quantity, sidecar_of
from kfbootstrap.apps.plan import budget, selection_digest, sized
from kfbootstrap.apps.select import select
from kfbootstrap.apps.sizing import LAPTOP, UPSTREAM, resize
from kfbootstrap.config import load_config, profile_config
from kfbootstrap.errors import ConfigError
from kfbootstrap.kube.objects import parse_manifests, ref_of
from tests.cli_helpers import run_cli
from tests.shared_fixtures import fixture_path

GIB, MIB = 2**30, 2**20


@pytest.fixture(scope="module")
def example():
    path = fixture_path("kubeflow-26.03.1", "example.yaml.xz")
    return parse_manifests(lzma.decompress(path.read_bytes()).decode(), str(path))


def _find(objects, kind, namespace, name):
    return next(
        o
        for o in objects
        if (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) == (kind, namespace, name)
    )


def _container(obj, name):
    return next(c for c in obj["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def test_laptop_lowers_istios_production_requests_to_istios_demo_profile(example):
    laptop = resize(example, LAPTOP).objects
    istiod = _container(_find(laptop, "Deployment", "istio-system", "istiod"), "discovery")
    assert istiod["resources"] == {"requests": {"cpu": "10m", "memory": "100Mi"}}  # upstream: 500m / 2048Mi, no limits
    gateway = _container(_find(laptop, "Deployment", "istio-system", "istio-ingressgateway"), "istio-proxy")
    assert gateway["resources"] == {
        "requests": {"cpu": "10m", "memory": "40Mi"},
        "limits": {"cpu": "2000m", "memory": "1024Mi"},
    }  # limits stay upstream's
    cni = _container(_find(laptop, "DaemonSet", "kube-system", "istio-cni-node"), "install-cni")
    assert cni["resources"]["requests"] == {"cpu": "10m", "memory": "40Mi"}
    for name in ("istiod", "istio-ingressgateway"):  # an 80% CPU target on a 10m request would scale them to 5
        hpa = _find(laptop, "HorizontalPodAutoscaler", "istio-system", name)["spec"]
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 1)


def test_laptop_changes_nothing_else_and_leaves_the_render_as_rendered(example):
    before = copy.deepcopy(example)
    result = resize(example, LAPTOP)
    assert example == before  # the render (cached, shared with other selections) is not edited in place
    changed = [ref_of(new) for old, new in zip(example, result.objects) if old != new]
    assert sorted(changed) == sorted(
        ref_of(_find(example, kind, ns, name))
        for kind, ns, name in [
            ("Deployment", "istio-system", "istiod"),
            ("Deployment", "istio-system", "istio-ingressgateway"),
            ("DaemonSet", "kube-system", "istio-cni-node"),
            ("HorizontalPodAutoscaler", "istio-system", "istiod"),
            ("HorizontalPodAutoscaler", "istio-system", "istio-ingressgateway"),
        ]
    )
    assert len(result.changes) == 5
    for old, new in zip(example, result.objects):
        if old != new and old["kind"] != "HorizontalPodAutoscaler":  # only requests differ, every one lower
            old_c, new_c = old["spec"]["template"]["spec"]["containers"], new["spec"]["template"]["spec"]["containers"]
            for a, b in zip(old_c, new_c):
                assert {k: v for k, v in a.items() if k != "resources"} == {
                    k: v for k, v in b.items() if k != "resources"
                }
                assert a.get("resources", {}).get("limits") == b.get("resources", {}).get("limits")
                for resource, value in (b.get("resources") or {}).get("requests", {}).items():
                    assert quantity(value) <= quantity(a["resources"]["requests"][resource])
    assert resize(example, UPSTREAM).objects == example


def test_only_lowers_requests_never_raises_or_adds_them(example):
    istiod = copy.deepcopy(_find(example, "Deployment", "istio-system", "istiod"))
    _container(istiod, "discovery")["resources"] = {"requests": {"cpu": "5m"}}  # below laptop's, and no memory
    result = resize([istiod], LAPTOP)
    assert _container(result.objects[0], "discovery")["resources"] == {"requests": {"cpu": "5m"}} and not result.changes


def test_the_sidecar_default_is_already_demo_sized_in_26_03_1_and_would_be_lowered_where_it_is_not(example):
    injector = _find(example, "ConfigMap", "istio-system", "istio-sidecar-injector")
    assert _find(resize(example, LAPTOP).objects, "ConfigMap", "istio-system", "istio-sidecar-injector") == injector
    # The injector with Istio's default-profile sidecar requests (100m / 128Mi): laptop brings it to demo's 10m / 40Mi.
    production = copy.deepcopy(injector)
    values = json.loads(production["data"]["values"])
    values["global"]["proxy"]["resources"]["requests"] = {"cpu": "100m", "memory": "128Mi"}
    production["data"]["values"] = json.dumps(values)
    result = resize([production], LAPTOP)
    lowered = json.loads(result.objects[0]["data"]["values"])
    assert lowered["global"]["proxy"]["resources"] == {
        "requests": {"cpu": "10m", "memory": "40Mi"},
        "limits": {"cpu": "2000m", "memory": "1024Mi"},
    }
    lowered["global"]["proxy"]["resources"]["requests"] = values["global"]["proxy"]["resources"]["requests"]
    assert lowered == values and result.objects[0]["data"]["config"] == injector["data"]["config"]
    assert result.changes == [
        "ConfigMap istio-system/istio-sidecar-injector (sidecar default): requests cpu 100m -> 10m, "
        "memory 128Mi -> 40Mi"
    ]
    sidecar = sidecar_of(result.objects)  # what measure.py counts per injected pod follows
    assert (sidecar.cpu, sidecar.memory) == (0.01, 40 * MIB)


def test_the_pipelines_profile_with_laptop_sizing_requests_at_most_4_gib():
    path = fixture_path("kubeflow-26.03.1", "example-origin.yaml.xz")
    objects = parse_manifests(lzma.decompress(path.read_bytes()).decode(), str(path))
    config = profile_config("pipelines", "26.03.1")
    assert config.kubeflow.sizing == LAPTOP
    nodes = 1 + config.cluster.workers
    laptop = budget(sized(select(objects, CATALOG, config.kubeflow.apps), LAPTOP), nodes).total
    upstream = budget(sized(select(objects, CATALOG, config.kubeflow.apps), UPSTREAM), nodes).total
    assert upstream.total_memory / MIB == 6190 and laptop.total_memory / MIB == 4034  # 6.04 -> 3.94 GiB
    assert laptop.total_memory <= 4 * GIB < upstream.total_memory
    assert laptop.sidecar_memory == upstream.sidecar_memory == 14 * 40 * MIB and laptop.pods == upstream.pods == 29


def _config(**flags):
    return load_config(flags={"kubeflow.version": "26.03.1", **flags}, env={}, cwd=Path("/nonexistent")).config


def test_the_pipelines_profile_defaults_to_laptop_everything_else_to_upstream_and_the_user_wins():
    assert [profile_config(p, "26.03.1").kubeflow.sizing for p in ("full", "minimal", "ci", "pipelines")] == [
        UPSTREAM,
        UPSTREAM,
        UPSTREAM,
        LAPTOP,
    ]
    assert _config(profile="pipelines", **{"kubeflow.sizing": "upstream"}).kubeflow.sizing == UPSTREAM
    assert _config(**{"kubeflow.sizing": "laptop"}).kubeflow.sizing == LAPTOP
    with pytest.raises(ConfigError, match="config key `kubeflow.sizing`.*'upstream' or 'laptop'"):
        _config(**{"kubeflow.sizing": "tiny"})


def test_a_change_of_sizing_changes_the_marker_digest_so_up_applies_again():
    from types import SimpleNamespace

    render = SimpleNamespace(digest="abc")
    upstream, laptop = selection_digest(render, ["istio"]), selection_digest(render, ["istio"], LAPTOP)
    assert upstream != laptop and selection_digest(render, ["istio"], UPSTREAM) == upstream
    assert selection_digest(render, []) == "abc" != selection_digest(render, [], LAPTOP)  # earlier markers still match


@pytest.mark.parametrize("where", ["flag", "file"])
def test_an_unknown_sizing_is_a_usage_error_in_one_line_with_a_hint(monkeypatch, tmp_path, capsys, where):
    monkeypatch.chdir(tmp_path)
    if where == "file":
        (tmp_path / "kfbootstrap.yaml").write_text("kubeflow:\n  sizing: tiny\n")
        result = run_cli(capsys, "up", "--dry-run")
    else:
        result = run_cli(capsys, "up", "--dry-run", "--sizing", "tiny")
    assert result.code == 2 and "Traceback" not in result.text
    lines = result.err.strip().splitlines()
    assert lines[0].startswith("error: config key `kubeflow.sizing` (") and "(got 'tiny')" in lines[0]
    assert ("flag --sizing" if where == "flag" else "kfbootstrap.yaml line 2") in lines[0]
    assert len(lines) == 2 and lines[1].startswith("hint: ")


def test_dry_run_of_the_pipelines_profile_says_what_laptop_sizing_changes(monkeypatch, tmp_path, capsys):
    from tests.fakes import FakeHost

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("kfbootstrap.cli.common.new_host", lambda: FakeHost(memory_gib=8.0, cpus=4))
    render = fixture_path("kubeflow-26.03.1", "example-origin.yaml.xz")
    result = run_cli(
        capsys, "up", "--dry-run", "--profile", "pipelines", "--kubeflow-version", "26.03.1", "--manifests", str(render)
    )
    assert result.code == 0, result.text
    assert "Kubeflow applications: pipelines; sizing: laptop" in result.out
    assert (
        "sized for a laptop: Deployment istio-system/istiod discovery: requests cpu 500m -> 10m, memory 2048Mi -> 100Mi"
        in result.out
    )
    assert (
        "0.92 CPU and 3.94 GiB requested" in result.out
        and "): fits: 4.3 GiB and 2.0 CPUs requested, 8.0 GiB" in result.out
    )
    again = run_cli(
        capsys,
        "up",
        "--dry-run",
        "--profile",
        "pipelines",
        "--sizing",
        "upstream",
        "--kubeflow-version",
        "26.03.1",
        "--manifests",
        str(render),
    )
    assert "sizing: upstream" in again.out and "1.68 CPU and 6.04 GiB requested" in again.out
    assert "sized for a laptop" not in again.out


def test_sizing_needs_no_parts_table_and_finds_the_same_objects_in_26_03():
    path = fixture_path("kubeflow-26.03", "example.yaml.xz")
    result = resize(parse_manifests(lzma.decompress(path.read_bytes()).decode(), str(path)), LAPTOP)
    assert [change.split(":")[0] for change in result.changes] == [
        "Deployment istio-system/istio-ingressgateway istio-proxy",
        "Deployment istio-system/istiod discovery",
        "DaemonSet kube-system/istio-cni-node install-cni",
        "HorizontalPodAutoscaler istio-system/istio-ingressgateway",
        "HorizontalPodAutoscaler istio-system/istiod",
    ]


def test_render_writes_what_up_applies_sized_as_asked(monkeypatch, tmp_path, capsys):
    import yaml

    monkeypatch.chdir(tmp_path)
    for off in ("METALLB", "PROMETHEUS", "GRAFANA"):  # only the Kubeflow render here
        monkeypatch.setenv(f"KFBOOTSTRAP_COMPONENTS__{off}", "false")
    render = fixture_path("kubeflow-26.03.1", "example-origin.yaml.xz")
    written = {}
    for sizing in (UPSTREAM, LAPTOP):
        result = run_cli(
            capsys,
            "render",
            "--kubeflow-version",
            "26.03.1",
            "--manifests",
            str(render),
            "--apps",
            "pipelines",
            "--sizing",
            sizing,
        )
        assert result.code == 0, result.text
        written[sizing] = [d for d in yaml.load_all(result.out, Loader=yaml.CSafeLoader) if d]
    differ = [
        f"{new['kind']}/{new['metadata']['name']}" for old, new in zip(written[UPSTREAM], written[LAPTOP]) if old != new
    ]
    assert len(written[LAPTOP]) == 344 and sorted(differ) == [
        "DaemonSet/istio-cni-node",
        "Deployment/istio-ingressgateway",
        "Deployment/istiod",
        "HorizontalPodAutoscaler/istio-ingressgateway",
        "HorizontalPodAutoscaler/istiod",
    ]
