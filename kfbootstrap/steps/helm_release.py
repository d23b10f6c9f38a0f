"""A step that keeps one Helm release at its pinned chart version and our values.

Subclasses name the component (a key of kfbootstrap.charts.CHART_PINS) and may add
work before the release (a generated secret) or after it (MetalLB's address pool).
The step is done when the deployed revision has the wanted chart version and values
(and the subclass's own check passes), so a re-run changes no revision.
"""

from __future__ import annotations

from typing import Any

from kfbootstrap import ui
from kfbootstrap.charts import CHART_PINS, ChartPin, ChartSource, bundled_dir, chart_source, chart_values
from kfbootstrap.components import get
from kfbootstrap.config import Config
from kfbootstrap.context import RunContext
from kfbootstrap.steps.base import Step
from kfbootstrap.tools.helm import Helm, ReleaseResult


class HelmReleaseStep(Step):
    component = ""

    def __init__(self, config: Config) -> None:
        self.pin: ChartPin = CHART_PINS[self.component]
        self.name = self.component
        version = getattr(config.charts, self.component).version or self.pin.version
        self.title = f"Install {get(self.component).title} ({self.pin.chart} chart {version})"

    def describe(self) -> str:
        return (
            f"{self.title}: Helm release {self.pin.release} in namespace {self.pin.namespace}, "
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
