"""Run the planned checks one after another, timing each and never letting one stop the rest."""

from __future__ import annotations

import logging
import time
from typing import Callable, Iterable

from kfbootstrap.smoke.checks import CheckContext, CheckFailed, CheckSkipped
from kfbootstrap.smoke.plan import Check
from kfbootstrap.smoke.report import ERROR, FAILED, PASSED, SKIPPED, CheckResult, SmokeReport

log = logging.getLogger("kfbootstrap.smoke")


def run_checks(
    checks: Iterable[Check],
    enabled: set[str],
    ctx: CheckContext,
    on_result: Callable[[CheckResult], None] = lambda result: None,
    chosen: Callable[[str | None], bool] = lambda part: True,
) -> SmokeReport:
    """`chosen(part)`: is that Kubeflow part installed (kubeflow.apps)? A check of what is not installed is skipped."""
    report = SmokeReport()
    for check in checks:
        if check.component not in enabled:
            result = _not_run(check, SKIPPED, f"component {check.component} is disabled in the config")
        elif not chosen(check.part):
            result = _not_run(check, SKIPPED, f"{check.part} is not among the chosen apps (kubeflow.apps)")
        elif ctx.api_problem:  # each check would wait out the same timeout against the same silent server
            result = _not_run(check, FAILED, f"not run: {ctx.api_problem}")
        else:
            result = run_one(check, ctx)
        report.results.append(result)
        on_result(result)
    return report


def _not_run(check: Check, status: str, why: str) -> CheckResult:
    return CheckResult(check.name, check.component, check.title, status, 0.0, why)


def run_one(check: Check, ctx: CheckContext) -> CheckResult:
    started = time.monotonic()
    try:
        note = check.run(ctx) or ""
        status, message = PASSED, note
    except CheckFailed as exc:  # includes EndpointUnavailable
        status, message = FAILED, str(exc)
    except CheckSkipped as exc:
        status, message = SKIPPED, str(exc)
    except Exception as exc:  # a bug in a check must not hide the other results
        log.exception("smoke check %s crashed", check.name)
        status, message = ERROR, f"{type(exc).__name__}: {exc}"
    return CheckResult(check.name, check.component, check.title, status, time.monotonic() - started, message)
