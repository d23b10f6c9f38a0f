"""`kfbootstrap status`: per component, the installed version, ready workloads / total, forward and URL.

Which workloads belong to which component is one table here (namespaces, names or
helm-release labels), matched against a single listing of the cluster's workloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from kfbootstrap.access import forwards
from kfbootstrap.access.targets import TARGETS, Target, url
from kfbootstrap.config import Config
from kfbootstrap.kube.workloads import Workload, image_tag

# Workloads in the kubeflow namespace that other components own.
_KSERVE = ("kserve-controller-manager", "kserve-localmodel-controller-manager", "llmisvc-controller-manager",
           "kserve-models-web-app")
_MODEL_REGISTRY = ("model-registry-deployment", "model-registry-db")
_OBJECT_STORE = ("seaweedfs", "minio")
_KUBEFLOW_NAMESPACES = ("auth", "cert-manager", "istio-system", "knative-serving", "kubeflow-system", "oauth2-proxy",
                        "kubeflow")


@dataclass(frozen=True)
class ComponentSpec:
    """How to find a component's workloads, and which one tells its version."""

    name: str
    owns: Callable[[Workload], bool]
    version_from: tuple[str, ...]  # workload names, first found wins
    target: str | None = None


def _in(namespace: str, names: tuple[str, ...]) -> Callable[[Workload], bool]:
    return lambda w: w.namespace == namespace and w.name in names


def _helm_release(namespace: str, release: str) -> Callable[[Workload], bool]:
    return lambda w: w.namespace == namespace and w.labels.get("app.kubernetes.io/instance") == release


def _kubeflow(w: Workload) -> bool:
    if w.namespace == "kubeflow":
        return w.name not in _KSERVE + _MODEL_REGISTRY + _OBJECT_STORE
    return w.namespace in _KUBEFLOW_NAMESPACES


COMPONENTS: tuple[ComponentSpec, ...] = (
    ComponentSpec("kubeflow", _kubeflow, ("centraldashboard",), "kubeflow"),
    ComponentSpec("kserve", _in("kubeflow", _KSERVE), ("kserve-controller-manager",)),
    ComponentSpec("metallb", lambda w: w.namespace == "metallb-system", ("controller", "metallb-controller")),
    ComponentSpec("prometheus", _helm_release("monitoring", "prometheus"), ("prometheus-server",), "prometheus"),
    ComponentSpec("grafana", _helm_release("monitoring", "grafana"), ("grafana",), "grafana"),
    ComponentSpec("model_registry", _in("kubeflow", _MODEL_REGISTRY), ("model-registry-deployment",),
                  "model-registry"),
    ComponentSpec("object_store", _in("kubeflow", _OBJECT_STORE), _OBJECT_STORE, "minio"),
)


@dataclass
class ComponentStatus:
    name: str
    enabled: bool
    state: str  # ready, not ready, missing
    version: str | None
    version_from: str | None
    chart: str | None
    ready: int
    total: int
    not_ready: list[str] = field(default_factory=list)
    forward: dict[str, Any] | None = None
    url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "enabled": self.enabled, "state": self.state, "version": self.version,
                "version_from": self.version_from, "chart": self.chart,
                "workloads": {"ready": self.ready, "total": self.total, "not_ready": self.not_ready},
                "forward": self.forward, "url": self.url}


def collect(config: Config, workloads: list[Workload],
            records: list[forwards.ForwardRecord] | None = None) -> list[ComponentStatus]:
    """One status per component from one listing of workloads and the background-forward records."""
    records = forwards.read_records() if records is None else records
    enabled = set(config.components.enabled())
    return [_component(spec, spec.name in enabled, [w for w in workloads if spec.owns(w)], records)
            for spec in COMPONENTS]


def _component(spec: ComponentSpec, enabled: bool, owned: list[Workload],
               records: list[forwards.ForwardRecord]) -> ComponentStatus:
    ready = [w for w in owned if w.is_ready]
    state = "missing" if not owned else "ready" if len(ready) == len(owned) else "not ready"
    source = next((w for name in spec.version_from for w in owned if w.name == name), None)
    forward, link = _forward(TARGETS[spec.target], records) if spec.target else (None, None)
    return ComponentStatus(
        name=spec.name, enabled=enabled, state=state,
        version=image_tag(source.images[0]) if source and source.images else None,
        version_from=source.ref if source else None,
        chart=source.labels.get("helm.sh/chart") if source else None,
        ready=len(ready), total=len(owned),
        not_ready=sorted(f"{w.ref} ({w.ready}/{w.desired})" for w in owned if not w.is_ready),
        forward=forward, url=link,
    )


def _forward(target: Target, records: list[forwards.ForwardRecord]) -> tuple[dict[str, Any], str | None]:
    record = next((r for r in records if r.spec.target == target.name), None)
    if record is None:
        return {"target": target.name, "state": "none", "detail": f"run `kfbootstrap expose {target.name} --background`"}, None
    health = forwards.health(record)
    link = url(target, record.spec.address, record.spec.port) if health.state in ("running", "waiting") else None
    return {"target": target.name, "state": health.state, "detail": health.detail, "pid": record.pid,
            "address": record.spec.address, "port": record.spec.port}, link
