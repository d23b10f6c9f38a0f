"""`kfbootstrap images list|pull`: the images of the chosen release, and warming the cache with them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ConfigOption, JsonOption, load, run_context

if TYPE_CHECKING:
    from kfbootstrap.config import LoadedConfig

images_app = typer.Typer(
    help="List the images of the chosen release, or pull them into the image cache.", no_args_is_help=True
)
VersionOption = Annotated[
    Optional[str], typer.Option("--kubeflow-version", help="Kubeflow release, e.g. 26.03.1.", show_default=False)
]
ManifestsOption = Annotated[
    Optional[Path],
    typer.Option("--manifests", help="Local manifests checkout or pre-rendered YAML.", show_default=False),
]


AppsOption = Annotated[
    Optional[str],
    typer.Option("--apps", help="Kubeflow applications, comma-separated (sets kubeflow.apps).", show_default=False),
]


def _load(config: ConfigOption, kubeflow_version: str | None, manifests: Path | None, apps: str | None = None):
    return load(config, kubeflow__version=kubeflow_version, kubeflow__path=manifests, kubeflow__apps=apps)


def _listed(loaded: "LoadedConfig"):
    from kfbootstrap import ui
    from kfbootstrap.image_sources import objects_by_component
    from kfbootstrap.images import list_images

    ctx = run_context(loaded)
    with ui.step_line("Render the enabled components") as line:
        objects = objects_by_component(loaded.config, ctx.runner, note=ui.info)
    ui.step_done("Render the enabled components", line.elapsed(), ", ".join(objects))
    return ctx, list_images(objects)


@images_app.command("list")
def list_command(
    config: ConfigOption = None,
    kubeflow_version: VersionOption = None,
    manifests: ManifestsOption = None,
    apps: AppsOption = None,
    json_output: JsonOption = False,
) -> None:
    """Every image the enabled components (and the chosen Kubeflow apps) run, per component and registry."""
    _, images = _listed(_load(config, kubeflow_version, manifests, apps))
    from kfbootstrap import ui
    from kfbootstrap.images import distinct, per_registry

    counts = per_registry(images)
    if json_output:
        typer.echo(
            json.dumps(
                {"distinct": len(distinct(images)), "per_registry": counts, "images": [i.to_json() for i in images]},
                indent=2,
            )
        )
        return
    from rich.table import Table

    table = Table(title="images", title_justify="left")
    for column in ("component", "registry", "image"):
        table.add_column(column)
    for item in images:
        table.add_row(item.component, item.ref.registry, item.image)
    ui.out.print(table)
    ui.out.print(
        f"{len(distinct(images))} distinct images: "
        + ", ".join(f"{registry} {count}" for registry, count in counts.items())
    )


@images_app.command("pull")
def pull_command(
    config: ConfigOption = None,
    kubeflow_version: VersionOption = None,
    manifests: ManifestsOption = None,
    apps: AppsOption = None,
) -> None:
    """Warm the image cache: pull every image through it, so the next `up` pulls nothing upstream. Resumable."""
    # What cannot work is said before the render, which takes seconds (minutes for a first clone).
    loaded = _load(config, kubeflow_version, manifests, apps)
    if not loaded.config.cache.enabled:
        from kfbootstrap.errors import UsageError

        raise UsageError("the image cache is off (cache.enabled: false)", hint="set cache.enabled: true to warm it")
    from kfbootstrap.cache_admin import require_docker

    require_docker(run_context(loaded).runner, "the image caches run there, so nothing can be pulled into them")
    ctx, images = _listed(loaded)
    from kfbootstrap.cache.pull_run import pull_images

    totals = pull_images(loaded.config, ctx.runner, images)
    if totals.failed:
        from kfbootstrap.errors import KfbError

        first, why = next(iter(totals.failed.items()))
        raise KfbError(
            f"{len(totals.failed)} of {totals.images + len(totals.failed)} images could not be pulled, "
            f"e.g. {first}: {why}",
            hint="check the network and the registry credentials, then re-run: finished images are skipped",
        )


def register(app: typer.Typer) -> None:
    app.add_typer(images_app, name="images")
