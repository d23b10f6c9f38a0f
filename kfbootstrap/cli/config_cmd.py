"""`kfbootstrap config show|schema`: the effective configuration and its JSON schema."""

from __future__ import annotations

import json

import typer

from kfbootstrap.cli.common import ConfigOption, ProfileOption, load

config_app = typer.Typer(help="Show the effective configuration or its schema.", no_args_is_help=True)


@config_app.command("show")
def show(config: ConfigOption = None, profile: ProfileOption = None) -> None:
    """Print the effective configuration (defaults < profile < file < environment < flags)."""
    from kfbootstrap.config import config_as_yaml

    typer.echo(config_as_yaml(load(config, profile=profile)), nl=False)


@config_app.command("schema")
def schema() -> None:
    """Print the JSON schema of kfbootstrap.yaml, for editors."""
    from kfbootstrap.config import config_schema

    typer.echo(json.dumps(config_schema(), indent=2))


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
