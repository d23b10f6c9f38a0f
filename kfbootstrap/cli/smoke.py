"""`kfbootstrap smoke`: end-to-end checks of every enabled component, for nightly CI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ConfigOption, ContextOption, JsonOption, NameOption, ProfileOption, load

DEFAULT_PASSWORD_ENV = "KUBEFLOW_PASSWORD"


def smoke(
    config: ConfigOption = None,
    profile: ProfileOption = None,
    name: NameOption = None,
    context: ContextOption = None,
    junit: Annotated[
        Optional[Path], typer.Option("--junit", help="Write a JUnit XML report here.", show_default=False)
    ] = None,
    json_output: JsonOption = False,
    pipeline: Annotated[
        bool, typer.Option("--pipeline", help="Also submit a one-step pipeline and wait for it to succeed.")
    ] = False,
    pipeline_timeout: Annotated[
        int, typer.Option("--pipeline-timeout", min=1, max=7 * 24 * 3600, help="Seconds to wait for that pipeline run.")
    ] = 600,
    user: Annotated[str, typer.Option("--user", help="Dex user to log in with.")] = "user@example.com",
    password_env: Annotated[
        str,
        typer.Option(
            "--password-env",
            help="Environment variable holding the user's password (unset: the one kfbootstrap set, "
            "as `creds kubeflow` shows it, else the public default 12341234).",
        ),
    ] = DEFAULT_PASSWORD_ENV,
) -> None:
    """Check each component really works, end to end, through port-forwards smoke opens itself.
    Exits 0 only when every check passed."""
    loaded = load(config, profile=profile, cluster__name=name, cluster__context=context)
    if junit is not None:
        _check_writable(junit)  # now, not after every check has run
    from kfbootstrap.smoke.checks import DEFAULT_PASSWORD, CheckContext
    from kfbootstrap.smoke.forwards import ForwardedEndpoints
    from kfbootstrap.smoke.plan import all_checks, services_for
    from kfbootstrap.smoke.report import to_json, write_junit
    from kfbootstrap.smoke.run import run_checks

    cfg = loaded.config
    from kfbootstrap.context import api_timeouts

    # $KUBECONFIG read now, passed on explicitly to the adapter the forwards build.
    kubeconfig = os.environ.get("KUBECONFIG") or None
    with ForwardedEndpoints(cfg.kube_context, kubeconfig, api_timeouts=api_timeouts(cfg)) as endpoints:
        ctx = CheckContext(
            endpoints=endpoints,
            services=services_for(cfg),
            user=user,
            password=os.environ.get(password_env) or _kept_password(endpoints) or DEFAULT_PASSWORD,
            object_store_credentials=lambda: _object_store_credentials(endpoints, cfg),
            pipeline_timeout=pipeline_timeout,
            api_problem=endpoints.api_problem(),
            config=cfg,
            kube=endpoints.kube,
        )
        from kfbootstrap.apps.plan import has_part

        report = run_checks(
            all_checks(with_pipeline=pipeline),
            set(cfg.components.enabled()),
            ctx,
            on_result=_show_result,
            chosen=lambda part: has_part(cfg, part),
        )
    report.properties.update(
        {
            "cluster": cfg.cluster.name,
            "context": cfg.kube_context or "(current)",
            "kubeflow_version": cfg.kubeflow.version,
            "profile": cfg.profile,
        }
    )
    if junit is not None:
        write_junit(report, junit)
    if json_output:
        typer.echo(to_json(report))
    else:
        _print_summary(report, junit)
    if not report.ok:
        raise typer.Exit(1)


def _check_writable(path: Path) -> None:
    """--junit must name a file we can write: a usage error before the checks, not a failure after them."""
    from kfbootstrap.errors import UsageError

    if path.is_dir():
        raise UsageError(f"--junit {path} is a directory", hint="give --junit a file name, e.g. reports/smoke.xml")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"--junit {path}: cannot create {parent}: {exc.strerror or exc}", hint="choose a directory you can write to"
        ) from None
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"--junit {path}: not writable", hint="choose a file in a directory you can write to")


def _kept_password(endpoints) -> str | None:
    """The password `up` or `passwd` set and `creds kubeflow` shows; None when there is none (or no cluster)."""
    from kfbootstrap.access import passwords
    from kfbootstrap.errors import KfbError

    try:
        kube = endpoints.kube()
        kept = passwords.stored_password(kube)
        return kept if kept and passwords.matches(kept, passwords.current_hash(kube)) else None
    except KfbError:
        return None  # no cluster or no access: the dex checks then fail with their own reason


def _object_store_credentials(endpoints, config) -> tuple[str, str]:
    """What `kfbootstrap creds minio` shows, read the same way."""
    from kfbootstrap.access.creds import minio_creds
    from kfbootstrap.errors import KfbError
    from kfbootstrap.smoke.checks import CheckFailed

    try:
        credential = minio_creds(endpoints.kube(), config)
    except KfbError as exc:
        raise CheckFailed(f"cannot read the object-store credentials: {exc.message}") from None
    return credential.fields["access_key"] or "", credential.fields["secret_key"] or ""


def _show_result(result) -> None:
    from kfbootstrap import ui

    if result.status == "passed":
        ui.step_done(result.title, result.seconds, result.message)
    elif result.status == "skipped":
        ui.step_skipped(result.title, result.message)
    else:
        ui.step_failed(result.title, result.seconds)
        ui.err.print(f"    {result.message}", markup=False, highlight=False)


def _print_summary(report, junit: Path | None) -> None:
    from kfbootstrap import ui

    failed = report.count("failed") + report.count("error")
    ui.out.print(
        f"smoke: {report.count('passed')} passed, {failed} failed, {report.count('skipped')} skipped"
        + (f" (JUnit: {junit})" if junit else ""),
        markup=False,
    )


def register(app: typer.Typer) -> None:
    app.command("smoke")(smoke)
