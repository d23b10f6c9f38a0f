"""The Kubeflow model registry: upstream kustomize overlays applied into `kubeflow`, then waited on.

Since 26.03.1 the registry lives in Kubeflow Hub and comes with `example` (namespace
kubeflow-user-example-com, made by the profile controller): then this step applies
nothing and only waits for it (kfbootstrap/releases.py says which release is which).

Before, it is not part of the `example` render, so upstream applies `overlays/db` and
`options/istio` (and optionally `options/csi`) by hand with `-n kubeflow`. We do the
same with the apply engine. The overlays come from the same place as Kubeflow's
manifests (kfbootstrap/manifests.py: the pinned release's cached clone, a checkout,
or a directory of pre-rendered `model-registry-<overlay>.yaml[.xz]`), unless
model_registry.path points somewhere else. `options/istio` is skipped with a warning
when Istio's CRDs are absent (Kubeflow switched off on a cluster without Istio).

Like the Kubeflow step, a marker in the cluster (kube/state.py) holds the hash of
what was applied, so a re-run with the same render and ready workloads skips it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from kfbootstrap import ui
from kfbootstrap.context import RunContext
from kfbootstrap.errors import ConfigError
from kfbootstrap.steps.base import Step

if TYPE_CHECKING:
    from kfbootstrap.manifests import Render

NAMESPACE = "kubeflow"
ISTIO_CRD = "virtualservices.networking.istio.io"


class ModelRegistryStep(Step):
    name = "model_registry"
    title = "Install the model registry"

    def __init__(self) -> None:
        self._render: tuple[list["Render"], str] | None = None

    def describe(self, ctx: RunContext) -> str:
        return (
            "Apply the model registry overlays (db, istio[, csi]) into namespace kubeflow and wait until it is ready"
            " (releases whose example brings it, like 26.03.1's Kubeflow Hub: only wait)"
        )

    def is_done(self, ctx: RunContext) -> bool:
        from kfbootstrap.kube.state import read_marker

        if ctx.config.release.model_registry.in_example:
            return _ready(ctx)
        marker = read_marker(ctx.kube, self.name)
        if marker is None or marker.render_hash != self.rendered(ctx)[1]:
            return False
        return _ready(ctx)

    def run(self, ctx: RunContext) -> str | None:
        if ctx.config.release.model_registry.in_example:
            return _wait_for_example_registry(ctx)
        from kfbootstrap.kube.apply import apply_objects
        from kfbootstrap.kube.generated import ensure_namespace
        from kfbootstrap.kube.state import Marker, forget_marker, write_marker
        from kfbootstrap.steps.wait import wait_or_explain

        renders, digest = self.rendered(ctx)
        overlays = [render.component.removeprefix("model-registry-") for render in renders]
        if "istio" not in overlays:
            ui.warn(f"Istio is not installed (no CRD {ISTIO_CRD}): skipping the model registry's options/istio")
        kube = ctx.kube
        forget_marker(kube, self.name)  # an interrupted apply must not look done on the next run
        ensure_namespace(kube, NAMESPACE, self.name)
        objects = [obj for render in renders for obj in render.objects()]
        report = apply_objects(
            kube,
            objects,
            component=self.name,
            timeout=ctx.config.timeouts.apply,
            default_namespace=NAMESPACE,
            progress=lambda done, total: ui.step_progress(f"{done}/{total} objects"),
        )
        wait_or_explain(ctx, _scopes(ctx), what="the model registry")
        write_marker(kube, Marker(self.name, digest, report.total, [NAMESPACE]))
        return f"{', '.join(overlays)}: {report.summary()}, ready"

    def rendered(self, ctx: RunContext) -> tuple[list["Render"], str]:
        """The overlays' renders and one hash over them; made once per run."""
        from kfbootstrap.manifests import render_overlay

        if self._render is None:
            wanted = ["db", "istio"] + (["csi"] if ctx.config.model_registry.csi else [])
            if not _istio_installed(ctx):
                wanted.remove("istio")
            renders = [render_overlay(ctx.config, ctx.runner, overlay) for overlay in wanted]
            digest = hashlib.sha256("".join(r.digest for r in renders).encode()).hexdigest()
            self._render = (renders, digest)
        return self._render


def _scopes(ctx: RunContext) -> list:
    from kfbootstrap.components import scopes_for

    return scopes_for(["model_registry"], ctx.config.release)


def _ready(ctx: RunContext) -> bool:
    from kfbootstrap.kube import readiness

    workloads = readiness.snapshot(ctx.kube, _scopes(ctx))
    return bool(workloads) and all(w.is_ready for w in workloads)


def _wait_for_example_registry(ctx: RunContext) -> str:
    """The release's example brought the registry: apply no second copy, wait until it is ready."""
    from kfbootstrap.steps.wait import wait_or_explain

    release = ctx.config.release
    registry = release.model_registry
    if "kubeflow" not in ctx.config.components.enabled():
        raise ConfigError(
            f"the model registry of release {release.tag} comes with Kubeflow's example "
            f"({registry.home}), and components.kubeflow is off",
            hint="switch components.kubeflow on, or components.model_registry off",
        )
    wait_or_explain(ctx, _scopes(ctx), what="the model registry")
    return f"{registry.home}, namespace {registry.namespace}: nothing more to apply, ready"


def _istio_installed(ctx: RunContext) -> bool:
    from kfbootstrap.kube.api import CRDS

    return ctx.kube.get(CRDS, ISTIO_CRD) is not None
