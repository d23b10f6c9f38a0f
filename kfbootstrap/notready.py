"""What is not ready and why, one line per shared cause: for `up`'s deadline and for `status`.

When many workloads fail for one reason (every image pull refused at the same endpoint,
every pod unschedulable for the same lack of memory), a table with one row per workload
hides the cause in repetition. This prints one line per cause (how many, which, one
example message, a hint), then the per-workload table only for what is left, and writes
the complete table to the log file, saying where.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from kfbootstrap.kube.causes import Group, group_by_cause
from kfbootstrap.logsetup import log_location
from kfbootstrap.ui import shorten

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from kfbootstrap.kube.readiness import Problem

log = logging.getLogger("kfbootstrap.notready")

FIRST_NAMES = 5  # workloads named per cause
TABLE_LIMIT = 25  # rows of the per-workload table on screen (the log has them all)
EXAMPLE_CHARS = 400
LOG_WIDTH = 200


@dataclass
class NotReady:
    problems: list["Problem"]
    groups: list[Group["Problem"]]
    rest: list["Problem"]

    @classmethod
    def of(cls, problems: Sequence["Problem"]) -> "NotReady":
        groups, rest = group_by_cause(list(problems))
        return cls(list(problems), groups, rest)

    def summary(self, limit: int = 420) -> str:
        """For the error line: each cause with its count, then the ungrouped workloads, cut at `limit` characters."""
        parts = [f"{len(g.members)} × {g.cause.title}" for g in self.groups]
        parts += [f"{p.workload.namespace}/{p.workload.name} ({p.reason})" for p in self.rest]
        text = ""
        for shown, part in enumerate(parts):
            candidate = f"{text}, {part}" if text else part
            if len(candidate) > limit:
                return f"{text}, … ({len(parts) - shown} more)" if text else part[:limit] + "…"
            text = candidate
        return text

    def to_json(self) -> dict:
        return {
            "causes": [
                {
                    "cause": g.cause.title,
                    "hint": g.cause.hint,
                    "workloads": [p.workload.ref for p in g.members],
                    "example": g.members[0].detail,
                }
                for g in self.groups
            ],
            "workloads": [
                {"workload": p.workload.ref, "reason": p.reason, "detail": p.detail, "cause": _title(p)}
                for p in self.problems
            ],
        }


def _title(problem: "Problem") -> str | None:
    return problem.cause.title if problem.cause else None


def group_lines(groups: Sequence[Group["Problem"]]) -> list[str]:
    """One block per cause: count and cause, the first few workloads, one example message, the hint."""
    lines = []
    for group in groups:
        members = group.members
        names = ", ".join(f"{p.workload.namespace}/{p.workload.name}" for p in members[:FIRST_NAMES])
        if len(members) > FIRST_NAMES:
            names += f", … and {len(members) - FIRST_NAMES} more"
        example = shorten(" ".join(members[0].detail.split()), EXAMPLE_CHARS)
        lines += [
            f"  {len(members)} workloads: {group.cause.title}",
            f"    {names}",
            f"    e.g. {example}",
            f"    hint: {group.cause.hint}",
        ]
    return lines


def problems_table(problems: Sequence["Problem"], title: str = "Not ready", limit: int | None = None) -> "Table":
    """One row per workload: the reason and the evidence. `limit` rows at most, saying where the rest are."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("namespace", overflow="fold")
    table.add_column("workload", overflow="fold")
    table.add_column("ready", justify="right", no_wrap=True)
    table.add_column("reason", style="red", no_wrap=True)
    table.add_column("detail", overflow="fold")
    shown = problems if limit is None else problems[:limit]
    for problem in shown:
        workload = problem.workload
        table.add_row(
            workload.namespace,
            f"{workload.kind}/{workload.name}",
            f"{workload.ready}/{workload.desired}",
            problem.reason,
            problem.detail,
        )
    if len(shown) < len(problems):
        table.caption = f"… and {len(problems) - len(shown)} more: every row is in {log_location()}"
    return table


def log_complete(report: NotReady, what: str) -> None:
    """Every not-ready workload, the causes and the whole table, into the log file (debug level: never the screen)."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=LOG_WIDTH, no_color=True, highlight=False, soft_wrap=False)
    for line in group_lines(report.groups):
        console.print(line, markup=False)
    console.print(problems_table(report.problems, title=f"Not ready: {what} (complete)"))
    log.debug("%d workloads of %s not ready:\n%s", len(report.problems), what, buffer.getvalue())


def show(report: NotReady, console: "Console", what: str) -> None:
    """The grouped view: one block per cause, then the table of what is left, on `console`."""
    from kfbootstrap import ui

    log_complete(report, what)
    if report.groups:
        grouped = sum(len(g.members) for g in report.groups)
        console.print(
            f"Not ready, by cause ({grouped} of {len(report.problems)} workloads; the complete table is in "
            f"{log_location()}):",
            markup=False,
            highlight=False,
        )
        for line in group_lines(report.groups):
            console.print(line, markup=False, highlight=False)
    if not report.rest:
        return
    title = "Not ready" if not report.groups else f"Not ready, each for its own reason ({len(report.rest)})"
    ui.print_wide(problems_table(report.rest, title=title, limit=TABLE_LIMIT), console=console)
