"""The contract every step of `up` follows."""

from __future__ import annotations

from kfbootstrap.context import RunContext


class Step:
    """One small, re-runnable unit of `up`.

    `is_done` looks at the real world (not a log of earlier runs), so a re-run after
    success skips the step and a re-run after Ctrl-C repairs or finishes it.
    """

    name: str = ""  # short id for logs and the run report
    title: str = ""  # what the status line says

    def describe(self) -> str:
        """One line for `up --dry-run`: what the step would do, without touching anything."""
        return self.title

    def announce(self, ctx: RunContext) -> None:
        """Once the cluster is reachable and before any step changes it: say (or refuse) what this run changes."""

    def is_done(self, ctx: RunContext) -> bool:
        return False

    def run(self, ctx: RunContext) -> str | None:
        """Do the work; may return a short note for the ✓ line."""
        raise NotImplementedError
