"""`kfbootstrap cache status|prune`: the pull-through image caches on this machine's Docker."""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ConfigOption, JsonOption, load, run_context

cache_app = typer.Typer(
    help="Show or empty the pull-through image caches shared by every Kind cluster.", no_args_is_help=True
)
RegistryOption = Annotated[
    Optional[str], typer.Option("--registry", help="Only this registry's cache (e.g. docker.io).", show_default=False)
]


def _mirrors(config, registry: str | None):
    from kfbootstrap.cache.ensure import cache_mirrors

    mirrors = cache_mirrors(config)
    if registry is None:
        return mirrors
    chosen = [m for m in mirrors if m.registry == registry]
    if not chosen:
        from kfbootstrap.errors import UsageError

        raise UsageError(
            f"no cache for registry {registry!r}",
            hint=f"cached registries: {', '.join(m.registry for m in mirrors) or 'none'} (cache.registries)",
        )
    return chosen


@cache_app.command("status")
def status(config: ConfigOption = None, registry: RegistryOption = None, json_output: JsonOption = False) -> None:
    """Each cache: running or not, size on disk, images held, hits and misses since it started."""
    loaded = load(config)
    from kfbootstrap import cache_admin
    from kfbootstrap.cache.report import human_bytes

    mirrors = _mirrors(loaded.config, registry)
    runner = run_context(loaded).runner
    cache_admin.require_docker(runner, "the image caches are containers and volumes there, so their state is unknown")
    reports = cache_admin.reports(runner, mirrors)
    if json_output:
        typer.echo(
            json.dumps({"enabled": loaded.config.cache.enabled, "caches": [r.to_json() for r in reports]}, indent=2)
        )
        return
    from rich.table import Table

    from kfbootstrap import ui

    table = Table(
        title=f"image cache ({'on' if loaded.config.cache.enabled else 'off: cache.enabled is false'})",
        title_justify="left",
    )
    for column in ("registry", "state", "size", "images", "blob hits/misses", "upstream"):
        table.add_column(column)
    for r in reports:
        blobs = r.hits.get("blobs") or {}
        hits = f"{blobs.get('Hits', 0)}/{blobs.get('Misses', 0)}" if blobs else ""
        images = "" if r.repositories is None else str(r.repositories)
        table.add_row(r.registry, r.state, human_bytes(r.size_bytes), images, hits, r.upstream)
    ui.out.print(table)


@cache_app.command("prune")
def prune(
    config: ConfigOption = None,
    registry: RegistryOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Empty the caches (drop every cached layer); running caches come back empty, nodes keep pointing at them."""
    loaded = load(config)
    mirrors = _mirrors(loaded.config, registry)
    if not yes and not sys.stdin.isatty():
        from kfbootstrap.errors import UsageError

        raise UsageError(
            "no terminal to confirm dropping every cached layer on",
            hint="pass --yes to prune without asking (`kfbootstrap cache prune --yes`)",
        )
    if not yes and not typer.confirm(f"Drop everything cached for {', '.join(m.registry for m in mirrors)}?"):
        raise typer.Exit(1)
    from kfbootstrap import cache_admin, ui

    runner = run_context(loaded).runner
    cache_admin.require_docker(runner, "the image caches are containers and volumes there; nothing was removed")

    def emptied(registry: str, removed: list[str]) -> None:
        ui.step_done(f"Empty the cache for {registry}", 0.0, ", ".join(removed) or "nothing cached")

    restarted = cache_admin.prune(loaded.config, runner, mirrors, on_emptied=emptied)
    if restarted:
        ui.step_done(f"Restart {restarted} cache{'s' if restarted != 1 else ''} empty", 0.0)


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
