"""Install Kubeflow: render the manifests' `example` and apply it server-side in one converging pass.

ManifestsStep is shared with the KServe step: render (cached), apply with the engine
in kfbootstrap/kube/apply.py, then record the render's hash in the cluster. A re-run
with unchanged inputs finds the marker, checks the namespaces still exist and skips
the step in about a second; without the marker the apply itself is idempotent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kfbootstrap import ui
from kfbootstrap.context import RunContext
from kfbootstrap.steps.base import Step

if TYPE_CHECKING:
    from kfbootstrap.kube.state import Marker
    from kfbootstrap.manifests import Render, Renderer
    from kfbootstrap.upgrade.plan import Plan, Target


class ManifestsStep(Step):
    """Apply one component rendered from the Kubeflow release (see kfbootstrap/manifests.py)."""

    component = ""
    what = ""  # for describe(): what is rendered

    def __init__(self) -> None:
        self._renderer: "Renderer | None" = None
        self._render: "Render | None" = None
        self._not_separate: str | None = None
        self._plan: "Plan | None" = None

    def describe(self, ctx: RunContext) -> str:
        from kfbootstrap.manifests import source_for

        source = source_for(ctx.config)
        return (
            f"Render {self.what} from {source.describe()} and apply it server-side "
            "(CRDs first, webhooks last, each object retried on its own)"
        )

    def is_done(self, ctx: RunContext) -> bool:
        """Done when the cluster's marker holds this render's hash and its namespaces still exist."""
        from kfbootstrap.kube.state import missing_namespaces, read_marker

        marker = read_marker(ctx.kube, self.component)  # first: no marker, no need to render
        if marker is None:
            return False
        render = self.rendered(ctx)
        return (
            render is not None
            and marker.render_hash == self.digest(ctx, render)
            and not missing_namespaces(ctx.kube, marker.namespaces)
            and not self.to_remove(ctx, marker)
        )

    def run(self, ctx: RunContext) -> str | None:
        from kfbootstrap.kube.apply import apply_objects
        from kfbootstrap.kube.applyset import PART_OF_LABEL
        from kfbootstrap.kube.objects import namespaces_of
        from kfbootstrap.kube.state import Marker, forget_marker, read_marker, write_marker
        from kfbootstrap.upgrade import carry_out

        render = self.rendered(ctx)
        if render is None:
            return f"not applied separately: {self._not_separate}"
        previous = read_marker(ctx.kube, self.component)
        plan = self.plan(ctx)
        assert plan is not None  # rendered above
        self._refuse_downgrade(ctx, plan)
        upgraded = f"; upgraded from {plan.installed}" if plan.changes_release else ""  # before the record moves on
        forget_marker(ctx.kube, self.component)  # an interrupted apply must not look done on the next run
        record = carry_out.begin(ctx.kube, plan)
        for line in carry_out.before_apply(ctx.kube, plan, record):
            ui.info(f"  {line}")
        objects = list(plan.target.objects)
        report = apply_objects(
            ctx.kube,
            objects,
            component=self.component,
            timeout=ctx.config.timeouts.apply,
            progress=_progress,
            labels={PART_OF_LABEL: record.id},
        )
        for result in report.recreated():
            ui.info(f"  recreated {result.ref}: {result.recreated}, so it was deleted and created again")
        for line in carry_out.after_apply(ctx.kube, plan, record, objects):
            ui.info(f"  {line}")
        kept = self.after_apply(ctx, previous)
        marker = Marker(
            self.component,
            self.digest(ctx, render),
            report.total,
            namespaces_of(objects),
            parts=self.parts(ctx),
            kept=kept,
        )
        write_marker(ctx.kube, marker)
        note = f"; kept, no longer chosen: {', '.join(kept)}" if kept else ""
        return f"{report.summary()} from {render.origin}{upgraded}{note}"

    def announce(self, ctx: RunContext) -> None:
        """Before anything changes: a different release than the installed one is said (or refused)."""
        from kfbootstrap.kube.applyset import read_record

        record = read_record(ctx.kube, self.component)
        if record is None or record.release == ctx.config.kubeflow.version or self.rendered(ctx) is None:
            return
        plan = self.plan(ctx)
        assert plan is not None
        self._refuse_downgrade(ctx, plan)
        ui.info(
            f"Kubeflow {plan.installed} is installed; this run upgrades it to {plan.target.release}: "
            f"{plan.summary()} (`kfbootstrap up --dry-run` lists them)"
        )

    def plan(self, ctx: RunContext) -> "Plan | None":
        """What this run changes on the cluster (made once per run; None without a separate render)."""
        from kfbootstrap.kube.applyset import read_record
        from kfbootstrap.upgrade.plan import make_plan

        render = self.rendered(ctx)
        if render is None:
            return None
        if self._plan is None:
            record = read_record(ctx.kube, self.component)
            self._plan = make_plan(ctx.kube, self.component, record, self.target(ctx, render))
        return self._plan

    def target(self, ctx: RunContext, render: "Render") -> "Target":
        from kfbootstrap.upgrade.plan import PART_LABEL, Target

        objects = self.adjusted(ctx, self.objects(ctx, render))
        parts = [str(((o.get("metadata") or {}).get("labels") or {}).get(PART_LABEL) or "") for o in objects]
        kubeflow = ctx.config.kubeflow
        return Target(
            kubeflow.version, list(kubeflow.apps or []), kubeflow.sizing, objects, parts, self.dropped_parts(ctx)
        )

    def dropped_parts(self, ctx: RunContext) -> list[str]:
        return []

    @staticmethod
    def _refuse_downgrade(ctx: RunContext, plan: "Plan") -> None:
        from kfbootstrap.upgrade import DowngradeRefused

        if plan.downgrade and not ctx.allow_downgrade:
            raise DowngradeRefused(plan.installed, plan.target.release)

    # Hooks for the Kubeflow step, which applies only the chosen apps (kfbootstrap/apps).
    def objects(self, ctx: RunContext, render: "Render") -> list[dict]:
        return render.objects()

    def digest(self, ctx: RunContext, render: "Render") -> str:
        return render.digest

    def parts(self, ctx: RunContext) -> list[str]:
        return []

    def to_remove(self, ctx: RunContext, marker: "Marker") -> list[str]:
        return []

    def after_apply(self, ctx: RunContext, previous: "Marker | None") -> list[str]:
        """What is left installed of an earlier choice (nothing: only Kubeflow chooses)."""
        return []

    def adjusted(self, ctx: RunContext, objects: list) -> list:
        """What the cluster must differ in from the render (none by default)."""
        return objects

    def rendered(self, ctx: RunContext) -> "Render | None":
        """The render, made once per run; None when the source has no separate render of this component."""
        from kfbootstrap.manifests import NotSeparate, Renderer

        if self._render is None and self._not_separate is None:
            self._renderer = self._renderer or Renderer(ctx.config, ctx.runner)
            try:
                self._render = self._renderer.render(self.component)
            except NotSeparate as why:
                self._not_separate = str(why)
        return self._render


def _progress(done: int, total: int) -> None:
    ui.step_progress(f"{done}/{total} objects", plain=f"{done}/{total} objects applied")


class KubeflowStep(ManifestsStep):
    """The `example`, or the chosen apps of it (kubeflow.apps) and the common parts they need.

    Apps an earlier run installed and the new choice drops are kept unless
    kubeflow.remove_dropped is set (README, 'Choosing applications', says why).
    """

    name = "kubeflow"
    component = "kubeflow"
    what = "the `example` (Kubeflow)"
    title = "Install Kubeflow manifests"

    def adjusted(self, ctx: RunContext, objects: list) -> list:
        """The render with Dex's current hash (set by the password step), never the public default's."""
        from kfbootstrap.access import passwords

        if ctx.config.kubeflow.keep_default_password:
            return objects
        current = passwords.current_hash(ctx.kube)
        return passwords.with_current_hash(objects, current) if current else objects

    def describe(self, ctx: RunContext) -> str:
        apps = ctx.config.kubeflow.apps
        chosen = f"; only {', '.join(apps)} and what they need" if apps is not None else ""
        return super().describe(ctx) + chosen

    def objects(self, ctx: RunContext, render: "Render") -> list[dict]:
        from kfbootstrap.apps.plan import selection_for

        return selection_for(ctx.config, render).objects

    def digest(self, ctx: RunContext, render: "Render") -> str:
        from kfbootstrap.apps.plan import selection_digest

        return selection_digest(render, self.parts(ctx), ctx.config.kubeflow.sizing)

    def parts(self, ctx: RunContext) -> list[str]:
        from kfbootstrap.apps.plan import chosen_parts

        return chosen_parts(ctx.config)

    def dropped_parts(self, ctx: RunContext) -> list[str]:
        """Apps an earlier run installed that are no longer chosen and stay (kubeflow.remove_dropped off)."""
        from kfbootstrap.apps.plan import left_behind
        from kfbootstrap.kube.state import read_marker

        if ctx.config.kubeflow.remove_dropped:
            return []
        marker = read_marker(ctx.kube, self.component)
        return left_behind(marker.parts, marker.kept, self.parts(ctx)) if marker else []

    def to_remove(self, ctx: RunContext, marker: "Marker") -> list[str]:
        """Dropped parts still on the cluster that the config asks to remove."""
        from kfbootstrap.apps.plan import left_behind

        remove = ctx.config.kubeflow.remove_dropped
        return left_behind(marker.parts, marker.kept, self.parts(ctx)) if remove else []

    def after_apply(self, ctx: RunContext, previous: "Marker | None") -> list[str]:
        """Remove the dropped parts when asked; else report them kept."""
        from kfbootstrap.apps.plan import left_behind, part_selector

        if previous is None:
            return []
        dropped = left_behind(previous.parts, previous.kept, self.parts(ctx))
        if not dropped or not ctx.config.kubeflow.remove_dropped:
            return dropped
        from kfbootstrap.kube.cleanup import delete_managed

        report = delete_managed(ctx.kube.rest, selector=part_selector(dropped))
        if report.failed:
            ref, why = report.failed[0]
            ui.warn(f"removing dropped apps: {len(report.failed)} objects not deleted, first {ref}: {why}")
            return dropped
        if report.unlisted:
            first = report.unlisted[0]
            ui.warn(
                f"removing dropped apps: {len(report.unlisted)} kinds could not be listed, so objects of them may "
                f"remain, first {first.resource}: {first.message}"
            )
            return dropped
        return []
