"""`kfbootstrap creds TARGET`: prints secrets (the only other place is `up --show-credentials`)."""

from __future__ import annotations

import json
from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ClusterContextOption, ConfigOption, JsonOption, load
from kfbootstrap.components import creds_targets

TARGETS = tuple(creds_targets())


def creds(
    target: Annotated[Optional[str], typer.Argument(help=f"One of: {', '.join(TARGETS)}.", show_default=False)] = None,
    config: ConfigOption = None,
    context: ClusterContextOption = None,
    namespace: Annotated[
        Optional[str],
        typer.Option("--namespace", "-n", help="Look for the secret in this namespace instead.", show_default=False),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Print the credentials of a platform service."""
    from kfbootstrap.errors import UsageError

    if target not in TARGETS:
        raise UsageError(
            f"unknown target {target!r}" if target else "name a target", hint=f"choose one of: {', '.join(TARGETS)}"
        )
    loaded = load(config, cluster__context=context)
    from kfbootstrap.access.creds import read_creds
    from kfbootstrap.apps.plan import require_part

    # The Kubeflow login is Dex's; the object store is the pipelines'.
    require_part(loaded.config, {"kubeflow": "dex", "minio": "pipelines"}.get(target), f"`creds {target}`")
    from kfbootstrap.context import connect_kube

    cred = read_creds(target, connect_kube(loaded.config), loaded.config, namespace)
    if json_output:
        typer.echo(json.dumps(cred.to_json(), indent=2))
        return
    _print(cred)


def _print(cred) -> None:
    lines = [
        f"{key.replace('_', ' ')}: {value if value is not None else '(unknown)'}" for key, value in cred.fields.items()
    ]
    for key in ("url", "endpoint", "cluster_endpoint"):
        value = cred.url if key == "url" else cred.extra.get(key)
        if value:
            lines.append(f"{key.replace('_', ' ')}: {value}")
    lines.append(f"from: secret {cred.secret} in namespace {cred.namespace}")
    for line in lines:
        typer.echo(line)
    for note in cred.notes:
        typer.echo(f"note: {note}", err=True)
    if cred.extra.get("default_password"):
        typer.echo("to change it:\n  " + cred.extra["how_to_change"].replace("\n", "\n  "), err=True)


def register(app: typer.Typer) -> None:
    app.command("creds")(creds)
