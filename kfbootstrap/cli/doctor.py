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
    from kfbootstrap.preflight.checks import collect_findings

    ctx = run_context(loaded)
    findings = collect_findings(ctx.config, ctx.runner, ctx.host, fix=fix)
    if json_output:
        typer.echo(json.dumps([f.__dict__ for f in findings], indent=2))
    else:
        _print_table(findings)
    if any(f.blocker for f in findings):
        raise typer.Exit(1)


def _print_table(findings) -> None:
    """Findings in a table whose cells wrap (never cut with "…"), and every fix below it on a line of its own,
    whole, so a command can be copied even at 80 columns or without a terminal."""
    from rich.table import Table

    from kfbootstrap import ui

    table = Table(title="kfbootstrap doctor", title_justify="left")
    for column in ("check", "status", "detail"):
        table.add_column(column, overflow="fold")
    table.add_column("fix", no_wrap=True)
    style = {"ok": "green", "warn": "yellow", "fail": "red"}
    fixes = [f for f in findings if f.fix and f.status != "ok"]
    for f in findings:
        see = f"see {fixes.index(f) + 1}" if f in fixes else ""
        table.add_row(f.check, f"[{style[f.status]}]{f.status}[/]", f.detail, see)
    ui.out.print(table)
    if fixes:
        ui.out.print("Fixes:")
        for number, f in enumerate(fixes, 1):
            ui.out.print(f"  {number}. {f.check}: {f.fix}", markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
