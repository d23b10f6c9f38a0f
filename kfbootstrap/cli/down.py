"""`kfbootstrap down`: delete the Kind cluster we created (and, later, stop our forwards)."""

from __future__ import annotations

import typer

from kfbootstrap.cli.common import ConfigOption, NameOption, load, not_available, run_context


def down(config: ConfigOption = None, name: NameOption = None) -> None:
    """Delete the Kind cluster. A cluster kfbootstrap did not create is never deleted."""
    loaded = load(config, cluster__name=name)
    if loaded.config.cluster.existing:
        not_available("removing what kfbootstrap applied to an existing cluster (`down --keep-cluster`)")
    from kfbootstrap import ui
    from kfbootstrap.tools.kind import Kind

    ctx = run_context(loaded)
    kind = Kind(ctx.runner)
    cluster = loaded.config.cluster.name
    if not kind.exists(cluster):
        ui.step_skipped(f"Delete Kind cluster {cluster}", "no such cluster")
        return
    with ui.step_line(f"Delete Kind cluster {cluster}") as line:
        kind.delete(cluster)
    ui.step_done(f"Delete Kind cluster {cluster}", line.elapsed())


def register(app: typer.Typer) -> None:
    app.command("down")(down)
