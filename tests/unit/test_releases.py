"""The release table: 26.03.1 the default, every difference in one place, every command following it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kfbootstrap.config import DEFAULT_NODE_IMAGE, load_config
from kfbootstrap import components
from kfbootstrap.kube import retry
from kfbootstrap.kube.apply import ApplyFailed, ApplyReport, ObjectResult
from kfbootstrap.kube.objects import ObjectRef, controller_namespaces
from kfbootstrap.releases import DEFAULT_RELEASE, PROFILE_NAMESPACE, RELEASES, REPOSITORY
from tests.docs_tables import missing_row, section, table_rows, where


def config(version: str | None = None):
    flags = {"kubeflow.version": version} if version else {}
    return load_config(flags=flags, env={}, cwd=Path("/nonexistent")).config


def test_26_03_1_is_the_default_and_cloned_from_community_distribution():
    assert DEFAULT_RELEASE == "26.03.1" and config().kubeflow.version == "26.03.1"
    assert REPOSITORY == "https://github.com/kubeflow/community-distribution.git"
    assert list(RELEASES) == ["26.03.1", "26.03", "v1.11.0", "v1.10.2"]


def test_default_node_image_is_the_one_the_default_release_s_ci_uses():
    tested = RELEASES["26.03.1"].tested
    assert (
        DEFAULT_NODE_IMAGE
        == tested.node_image
        == ("kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5")
    )
    assert (tested.kind, tested.kubernetes) == ("v0.32.0", "v1.36.1")
    assert config().cluster.node_image == DEFAULT_NODE_IMAGE


@pytest.mark.parametrize(
    "tag,in_example,namespace,dashboard,webhook,web_app",
    [
        (
            "26.03.1",
            True,
            PROFILE_NAMESPACE,
            "dashboard",
            "poddefaults-webhook-deployment",
            "kserve-models-web-application",
        ),
        ("26.03", False, "kubeflow", "centraldashboard", "admission-webhook-deployment", "kserve-models-web-app"),
        ("v1.11.0", False, "kubeflow", "centraldashboard", "admission-webhook-deployment", "kserve-models-web-app"),
        ("v1.10.2", False, "kubeflow", "centraldashboard", "admission-webhook-deployment", "kserve-models-web-app"),
    ],
)
def test_each_release_says_where_its_model_registry_lives_and_what_its_workloads_are_called(
    tag, in_example, namespace, dashboard, webhook, web_app
):
    release = RELEASES[tag]
    registry = release.model_registry
    assert (registry.in_example, registry.namespace, registry.service, registry.port) == (
        in_example,
        namespace,
        "model-registry-service",
        8080,
    )
    assert (registry.path is None) == in_example
    assert (
        release.workloads.dashboard,
        release.workloads.poddefaults_webhook,
        release.workloads.kserve_models_web_app,
    ) == (dashboard, webhook, web_app)
    assert release.kserve_in_example and release.kserve_path == "applications/kserve/kserve"


def test_26_03_1_has_a_model_catalog_in_kubeflow_and_is_trusted_on_first_use():
    release = RELEASES["26.03.1"]
    assert release.model_registry.catalog_namespace == "kubeflow"
    assert release.commit is None  # the tag's commit was not visible to us
    assert all(RELEASES[tag].commit for tag in ("26.03", "v1.11.0", "v1.10.2"))


def test_the_wait_looks_for_the_model_registry_in_the_release_s_namespace():
    hub = components.scopes_for(["model_registry"], RELEASES["26.03.1"])
    assert {scope.namespace for scope in hub} == {PROFILE_NAMESPACE}
    assert components.Scope(PROFILE_NAMESPACE, (("component", "model-registry-server"),)) in hub
    assert {scope.namespace for scope in components.scopes_for(["model_registry"], RELEASES["26.03"])} == {"kubeflow"}
    kserve = components.scopes_for(["kserve"], RELEASES["26.03.1"])
    assert "kserve-models-web-application" in kserve[0].names


PROFILE = {"apiVersion": "kubeflow.org/v1beta1", "kind": "Profile", "metadata": {"name": PROFILE_NAMESPACE}}


def test_namespaces_a_controller_makes_from_the_render_are_known():
    other = {"apiVersion": "example.com/v1", "kind": "Profile", "metadata": {"name": "not-kubeflow"}}
    found = controller_namespaces(
        [PROFILE, other, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubeflow"}}]
    )
    assert found == {
        PROFILE_NAMESPACE: (
            "the Kubeflow profile controller (Deployment kubeflow/profiles-deployment)",
            f"Profile {PROFILE_NAMESPACE}",
        )
    }


def _waiting(namespace: str) -> ObjectResult:
    ref = ObjectRef("v1", "ConfigMap", namespace, "c")
    return ObjectResult(
        ref,
        "objects",
        attempts=9,
        verdict=retry.Verdict(retry.NAMESPACE_MISSING, f'namespaces "{namespace}" not found'),
    )


def test_the_deadline_names_the_controller_a_namespace_waits_for():
    report = ApplyReport(
        "kubeflow",
        [_waiting(PROFILE_NAMESPACE)],
        timed_out=True,
        controller_namespaces=controller_namespaces([PROFILE]),
    )
    error = ApplyFailed(report, 1200)
    assert error.message.splitlines()[-1] == (
        f"namespace {PROFILE_NAMESPACE} is still missing: waiting for the Kubeflow profile controller "
        f"(Deployment kubeflow/profiles-deployment) to create it from Profile {PROFILE_NAMESPACE}"
    )
    assert "has not created kubeflow-user-example-com" in error.hint and "kubectl get pods -n kubeflow" in error.hint


def test_a_plain_missing_namespace_keeps_the_usual_hint():
    report = ApplyReport(
        "kubeflow", [_waiting("elsewhere")], timed_out=True, controller_namespaces=controller_namespaces([PROFILE])
    )
    error = ApplyFailed(report, 60)
    assert "still missing" not in error.message and "controller" not in error.hint


RELEASES_PAGE, RELEASES_HEADING = "releases.md", "Supported releases"


def _docs_release_rows() -> dict[str, list[str]]:
    """The docs' supported-releases table, by tag: the cells of each row."""
    rows = table_rows(section(RELEASES_PAGE, RELEASES_HEADING))
    return {cells[0].replace("**", "").replace("(default)", "").strip(): cells for cells in rows}


def _row_to_add(tag: str) -> str:
    """A row for the table, filled in from the release's facts (the model registry's cell by hand)."""
    release = RELEASES[tag]
    name = f"**{tag}** (default)" if tag == DEFAULT_RELEASE else tag
    pinned = release.commit[:7] if release.commit else "none yet: recorded on first clone (trust on first use)"
    return (
        f"| {name} | {release.date} | {release.tested.kubernetes} `{release.tested.node_image}` | "
        f"{release.tested.kind} | `{release.object_store_service}` | … `{release.model_registry.namespace}` | {pinned} |"
    )


def test_docs_supported_releases_table_says_what_the_release_table_says():
    """Issue 12: the docs' table (release, date, Kubernetes and kind tested, object store, model registry,
    node image) must not drift from kfbootstrap/releases.py, which every command follows."""
    rows = _docs_release_rows()
    for tag in RELEASES:
        assert tag in rows, missing_row(RELEASES_PAGE, RELEASES_HEADING, f"release {tag}", _row_to_add(tag))
    assert list(rows) == list(RELEASES), f"{where(RELEASES_PAGE, RELEASES_HEADING)}: rows in the order of RELEASES"
    for tag, release in RELEASES.items():
        wrong = f"{where(RELEASES_PAGE, RELEASES_HEADING)}'s row for {tag} is wrong; it says what this says: {_row_to_add(tag)}"
        _, date, kubernetes, kind, object_store, registry, pinned = rows[tag]
        assert ("(default)" in rows[tag][0] or "**" in rows[tag][0]) is (tag == DEFAULT_RELEASE), wrong
        assert date == release.date, wrong
        assert kubernetes.startswith(release.tested.kubernetes + " "), wrong
        same_as = kubernetes.split("same image as ", 1)[1].rstrip(")") if "same image as " in kubernetes else tag
        assert release.tested.node_image == RELEASES[same_as].tested.node_image, wrong
        assert same_as != tag or release.tested.node_image in kubernetes, wrong
        assert kind == release.tested.kind, wrong
        assert f"`{release.object_store_service}`" in object_store, wrong
        assert f"`{release.model_registry.namespace}`" in registry, wrong
        assert ("part of `example`" in registry) is release.model_registry.in_example, wrong
        assert pinned.startswith(release.commit[:7]) if release.commit else pinned.startswith("none yet"), wrong


def test_render_out_writes_model_registry_overlays_only_where_example_lacks_the_registry():
    """`render --out` (and `images`) write what `up` applies: 26.03.1's registry comes with example."""
    from kfbootstrap.manifests import renders_for

    hub = renders_for(config("26.03.1"))
    assert "kubeflow" in hub and not [name for name in hub if name.startswith("model-registry")]
    for older in ("26.03", "v1.11.0", "v1.10.2"):
        overlays = [name for name in renders_for(config(older)) if name.startswith("model-registry-")]
        assert overlays and "model-registry-db" in overlays, (older, overlays)
