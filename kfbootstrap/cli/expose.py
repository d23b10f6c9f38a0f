"""`kfbootstrap expose TARGET`: port-forwards that survive pod restarts."""

from __future__ import annotations

from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ConfigOption, load, not_available

TARGETS = ("kubeflow", "grafana", "prometheus", "model-registry", "minio")


def expose(
    target: Annotated[Optional[str], typer.Argument(help=f"One of: {', '.join(TARGETS)}.", show_default=False)] = None,
    config: ConfigOption = None,
    port: Annotated[Optional[int], typer.Option("--port", help="Local port (default from config).", show_default=False)] = None,
    address: Annotated[Optional[str], typer.Option("--address", help="Local address to bind (default 127.0.0.1).", show_default=False)] = None,
    background: Annotated[bool, typer.Option("--background", help="Run as a detached process.")] = False,
    all_targets: Annotated[bool, typer.Option("--all", help="Expose every enabled component.")] = False,
) -> None:
    """Forward a local port to a platform service."""
    load(config)
    not_available("`kfbootstrap expose`")


def register(app: typer.Typer) -> None:
    app.command("expose")(expose)
