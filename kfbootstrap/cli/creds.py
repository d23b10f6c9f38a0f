"""`kfbootstrap creds TARGET`: the only command that prints secrets."""

from __future__ import annotations

from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ConfigOption, JsonOption, load, not_available

TARGETS = ("minio", "grafana", "kubeflow")


def creds(
    target: Annotated[Optional[str], typer.Argument(help=f"One of: {', '.join(TARGETS)}.", show_default=False)] = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Print the credentials of a platform service."""
    load(config)
    not_available("`kfbootstrap creds`")


def register(app: typer.Typer) -> None:
    app.command("creds")(creds)
