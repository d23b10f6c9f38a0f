"""MetalLB: the Helm release, then an address pool from the kind docker network and an L2Advertisement.

The pool is taken high in the network's IPv4 subnet (the Makefile's fixed
172.18.255.200-250 is only right when docker happened to pick 172.18.0.0/16): docker
hands out container addresses from the bottom, so the top stays free, and the
gateway and broadcast addresses are never included. The pool is applied only after
MetalLB's webhook has a ready endpoint, since the webhook validates it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from kfbootstrap import ui
from kfbootstrap.context import RunContext
from kfbootstrap.errors import KfbError
from kfbootstrap.steps.helm_release import HelmReleaseStep
from kfbootstrap.tools.helm import ReleaseResult

POOL_NAME = "kfbootstrap-pool"
L2_NAME = "kfbootstrap-l2"
METALLB_API = "metallb.io/v1beta1"
WEBHOOK_SERVICE = "metallb-webhook-service"
POOL_SIZE = 51  # .200-.250 in a /24 or /16, as the Makefile had it
TOP_MARGIN = 5  # leave the last few addresses below broadcast alone


@dataclass(frozen=True)
class PoolChoice:
    addresses: str | None  # "first-last", or None when no pool can be chosen
    why: str  # where it came from, or why there is none


def pool_from_subnet(subnet: str) -> str:
    """The high end of an IPv4 subnet, e.g. 172.18.0.0/16 -> 172.18.255.200-172.18.255.250."""
    network = ipaddress.ip_network(subnet, strict=False)
    if network.version != 4:
        raise ValueError(f"{subnet} is not an IPv4 subnet")
    usable = network.num_addresses - 2  # without network and broadcast addresses
    if usable < 8:
        raise ValueError(f"subnet {subnet} has only {max(usable, 0)} usable addresses, too few to spare a pool")
    top = network.broadcast_address - (TOP_MARGIN if usable >= 64 else 1)
    count = min(POOL_SIZE, usable // 4)  # at most the top quarter: containers get addresses from the bottom
    return f"{top - (count - 1)}-{top}"


def choose_pool(ctx: RunContext) -> PoolChoice:
    """metallb.address_pool if set, else the high end of the docker network's first IPv4 subnet."""
    from kfbootstrap.tools.docker import Docker

    configured = ctx.config.metallb.address_pool
    if configured:
        return PoolChoice(configured, "from metallb.address_pool")
    network = ctx.config.metallb.docker_network
    try:
        subnets = Docker(ctx.runner).network_ipv4_subnets(network)
    except KfbError as exc:
        where = (
            "this cluster is not one kfbootstrap created (--context)" if ctx.config.cluster.existing else exc.message
        )
        return PoolChoice(
            None,
            f"no address pool: cannot read docker network {network!r} ({where}); "
            "set metallb.address_pool to a free range on the nodes' network",
        )
    if not subnets:
        return PoolChoice(
            None,
            f"no address pool: docker network {network!r} has no IPv4 subnet; "
            "set metallb.address_pool to a free range on the nodes' network",
        )
    try:
        return PoolChoice(pool_from_subnet(subnets[0]), f"high end of {network} network {subnets[0]}")
    except ValueError as exc:
        return PoolChoice(None, f"no address pool: {exc}; set metallb.address_pool")


def pool_objects(addresses: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": METALLB_API,
            "kind": "IPAddressPool",
            "metadata": {"name": POOL_NAME, "namespace": "metallb-system"},
            "spec": {"addresses": [addresses]},
        },
        {
            "apiVersion": METALLB_API,
            "kind": "L2Advertisement",
            "metadata": {"name": L2_NAME, "namespace": "metallb-system"},
            "spec": {"ipAddressPools": [POOL_NAME]},
        },
    ]


class MetallbStep(HelmReleaseStep):
    component = "metallb"

    def __init__(self) -> None:
        super().__init__()
        self._pool: PoolChoice | None = None

    def pool(self, ctx: RunContext) -> PoolChoice:
        if self._pool is None:
            self._pool = choose_pool(ctx)
        return self._pool

    def extra_done(self, ctx: RunContext) -> bool:
        choice = self.pool(ctx)
        return choice.addresses is None or _applied_pool(ctx, self.pin.namespace) == [choice.addresses]

    def after_release(self, ctx: RunContext, result: ReleaseResult) -> str | None:
        _desktop_notice(ctx)
        choice = self.pool(ctx)
        if choice.addresses is None:
            ui.warn(choice.why + "; LoadBalancer Services will stay <pending>, the port-forwards still work")
            return "no address pool"
        from kfbootstrap.kube.apply import apply_objects
        from kfbootstrap.kube.waits import wait_service_endpoints

        timeout = ctx.config.timeouts.apply
        wait_service_endpoints(
            ctx.kube, self.pin.namespace, WEBHOOK_SERVICE, timeout, why="MetalLB's webhook validates the address pool"
        )
        apply_objects(ctx.kube, pool_objects(choice.addresses), component=self.component, timeout=timeout)
        return f"pool {choice.addresses} ({choice.why})"


def _applied_pool(ctx: RunContext, namespace: str) -> list[str] | None:
    """spec.addresses of our IPAddressPool, None when it (or the L2Advertisement) is missing."""
    from kfbootstrap.kube.discovery import Resource

    pool = ctx.kube.get(Resource(METALLB_API, "IPAddressPool", "ipaddresspools", True), POOL_NAME, namespace)
    l2 = ctx.kube.get(Resource(METALLB_API, "L2Advertisement", "l2advertisements", True), L2_NAME, namespace)
    if pool is None or l2 is None:
        return None
    return list((pool.get("spec") or {}).get("addresses") or [])


def _desktop_notice(ctx: RunContext) -> None:
    """Docker Desktop runs the nodes in a VM: their network, and so MetalLB's IPs, are not reachable."""
    if ctx.config.cluster.existing:
        return
    from kfbootstrap.tools.docker import Docker

    try:
        info = Docker(ctx.runner).info()
    except KfbError:
        return
    if info.is_desktop:
        ui.warn(
            "Docker Desktop: LoadBalancer IPs from MetalLB are not reachable from this machine; "
            "use the port-forwards (`kfbootstrap expose …`) to reach the platform"
        )
