"""`kfbootstrap passwd`: change the Kubeflow (Dex) user's password, restart Dex, say when the new one works."""

from __future__ import annotations

import sys
from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ConfigOption, ContextOption, NameOption, load

DEFAULT_TIMEOUT = 300


def passwd(
    config: ConfigOption = None,
    name: NameOption = None,
    context: ContextOption = None,
    from_env: Annotated[
        Optional[str],
        typer.Option(
            "--from-env",
            help="Take the new password from this environment variable (for CI) instead of prompting.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        int, typer.Option("--timeout", min=1, max=7 * 24 * 3600, help="Seconds to wait for Dex to restart.")
    ] = DEFAULT_TIMEOUT,
) -> None:
    """Change the Kubeflow user's password (bcrypt hash into auth/dex-passwords), restart Dex and wait for it."""
    loaded = load(config, cluster__name=name, cluster__context=context)
    password = _new_password(from_env)
    from kfbootstrap import ui
    from kfbootstrap.access import passwords
    from kfbootstrap.access.creds import dex_user
    from kfbootstrap.context import connect_kube

    kube = connect_kube(loaded.config)
    passwords.require_dex(kube)
    passwords.set_password(kube, password)
    title = "Restart Dex with the new password"
    with ui.step_line(title) as line:
        passwords.restart_dex(kube, timeout)
    ui.step_done(title, line.elapsed())
    user = dex_user(kube, passwords.DEX_NAMESPACE)
    typer.echo(f"The new password of {user} works now (`kfbootstrap creds kubeflow` shows it).")


def _new_password(from_env: str | None) -> str:
    from kfbootstrap.access.passwords import check_strength, password_from
    from kfbootstrap.errors import UsageError

    if from_env is not None:
        hint = f"export {from_env}=... first, or leave out --from-env to be prompted"
        return password_from(from_env, "--from-env", hint, UsageError)
    if not sys.stdin.isatty():
        raise UsageError(
            "no terminal to prompt for the new password on",
            hint="pass --from-env VAR with the password in that environment variable",
        )
    value = typer.prompt("New password", hide_input=True, confirmation_prompt=True, err=True)
    return check_strength(value, "the prompt")


def register(app: typer.Typer) -> None:
    app.command("passwd")(passwd)
