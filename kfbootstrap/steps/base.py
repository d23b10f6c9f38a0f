"""The contract every step of `up` follows."""

from __future__ import annotations

from kfbootstrap.context import RunContext


class Step:
    """One small, re-runnable unit of `up`.

    A step is built without the config: `up` decides from the config which steps run
    (kfbootstrap/pipeline.py), and each step reads the config from the run context it is
    given, once, in every call. `is_done` looks at the real world (not a log of earlier runs),
    so a re-run after success skips the step and a re-run after Ctrl-C repairs or finishes it.
    """

    name: str = ""  # short id for logs and the run report
    title: str = ""  # what the status line says, unless heading() names values of the config

    def heading(self, ctx: RunContext) -> str:
        """The status line's text."""
        return self.title

    def announce(self, ctx: RunContext) -> None:
        """Once the cluster is reachable and before any step changes it: say (or refuse) what this run changes."""

    def describe(self, ctx: RunContext) -> str:
        """One line for `up --dry-run`: what the step would do, without touching anything."""
        return self.heading(ctx)

    def check(self, ctx: RunContext) -> None:
        """Refuse a config the step cannot run with (e.g. a named but unset variable) before any step runs."""

    def is_done(self, ctx: RunContext) -> bool:
        return False

    def run(self, ctx: RunContext) -> str | None:
        """Do the work; may return a short note for the ✓ line."""
        raise NotImplementedError
