"""`kfbootstrap diagnose`: a redacted tar.gz of everything needed to debug a failed cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ConfigOption, ContextOption, JsonOption, NameOption, ProfileOption, load, new_runner


def diagnose(
    config: ConfigOption = None,
    profile: ProfileOption = None,
    name: NameOption = None,
    context: ContextOption = None,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", help="Directory for the bundle (default: current directory).", show_default=False),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Collect pod and node states, events, logs of not-ready pods, helm releases, config, versions
    and (for our Kind cluster) `kind export logs` into one tar.gz. Secret values are redacted."""
    from kfbootstrap import paths, ui
    from kfbootstrap.config import config_as_yaml
    from kfbootstrap.diagnose.bundle import build_bundle

    loaded = load(config, profile=profile, cluster__name=name, cluster__context=context)
    out_dir = paths.output_dir(out) if out is not None else Path.cwd()
    with ui.step_line("Collect diagnostics") as line:
        result = build_bundle(loaded.config, config_as_yaml(loaded), new_runner(), out_dir)
    ui.step_done("Collect diagnostics", line.elapsed(), f"{result.files} files, {result.not_ready_pods} pods not ready")
    for problem in result.problems:
        ui.warn(problem)
    if json_output:
        typer.echo(
            json.dumps(
                {
                    "bundle": str(result.path),
                    "files": result.files,
                    "not_ready_pods": result.not_ready_pods,
                    "problems": result.problems,
                },
                indent=2,
            )
        )
    else:
        typer.echo(str(result.path))


def register(app: typer.Typer) -> None:
    app.command("diagnose")(diagnose)
