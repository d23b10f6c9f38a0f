"""`kfbootstrap diagnose`: a redacted tar.gz of everything needed to debug a failed cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ConfigOption, load, not_available


def diagnose(
    config: ConfigOption = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Directory for the bundle.", show_default=False)] = None,
) -> None:
    """Collect pod states, events, logs and releases into one redacted bundle."""
    load(config)
    not_available("`kfbootstrap diagnose`")


def register(app: typer.Typer) -> None:
    app.command("diagnose")(diagnose)
