"""What a set of objects asks of the cluster: objects, images, pods and requested CPU and memory.

Counted from the render, the way the scheduler counts: a pod requests the sum of its
containers (plus the Istio sidecar the injector adds), or its largest init container
if that is more; a Deployment or StatefulSet that many times over (`replicas`, default
1), a DaemonSet once per node. The sidecar's requests are the injector's defaults
(ConfigMap istio-sidecar-injector, `global.proxy.resources.requests`) unless the pod
template overrides them with `sidecar.istio.io/proxyCPU|proxyMemory`; pods are injected
in namespaces labelled `istio-injection: enabled` and in each Profile's namespace (the
profile controller labels it so), unless the pod says `sidecar.istio.io/inject: "false"`.
Containers without requests count as zero, as they do for the scheduler.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

WORKLOAD_KINDS = (
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "Pod",
    "CronJob",
)
STEADY_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Pod")
_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "m": 1e-3}


@dataclass(frozen=True)
class Sidecar:
    """What Istio's injector adds to each pod it injects."""

    cpu: float
    memory: float
    image: str


@dataclass
class Totals:
    objects: int = 0
    pods: int = 0
    cpu: float = 0.0  # cores, app containers
    memory: float = 0.0  # bytes, app containers
    sidecar_cpu: float = 0.0
    sidecar_memory: float = 0.0
    sidecars: int = 0
    images: set[str] = field(default_factory=set)

    @property
    def total_cpu(self) -> float:
        return self.cpu + self.sidecar_cpu

    @property
    def total_memory(self) -> float:
        return self.memory + self.sidecar_memory

    def add(self, other: "Totals") -> None:
        self.objects += other.objects
        self.pods += other.pods
        self.cpu += other.cpu
        self.memory += other.memory
        self.sidecar_cpu += other.sidecar_cpu
        self.sidecar_memory += other.sidecar_memory
        self.sidecars += other.sidecars
        self.images |= other.images


def quantity(value: Any) -> float:
    """A Kubernetes quantity ('100m', '2Gi', '1.5', 2) as a number of cores or bytes."""
    if value is None:
        return 0.0
    text = str(value).strip()
    for unit in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * _UNITS[unit]
    return float(text)


def sidecar_of(objects: Iterable[Mapping[str, Any]]) -> Sidecar | None:
    """The injector's default sidecar, when the set contains Istio's injector (else nothing is injected)."""
    for obj in objects:
        if obj.get("kind") == "ConfigMap" and obj["metadata"]["name"].startswith("istio-sidecar-injector"):
            try:
                values = json.loads((obj.get("data") or {}).get("values") or "{}")
            except ValueError:
                continue
            glob = values.get("global") or {}
            requests = ((glob.get("proxy") or {}).get("resources") or {}).get("requests") or {}
            image = f"{glob.get('hub', '')}/{(glob.get('proxy') or {}).get('image', 'proxyv2')}:{glob.get('tag', '')}"
            return Sidecar(quantity(requests.get("cpu")), quantity(requests.get("memory")), image)
    return None


def injected_namespaces(objects: Iterable[Mapping[str, Any]]) -> set[str]:
    """Namespaces whose pods get a sidecar: labelled for injection, or made from a Profile."""
    found = set()
    for obj in objects:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if obj.get("kind") == "Namespace" and labels.get("istio-injection") == "enabled":
            found.add(obj["metadata"]["name"])
        if obj.get("kind") == "Profile" and str(obj.get("apiVersion", "")).startswith("kubeflow.org/"):
            found.add(obj["metadata"]["name"])
    return found


def measure(
    objects: Sequence[Mapping[str, Any]], nodes: int, context: Sequence[Mapping[str, Any]] | None = None
) -> Totals:
    """Totals of `objects`; `context` (default: the same objects) decides injection and the sidecar's size."""
    around = objects if context is None else context
    sidecar = sidecar_of(around)
    injected = injected_namespaces(around) if sidecar else set()
    totals = Totals(objects=len(objects))
    for obj in objects:
        template = _pod_template(obj)
        if template is None:
            continue
        totals.images |= _images(template)
        if obj.get("kind") not in STEADY_KINDS:
            continue  # Jobs and CronJobs finish; they hold no requests in steady state
        count = nodes if obj.get("kind") == "DaemonSet" else _replicas(obj)
        cpu, memory = _pod_requests(template)
        totals.pods += count
        totals.cpu += count * cpu
        totals.memory += count * memory
        if sidecar and _is_injected(obj, template, injected):
            annotations = (template.get("metadata") or {}).get("annotations") or {}
            totals.sidecars += count
            totals.sidecar_cpu += count * quantity(annotations.get("sidecar.istio.io/proxyCPU") or sidecar.cpu)
            totals.sidecar_memory += count * quantity(annotations.get("sidecar.istio.io/proxyMemory") or sidecar.memory)
            totals.images.add(sidecar.image)
    return totals


def _pod_template(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return obj
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    if kind in WORKLOAD_KINDS:
        return spec.get("template")
    return None


def _replicas(obj: Mapping[str, Any]) -> int:
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def _pod_requests(template: Mapping[str, Any]) -> tuple[float, float]:
    spec = template.get("spec") or {}

    def requests(container: Mapping[str, Any]) -> tuple[float, float]:
        wanted = (container.get("resources") or {}).get("requests") or {}
        return quantity(wanted.get("cpu")), quantity(wanted.get("memory"))

    main = [requests(c) for c in spec.get("containers") or []]
    init = [requests(c) for c in spec.get("initContainers") or []]
    cpu = max([sum(c for c, _ in main)] + [c for c, _ in init])
    memory = max([sum(m for _, m in main)] + [m for _, m in init])
    return cpu, memory


def _is_injected(obj: Mapping[str, Any], template: Mapping[str, Any], injected: set[str]) -> bool:
    meta = template.get("metadata") or {}
    said = (meta.get("labels") or {}).get("sidecar.istio.io/inject") or (meta.get("annotations") or {}).get(
        "sidecar.istio.io/inject"
    )
    if said is not None:
        return str(said).lower() == "true" or (
            str(said).lower() != "false" and obj["metadata"].get("namespace") in injected
        )
    return obj["metadata"].get("namespace") in injected and not (template.get("spec") or {}).get("hostNetwork")


def _images(template: Mapping[str, Any]) -> set[str]:
    spec = template.get("spec") or {}
    return {
        str(c["image"]) for c in (spec.get("containers") or []) + (spec.get("initContainers") or []) if c.get("image")
    }
