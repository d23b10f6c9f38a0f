"""The node containers of a Kind cluster, whether they run, and the order they stop and start in."""

from __future__ import annotations

from dataclasses import dataclass

from kfbootstrap.tools.docker import Containers
from kfbootstrap.tools.kind import Kind
from kfbootstrap.tools.runner import Runner

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
