"""Every container image a set of manifests runs, per component and registry.

An image counts when a pod template names it (containers and initContainers of
Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, ReplicationControllers,
CronJobs' job templates and bare Pods): what a node pulls when the manifests are
applied. Images named only inside ConfigMaps or environment variables (pipeline
launchers, serving runtimes) are pulled later, by user workloads, and are not listed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from kfbootstrap.image_refs import ImageRef, parse_image

_POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}


@dataclass(frozen=True)
class ListedImage:
    image: str  # as the manifests write it
    component: str
    ref: ImageRef

    def to_json(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "component": self.component,
            "registry": self.ref.registry,
            "repository": self.ref.repository,
            "tag": self.ref.tag,
            "digest": self.ref.digest,
        }


def pod_spec(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec a workload object runs, or None for objects that run no pods."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
        return ((spec.get("template") or {}).get("spec")) or {}
    if kind in _POD_TEMPLATE_KINDS:
        return ((spec.get("template") or {}).get("spec")) or {}
    return None


def images_of(obj: Mapping[str, Any]) -> Iterator[str]:
    spec = pod_spec(obj)
    if not spec:
        return
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            image = (container or {}).get("image")
            if image:
                yield str(image)


def list_images(objects_by_component: Mapping[str, Iterable[Mapping[str, Any]]]) -> list[ListedImage]:
    """Distinct images per component, sorted; an image two components use is listed under each."""
    listed: dict[tuple[str, str], ListedImage] = {}
    for component, objects in objects_by_component.items():
        for obj in objects:
            for image in images_of(obj):
                listed.setdefault((component, image), ListedImage(image, component, parse_image(image)))
    return sorted(listed.values(), key=lambda i: (i.component, i.image))


def distinct(images: Iterable[ListedImage]) -> list[ListedImage]:
    """One entry per image, whichever component listed it first."""
    seen: dict[str, ListedImage] = {}
    for item in images:
        seen.setdefault(item.image, item)
    return list(seen.values())


def per_registry(images: Iterable[ListedImage]) -> dict[str, int]:
    """How many distinct images each registry serves."""
    counts = Counter(item.ref.registry for item in distinct(images))
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
