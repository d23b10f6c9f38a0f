"""Start forwards for targets: in the foreground (until Ctrl-C) or as background processes.

Shared by `kfbootstrap expose` and the last step of `up`, so both check addresses,
ports and Services the same way before anything listens.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kfbootstrap import ui
from kfbootstrap.access import forwards
from kfbootstrap.access.targets import Target, is_loopback, local_port, namespace_for, service_candidates, url
from kfbootstrap.config import Config
from kfbootstrap.errors import UsageError
from kfbootstrap.paths import absolute_path_list

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube


def check_address(address: str, explicit: bool) -> None:
    """Non-loopback addresses expose the platform (with its default passwords) to the network:
    allowed only when given with --address on the command line, and then with a warning."""
    if is_loopback(address):
        return
    if not explicit:
        raise UsageError(
            f"forwards.address is {address}, which would expose the platform to your network",
            hint=f"pass --address {address} on the command line to confirm, or use 127.0.0.1",
        )
    ui.warn(
        f"binding {address}: anyone who can reach this machine can reach the forwarded services "
        f"(Kubeflow's default password is public)"
    )


@dataclass
class Plan:
    """One target to forward, resolved against the config and the cluster."""

    target: Target
    address: str
    port: int
    services: list[str]  # the Service found first, other candidates after
    namespace: str

    @property
    def url(self) -> str:
        return url(self.target, self.address, self.port)


def plan(
    target: Target,
    config: Config,
    kube: "Kube",
    port: int | None = None,
    address: str | None = None,
    namespace: str | None = None,
) -> Plan:
    """Resolve the local port and address, and check the Service exists (picking minio's at run time).

    `namespace` overrides the target's usual namespace (a component installed elsewhere).
    """
    from kfbootstrap.kube.endpoints import find_service, service_port

    namespace = namespace or namespace_for(target, config)
    candidates = service_candidates(target, config)
    service = find_service(kube, namespace, candidates)
    service_port(service, target.remote_port)  # fail now, with the ports it has, not per connection
    found = service["metadata"]["name"]
    return Plan(
        target,
        address or config.forwards.address,
        port or local_port(target, config),
        [found] + [name for name in candidates if name != found],
        namespace,
    )


def spec_for(p: Plan, config: Config) -> forwards.ForwardSpec:
    return forwards.ForwardSpec(
        target=p.target.name,
        address=p.address,
        port=p.port,
        namespace=p.namespace,
        services=p.services,
        remote_port=p.target.remote_port,
        context=config.kube_context,
        kubeconfig=absolute_path_list(os.environ.get("KUBECONFIG")),
        directory=str(forwards.forwards_dir()),
    )


def _where(spec: forwards.ForwardSpec) -> str:
    return f"{spec.address}:{spec.port}"


def _same_forward(a: forwards.ForwardSpec, b: forwards.ForwardSpec) -> bool:
    def key(s: forwards.ForwardSpec) -> tuple:
        return s.address, s.port, s.context, s.namespace, s.services[0]

    return key(a) == key(b)


def running_elsewhere(plans: list[Plan], config: Config) -> list[tuple[Plan, forwards.ForwardRecord]]:
    """The plans whose target already has a live background forward that differs (another port, address,
    cluster or Service), with that forward's record."""
    found = []
    for p in plans:
        existing = forwards.find_record(p.target.name)
        if existing is not None and forwards.process_alive(existing.pid):
            if not _same_forward(existing.spec, spec_for(p, config)):
                found.append((p, existing))
    return found


def refuse_unless_replacing(plans: list[Plan], config: Config, replace: bool, background: bool) -> None:
    """`expose X --port N` while X is forwarded elsewhere: a usage error naming the old forward and --replace."""
    if replace:
        return
    clashes = running_elsewhere(plans, config)
    if not clashes:
        return
    p, existing = clashes[0]
    old = existing.spec
    again = "--all" if len(plans) > 1 else f"{p.target.name} --port {p.port}"
    again += " --background" if background else ""
    differs = (
        ""
        if (old.context, old.namespace) == (config.kube_context, p.namespace)
        else (f" (svc/{old.services[0]} in {old.namespace}, context {old.context or 'current'})")
    )
    raise UsageError(
        f"{p.target.name} is already forwarded on {_where(old)}{differs} by a background forward (pid "
        f"{existing.pid}); pass --replace to replace it with {p.address}:{p.port}"
        + (f" ({len(clashes) - 1} more target(s) likewise)" if len(clashes) > 1 else ""),
        hint=f"`kfbootstrap expose {again} --replace` stops the old forward first; or keep it: "
        "`kfbootstrap expose --list` shows its URL",
    )


def stop_replaced(plans: list[Plan]) -> None:
    """A foreground `expose --replace`: the live background forwards of these targets make way, saying so."""
    for p in plans:
        existing = forwards.find_record(p.target.name)
        if existing is not None and forwards.process_alive(existing.pid):
            forwards.stop(existing)
            ui.info(
                f"replaced: stopped the background forward of {p.target.name} on {_where(existing.spec)} "
                f"(pid {existing.pid}); it is forwarded on {p.address}:{p.port} in the foreground now"
            )


def ensure_background(p: Plan, config: Config) -> tuple[forwards.ForwardRecord, bool]:
    """Start a background forward unless the same one already runs; returns (record, started).

    A live forward of the target that differs is replaced, and the line says so; `expose` refuses
    that first unless --replace was given (refuse_unless_replacing).
    """
    spec = spec_for(p, config)
    existing = forwards.find_record(p.target.name)
    replaced = None
    if existing is not None:
        alive = forwards.process_alive(existing.pid)
        if alive and _same_forward(existing.spec, spec):
            return existing, False
        forwards.stop(existing)  # dead, or pointing elsewhere: replace it
        replaced = existing if alive else None
    record = forwards.start_background(spec)
    if replaced is not None:
        ui.info(
            f"replaced: the forward of {p.target.name} on {_where(replaced.spec)} (pid {replaced.pid}) is now on "
            f"{_where(spec)} (pid {record.pid})"
        )
    return record, True


def run_foreground(
    plans: list[Plan], config: Config, stop: threading.Event | None = None, on_ready: Any = None
) -> None:
    """Serve every plan from this process until Ctrl-C (or `stop` is set)."""
    from kfbootstrap.context import connect_kube
    from kfbootstrap.kube.endpoints import ServiceBackends
    from kfbootstrap.kube.portforward import Forwarder, PortInUse, Route

    kube = connect_kube(config)
    routes = [
        Route(p.target.name, p.address, p.port, ServiceBackends(kube, p.namespace, p.services, p.target.remote_port))
        for p in plans
    ]
    forwarder = Forwarder(kube, routes)
    try:
        forwarder.bind()
    except PortInUse as exc:
        raise forwards.port_in_use_error(exc.address, exc.port) from None
    stop = stop or threading.Event()
    try:
        if on_ready is not None:
            on_ready()
        forwarder.serve(stop)  # Ctrl-C propagates: the boundary says so and exits 130, as documented
    finally:
        forwarder.close()
