"""Which Kind cluster a command means, and whether kfbootstrap created it (only those are stopped or started)."""

from __future__ import annotations

import re

from kfbootstrap import paths
from kfbootstrap.config import Config
from kfbootstrap.errors import UsageError

_KIND_CONTEXT = re.compile(r"kind-([a-z0-9]([-a-z0-9]*[a-z0-9])?)")


def created_by_us(cluster: str) -> bool:
    """`up` writes clusters/<name>/kind-config.yaml in our state dir before it creates a cluster (the rule
    `down` follows too): a cluster `kind create` made by hand has none."""
    return (paths.state_dir() / "clusters" / cluster / "kind-config.yaml").is_file()


def cluster_of_context(context: str | None) -> str | None:
    """`--context kind-<name>` names the Kind cluster <name> when kfbootstrap created it; else None."""
    match = _KIND_CONTEXT.fullmatch(context or "")
    return match.group(1) if match and created_by_us(match.group(1)) else None


def require_ours(config: Config, command: str) -> str:
    """The name of the Kind cluster `command` acts on; UsageError for a cluster kfbootstrap did not create."""
    if config.cluster.existing or not created_by_us(config.cluster.name):
        where = (
            f"behind context {config.kube_context or '(current)'}" if config.cluster.existing else config.cluster.name
        )
        raise UsageError(
            f"no Kind cluster {where} that `kfbootstrap up` created here: nothing to {command}",
            hint=f"`kfbootstrap {command}` acts only on clusters `up` created (choose one with --name, or --context "
            "kind-<name>); `kfbootstrap up` creates one; a cluster made by another tool is stopped or started with that tool",
        )
    return config.cluster.name
