"""`kfbootstrap render`: write exactly what `up` would apply, one file per component."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ConfigOption, load, not_available


def render(
    config: ConfigOption = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Directory to write into.", show_default=False)] = None,
) -> None:
    """Render the manifests `up` would apply, for review or GitOps."""
    load(config)
    not_available("`kfbootstrap render`")


def register(app: typer.Typer) -> None:
    app.command("render")(render)
