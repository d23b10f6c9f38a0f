"""`kfbootstrap start`: start a stopped cluster, repair what the restart broke, wait for the platform, forwards."""

from __future__ import annotations

from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ConfigOption, ContextOption, NameOption, load, run_context
from kfbootstrap.cli.stop import cluster_flags
from kfbootstrap.cli.up import _seconds


def start(
    config: ConfigOption = None,
    name: NameOption = None,
    context: ContextOption = None,
    timeout: Annotated[
        Optional[str],
        typer.Option(
            "--timeout", help="How long to wait for every workload to be ready, e.g. 45m.", show_default=False
        ),
    ] = None,
    no_expose: Annotated[bool, typer.Option("--no-expose", help="Do not start background port-forwards.")] = False,
    show_credentials: Annotated[
        bool, typer.Option("--show-credentials", help="Print passwords in the final summary.")
    ] = False,
) -> None:
    """Start the Kind cluster `kfbootstrap stop` stopped (or a host reboot left exited), as `up` would."""
    loaded = load(
        config,
        **cluster_flags(name, context),
        timeouts__ready=_seconds(timeout),
        forwards__auto=False if no_expose else None,
    )
    from kfbootstrap.access.summary import print_summary
    from kfbootstrap.lifecycle.start import check_startable
    from kfbootstrap.pipeline import build_steps, run_steps

    ctx = run_context(loaded)
    check_startable(ctx)
    ctx.up_lock_wait = 600  # as `up`'s default --wait-lock: start and up never run at once on one cluster
    run_steps(build_steps(loaded.config), ctx)
    print_summary(loaded.config, show_credentials)


def register(app: typer.Typer) -> None:
    app.command("start")(start)
