"""List Deployments, StatefulSets and DaemonSets with their readiness and images, in three API calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube
    from kfbootstrap.kube.discovery import Resource


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


def workload_from(kind: str, obj: Mapping[str, Any]) -> Workload:
    """A Workload from the JSON of a Deployment, StatefulSet or DaemonSet: the one readiness
    judgement `up`'s wait and `status` share.

    Ready means the controller has observed the latest spec (observedGeneration), every
    replica runs it (updated, no old replica left) and is ready; an OnDelete StatefulSet
    is never "updated", so only its readiness counts.
    """
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    generation = meta.get("generation")
    observed = status.get("observedGeneration")
    current = observed is not None and (generation is None or observed >= generation)
    if kind == "daemonset":
        desired = status.get("desiredNumberScheduled") or 0
        ready = status.get("numberReady") or 0
        updated = status.get("updatedNumberScheduled") or 0
        leftover = False
    else:
        desired = spec.get("replicas", 1) if spec.get("replicas") is not None else 1
        ready = status.get("readyReplicas") or 0
        updated = status.get("updatedReplicas") or 0
        # Mid-rollout, pods of the old spec still count as ready: like `kubectl rollout status`,
        # a rollout is over only when no old replica is left.
        leftover = (status.get("replicas") or 0) > updated
        if kind == "statefulset":
            on_delete = (spec.get("updateStrategy") or {}).get("type") == "OnDelete"
            revisions = status.get("currentRevision"), status.get("updateRevision")
            leftover = not on_delete and None not in revisions and revisions[0] != revisions[1]
            updated = desired if on_delete else updated
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return Workload(
        kind,
        meta.get("namespace", ""),
        meta.get("name", ""),
        ready=ready,
        desired=desired,
        images=tuple(c.get("image", "") for c in containers if c.get("image")),
        labels=dict(meta.get("labels") or {}),
        current=current and updated >= desired and not leftover,
    )


def list_workloads(kube: "Kube") -> list[Workload]:
    """Every Deployment, StatefulSet and DaemonSet in the cluster (three list calls)."""
    return [workload_from(kind, item) for kind, resource in resources().items() for item in kube.items(resource)]


def resources() -> dict[str, "Resource"]:
    """The workload kinds, by the name Workload.kind uses."""
    from kfbootstrap.kube.api import DAEMONSETS, DEPLOYMENTS, STATEFULSETS

    return {"deployment": DEPLOYMENTS, "statefulset": STATEFULSETS, "daemonset": DAEMONSETS}


def image_tag(image: str) -> str:
    """`ghcr.io/x/y:v1.2@sha256:…` -> `v1.2`; digest-only -> `sha256:<12 hex>`; no tag -> `latest`."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.split(":", 1)[1]
    if digest:
        return digest[:19]
    return "latest"
