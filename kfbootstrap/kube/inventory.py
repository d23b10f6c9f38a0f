"""Read-only listings of a cluster for `kfbootstrap diagnose`, as plain JSON-like dicts.

Everything goes through the run's adapter (kube/api.py): exactly what the API server
said, as dicts. Every function raises InventoryError with the resource named, so the
bundle can record what it could not collect and go on with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from kfbootstrap.kube.api import (
    CONFIGMAPS,
    DAEMONSETS,
    DEPLOYMENTS,
    EVENTS,
    NODES,
    PODS,
    SECRETS,
    STATEFULSETS,
    Kube,
    KubeError,
)
from kfbootstrap.kube.discovery import Resource
from kfbootstrap.kube.rest import Timeouts

LOG_TAIL_LINES = 1000
LOG_LIMIT_BYTES = 2 * 1024 * 1024


class InventoryError(Exception):
    """Listing one kind of object failed; the message names it and says why."""


@dataclass
class Cluster:
    """The cluster diagnose reads, reached through one adapter built from a kube context."""

    kube: Kube

    @classmethod
    def connect(cls, context: str | None, timeouts: Timeouts, kubeconfig: str | None = None) -> "Cluster":
        from kfbootstrap.kube.client import connect

        return cls(connect(context, timeouts, kubeconfig))


def _guarded(what: str, read: Callable[[], Any]) -> Any:
    try:
        return read()
    except KubeError as exc:  # refused, unreachable, timed out: all "could not collect"
        raise InventoryError(f"{what} failed: {exc.message}") from None


def _items(cluster: Cluster, resource: Resource) -> list[dict[str, Any]]:
    return _guarded(f"listing {resource.plural}", lambda: cluster.kube.items(resource))


def nodes(cluster: Cluster) -> list[dict[str, Any]]:
    return _items(cluster, NODES)


def pods(cluster: Cluster) -> list[dict[str, Any]]:
    return _items(cluster, PODS)


def events(cluster: Cluster) -> list[dict[str, Any]]:
    return _items(cluster, EVENTS)


def config_maps(cluster: Cluster) -> list[dict[str, Any]]:
    return _items(cluster, CONFIGMAPS)


def secrets(cluster: Cluster) -> list[dict[str, Any]]:
    """Only ever used to learn the values to redact: never written anywhere."""
    return _items(cluster, SECRETS)


def workloads(cluster: Cluster) -> dict[str, list[dict[str, Any]]]:
    return {resource.kind: _items(cluster, resource) for resource in (DEPLOYMENTS, STATEFULSETS, DAEMONSETS)}


def server_version(cluster: Cluster) -> str:
    version = _guarded("reading the server version", lambda: cluster.kube.raw("/version")) or {}
    return str(version.get("gitVersion") or "unknown")


def pod_log(cluster: Cluster, namespace: str, pod: str, container: str, previous: bool = False) -> str:
    """The last LOG_TAIL_LINES lines of one container (of its previous run with `previous`)."""
    what = f"logs of {namespace}/{pod} container {container}{' (previous)' if previous else ''}"
    return _guarded(
        what,
        lambda: cluster.kube.logs(
            namespace, pod, container, previous=previous, tail_lines=LOG_TAIL_LINES, limit_bytes=LOG_LIMIT_BYTES
        ),
    )
