"""`kfbootstrap status`: per component, version, ready workloads, forward, URL."""

from __future__ import annotations

import typer

from kfbootstrap.cli.common import ConfigOption, JsonOption, load, not_available


def status(config: ConfigOption = None, json_output: JsonOption = False) -> None:
    """Show each component's version, readiness, forward and URL."""
    load(config)
    not_available("`kfbootstrap status`")


def register(app: typer.Typer) -> None:
    app.command("status")(status)
