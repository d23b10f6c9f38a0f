"""A step that keeps one Helm release at its pinned chart version and our values.

It is the step of every component whose descriptor (kfbootstrap/components.py) has a chart
and names no step of its own; it is built with the component's name. Subclasses name their
component and add work before the release (a generated secret) or after it (MetalLB's address pool).
The step is done when the deployed revision has the wanted chart version and values
(and the subclass's own check passes), so a re-run changes no revision.
"""

from __future__ import annotations

from typing import Any

from kfbootstrap import ui
from kfbootstrap.charts import ChartPin, ChartSource, bundled_dir, chart_source, chart_values
from kfbootstrap.components import get
from kfbootstrap.context import RunContext
from kfbootstrap.steps.base import Step
from kfbootstrap.tools.helm import Helm, ReleaseResult


class HelmReleaseStep(Step):
    component = ""

    def __init__(self, component: str = "") -> None:
        self.component = component or self.component
        pin = get(self.component).chart
        if pin is None:
            raise ValueError(f"component {self.component} has no chart")
        self.pin: ChartPin = pin
        self.name = self.component
        self.title = f"Install {get(self.component).title}"

    def heading(self, ctx: RunContext) -> str:
        version = getattr(ctx.config.charts, self.component).version or self.pin.version
        return f"{self.title} ({self.pin.chart} chart {version})"

    def describe(self, ctx: RunContext) -> str:
        return (
            f"{self.heading(ctx)}: Helm release {self.pin.release} in namespace {self.pin.namespace}, "
            "installed or upgraded only when chart version or values differ"
        )

    # ---------------------------------------------------------------- hooks for subclasses

    def before_release(self, ctx: RunContext) -> None:
        """Work the release depends on (namespaces, generated secrets)."""

    def after_release(self, ctx: RunContext, result: ReleaseResult) -> str | None:
        """Work that needs the release installed; may return a note for the ✓ line."""
        return None

    def extra_done(self, ctx: RunContext) -> bool:
        return True

    # ---------------------------------------------------------------- the step

    def is_done(self, ctx: RunContext) -> bool:
        source, values = self.wanted(ctx)
        current = helm_for(ctx).is_current(self.pin.release, self.pin.namespace, source, self.pin.chart, values)
        return current and self.extra_done(ctx)

    def run(self, ctx: RunContext) -> str | None:
        source, values = self.wanted(ctx)
        self.before_release(ctx)
        result = helm_for(ctx).ensure(
            self.pin.release, self.pin.namespace, source, self.pin.chart, values, on_note=ui.warn
        )
        note = result.describe(self.pin.release)
        if source.local:
            note += f" from {source.origin}"
        extra = self.after_release(ctx, result)
        return f"{note}; {extra}" if extra else note

    def wanted(self, ctx: RunContext) -> tuple[ChartSource, dict[str, Any]]:
        return (
            chart_source(self.pin, ctx.config.charts, bundled_dir(ctx.config)),
            chart_values(self.pin, ctx.config.charts),
        )


def helm_for(ctx: RunContext) -> Helm:
    return Helm(
        ctx.runner,
        ctx.config.charts.helm,
        context=ctx.config.kube_context,
        timeout_seconds=ctx.config.timeouts.apply,
        api_timeout=ctx.config.timeouts.api,
    )
