"""Install Kubeflow: render the manifests' `example` and apply it server-side in one converging pass.

ManifestsStep is shared with the KServe step: render (cached), apply with the engine
in kfbootstrap/kube/apply.py, then record the render's hash in the cluster. A re-run
with unchanged inputs finds the marker, checks the namespaces still exist and skips
the step in about a second; without the marker the apply itself is idempotent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kfbootstrap import ui
from kfbootstrap.config import Config
from kfbootstrap.context import RunContext
from kfbootstrap.steps.base import Step

if TYPE_CHECKING:
    from kfbootstrap.manifests import Render, Renderer


class ManifestsStep(Step):
    """Apply one component rendered from kubeflow/manifests (see kfbootstrap/manifests.py)."""

    component = ""
    what = ""  # for describe(): what is rendered

    def __init__(self, config: Config) -> None:
        self.config = config
        self._renderer: "Renderer | None" = None
        self._render: "Render | None" = None
        self._not_separate: str | None = None

    def describe(self) -> str:
        from kfbootstrap.manifests import source_for

        source = source_for(self.config)
        return (f"Render {self.what} from {source.describe()} and apply it server-side "
                "(CRDs first, webhooks last, each object retried on its own)")

    def is_done(self, ctx: RunContext) -> bool:
        """Done when the cluster's marker holds this render's hash and its namespaces still exist."""
        from kfbootstrap.kube.state import missing_namespaces, read_marker

        marker = read_marker(ctx.kube, self.component)  # first: no marker, no need to render
        if marker is None:
            return False
        render = self.rendered(ctx)
        return render is not None and marker.render_hash == render.digest and \
            not missing_namespaces(ctx.kube, marker.namespaces)

    def run(self, ctx: RunContext) -> str | None:
        from kfbootstrap.kube.apply import apply_objects
        from kfbootstrap.kube.objects import namespaces_of
        from kfbootstrap.kube.state import Marker, forget_marker, write_marker

        render = self.rendered(ctx)
        if render is None:
            return f"not applied separately: {self._not_separate}"
        forget_marker(ctx.kube, self.component)  # an interrupted apply must not look done on the next run
        objects = self.adjusted(ctx, render.objects())
        report = apply_objects(ctx.kube, objects, component=self.component, timeout=ctx.config.timeouts.apply,
                               progress=_progress)
        write_marker(ctx.kube, Marker(self.component, render.digest, report.total, namespaces_of(objects)))
        return f"{report.summary()} from {render.origin}"

    def adjusted(self, ctx: RunContext, objects: list) -> list:
        """What the cluster must differ in from the render (none by default)."""
        return objects

    def rendered(self, ctx: RunContext) -> "Render | None":
        """The render, made once per run; None when the source has no separate render of this component."""
        from kfbootstrap.manifests import NotSeparate, Renderer

        if self._render is None and self._not_separate is None:
            self._renderer = self._renderer or Renderer(self.config, ctx.runner)
            try:
                self._render = self._renderer.render(self.component)
            except NotSeparate as why:
                self._not_separate = str(why)
        return self._render


def _progress(done: int, total: int) -> None:
    ui.step_progress(f"{done}/{total} objects", plain=f"{done}/{total} objects applied")


class KubeflowStep(ManifestsStep):
    name = "kubeflow"
    component = "kubeflow"
    what = "the `example` (Kubeflow)"
    title = "Install Kubeflow manifests"

    def adjusted(self, ctx: RunContext, objects: list) -> list:
        """The render with Dex's current hash (set by the password step), never the public default's."""
        from kfbootstrap.access import passwords

        if self.config.kubeflow.keep_default_password:
            return objects
        current = passwords.current_hash(ctx.core())
        return passwords.with_current_hash(objects, current) if current else objects
