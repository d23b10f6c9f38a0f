"""`kfbootstrap render`: write exactly what `up` would apply, one file per component."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ConfigOption, load, run_context


def render(
    config: ConfigOption = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Directory to write <component>.yaml files into (default: stdout).", show_default=False)] = None,
    kubeflow_version: Annotated[Optional[str], typer.Option("--kubeflow-version", help="kubeflow/manifests release, e.g. 26.03.", show_default=False)] = None,
    manifests: Annotated[Optional[Path], typer.Option("--manifests", help="Local manifests checkout or pre-rendered YAML.", show_default=False)] = None,
) -> None:
    """Render the manifests `up` would apply (with kfbootstrap's labels), for review, GitOps or air-gapped installs.

    A directory written with --out can be given back as kubeflow.path (or --manifests) on a machine without network.
    """
    loaded = load(config, kubeflow__version=kubeflow_version, kubeflow__path=manifests)
    from kfbootstrap import paths, ui
    from kfbootstrap.kube.objects import dump_manifests, for_apply
    from kfbootstrap.manifests import COMPONENTS, NotSeparate, Renderer

    if out is not None:
        paths.output_dir(out)  # before rendering: a bad --out should not cost a 20 s render
    ctx = run_context(loaded)
    renderer = Renderer(loaded.config, ctx.runner)
    enabled = set(loaded.config.components.enabled())
    for component in [c for c in COMPONENTS if c in enabled]:
        title = f"Render {component} from {renderer.source.describe()}"
        with ui.step_line(title) as line:
            try:
                rendered = renderer.render(component)
            except NotSeparate as why:
                ui.step_skipped(title, f"no separate render: {why}")
                continue
            objects = [for_apply(obj, component) for obj in rendered.objects()]
            text = dump_manifests(objects)
        if out is None:
            ui.out.print(f"# kfbootstrap render: {component}, {_objects(len(objects))} from {rendered.origin}",
                         markup=False, highlight=False)
            ui.out.file.write(text if text.startswith("---") else "---\n" + text)
            ui.out.file.flush()
        else:
            target = out / f"{component}.yaml"
            target.write_text(text, encoding="utf-8")
            ui.out.print(f"{target}: {_objects(len(objects))}", markup=False, highlight=False)
        ui.step_done(title, line.elapsed(), _objects(len(objects)))


def _objects(count: int) -> str:
    return f"{count} object{'s' if count != 1 else ''}"


def register(app: typer.Typer) -> None:
    app.command("render")(render)
