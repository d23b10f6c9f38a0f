"""`kfbootstrap status`: per component, version, ready workloads, forward, URL."""

from __future__ import annotations

import json

import typer

from kfbootstrap.cli.common import ClusterContextOption, ConfigOption, JsonOption, load


def status(config: ConfigOption = None, context: ClusterContextOption = None, json_output: JsonOption = False) -> None:
    """Show each component's version, readiness, forward and URL."""
    loaded = load(config, cluster__context=context)
    from kfbootstrap.access.cluster_status import cluster_status
    from kfbootstrap.cli.common import new_runner

    report = cluster_status(loaded.config, new_runner)
    if json_output:
        typer.echo(
            json.dumps(
                {
                    "context": loaded.config.kube_context,
                    "components": [c.to_json() for c in report.components],
                    "cache": report.cache,
                    "apps": report.apps,
                    "not_ready": report.not_ready.to_json(),
                },
                indent=2,
            )
        )
        return
    _print_table(report.components)
    if report.not_ready.problems:
        from kfbootstrap import notready, ui

        notready.show(report.not_ready, ui.out, "the enabled components")
    if report.cache is not None:
        from kfbootstrap import ui

        ui.out.print(f"  image cache: {report.cache['summary']}")
    _print_apps(report.apps)


def _print_apps(apps: dict) -> None:
    from kfbootstrap import ui

    if not apps["parts"]:
        return
    chosen = ", ".join(apps["chosen"]) if apps["chosen"] is not None else "everything in the release's example"
    ui.out.print(f"Kubeflow apps chosen: {chosen}", markup=False)
    for row in apps["parts"]:
        how = "chosen" if row["chosen"] else "kept, no longer chosen" if row["kept"] else "not chosen"
        ui.out.print(f"  {row['part']:<28} {row['ready']}/{row['total']} ready  ({how})", markup=False)


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


def register(app: typer.Typer) -> None:
    app.command("status")(status)
