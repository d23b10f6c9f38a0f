"""`kfbootstrap render`: write exactly what `up` would apply, one file per render, plus the charts.

`render --out DIR` writes everything `up --manifests DIR` needs on a machine without
network: every enabled component's renders (kubeflow.yaml, kserve.yaml, the model
registry's overlays) and, under DIR/charts, the archive of every enabled chart.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import (
    AppsOption,
    ConfigOption,
    KubeflowVersionOption,
    ManifestsOption,
    ProfileOption,
    SizingOption,
    choice_flags,
    load,
    run_context,
)

if TYPE_CHECKING:
    from kfbootstrap.context import RunContext


def render(
    config: ConfigOption = None,
    out: Annotated[
        Optional[Path],
        typer.Option(
            "--out",
            help="Directory to write <render>.yaml files and charts/ into (default: manifests to stdout).",
            show_default=False,
        ),
    ] = None,
    profile: ProfileOption = None,
    kubeflow_version: KubeflowVersionOption = None,
    manifests: ManifestsOption = None,
    apps: AppsOption = None,
    sizing: SizingOption = None,
) -> None:
    """Render the manifests `up` would apply (with kfbootstrap's labels), for review, GitOps or air-gapped installs.

    --profile, --apps and --sizing choose as they do for `up`. A directory written with --out
    (manifests and chart archives) can be given back as kubeflow.path (or --manifests) on a
    machine without network.
    """
    loaded = load(config, **choice_flags(profile, kubeflow_version, manifests, apps, sizing))
    from kfbootstrap import paths
    from kfbootstrap.manifests import renders_for

    if out is not None:
        paths.output_dir(out)  # before rendering: a bad --out should not cost a 20 s render
    ctx = run_context(loaded)
    for name in renders_for(loaded.config):
        _write_render(ctx, name, out)
    if out is not None:
        _bundle_charts(ctx, out / "charts")


def _write_render(ctx: "RunContext", name: str, out: Path | None) -> None:
    from kfbootstrap import ui
    from kfbootstrap.export import export_render
    from kfbootstrap.manifests import NotSeparate, source_for

    title = f"Render {name} from {source_for(ctx.config).describe()}"
    with ui.step_line(title) as line:
        try:
            exported = export_render(ctx.config, ctx.runner, name)
        except NotSeparate as why:
            ui.step_skipped(title, f"no separate render: {why}")
            return
    objects = _count(exported.count, "object")
    if out is None:
        ui.out.print(f"# kfbootstrap render: {name}, {objects} from {exported.origin}", markup=False, highlight=False)
        text = exported.text
        ui.out.file.write(text if text.startswith("---") else "---\n" + text)
        ui.out.file.flush()
    else:
        target = out / f"{name}.yaml"
        target.write_text(exported.text, encoding="utf-8")
        ui.out.print(f"{target}: {objects}", markup=False, highlight=False)
    ui.step_done(title, line.elapsed(), objects)


def _bundle_charts(ctx: "RunContext", directory: Path) -> None:
    """Every enabled chart's archive, so `up --manifests DIR` needs no chart repository."""
    from kfbootstrap import ui
    from kfbootstrap.export import bundle_chart, enabled_charts

    pins = enabled_charts(ctx.config)
    if not pins:
        return
    directory.mkdir(parents=True, exist_ok=True)
    title = f"Bundle {_count(len(pins), 'chart')} into {directory}"
    with ui.step_line(title) as line:
        for pin in pins:
            target, version = bundle_chart(ctx.config, ctx.runner, pin, directory)
            ui.out.print(f"{target}: {pin.chart} {version}", markup=False, highlight=False)
    ui.step_done(title, line.elapsed(), ", ".join(f"{p.chart}" for p in pins))


def _count(count: int, what: str) -> str:
    return f"{count} {what}{'s' if count != 1 else ''}"


def register(app: typer.Typer) -> None:
    app.command("render")(render)
