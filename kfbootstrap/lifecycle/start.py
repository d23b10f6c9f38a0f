"""Start a stopped cluster kfbootstrap created: its nodes (control planes first), what a restart broke,
the API server, every node Ready. `kfbootstrap start` and `up` both come here (through the cluster step),
so a start cut short at any point is finished by either."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from kfbootstrap import ui
from kfbootstrap.context import RunContext
from kfbootstrap.errors import CommandFailed, KfbError
from kfbootstrap.lifecycle.addresses import keep_addresses, moved_nodes, release_addresses, repair
from kfbootstrap.lifecycle.nodes import RUNNING, cluster_state, kind_nodes, start_order
from kfbootstrap.tools.docker import Containers
from kfbootstrap.tools.kubectl import Kubectl

POLL_SECONDS = 1.0
CLOCK_SKEW = timedelta(seconds=5)  # the nodes share this machine's clock; a little slack for rounding


def needs_start(ctx: RunContext) -> bool:
    """Does this existing Kind cluster need starting: a node not running (stopped, killed, or the host
    rebooted), or one running on an address it was not configured with (a start cut short)?"""
    nodes = kind_nodes(ctx.runner, ctx.config.cluster.name)
    if not nodes:
        return False
    return cluster_state(nodes) != RUNNING or bool(moved_nodes(Containers(ctx.runner), nodes))


def created_completely(ctx: RunContext) -> bool:
    """Did kind finish creating this cluster? kind writes the kube context last, so a `kind create` cut short
    has none (that one is re-created); a cluster that has one and does not answer yet is started and waited for."""
    return ctx.config.kube_context in Kubectl(ctx.runner).contexts()


def start_nodes(ctx: RunContext) -> str:
    """Start what is stopped, repair moved addresses, wait for the API server and every node; the ✓ line's note."""
    name = ctx.config.cluster.name
    containers = Containers(ctx.runner)
    nodes = kind_nodes(ctx.runner, name)
    since = datetime.now(timezone.utc) - CLOCK_SKEW
    started = 0
    keep_addresses(containers, [n for n in nodes if not n.running])
    for group in start_order(nodes):
        stopped = [n for n in group if not n.running]
        # the workers start right after the control plane, not after its API server: they boot meanwhile
        try:
            containers.start_together([n.name for n in stopped])
        except CommandFailed:  # a pinned address was taken after all: start where Docker puts them, repair below
            release_addresses(containers, stopped)
            containers.start_together([n.name for n in stopped if not _running(containers, n.name)])
        started += len(stopped)
    nodes = kind_nodes(ctx.runner, name)
    moved = moved_nodes(containers, nodes)
    if moved:
        ui.step_progress(f"node addresses changed ({', '.join(m.describe() for m in moved)}); repairing")
        repair(containers, moved)
    deadline = time.monotonic() + ctx.config.timeouts.cluster
    _wait_api(ctx, deadline)
    _wait_nodes_ready(ctx, deadline, len(nodes), since if started else None)
    found = (
        f"node addresses changed and repaired: {', '.join(m.describe() for m in moved)}"
        if moved
        else "node addresses unchanged"
    )
    return f"{started} of {len(nodes)} nodes started, all Ready; {found}"


def _running(containers: Containers, name: str) -> bool:
    state = containers.inspect(name)
    return state is not None and state.running


def _wait_api(ctx: RunContext, deadline: float) -> None:
    kubectl = Kubectl(ctx.runner, ctx.config.kube_context)
    ui.step_progress("waiting for the API server", plain="waiting for the API server")
    while not kubectl.api_ready():
        if time.monotonic() > deadline:
            raise KfbError(
                f"the API server of {ctx.config.cluster.name} did not answer within {ctx.config.timeouts.cluster}s "
                "after its nodes started",
                hint="re-run `kfbootstrap start` (it continues); `kfbootstrap diagnose` collects the nodes' logs",
            )
        time.sleep(POLL_SECONDS)


def _wait_nodes_ready(ctx: RunContext, deadline: float, expected: int, since: datetime | None) -> None:
    from kfbootstrap.kube.api import NODES

    while True:
        ready = [n["metadata"]["name"] for n in ctx.kube.items(NODES) if _is_ready(n, since)]
        text = f"{len(ready)}/{expected} nodes Ready"
        ui.step_progress(text, plain=text)
        if len(ready) >= expected:
            return
        if time.monotonic() > deadline:
            raise KfbError(
                f"only {text} within {ctx.config.timeouts.cluster}s after the nodes started",
                hint="re-run `kfbootstrap start` (it continues); `kubectl get nodes` shows which one is not",
            )
        time.sleep(POLL_SECONDS)


def _is_ready(node: dict, since: datetime | None) -> bool:
    """Ready, said by a kubelet that runs now: a node stopped a moment ago may still show the Ready of before
    the stop (the controller marks it NotReady only after its grace period); the kubelet reports afresh on start."""
    conditions = (node.get("status") or {}).get("conditions") or []
    for condition in conditions:
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            return since is None or _time(condition.get("lastHeartbeatTime")) >= since
    return False


def _time(text: str | None) -> datetime:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)


def check_startable(ctx: RunContext) -> None:
    """`kfbootstrap start` acts only on a Kind cluster kfbootstrap created, and never creates one."""
    from kfbootstrap.lifecycle.ownership import require_ours
    from kfbootstrap.lifecycle.stop import no_such_cluster

    name = require_ours(ctx.config, "start")
    if not kind_nodes(ctx.runner, name):
        raise no_such_cluster(name)
