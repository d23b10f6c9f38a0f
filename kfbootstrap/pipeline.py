"""Build the ordered steps of `up` from the config, and run them with one status line each.

The config decides which steps there are; the steps themselves are built without it and read it
from the run context (as kind's actions see only their context).
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kfbootstrap import ui
from kfbootstrap.components import HELM_STEP, Component, installer, resolve, selected
from kfbootstrap.config import Config
from kfbootstrap.context import RunContext
from kfbootstrap.errors import KfbError, StepFailed
from kfbootstrap.steps.base import Step

if TYPE_CHECKING:
    from kfbootstrap.kube.lease import UpLock

log = logging.getLogger("kfbootstrap.pipeline")


def build_steps(config: Config) -> list[Step]:
    """The plan for `up`: preflight, cluster, then each enabled component."""
    from kfbootstrap.steps.cluster import ClusterStep, ExistingClusterStep
    from kfbootstrap.steps.preflight import PreflightStep

    steps: list[Step] = [PreflightStep()]
    steps.append(ExistingClusterStep() if config.cluster.existing else ClusterStep())
    if config.cache.enabled and not config.cluster.existing and config.cache.registries:
        from kfbootstrap.steps.cache import CacheStep

        steps.append(CacheStep())  # before anything is applied: every pull goes through a cache
    enabled = set(config.components.enabled())
    from kfbootstrap.apps.plan import has_part

    if "kubeflow" in enabled and has_part(config, "dex") and not config.kubeflow.keep_default_password:
        from kfbootstrap.steps.dex_password import DexPasswordStep

        steps.append(DexPasswordStep())  # before Kubeflow: Dex must never start with the public default
    steps += [component_step(component) for component in selected(enabled)]
    if enabled:
        from kfbootstrap.steps.wait import WaitStep

        steps.append(WaitStep())
    if not config.cluster.existing and _has_kept_forwards(config):
        from kfbootstrap.steps.kept_forwards import KeptForwardsStep

        steps.append(KeptForwardsStep())  # before ForwardsStep: the same targets keep their ports
    if config.forwards.auto:
        from kfbootstrap.steps.forwards import ForwardsStep

        steps.append(ForwardsStep())
    return steps


def _has_kept_forwards(config: Config) -> bool:
    """Did `kfbootstrap stop` end forwards of this cluster that a start must serve again?"""
    from kfbootstrap import paths
    from kfbootstrap.lifecycle.kept_forwards import kept_file

    return kept_file(paths.state_dir() / "clusters" / config.cluster.name).is_file()


def component_step(component: Component) -> Step:
    """The installer its descriptor names, imported only now (`--help` must not load every step);
    the generic Helm step is told which component's chart it installs."""
    reference = installer(component)
    make = resolve(reference)
    return make(component.name) if reference == HELM_STEP else make()


def check_steps(steps: list[Step], ctx: RunContext) -> None:
    """Every step's refusal of the config, before any step runs (or the plan is printed)."""
    for step in steps:
        step.check(ctx)


@dataclass
class PipelineReport:
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class _RunsNothing:
    """The runner of the plan's context: describing a step must never run a program."""

    def run(self, argv, **kwargs):
        raise AssertionError(f"the plan ran {argv[0]}: describe() must touch nothing")

    def which(self, program: str) -> str | None:
        raise AssertionError(f"the plan looked for {program}: describe() must touch nothing")


def print_plan(steps: list[Step], config: Config) -> None:
    """`--dry-run`: the plan, touching nothing (not even to ask what is already done)."""
    ctx = RunContext(config=config, runner=_RunsNothing())
    check_steps(steps, ctx)
    ui.out.print("Plan (each step is skipped at run time when already done):")
    for number, step in enumerate(steps, 1):
        ui.out.print(f"  {number}. {step.describe(ctx)}")


def run_steps(steps: list[Step], ctx: RunContext) -> PipelineReport:
    """Run each step that is not done yet; stop at the first failure with the step named.

    With ctx.up_lock_wait set (`up`), the cluster's up lock is taken once the cluster step is
    done, and held until the last step ends, however it ends.
    """
    check_steps(steps, ctx)
    report = PipelineReport()
    with contextlib.ExitStack() as held:
        lock: "UpLock | None" = None
        for step in steps:
            if lock is not None:
                lock.check()
            if _is_done(step, ctx):
                ui.step_skipped(step.heading(ctx), "already done")
                report.skipped.append(step.name)
            else:
                _run_one(step, ctx)
                report.ran.append(step.name)
            if step.name == "cluster" and ctx.up_lock_wait is not None:
                lock = _take_lock(ctx, ctx.up_lock_wait)
                if lock is not None:
                    held.callback(lock.release)
                _announce(steps, ctx)
    return report


def _take_lock(ctx: RunContext, wait: float) -> "UpLock | None":
    """The up lock of this cluster, waiting up to `wait` seconds for another run's, with a line for each event.

    None when RBAC does not let this user touch Leases in kube-system: `up` goes on without it, saying so
    (the lock guards against a race; it must not stop a user whose rights suffice for the rest)."""
    from datetime import datetime, timezone

    from kfbootstrap.kube.errors import Forbidden
    from kfbootstrap.kube.lease import UpLock, ago

    lock = UpLock(ctx.kube)
    title = f"Take the up lock (Lease {lock.where})"

    def waiting(holder, _left: float) -> None:  # says the whole wait the user chose
        ui.info(
            f"  waiting: another `kfbootstrap up` holds the lock: {holder.describe(datetime.now(timezone.utc))}; "
            f"waiting up to {ago(wait)} for it (--wait-lock)"
        )

    def taking_over(holder, why: str) -> None:
        ui.warn(f"taking over the up lock from {holder.identity}: {why}")

    with ui.step_line(title) as line:
        try:
            lock.acquire(wait, on_wait=waiting, on_takeover=taking_over)
        except Forbidden as exc:
            ui.step_skipped(title, "not allowed by RBAC")
            ui.warn(f"running without the up lock: {exc.message}; two `up` at once against this cluster may race")
            return None
        except (KfbError, KeyboardInterrupt):
            ui.step_failed(title, line.elapsed())
            raise
    ui.step_done(title, line.elapsed(), f"held by {lock.me} until this run ends")
    return lock


def _announce(steps: list[Step], ctx: RunContext) -> None:
    """Each step's word before any of them changes the cluster (an upgrade said, a downgrade refused)."""
    for step in steps:
        try:
            step.announce(ctx)
        except KfbError as exc:
            if isinstance(exc, StepFailed):
                raise
            raise _named(step.heading(ctx), exc) from exc


def _is_done(step: Step, ctx: RunContext) -> bool:
    """Ask the step, under the same guard as its run: a refusal while looking fails that step by name."""
    started = time.monotonic()
    try:
        return step.is_done(ctx)
    except KfbError as exc:
        title = step.heading(ctx)
        ui.step_failed(title, time.monotonic() - started)
        if isinstance(exc, StepFailed):
            raise
        raise _named(title, exc) from exc


def _run_one(step: Step, ctx: RunContext) -> None:
    log.info("step %s: start", step.name)
    title = step.heading(ctx)
    with ui.step_line(title) as line:
        try:
            note = step.run(ctx)
        except KeyboardInterrupt:
            ui.step_failed(title, line.elapsed())
            raise
        except KfbError as exc:
            ui.step_failed(title, line.elapsed())
            _show_details(exc)
            if isinstance(exc, StepFailed):
                raise
            raise _named(title, exc) from exc
    ui.step_done(title, line.elapsed(), note or "")
    log.info("step %s: done in %.1fs", step.name, line.elapsed())


def _show_details(exc: KfbError) -> None:
    """A failure's table (e.g. the objects that did not apply), whole and above the error line, which the
    CLI keeps short."""
    details = getattr(exc, "details", None)
    if details:
        ui.err.print(details, markup=False, highlight=False, soft_wrap=True)


def _named(title: str, exc: KfbError) -> StepFailed:
    """The error with the step's title in front, keeping its hint and exit code."""
    return StepFailed(f"{title.lower()}: {exc.message}", hint=exc.hint, exit_code=exc.exit_code)
