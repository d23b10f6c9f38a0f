"""`kfbootstrap doctor`: every preflight finding as a table, with the fix for each."""

from __future__ import annotations

import json

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ConfigOption, ContextOption, JsonOption, ProfileOption, load, run_context


def doctor(
    config: ConfigOption = None,
    profile: ProfileOption = None,
    context: ContextOption = None,
    fix: Annotated[bool, typer.Option("--fix", help="Apply the inotify sysctls (uses sudo when not root).")] = False,
    json_output: JsonOption = False,
) -> None:
    """Check this machine can run the platform. Exits 1 when a blocker is found."""
    loaded = load(config, profile=profile, cluster__context=context)
    from kfbootstrap.steps.preflight import collect_findings

    ctx = run_context(loaded)
    findings = collect_findings(ctx.config, ctx.runner, ctx.host, fix=fix)
    if json_output:
        typer.echo(json.dumps([f.__dict__ for f in findings], indent=2))
    else:
        _print_table(findings)
    if any(f.blocker for f in findings):
        raise typer.Exit(1)


def _print_table(findings) -> None:
    from rich.table import Table

    from kfbootstrap import ui

    table = Table(title="kfbootstrap doctor", title_justify="left")
    for column in ("check", "status", "detail", "fix"):
        table.add_column(column)
    style = {"ok": "green", "warn": "yellow", "fail": "red"}
    for f in findings:
        table.add_row(f.check, f"[{style[f.status]}]{f.status}[/]", f.detail, f.fix)
    ui.out.print(table)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
