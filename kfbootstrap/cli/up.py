"""`kfbootstrap up`: preflight, cluster, Kubeflow and add-ons, readiness, forwards."""

from __future__ import annotations

from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import (
    AppsOption,
    ConfigOption,
    ContextOption,
    KubeflowVersionOption,
    ManifestsOption,
    NameOption,
    ProfileOption,
    SizingOption,
    choice_flags,
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
    apps: AppsOption = None,
    sizing: SizingOption = None,
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
    allow_downgrade: Annotated[
        bool,
        typer.Option(
            "--allow-downgrade", help="Apply an older Kubeflow release than the one installed (refused by default)."
        ),
    ] = False,
    wait_lock: Annotated[
        str,
        typer.Option(
            "--wait-lock",
            help="While another `up` holds this cluster's lock, wait this long for it (e.g. 30m; 0: fail at once).",
        ),
    ] = "10m",
) -> None:
    """Create the cluster and install the platform. Safe to re-run: finished steps are skipped."""
    lock_wait = _lock_wait(wait_lock)
    loaded = load(
        config,
        **choice_flags(profile, kubeflow_version, manifests, apps, sizing),
        cluster__name=name,
        cluster__context=context,
        cluster__workers=workers,
        timeouts__ready=_seconds(timeout),
        forwards__auto=False if no_expose else None,
    )
    from kfbootstrap.pipeline import build_steps, print_plan, run_steps

    steps = build_steps(loaded.config)
    if dry_run:
        from kfbootstrap.apps.dryrun import print_choice
        from kfbootstrap.cli import common

        from kfbootstrap.upgrade.dryrun import print_upgrade_plan

        print_plan(steps, loaded.config)
        print_upgrade_plan(loaded.config, common.new_runner)
        print_choice(loaded.config, common.new_runner, common.new_host())
        return
    ctx = run_context(loaded)
    ctx.up_lock_wait = lock_wait
    ctx.allow_downgrade = allow_downgrade
    run_steps(steps, ctx)
    from kfbootstrap.access.summary import print_summary

    print_summary(loaded.config, show_credentials)


def _seconds(timeout: str | None) -> int | None:
    if timeout is None:
        return None
    from kfbootstrap.durations import parse_duration

    return parse_duration(timeout)


def _lock_wait(text: str) -> int:
    """--wait-lock: a duration, or 0 for not at all."""
    if text.strip() == "0":
        return 0
    from kfbootstrap.durations import parse_duration

    return parse_duration(text, "--wait-lock")


def register(app: typer.Typer) -> None:
    app.command("up")(up)
