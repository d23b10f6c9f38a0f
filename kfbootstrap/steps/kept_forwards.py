"""After a start: serve again, on the same local ports, the background forwards `kfbootstrap stop` ended."""

from __future__ import annotations

from kfbootstrap import ui
from kfbootstrap.context import RunContext
from kfbootstrap.lifecycle.kept_forwards import kept_file, read_kept, restore
from kfbootstrap.steps.base import Step


class KeptForwardsStep(Step):
    name = "kept-forwards"
    title = "Restart the port-forwards `stop` ended"

    def describe(self, ctx: RunContext) -> str:
        return "Restart the background port-forwards `kfbootstrap stop` ended, on the same local ports"

    def is_done(self, ctx: RunContext) -> bool:
        return not read_kept(kept_file(ctx.cluster_state_dir()))

    def run(self, ctx: RunContext) -> str | None:
        started, failed = restore(kept_file(ctx.cluster_state_dir()))
        for why in failed:
            ui.warn(f"forward not restarted: {why} (the next `kfbootstrap start` tries again)")
        return f"{len(started)} running: {', '.join(started) or 'none'}" + (
            f"; not started: {len(failed)}" if failed else ""
        )
