"""`kfbootstrap status`: per component, version, ready workloads, forward, URL."""

from __future__ import annotations

import json
from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ConfigOption, JsonOption, load

ContextOption = Annotated[Optional[str], typer.Option(
    "--context", help="Kube context of the cluster (default: kind-<cluster.name>, or cluster.context).",
    show_default=False)]


def status(config: ConfigOption = None, context: ContextOption = None, json_output: JsonOption = False) -> None:
    """Show each component's version, readiness, forward and URL."""
    loaded = load(config, cluster__context=context)
    from kfbootstrap.access.status import collect
    from kfbootstrap.kube.client import api_client, api_errors
    from kfbootstrap.kube.workloads import list_workloads

    context = loaded.config.kube_context
    with api_errors(context):
        components = collect(loaded.config, list_workloads(api_client(context)))
    if json_output:
        typer.echo(json.dumps({"context": loaded.config.kube_context,
                               "components": [c.to_json() for c in components]}, indent=2))
        return
    _print_table(components)


def _print_table(components) -> None:
    from rich.table import Table

    from kfbootstrap import ui

    table = Table(title="kfbootstrap status", title_justify="left")
    for column in ("component", "state", "version", "ready", "forward"):
        table.add_column(column)
    colour = {"ready": "green", "not ready": "yellow", "missing": "red"}
    for c in components:
        if c.enabled:
            state = f"[{colour[c.state]}]{c.state}[/]"
        else:
            state = "[dim]disabled[/]" if c.state == "missing" else f"[dim]{c.state} (disabled)[/]"
        forward = c.forward["state"] if c.forward else ""
        table.add_row(c.name, state, c.version or "", f"{c.ready}/{c.total}", forward)
    ui.out.print(table)
    # URLs on plain lines, never folded by the table in a narrow terminal, so they can be clicked or copied.
    for c in components:
        if c.url:
            ui.out.print(f"  {c.name}: {c.url}")
    for c in components:
        for ref in c.not_ready[:5]:
            ui.out.print(f"  not ready: {ref}")


def register(app: typer.Typer) -> None:
    app.command("status")(status)
