"""`kfbootstrap stop`: stop this cluster's forwards and node containers (workers first), keeping everything."""

from __future__ import annotations

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ConfigOption, ContextOption, NameOption, load, run_context


def stop(
    config: ConfigOption = None,
    name: NameOption = None,
    context: ContextOption = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Also stop the image caches (other clusters then pull without them).")
    ] = False,
) -> None:
    """Stop the Kind cluster kfbootstrap created, freeing its memory and CPU; `kfbootstrap start` brings it back."""
    loaded = load(config, **cluster_flags(name, context))
    from kfbootstrap.lifecycle.stop import stop_cluster

    stop_cluster(run_context(loaded), include_caches=all_)


def cluster_flags(name: str | None, context: str | None) -> dict:
    """`--context kind-<name>` of a cluster kfbootstrap created means that Kind cluster (as for `down`)."""
    from kfbootstrap.lifecycle.ownership import cluster_of_context

    kind_name = cluster_of_context(context)
    if kind_name is not None:
        name, context = name or kind_name, None
    return {"cluster__name": name, "cluster__context": context}


def register(app: typer.Typer) -> None:
    app.command("stop")(stop)
