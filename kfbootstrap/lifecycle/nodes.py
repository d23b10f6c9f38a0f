"""The node containers of a Kind cluster, whether they run, and the order they stop and start in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kfbootstrap.tools.docker import Containers
from kfbootstrap.tools.kind import Kind
from kfbootstrap.tools.runner import Runner

if TYPE_CHECKING:
    from kfbootstrap.config import Config

ROLE_LABEL = "io.x-k8s.kind.role"  # kind labels every node container with its role

RUNNING, STOPPED, PARTLY_STOPPED, ABSENT = "running", "stopped", "partly stopped", "absent"


@dataclass(frozen=True)
class KindNode:
    name: str
    control_plane: bool
    running: bool


def kind_nodes(runner: Runner, cluster: str) -> list[KindNode]:
    """Every node container of `cluster`, running or not (kind lists stopped ones too)."""
    containers = Containers(runner)
    found = []
    for name in Kind(runner).nodes(cluster):
        state = containers.inspect(name)
        if state is not None:
            found.append(KindNode(name, state.labels.get(ROLE_LABEL) == "control-plane", state.running))
    return found


def start_order(nodes: list[KindNode]) -> list[list[KindNode]]:
    """Control planes first (the workers' kubelets register with them), then the workers together."""
    return [
        group for group in ([n for n in nodes if n.control_plane], [n for n in nodes if not n.control_plane]) if group
    ]


def stop_order(nodes: list[KindNode]) -> list[list[KindNode]]:
    """Workers first, control planes last: nothing is left running that still needs the API server."""
    return list(reversed(start_order(nodes)))


def cluster_state(nodes: list[KindNode]) -> str:
    if not nodes:
        return ABSENT
    running = sum(n.running for n in nodes)
    return RUNNING if running == len(nodes) else STOPPED if running == 0 else PARTLY_STOPPED


def stopped_state(config: "Config", runner: Runner) -> str | None:
    """STOPPED or PARTLY_STOPPED for a Kind cluster kfbootstrap created whose nodes do not all run; None
    otherwise, and when Docker or kind cannot tell (then its API server may still answer)."""
    from kfbootstrap.errors import KfbError
    from kfbootstrap.lifecycle.ownership import created_by_us

    if config.cluster.existing or not created_by_us(config.cluster.name):
        return None
    try:
        state = cluster_state(kind_nodes(runner, config.cluster.name))
    except KfbError:
        return None
    return state if state in (STOPPED, PARTLY_STOPPED) else None
