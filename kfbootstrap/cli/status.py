"""`kfbootstrap status`: per component, version, ready workloads, forward, URL."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from kfbootstrap.cli.common import ClusterContextOption, ConfigOption, JsonOption, load

if TYPE_CHECKING:
    from kfbootstrap.notready import NotReady


def status(config: ConfigOption = None, context: ClusterContextOption = None, json_output: JsonOption = False) -> None:
    """Show each component's version, readiness, forward and URL."""
    loaded = load(config, cluster__context=context)
    from kfbootstrap.access.status import collect
    from kfbootstrap.context import api_timeouts
    from kfbootstrap.kube.api import Kube
    from kfbootstrap.kube.workloads import list_workloads

    kube = Kube.connect(loaded.config.kube_context, timeouts=api_timeouts(loaded.config))
    workloads = list_workloads(kube)
    components = collect(loaded.config, workloads)
    apps = _apps(loaded.config, kube, workloads)
    cache = _cache_summary(loaded.config)
    not_ready = _not_ready(loaded.config, kube, workloads)
    if json_output:
        typer.echo(
            json.dumps(
                {
                    "context": loaded.config.kube_context,
                    "components": [c.to_json() for c in components],
                    "cache": cache,
                    "apps": apps,
                    "not_ready": not_ready.to_json(),
                },
                indent=2,
            )
        )
        return
    _print_table(components)
    if not_ready.problems:
        from kfbootstrap import notready, ui

        notready.show(not_ready, ui.out, "the enabled components")
    if cache is not None:
        from kfbootstrap import ui

        ui.out.print(f"  image cache: {cache['summary']}")
    _print_apps(apps)


def _not_ready(config, kube, workloads) -> "NotReady":
    """Why the enabled components' workloads that are not ready are not, grouped by cause (as `up` says it)."""
    from kfbootstrap.kube import readiness
    from kfbootstrap.notready import NotReady

    scopes = readiness.scopes_for(config.components.enabled(), config.release)
    waiting = [w for w in workloads if readiness.in_scope(w, scopes) and not w.is_ready]
    return NotReady.of(readiness.explain(kube, waiting))


def _cache_summary(config) -> dict | None:
    """The image cache on this machine's Docker, for clusters kfbootstrap creates (None otherwise)."""
    if config.cluster.existing:
        return None
    from kfbootstrap.preflight.cache import cache_finding
    from kfbootstrap.cache.registries import mirrors_for
    from kfbootstrap.cache.report import collect
    from kfbootstrap.cli.common import new_runner
    from kfbootstrap.errors import KfbError
    from kfbootstrap.tools.docker import Containers

    runner = new_runner()
    try:
        reports = (
            collect(Containers(runner), mirrors_for(config.cache.registries), with_contents=False)
            if config.cache.enabled
            else []
        )
        summary = cache_finding(config, runner).detail
    except KfbError as exc:  # no docker here: the cluster may still answer
        return {"enabled": config.cache.enabled, "summary": f"unknown ({exc.message})", "caches": []}
    return {"enabled": config.cache.enabled, "summary": summary, "caches": [r.to_json() for r in reports]}


def _apps(config, kube, workloads) -> dict:
    """The chosen Kubeflow apps, and per part on the cluster: chosen or kept from an earlier choice, ready/total."""
    from kfbootstrap.apps.plan import apps_status
    from kfbootstrap.kube.state import read_marker

    marker = read_marker(kube, "kubeflow")
    kept = marker.kept if marker else []
    return {"chosen": config.kubeflow.apps, "kept": kept, "parts": apps_status(config, workloads, kept)}


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
