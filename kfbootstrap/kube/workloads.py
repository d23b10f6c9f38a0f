"""List Deployments, StatefulSets and DaemonSets with their readiness and images, in three API calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Workload:
    kind: str  # deployment, statefulset, daemonset
    namespace: str
    name: str
    ready: int
    desired: int
    images: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    current: bool = True  # the controller has seen the latest spec

    @property
    def is_ready(self) -> bool:
        return self.current and self.ready >= self.desired

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.kind}/{self.name}"


def list_workloads(api_client: Any) -> list[Workload]:
    """Every Deployment, StatefulSet and DaemonSet in the cluster."""
    from kubernetes import client

    apps = client.AppsV1Api(api_client)
    found: list[Workload] = []
    for item in apps.list_deployment_for_all_namespaces().items:
        found.append(_replicated("deployment", item))
    for item in apps.list_stateful_set_for_all_namespaces().items:
        found.append(_replicated("statefulset", item))
    for item in apps.list_daemon_set_for_all_namespaces().items:
        status = item.status
        found.append(Workload("daemonset", item.metadata.namespace, item.metadata.name,
                              ready=(status and status.number_ready) or 0,
                              desired=(status and status.desired_number_scheduled) or 0,
                              images=_images(item), labels=dict(item.metadata.labels or {}),
                              current=_observed(item)))
    return found


def _replicated(kind: str, item: Any) -> Workload:
    replicas = item.spec.replicas if item.spec.replicas is not None else 1
    ready = (item.status and item.status.ready_replicas) or 0
    return Workload(kind, item.metadata.namespace, item.metadata.name, ready=ready, desired=replicas,
                    images=_images(item), labels=dict(item.metadata.labels or {}), current=_observed(item))


def _observed(item: Any) -> bool:
    observed = item.status and item.status.observed_generation
    return observed is None or item.metadata.generation is None or observed >= item.metadata.generation


def _images(item: Any) -> tuple[str, ...]:
    containers = (item.spec.template.spec.containers or []) if item.spec.template.spec else []
    return tuple(c.image for c in containers if c.image)


def image_tag(image: str) -> str:
    """`ghcr.io/x/y:v1.2@sha256:…` -> `v1.2`; digest-only -> `sha256:<12 hex>`; no tag -> `latest`."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.split(":", 1)[1]
    if digest:
        return digest[:19]
    return "latest"
