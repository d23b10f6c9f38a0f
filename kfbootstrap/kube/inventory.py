"""Read-only listings of a cluster for `kfbootstrap diagnose`, as plain JSON-like dicts.

Lists are fetched raw (`_preload_content=False`) and parsed with json: exactly what
the API server said, without the client's slow model round-trip. Every function
raises InventoryError with the resource named, so the bundle can record what it
could not collect and go on with the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

LOG_TAIL_LINES = 1000
LOG_LIMIT_BYTES = 2 * 1024 * 1024


class InventoryError(Exception):
    """Listing one kind of object failed; the message names it and says why."""


@dataclass
class Cluster:
    """The API clients diagnose needs, built once from a kube context."""

    core: Any
    apps: Any
    version_api: Any

    @classmethod
    def connect(cls, context: str | None, kubeconfig: str | None = None) -> "Cluster":
        from kubernetes import client

        from kfbootstrap.kube.client import api_client

        api = api_client(context, kubeconfig)
        return cls(client.CoreV1Api(api), client.AppsV1Api(api), client.VersionApi(api))


def _items(call, what: str, **kwargs) -> list[dict[str, Any]]:
    try:
        response = call(_preload_content=False, _request_timeout=60, **kwargs)
        return json.loads(response.data).get("items") or []
    except Exception as exc:  # ApiException, urllib3 errors, bad JSON: all "could not list"
        raise InventoryError(f"listing {what} failed: {_reason(exc)}") from None


def nodes(cluster: Cluster) -> list[dict[str, Any]]:
    return _items(cluster.core.list_node, "nodes")


def pods(cluster: Cluster) -> list[dict[str, Any]]:
    return _items(cluster.core.list_pod_for_all_namespaces, "pods")


def events(cluster: Cluster) -> list[dict[str, Any]]:
    return _items(cluster.core.list_event_for_all_namespaces, "events")


def config_maps(cluster: Cluster) -> list[dict[str, Any]]:
    return _items(cluster.core.list_config_map_for_all_namespaces, "configmaps")


def secrets(cluster: Cluster) -> list[dict[str, Any]]:
    """Only ever used to learn the values to redact: never written anywhere."""
    return _items(cluster.core.list_secret_for_all_namespaces, "secrets")


def workloads(cluster: Cluster) -> dict[str, list[dict[str, Any]]]:
    return {
        "Deployment": _items(cluster.apps.list_deployment_for_all_namespaces, "deployments"),
        "StatefulSet": _items(cluster.apps.list_stateful_set_for_all_namespaces, "statefulsets"),
        "DaemonSet": _items(cluster.apps.list_daemon_set_for_all_namespaces, "daemonsets"),
    }


def server_version(cluster: Cluster) -> str:
    try:
        return cluster.version_api.get_code(_request_timeout=20).git_version
    except Exception as exc:
        raise InventoryError(f"reading the server version failed: {_reason(exc)}") from None


def pod_log(cluster: Cluster, namespace: str, pod: str, container: str, previous: bool = False) -> str:
    """The last LOG_TAIL_LINES lines of one container (of its previous run with `previous`)."""
    try:
        response = cluster.core.read_namespaced_pod_log(
            pod,
            namespace,
            container=container,
            previous=previous,
            tail_lines=LOG_TAIL_LINES,
            limit_bytes=LOG_LIMIT_BYTES,
            _preload_content=False,
            _request_timeout=30,
        )
        return response.data.decode("utf-8", "replace")
    except Exception as exc:
        raise InventoryError(
            f"logs of {namespace}/{pod} container {container}{' (previous)' if previous else ''}: {_reason(exc)}"
        ) from None


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    body = getattr(exc, "body", None)
    if status and body:
        try:
            message = json.loads(body).get("message") or body
        except (ValueError, TypeError, AttributeError):
            message = body
        return f"HTTP {status}: {str(message)[:300]}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"
