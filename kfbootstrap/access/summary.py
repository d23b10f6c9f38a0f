"""The table `up` ends with: each service's URL, its forward, and how to log in.

Credentials are shown as the command that prints them; the values themselves only
with `up --show-credentials` (like `kfbootstrap creds`, the only other place).
"""

from __future__ import annotations

from typing import Any

from kfbootstrap import ui
from kfbootstrap.access import forwards
from kfbootstrap.access.targets import enabled_targets, local_port, url
from kfbootstrap.config import Config


def rows(
    config: Config, records: list[forwards.ForwardRecord], logins: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """One row per enabled target: URL, forward state and login (a command, or the values if given)."""
    by_target = {r.spec.target: r for r in records}
    result = []
    for target in enabled_targets(config):
        record = by_target.get(target.name)
        if record is not None:
            state = forwards.health(record).state
            link = url(target, record.spec.address, record.spec.port)
        else:
            state = "not started"
            link = url(target, config.forwards.address, local_port(target, config))
        if target.creds is None:
            login = "no login needed"
        elif logins and target.creds in logins:
            login = logins[target.creds]
        else:
            login = f"kfbootstrap creds {target.creds}"
        result.append(
            {
                "target": target.name,
                "url": link,
                "forward": state,
                "login": login,
                "expose": None if record else f"kfbootstrap expose {target.name} --background",
            }
        )
    return result


def read_logins(config: Config) -> dict[str, str]:
    """'user / password' per creds target, for --show-credentials; unreadable ones say why."""
    from kfbootstrap.access.creds import read_creds
    from kfbootstrap.errors import KfbError
    from kfbootstrap.context import connect_kube

    kube = connect_kube(config)
    logins: dict[str, str] = {}
    enabled = {t.creds for t in enabled_targets(config) if t.creds}
    for name in sorted(enabled):
        try:
            cred = read_creds(name, kube, config)
        except KfbError as exc:
            logins[name] = f"unavailable: {exc.message}"
            continue
        values = cred.fields
        if name == "minio":
            logins[name] = f"{values['access_key']} / {values['secret_key']}"
        elif values.get("password") is None:
            logins[name] = f"{values['username']} / (changed; not recoverable)"
        else:
            logins[name] = f"{values['username']} / {values['password']}"
    return logins


def print_summary(config: Config, show_credentials: bool = False) -> None:
    """Plain lines rather than a table: a table folds long URLs in narrow terminals, breaking copy and click."""
    logins = read_logins(config) if show_credentials else None
    table = rows(config, forwards.read_records(), logins)
    if not table:
        return
    width = max(len(row["target"]) for row in table) + 2
    ui.out.print("Your platform:")
    for row in table:
        forward = f"forward {row['forward']}" + (f"; start it with `{row['expose']}`" if row["expose"] else "")
        ui.out.print(f"  {row['target']:<{width}}{row['url']}  ({forward})")
        ui.out.print(f"  {'':<{width}}login: {row['login']}")
    if not show_credentials:
        ui.out.print(
            "Passwords are not shown: run the `kfbootstrap creds` commands above, "
            "or `kfbootstrap up --show-credentials`."
        )
