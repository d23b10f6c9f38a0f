"""`kfbootstrap up`: preflight, cluster, Kubeflow and add-ons, readiness, forwards."""

from __future__ import annotations

from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import (
    ConfigOption,
    ContextOption,
    KubeflowVersionOption,
    ManifestsOption,
    NameOption,
    ProfileOption,
    load,
    run_context,
)


def up(
    config: ConfigOption = None,
    profile: ProfileOption = None,
    name: NameOption = None,
    context: ContextOption = None,
    kubeflow_version: KubeflowVersionOption = None,
    manifests: ManifestsOption = None,
    workers: Annotated[
        Optional[int], typer.Option("--workers", help="Number of Kind worker nodes.", show_default=False)
    ] = None,
    apps: Annotated[
        Optional[str],
        typer.Option(
            "--apps",
            help="Kubeflow applications to install, comma-separated, e.g. pipelines,kserve (sets kubeflow.apps; "
            "default: all of the release's example).",
            show_default=False,
        ),
    ] = None,
    sizing: Annotated[
        Optional[str],
        typer.Option(
            "--sizing",
            help="Resource requests: upstream (production) or laptop (Istio's demo-profile requests; the "
            "pipelines profile's default). Sets kubeflow.sizing.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and change nothing.")] = False,
    timeout: Annotated[
        Optional[str],
        typer.Option(
            "--timeout",
            help="How long to wait for every workload to be ready, e.g. 45m (sets timeouts.ready).",
            show_default=False,
        ),
    ] = None,
    no_expose: Annotated[
        bool, typer.Option("--no-expose", help="Do not start background port-forwards at the end.")
    ] = False,
    show_credentials: Annotated[
        bool, typer.Option("--show-credentials", help="Print passwords in the final summary.")
    ] = False,
) -> None:
    """Create the cluster and install the platform. Safe to re-run: finished steps are skipped."""
    loaded = load(
        config,
        profile=profile,
        cluster__name=name,
        cluster__context=context,
        kubeflow__version=kubeflow_version,
        kubeflow__path=manifests,
        kubeflow__apps=apps,
        kubeflow__sizing=sizing,
        cluster__workers=workers,
        timeouts__ready=_seconds(timeout),
        forwards__auto=False if no_expose else None,
    )
    from kfbootstrap.pipeline import build_steps, print_plan, run_steps

    steps = build_steps(loaded.config)
    if dry_run:
        from kfbootstrap.apps.dryrun import print_choice
        from kfbootstrap.cli import common

        print_plan(steps)
        print_choice(loaded.config, common.new_runner, common.new_host())
        return
    run_steps(steps, run_context(loaded))
    from kfbootstrap.access.summary import print_summary

    print_summary(loaded.config, show_credentials)


def _seconds(timeout: str | None) -> int | None:
    if timeout is None:
        return None
    from kfbootstrap.durations import parse_duration

    return parse_duration(timeout)


def register(app: typer.Typer) -> None:
    app.command("up")(up)
