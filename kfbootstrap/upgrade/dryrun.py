"""`up --dry-run`'s upgrade plan: what the run would change on the installed platform, read from the cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from kfbootstrap import ui
from kfbootstrap.config import Config
from kfbootstrap.errors import KfbError

if TYPE_CHECKING:
    from kfbootstrap.tools.runner import Runner


def print_upgrade_plan(config: Config, new_runner: "Callable[[], Runner]") -> None:
    """The plan per app, read-only. Said instead, in one line: why there is none (no cluster, nothing local to render)."""
    if not config.components.on("kubeflow"):
        return
    from kfbootstrap.context import RunContext
    from kfbootstrap.manifests import Renderer
    from kfbootstrap.steps.kubeflow import KubeflowStep

    if not Renderer(config, None).is_local():  # type: ignore[arg-type]
        ui.out.print(
            "\nUpgrade plan: not made, the release is not cloned yet (a dry run fetches nothing)", markup=False
        )
        return
    ctx = RunContext(config=config, runner=_RunnerWhenNeeded(new_runner))
    try:
        ctx.kube.raw("/version")
        plan = KubeflowStep().plan(ctx)
    except KfbError as exc:
        ui.out.print(f"\nUpgrade plan: not made ({exc.message})", markup=False)
        return
    if plan is None:
        return
    ui.out.print("\nUpgrade plan (what this run changes on the cluster):", markup=False)
    for line in plan.lines():
        ui.out.print(f"  {line}", markup=False, soft_wrap=True)


class _RunnerWhenNeeded:
    """Made on first use: a pre-rendered release is planned without any program, so none is looked for."""

    def __init__(self, make: "Callable[[], Runner]") -> None:
        self._make = make
        self._runner: "Runner | None" = None

    def _get(self) -> "Runner":
        if self._runner is None:
            self._runner = self._make()
        return self._runner

    def run(self, argv, **kwargs):
        return self._get().run(argv, **kwargs)

    def which(self, program: str) -> str | None:
        return self._get().which(program)
