"""The Kubeflow model registry: upstream kustomize overlays applied into `kubeflow`, then waited on.

It is not part of the `example` render, so upstream applies `overlays/db` and
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
from kfbootstrap.steps.base import Step

if TYPE_CHECKING:
    from kfbootstrap.config import Config
    from kfbootstrap.manifests import Render

NAMESPACE = "kubeflow"
ISTIO_CRD = "virtualservices.networking.istio.io"


class ModelRegistryStep(Step):
    name = "model_registry"
    title = "Install the model registry"

    def __init__(self, config: "Config | None" = None) -> None:
        self._render: tuple[list["Render"], str] | None = None

    def describe(self) -> str:
        return "Apply the model registry overlays (db, istio[, csi]) into namespace kubeflow and wait until it is ready"

    def is_done(self, ctx: RunContext) -> bool:
        from kfbootstrap.kube import readiness
        from kfbootstrap.kube.state import read_marker

        marker = read_marker(ctx.kube, self.name)
        if marker is None or marker.render_hash != self.rendered(ctx)[1]:
            return False
        workloads = readiness.snapshot(ctx.kube, readiness.scopes_for([self.name]))
        return bool(workloads) and all(w.is_ready for w in workloads)

    def run(self, ctx: RunContext) -> str | None:
        from kfbootstrap.kube import readiness
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
        report = apply_objects(kube, objects, component=self.name, timeout=ctx.config.timeouts.apply,
                               default_namespace=NAMESPACE,
                               progress=lambda done, total: ui.step_progress(f"{done}/{total} objects"))
        wait_or_explain(ctx, readiness.scopes_for([self.name]), what="the model registry")
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


def _istio_installed(ctx: RunContext) -> bool:
    from kfbootstrap.kube.api import CRDS

    return ctx.kube.get(CRDS, ISTIO_CRD) is not None
