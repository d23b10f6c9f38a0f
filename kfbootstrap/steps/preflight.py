"""`up`'s first step: stop before any side effect when preflight finds a blocker (kfbootstrap/preflight/)."""

from __future__ import annotations

from kfbootstrap.context import RunContext
from kfbootstrap.errors import KfbError
from kfbootstrap.preflight.app_requests import requests_check
from kfbootstrap.preflight.checks import collect_findings
from kfbootstrap.preflight.findings import WARN
from kfbootstrap.steps.base import Step


class PreflightStep(Step):
    """Stop `up` before any side effect when a blocker is found."""

    name = "preflight"
    title = "Preflight checks"

    def describe(self, ctx: RunContext) -> str:
        return "Preflight checks (docker, kind, kubectl, helm, memory, inotify, ports)"

    def run(self, ctx: RunContext) -> str | None:
        findings = collect_findings(ctx.config, ctx.runner, ctx.host, requests=requests_check(ctx))
        blockers = [f for f in findings if f.blocker]
        if blockers:
            first = blockers[0]
            more = f" (and {len(blockers) - 1} more; see `kfbootstrap doctor`)" if len(blockers) > 1 else ""
            raise KfbError(f"{first.check}: {first.detail}{more}", hint=first.fix or "run `kfbootstrap doctor`")
        warnings = [f for f in findings if f.status == WARN]
        return (
            f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}, see `kfbootstrap doctor`"
            if warnings
            else None
        )
