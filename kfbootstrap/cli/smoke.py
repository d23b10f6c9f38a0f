"""`kfbootstrap smoke`: end-to-end checks of every enabled component, for nightly CI."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ConfigOption, JsonOption, load, not_available


def smoke(
    config: ConfigOption = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", help="Write a JUnit XML report here.", show_default=False)] = None,
    json_output: JsonOption = False,
) -> None:
    """Check each component really works, end to end."""
    load(config)
    not_available("`kfbootstrap smoke`")


def register(app: typer.Typer) -> None:
    app.command("smoke")(smoke)
