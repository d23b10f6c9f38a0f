"""`kfbootstrap expose TARGET`: port-forwards that survive pod restarts.

expose grafana                     foreground, until Ctrl-C
expose --all --background          one detached forward per enabled component
expose --list [--json]             background forwards and their health
expose --stop grafana | --stop --all
"""

from __future__ import annotations

import json
from typing import Optional

import typer
from typing_extensions import Annotated

from kfbootstrap.cli.common import ClusterContextOption, ConfigOption, JsonOption, load
from kfbootstrap.components import targets

TARGETS = tuple(targets())


def expose(
    target: Annotated[Optional[str], typer.Argument(help=f"One of: {', '.join(TARGETS)}.", show_default=False)] = None,
    config: ConfigOption = None,
    context: ClusterContextOption = None,
    port: Annotated[
        Optional[int],
        typer.Option(
            "--port", help="Local port (default from forwards.ports.*).", show_default=False, min=1, max=65535
        ),
    ] = None,
    address: Annotated[
        Optional[str],
        typer.Option(
            "--address",
            help="Local address to bind (default forwards.address, 127.0.0.1). Anything else exposes the service to your network.",
            show_default=False,
        ),
    ] = None,
    namespace: Annotated[
        Optional[str],
        typer.Option(
            "--namespace",
            "-n",
            help="The service's namespace, when the component was installed elsewhere.",
            show_default=False,
        ),
    ] = None,
    background: Annotated[
        bool, typer.Option("--background", help="Run as a detached process (see --list, --stop).")
    ] = False,
    all_targets: Annotated[
        bool, typer.Option("--all", help="Every enabled component (with --stop: every forward).")
    ] = False,
    list_forwards: Annotated[bool, typer.Option("--list", help="Show background forwards and their health.")] = False,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the background forward of TARGET (or --all).")] = False,
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Replace a background forward of the same target on another port (or address)."),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Forward a local port to a platform service; new connections follow pod restarts."""
    from kfbootstrap.errors import UsageError

    if list_forwards and (stop or target or all_targets or background):
        raise UsageError(
            "--list takes no target and no other action",
            hint="run `kfbootstrap expose --list` and `kfbootstrap expose --stop ...` separately",
        )
    if stop and (background or replace):
        raise UsageError(
            f"--stop and {'--background' if background else '--replace'} do not go together",
            hint="e.g. `kfbootstrap expose --stop grafana`",
        )
    if list_forwards:
        return _list(json_output)
    if stop:
        return _stop(target, all_targets)
    if bool(target) == all_targets:
        raise UsageError("name one target, or pass --all", hint=f"targets: {', '.join(TARGETS)}")
    if all_targets and (port is not None or namespace is not None):
        raise UsageError(
            "--port and --namespace apply to one target, not --all", hint="set forwards.ports.* in kfbootstrap.yaml"
        )
    loaded = load(config, cluster__context=context, forwards__address=address)
    _start(loaded.config, target, all_targets, port, namespace, address is not None, background, json_output, replace)


def _start(config, target, all_targets, port, namespace, explicit_address, background, json_output, replace) -> None:
    from kfbootstrap import ui
    from kfbootstrap.access.expose import (
        check_address,
        ensure_background,
        plan,
        refuse_unless_replacing,
        run_foreground,
        stop_replaced,
    )
    from kfbootstrap.access.targets import enabled_targets, get_target
    from kfbootstrap.context import connect_kube
    from kfbootstrap.errors import UsageError

    check_address(config.forwards.address, explicit_address)
    targets = enabled_targets(config) if all_targets else [get_target(target)]
    if not all_targets:
        from kfbootstrap.apps.plan import require_part

        require_part(config, targets[0].part, f"`expose {targets[0].name}`")
    if not targets:
        raise UsageError("no component with a service to expose is enabled", hint="see `kfbootstrap config show`")
    kube = connect_kube(config)
    plans = [plan(t, config, kube, port=port, namespace=namespace) for t in targets]
    refuse_unless_replacing(plans, config, replace, background)
    if background:
        results = []
        for p in plans:
            record, started = ensure_background(p, config)
            results.append(
                {"target": p.target.name, "url": p.url, "pid": record.pid, "started": started, "log": record.log}
            )
            ui.info(f"{'started' if started else 'already running'}: {p.target.name} (pid {record.pid})")
        if json_output:
            typer.echo(json.dumps(results, indent=2))
        else:
            for row in results:
                typer.echo(f"{row['target']:<15} {row['url']}")
        return

    def announce() -> None:
        for p in plans:
            typer.echo(f"{p.target.name:<15} {p.url}  ->  svc/{p.services[0]}:{p.target.remote_port} in {p.namespace}")
        ui.info("Forwarding; new connections follow pod restarts. Press Ctrl-C to stop.")

    if replace:
        stop_replaced(plans)
    run_foreground(plans, config, on_ready=announce)


def _list(json_output: bool) -> None:
    from kfbootstrap.access import forwards
    from kfbootstrap.access.targets import TARGETS as CATALOG, url

    rows = []
    for record in forwards.read_records():
        h = forwards.health(record)
        target = CATALOG.get(record.spec.target)
        rows.append(
            {
                "target": record.spec.target,
                "pid": record.pid,
                "address": record.spec.address,
                "port": record.spec.port,
                "url": url(target, record.spec.address, record.spec.port) if target else None,
                "context": record.spec.context,
                "health": h.state,
                "detail": h.detail,
                "connections": h.status.get("connections"),
                "last_error": h.status.get("last_error"),
                "log": record.log,
            }
        )
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    from kfbootstrap import ui

    if not rows:
        ui.out.print("No background forwards. Start one with `kfbootstrap expose TARGET --background`.")
        return
    table = Table(title="Background forwards", title_justify="left")
    for column in ("target", "url", "pid", "health", "detail"):
        table.add_column(column)
    colour = {"running": "green", "waiting": "yellow"}
    for row in rows:
        health = str(row["health"])
        table.add_row(
            str(row["target"]),
            str(row["url"] or ""),
            str(row["pid"]),
            f"[{colour.get(health, 'red')}]{health}[/]",
            str(row["detail"]),
        )
    ui.out.print(table)


def _stop(target: str | None, all_targets: bool) -> None:
    from kfbootstrap import ui
    from kfbootstrap.access import forwards
    from kfbootstrap.access.targets import get_target
    from kfbootstrap.errors import KfbError, UsageError

    if bool(target) == all_targets:
        raise UsageError("--stop needs one target or --all", hint="e.g. `kfbootstrap expose --stop grafana`")
    if all_targets:
        stopped = forwards.stop_all()
        ui.info(
            f"stopped {len(stopped)} forward{'s' if len(stopped) != 1 else ''}"
            + (f": {', '.join(r.spec.target for r in stopped)}" if stopped else "")
        )
        return
    name = get_target(target or "").name  # set: one of target and --all, checked above
    record = forwards.find_record(name)
    if record is None:
        raise KfbError(f"no background forward for {name}", hint="see `kfbootstrap expose --list`")
    forwards.stop(record)
    ui.info(f"stopped {name} (pid {record.pid})")


def register(app: typer.Typer) -> None:
    app.command("expose")(expose)
