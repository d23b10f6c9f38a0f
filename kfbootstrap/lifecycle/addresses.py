"""What a restart breaks on a Kind node: its address on the Docker network may change.

Docker hands addresses out again when the nodes start (seen on the Kind ground: started in
another order, or after other containers took theirs, the control plane moved from .2 to .3).
kubeadm wrote the old address into the kubelet's --node-ip on every node, and on the control
plane into etcd's and the API server's manifests and the kubeconfigs of the kubelet,
controller-manager and scheduler: etcd then cannot bind and the API server never answers.

The repair rewrites the old address (manifests, --node-ip) and points the control plane's
kubeconfigs at its host name instead (it is in the API server's certificate, the address
is not), restarts the kubelet and lets it restart the controller-manager and scheduler.
Manifests first, --node-ip last: the old address is read from them, so a repair cut short
is found again and finished by the next start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kfbootstrap.errors import KfbError
from kfbootstrap.lifecycle.nodes import KindNode
from kfbootstrap.tools.docker import Containers

KUBELET_FLAGS = "/var/lib/kubelet/kubeadm-flags.env"
ETCD_MANIFEST = "/etc/kubernetes/manifests/etcd.yaml"
CONTROL_PLANE_MANIFESTS = [ETCD_MANIFEST, "/etc/kubernetes/manifests/kube-apiserver.yaml"]
CONTROL_PLANE_KUBECONFIGS = [
    f"/etc/kubernetes/{name}.conf" for name in ("admin", "super-admin", "kubelet", "controller-manager", "scheduler")
]
BUS_WAIT = 60  # seconds for a booting node's systemd to answer
_NODE_IP = re.compile(r"--node-ip=([0-9.]+)")
_ETCD_ADDRESS = re.compile(r"--advertise-client-urls=https://([0-9.]+):2379")


@dataclass(frozen=True)
class Moved:
    node: KindNode
    old: str
    new: str

    def describe(self) -> str:
        return f"{self.node.name} {self.old} → {self.new}"


def configured_address(containers: Containers, node: KindNode) -> str | None:
    """The address kubeadm configured the node with (the control plane's from etcd's manifest)."""
    path, pattern = (ETCD_MANIFEST, _ETCD_ADDRESS) if node.control_plane else (KUBELET_FLAGS, _NODE_IP)
    text = containers.read_file(node.name, path) or ""
    match = pattern.search(text)
    return match.group(1) if match else None


def remembered_address(containers: Containers, node: KindNode) -> str | None:
    """configured_address of a stopped node, read from its filesystem (`docker exec` needs it running)."""
    path, pattern = (ETCD_MANIFEST, _ETCD_ADDRESS) if node.control_plane else (KUBELET_FLAGS, _NODE_IP)
    match = pattern.search(containers.copy_out(node.name, path))
    return match.group(1) if match else None


def keep_addresses(containers: Containers, stopped: list[KindNode]) -> None:
    """Before stopped nodes start, give each back the address it was configured with, so nothing needs
    repairing: kind creates the nodes at once, so their addresses rarely follow the order `start` starts
    them in (on the Kind ground every node moved without this). An address another container holds
    meanwhile is not asked for (the start would fail): that node moves, and the repair follows it."""
    for node in stopped:
        state = containers.inspect(node.name)
        old = remembered_address(containers, node)
        if state is None or not state.networks or not old:
            continue
        network, pinned = state.networks[0], containers.pinned_ipv4(node.name)
        free = old not in containers.network_ipv4_in_use(network)
        if free and pinned != old:
            containers.reconnect(network, node.name, old)
        elif not free and pinned:
            containers.reconnect(network, node.name, None)


def release_addresses(containers: Containers, nodes: list[KindNode]) -> None:
    """Let Docker pick the addresses of these nodes again (their start failed on a pinned one taken meanwhile)."""
    for node in nodes:
        state = containers.inspect(node.name)
        if state is not None and state.networks and containers.pinned_ipv4(node.name):
            containers.reconnect(state.networks[0], node.name, None)


def moved_nodes(containers: Containers, nodes: list[KindNode]) -> list[Moved]:
    """The running nodes whose Docker address is no longer the one they were configured with."""
    moved = []
    for node in nodes:
        old = configured_address(containers, node)
        current = containers.ipv4_addresses(node.name)
        if old and current and old not in current:
            moved.append(Moved(node, old, current[0]))
    return moved


def repair_script(moved: Moved) -> str:
    """The shell script that moves one node's configuration to its new address (see the module's doc)."""
    old = re.escape(moved.old)
    swap = f"s#\\b{old}\\b#{moved.new}#g"
    steps = []
    if moved.node.control_plane:
        steps.append(f"sed -i '{swap}' {' '.join(CONTROL_PLANE_MANIFESTS)}")
        for conf in CONTROL_PLANE_KUBECONFIGS:
            steps.append(
                f"if [ -f {conf} ]; then sed -i 's#https://{old}:6443#https://{moved.node.name}:6443#' {conf}; fi"
            )
    steps.append(f"sed -i '{swap}' {KUBELET_FLAGS}")
    # A node just started may still be booting: systemd answers on its bus only after a moment.
    steps.append(
        f"{{ n=0; until systemctl show -p Version >/dev/null 2>&1; do n=$((n+1)); [ $n -lt {BUS_WAIT * 2} ] || exit 1; sleep 0.5; done; }}"
    )
    steps.append("systemctl restart kubelet")
    script = " && ".join(steps)
    if moved.node.control_plane:  # their manifests did not change, so the kubelet keeps their old containers
        # (none may run yet, or containerd may still start: then they start with the new kubeconfigs anyway)
        script += (
            " && { for c in kube-controller-manager kube-scheduler; do "
            'crictl ps -q --name "^$c\\$" 2>/dev/null | xargs -r crictl stop >/dev/null 2>&1; done; true; }'
        )
    return script


def repair(containers: Containers, moved: list[Moved]) -> None:
    for item in moved:
        result = containers.exec_in(item.node.name, repair_script(item), timeout=120)
        if not result.ok:
            said = (result.stderr or result.stdout).strip().splitlines()
            raise KfbError(
                f"could not move {item.node.name} to its new address {item.new}: {said[-1] if said else 'no output'}",
                hint="re-run `kfbootstrap start`; if it fails again, `kfbootstrap diagnose` collects the nodes' logs",
            )
