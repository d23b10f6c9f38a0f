"""Point every node of a Kind cluster at the caches: one hosts.toml per cached registry.

containerd reads /etc/containerd/certs.d afresh on every pull (its CRI `config_path`,
set in kind's node images since v0.27), so no restart is needed and pulls that
start after this step go through the caches.
"""

from __future__ import annotations

from dataclasses import dataclass

from kfbootstrap.cache.hosts_toml import CERTS_DIR, hosts_path, hosts_toml
from kfbootstrap.cache.registries import Mirror
from kfbootstrap.tools.docker import Containers

_CONTAINERD_CONFIG = "/etc/containerd/config.toml"


@dataclass(frozen=True)
class NodeReport:
    node: str
    written: list[str]  # registries whose hosts.toml was (re)written
    reads_certs_d: bool  # False: this node's containerd ignores hosts.toml (old node image)


def configured(containers: Containers, node: str, mirrors: list[Mirror]) -> bool:
    """Does the node already have exactly our hosts.toml for every mirror?"""
    return all(containers.read_file(node, hosts_path(m)) == hosts_toml(m) for m in mirrors)


def configure(containers: Containers, node: str, mirrors: list[Mirror]) -> NodeReport:
    written = []
    for mirror in mirrors:
        text = hosts_toml(mirror)
        if containers.read_file(node, hosts_path(mirror)) != text:
            containers.write_file(node, hosts_path(mirror), text)
            written.append(mirror.registry)
    config = containers.read_file(node, _CONTAINERD_CONFIG) or ""
    return NodeReport(node, written, CERTS_DIR in config)
