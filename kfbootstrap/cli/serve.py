"""`kfbootstrap serve PATH --name NAME`: serve a model with KServe and forward a local port to it.

serve ./model.joblib --name iris        copy, serve, wait, forward; prints the URL and a curl
serve --list [--json]                   the InferenceServices on the cluster
serve --delete iris                     the model's InferenceService, copy, policy and forward
"""

from __future__ import annotations

import json
from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ClusterContextOption, ConfigOption, JsonOption, load

# One iris row: what KServe's sklearn example answers; replace it with a row of your model's features.
EXAMPLE_INSTANCES = '{"instances": [[6.8, 2.8, 4.8, 1.4]]}'


def serve(
    source: Annotated[
        Optional[str],
        typer.Argument(
            metavar="PATH",
            help="The model: a file or directory (copied to the cluster), or a storage URI KServe reads (gs://, s3://).",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        Optional[str], typer.Option("--name", help="InferenceService name, e.g. iris.", show_default=False)
    ] = None,
    model_format: Annotated[
        Optional[str],
        typer.Option(
            "--format",
            help="Model format (sklearn, xgboost, lightgbm, …); default: from the file suffix.",
            show_default=False,
        ),
    ] = None,
    namespace: Annotated[
        Optional[str],
        typer.Option("--namespace", "-n", help="Namespace (default serve.namespace).", show_default=False),
    ] = None,
    port: Annotated[
        Optional[int],
        typer.Option(
            "--port", help="Local port of the forward (default: first free from serve.port).", min=1, max=65535
        ),
    ] = None,
    timeout: Annotated[
        Optional[int],
        typer.Option(
            "--timeout", help="Seconds to wait for the model (default timeouts.serve).", min=1, max=7 * 24 * 3600
        ),
    ] = None,
    list_models: Annotated[bool, typer.Option("--list", help="List the InferenceServices on the cluster.")] = False,
    delete: Annotated[
        Optional[str],
        typer.Option("--delete", metavar="NAME", help="Remove a model kfbootstrap served.", show_default=False),
    ] = None,
    config: ConfigOption = None,
    context: ClusterContextOption = None,
    json_output: JsonOption = False,
) -> None:
    """Serve a model with KServe: copy it to the cluster, create the InferenceService, wait, forward."""
    from kfbootstrap.errors import UsageError

    actions = [bool(source or name or model_format or port), list_models, delete is not None]
    if sum(actions) != 1:
        raise UsageError(
            "serve takes a model (PATH --name NAME), or --list, or --delete NAME: one of them",
            hint="e.g. `kfbootstrap serve ./model.joblib --name iris`",
        )
    loaded = load(config, cluster__context=context, timeouts__serve=timeout)
    cfg = loaded.config
    if list_models:
        return _list(cfg, namespace, json_output)
    if delete is not None:
        return _delete(cfg, delete, namespace or cfg.serve.namespace)
    if not source or not name:
        raise UsageError(
            "serve needs the model's path and --name",
            hint="e.g. `kfbootstrap serve ./model.joblib --name iris`",
        )
    _serve(cfg, source, name, model_format, namespace or cfg.serve.namespace, port, json_output)


def _serve(cfg, source, name, model_format, namespace, port, json_output) -> None:
    from kfbootstrap import ui
    from kfbootstrap.context import connect_kube
    from kfbootstrap.serving.ready import show_why
    from kfbootstrap.serving.serve import NotServing, ServeRequest, check_name, serve

    check_name(name)  # before connecting: a bad name is a usage error whatever the cluster
    kube = connect_kube(cfg)
    request = ServeRequest(source, name, model_format, namespace, port, cfg.timeouts.serve)
    title = f"Serving {name} in {namespace}"
    with ui.step_line(title) as line:
        try:
            served = serve(kube, cfg, request, progress=lambda text: ui.step_progress(text, plain=text))
        except NotServing as exc:
            ui.step_failed(title, line.elapsed())
            show_why(kube, exc.readiness)
            raise
        except BaseException:
            ui.step_failed(title, line.elapsed())
            raise
    note = (
        f"{served.model_format} on {served.runtime}, KServe {served.kserve.version_text} "
        f"({served.kserve.raw_mode}), {'new model copied' if served.copied else 'model unchanged'}"
    )
    ui.step_done(title, served.seconds, note)
    curl = f"curl -s -H 'Content-Type: application/json' -d '{EXAMPLE_INSTANCES}' {served.predict_url}"
    if json_output:
        typer.echo(
            json.dumps(
                {
                    "name": served.name,
                    "namespace": served.namespace,
                    "format": served.model_format,
                    "runtime": served.runtime,
                    "url": served.url,
                    "predict_url": served.predict_url,
                    "copied": served.copied,
                    "seconds": round(served.seconds, 1),
                },
                indent=2,
            )
        )
        return
    typer.echo(f"{name:<15} {served.url}")
    typer.echo(f"predict:        {curl}")
    ui.info(
        "The example row is iris's; send rows of your model's features. `kfbootstrap serve --delete "
        f"{name}` removes it."
    )


def _list(cfg, namespace, json_output) -> None:
    from kfbootstrap import ui
    from kfbootstrap.context import connect_kube
    from kfbootstrap.serving.catalog import list_served

    models = list_served(connect_kube(cfg), namespace)
    if json_output:
        typer.echo(json.dumps([m.to_json() for m in models], indent=2))
        return
    if not models:
        ui.out.print("No InferenceServices. Serve one with `kfbootstrap serve PATH --name NAME`.")
        return
    from rich.table import Table

    table = Table(title="Models", title_justify="left")
    for column in ("name", "namespace", "format", "ready", "url"):
        table.add_column(column)
    for m in models:
        ready = "[green]yes[/]" if m.ready else "[red]no[/]"
        table.add_row(m.name + ("" if m.ours else " (not ours)"), m.namespace, m.model_format, ready, m.url)
    ui.out.print(table)


def _delete(cfg, name, namespace) -> None:
    from kfbootstrap import ui
    from kfbootstrap.context import connect_kube
    from kfbootstrap.serving.catalog import delete_served

    removed = delete_served(connect_kube(cfg), name, namespace)
    ui.info(f"removed {name}: " + ("; ".join(removed) if removed else "nothing was left"))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
