"""Choosing applications from the 26.03.1 example render (with origin annotations) and measuring them.

The render is the shared fixture (example-origin.yaml.xz, 727 objects); parsed once per
session. The catalog's `needs` are checked here by code: every single-app selection
must be self-contained (its CRDs, namespaces, Issuers and Certificates all selected).
"""

from __future__ import annotations

import lzma
from collections import Counter

import pytest

from kfbootstrap.release_parts import CATALOG_26_03_1 as CATALOG
from kfbootstrap.apps.measure import measure, quantity
from kfbootstrap.apps.origin import ORIGIN_ANNOTATION, NoOrigin, source_of, without_origin
from kfbootstrap.apps.select import PART_LABEL, select
from kfbootstrap.errors import ConfigError, KfbError
from kfbootstrap.kube.objects import parse_manifests
from tests.shared_fixtures import fixture_path

GIB = 2**30


@pytest.fixture(scope="module")
def example():
    path = fixture_path("kubeflow-26.03.1", "example-origin.yaml.xz")
    return parse_manifests(lzma.decompress(path.read_bytes()).decode(), str(path))


def test_every_object_of_the_render_belongs_to_one_part(example):
    owners = Counter(CATALOG.owner(source_of(obj)) for obj in example)
    assert None not in owners and sum(owners.values()) == 727
    # MANIFEST.txt's "objects by origin" (path objects + generated + the argo remote base), per top directory.
    tops = Counter("/".join(source_of(o).split("/")[:2]) for o in example if not source_of(o).startswith("remote:"))
    assert tops["applications/pipeline"] == 110 + 4 and tops["common/istio"] == 69 and tops["applications/kserve"] == 82
    assert sum(1 for o in example if source_of(o) == "remote:https://github.com/argoproj/argo-workflows") == 19


def test_generated_objects_are_attributed_by_the_kustomization_that_made_them(example):
    generated = [o for o in example if "configuredIn" in o["metadata"]["annotations"][ORIGIN_ANNOTATION]]
    assert len(generated) == 30
    trainer = next(o for o in generated if o["metadata"]["name"] == "kubeflow-trainer-config")
    assert source_of(trainer) == "applications/trainer/upstream/base/manager/kustomization.yaml"
    assert CATALOG.owner(source_of(trainer)) == "trainer"


def test_default_keeps_everything_without_origin_annotations(example):
    chosen = select(example, CATALOG, None)
    assert len(chosen.objects) == 727 and not chosen.dropped and not chosen.repaired
    assert not any(ORIGIN_ANNOTATION in (o["metadata"].get("annotations") or {}) for o in chosen.objects)
    assert all(o["metadata"]["labels"][PART_LABEL] for o in chosen.objects)
    assert ORIGIN_ANNOTATION in example[0]["metadata"]["annotations"]  # the shared render is not edited


@pytest.mark.parametrize("app", CATALOG.apps())
def test_each_app_alone_is_self_contained(example, app):
    chosen = select(example, CATALOG, [app])
    kept = chosen.objects
    crds = {(o["spec"]["group"], o["spec"]["names"]["kind"]) for o in kept if o["kind"] == "CustomResourceDefinition"}
    every_crd = {
        (o["spec"]["group"], o["spec"]["names"]["kind"]) for o in example if o["kind"] == "CustomResourceDefinition"
    }
    namespaces = {o["metadata"]["name"] for o in kept if o["kind"] in ("Namespace", "Profile")} | {"kube-system"}
    for obj in kept:
        group = obj["apiVersion"].rpartition("/")[0]
        assert (group, obj["kind"]) not in every_crd or (group, obj["kind"]) in crds, (
            f"{app}: {obj['kind']} without its CRD"
        )
        namespace = obj["metadata"].get("namespace")
        assert namespace is None or namespace in namespaces, (
            f"{app}: {obj['kind']}/{obj['metadata']['name']} in {namespace}"
        )
    issuers = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in kept if o["kind"] in ("Issuer",)}
    for cert in (o for o in kept if o["kind"] == "Certificate" and o["apiVersion"].startswith("cert-manager.io/")):
        assert (cert["metadata"]["namespace"], cert["spec"]["issuerRef"]["name"]) in issuers
    # The only reference left outside: JobSet's CRD asks cainjector for the notebooks' certificate (upstream cross-talk).
    assert all("jobsets.jobset.x-k8s.io" in note for note in chosen.dangling)
    assert set(chosen.part_of) <= set(chosen.parts) and app in chosen.parts


def test_pipelines_brings_its_common_parts_and_nothing_else(example):
    chosen = select(example, CATALOG, ["pipelines"])
    assert chosen.parts == [
        "cert-manager",
        "istio",
        "dex",
        "oauth2-proxy",
        "kubeflow-namespace",
        "kubeflow-roles",
        "profiles",
        "user-namespace",
        "dashboard",
        "pipelines",
    ]
    names = {o["metadata"]["name"] for o in chosen.objects if o["kind"] in ("Deployment", "StatefulSet", "Secret")}
    assert {"ml-pipeline", "seaweedfs", "mysql", "workflow-controller", "mlpipeline-minio-artifact"} <= names
    # (The kubeflow namespace's part holds a NetworkPolicy per app, katib's too: inert without its pods.)
    assert not names & {
        "kserve-controller-manager",
        "katib-controller",
        "notebook-controller-deployment",
        "cluster-local-gateway",
        "model-registry-deployment",
    }
    assert set(chosen.dropped) == {
        "kserve",
        "knative",
        "istio-cluster-local-gateway",
        "notebooks",
        "katib",
        "trainer",
        "spark",
        "hub",
    }
    assert len(chosen.objects) + sum(chosen.dropped.values()) == 727


def test_kserve_without_notebooks_gets_its_own_issuer_back(example):
    """In example, KServe's Certificates name the notebooks' Issuer; rendered alone they name their own."""
    chosen = select(example, CATALOG, ["kserve"])
    certs = {
        o["metadata"]["name"]: o["spec"]["issuerRef"]["name"]
        for o in chosen.objects
        if o["kind"] == "Certificate" and o["apiVersion"].startswith("cert-manager.io/")
    }
    alone = parse_manifests(lzma.decompress(fixture_path("kubeflow-26.03.1", "kserve.yaml.xz").read_bytes()).decode())
    expected = {o["metadata"]["name"]: o["spec"]["issuerRef"]["name"] for o in alone if o["kind"] == "Certificate"}
    assert (
        certs
        == expected
        == {
            "serving-cert": "selfsigned-issuer",
            "llmisvc-serving-cert": "selfsigned-issuer",
            "localmodel-serving-cert": "selfsigned-issuer",
        }
    )
    assert len(chosen.repaired) == 3
    with_notebooks = select(example, CATALOG, ["kserve", "notebooks"])
    assert not with_notebooks.repaired  # as upstream renders it


def test_unknown_app_and_objects_without_origin_are_clear_errors(example):
    with pytest.raises(ConfigError, match="unknown application jupyter") as caught:
        select(example, CATALOG, ["jupyter"])
    assert "pipelines" in (caught.value.hint or "")
    bare = [without_origin(o) for o in example[:3]]
    with pytest.raises(KfbError, match="no example-origin origin annotation"):
        select(bare, CATALOG, ["pipelines"])
    assert len(select(bare, CATALOG, None).objects) == 3  # everything: nothing to choose, so no annotation needed
    with pytest.raises(NoOrigin):
        source_of(bare[0])


def test_a_render_we_wrote_can_be_chosen_from_again(example):
    """`kfbootstrap render` strips the origin but leaves the part label: the file still knows its parts."""
    written = select(example, CATALOG, ["pipelines", "kserve"]).objects
    again = select(written, CATALOG, ["kserve"])
    assert {o["metadata"]["name"] for o in again.objects} == {
        o["metadata"]["name"] for o in select(example, CATALOG, ["kserve"]).objects
    }
    with pytest.raises(KfbError, match="the render has nothing of katib"):
        select(written, CATALOG, ["katib"])


@pytest.mark.parametrize(
    "text,value",
    [
        ("100m", 0.1),
        ("2", 2.0),
        (2, 2.0),
        ("128Mi", 128 * 2**20),
        ("2Gi", 2 * GIB),
        ("1G", 1e9),
        ("500k", 5e5),
        (None, 0.0),
        ("1.5", 1.5),
    ],
)
def test_quantities(text, value):
    assert quantity(text) == pytest.approx(value)


def _deployment(name, namespace, requests, init=None, replicas=None, annotations=None, kind="Deployment"):
    spec = {
        "template": {
            "metadata": {"annotations": annotations or {}},
            "spec": {
                "containers": [{"name": "c", "image": f"{name}:1", "resources": {"requests": r}} for r in requests],
                "initContainers": [{"name": "i", "image": "init:1", "resources": {"requests": init}}] if init else [],
            },
        }
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def _injector(cpu="10m", memory="40Mi"):
    import json

    values = {
        "global": {
            "hub": "registry.istio.io/release",
            "tag": "1.30.1",
            "proxy": {"image": "proxyv2", "resources": {"requests": {"cpu": cpu, "memory": memory}}},
        }
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
        "data": {"values": json.dumps(values)},
    }


def test_measure_counts_like_the_scheduler():
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "mesh", "labels": {"istio-injection": "enabled"}},
    }
    objects = [
        namespace,
        _injector(),
        _deployment("two", "mesh", [{"cpu": "100m", "memory": "100Mi"}, {"cpu": "50m"}], replicas=2),
        _deployment("big-init", "plain", [{"memory": "10Mi"}], init={"memory": "1Gi", "cpu": "1"}),
        _deployment("opt-out", "mesh", [{"memory": "1Mi"}], annotations={"sidecar.istio.io/inject": "false"}),
        _deployment("custom", "mesh", [], annotations={"sidecar.istio.io/proxyMemory": "200Mi"}),
        _deployment("ds", "plain", [{"cpu": "100m", "memory": "100Mi"}], kind="DaemonSet"),
    ]
    totals = measure(objects, nodes=3)
    assert totals.pods == 2 + 1 + 1 + 1 + 3
    assert totals.cpu == pytest.approx(2 * 0.15 + 1 + 0.3)
    assert totals.memory == pytest.approx((2 * 100 + 1 + 300) * 2**20 + GIB)
    assert totals.sidecars == 3  # two replicas of `two`, and `custom`
    assert totals.sidecar_memory == pytest.approx((2 * 40 + 200) * 2**20)
    assert "registry.istio.io/release/proxyv2:1.30.1" in totals.images and "init:1" in totals.images
    without_istio = measure([o for o in objects if o["kind"] != "ConfigMap"], nodes=3)
    assert without_istio.sidecars == 0 and without_istio.sidecar_memory == 0


def test_the_profile_namespace_is_injected(example):
    chosen = select(example, CATALOG, ["hub"]).objects
    registry = [o for o in chosen if o["metadata"]["name"] == "model-registry-deployment"]
    assert measure(registry, 3, context=chosen).sidecars == 1
    assert measure(registry, 3).sidecars == 0  # alone, nothing says Istio is there
