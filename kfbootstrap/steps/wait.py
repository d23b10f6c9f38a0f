"""The readiness step: watch every enabled component's workloads until they are ready.

One deadline for the whole platform (timeouts.ready, set per profile). On a terminal
the step line shows a live table of ready / total workloads per namespace; in CI a
plain line at most once a minute. When the deadline passes, one line per shared cause and
a table of the rest say what is not ready and why (kfbootstrap/notready.py), and `up`
fails with exit 1 (a re-run continues where this one stopped).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from kfbootstrap import ui
from kfbootstrap.components import scopes_for
from kfbootstrap.context import RunContext
from kfbootstrap.errors import KfbError
from kfbootstrap.steps.base import Step

if TYPE_CHECKING:
    from rich.table import Table

    from kfbootstrap.components import Scope
    from kfbootstrap.kube.readiness import WaitResult
    from kfbootstrap.kube.workloads import Workload


class WorkloadsNotReady(KfbError):
    """The deadline passed with workloads still not ready; the table was printed above."""


class WaitStep(Step):
    name = "wait"
    title = "Wait until every workload is ready"

    def describe(self, ctx: RunContext) -> str:
        return "Wait until the Deployments, StatefulSets and DaemonSets of every enabled component are ready"

    def is_done(self, ctx: RunContext) -> bool:
        from kfbootstrap.kube import readiness

        scopes = scopes_for(ctx.config.components.enabled(), ctx.config.release)
        workloads = readiness.snapshot(ctx.kube, scopes)
        return all(w.is_ready for w in workloads)

    def run(self, ctx: RunContext) -> str | None:
        from kfbootstrap.kube import readiness

        scopes = scopes_for(ctx.config.components.enabled(), ctx.config.release)
        if not scopes:
            return "no enabled component has workloads"
        result = wait_or_explain(ctx, scopes, what="the platform")
        return f"{len(result.workloads)} workloads in {len(readiness.per_namespace(result.workloads))} namespaces"


def wait_or_explain(ctx: RunContext, scopes: Sequence["Scope"], what: str) -> "WaitResult":
    """Wait up to timeouts.ready with live progress; on the deadline say what is not ready, by cause, and raise."""
    from kfbootstrap import notready
    from kfbootstrap.kube import readiness

    timeout = ctx.config.timeouts.ready
    result = readiness.wait_ready(ctx.kube, scopes, timeout, progress=_show_progress)
    if result.ok:
        return result
    report = notready.NotReady.of(readiness.explain(ctx.kube, result.not_ready))
    notready.show(report, ui.err, what)
    raise WorkloadsNotReady(
        f"{len(report.problems)} of {len(result.workloads)} workloads of {what} not ready after {timeout}s: "
        + report.summary(),
        hint=("the causes above say what to check" if report.groups else "fix what the table names")
        + " (or wait: images may still be pulling), then re-run `kfbootstrap up`; raise timeouts.ready on a "
        f"slow machine; the complete table is in {notready.log_location()}",
    )


def _show_progress(workloads: Sequence["Workload"]) -> None:
    from kfbootstrap.kube.readiness import per_namespace

    counts = per_namespace(workloads)
    ready = sum(r for r, _ in counts.values())
    plain = (
        f"{ready}/{len(workloads)} workloads ready ("
        + ", ".join(f"{ns} {r}/{t}" for ns, (r, t) in counts.items())
        + ")"
    )
    ui.step_progress(progress_table(counts), plain=plain)


def progress_table(counts: dict[str, tuple[int, int]]) -> "Table":
    from rich.table import Table

    table = Table(box=None, show_header=True, header_style="dim", pad_edge=False)
    table.add_column("namespace")
    table.add_column("ready", justify="right")
    for namespace, (ready, total) in counts.items():
        style = "green" if ready == total else "yellow"
        table.add_row(namespace, f"[{style}]{ready}/{total}[/]")
    return table
