"""How big the platform's reservations are: upstream's production sizing, or a laptop's.

`kubeflow.sizing: laptop` lowers the resource *requests* of a few of upstream's Istio
objects, on the rendered objects (nothing of the release is copied or forked), to the
values Istio's own `demo` profile uses (istio/istio, manifests/helm-profiles/demo.yaml:
`pilot.resources.requests` 10m/100Mi, `gateways.istio-ingressgateway.resources.requests`
10m/40Mi, `cni.resources.requests` 10m/40Mi, `global.proxy.resources.requests` 10m/40Mi,
`pilot.autoscaleEnabled: false`, `gateways.istio-ingressgateway.autoscaleEnabled: false`).

- Requests are only ever lowered: a request already at or below the laptop value, or
  absent, is left alone, and limits are never touched (so no limit falls below its request).
- Requests are what the scheduler reserves, not what a process uses. istiod asks 2 GiB
  because it is sized for a production mesh with thousands of endpoints; a one-user Kind
  cluster has ~30 pods. The processes may still use more than they request (istiod has no
  limit, the others keep upstream's).
- The sidecar's default is read by the injector from the ConfigMap `istio-sidecar-injector`,
  key `values`, `global.proxy.resources` (istio/istio pkg/kube/inject/watcher.go reads the
  `config` and `values` keys; the injection template renders `.Values.global.proxy.resources`
  unless a pod sets `sidecar.istio.io/proxyCPU|proxyMemory`); the mesh config has no requests.
- The autoscalers of istiod and the ingress gateway are held at one replica: their target is
  80% of the CPU *request*, so a 10m request would have them scale to five replicas at 8m of use.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from kfbootstrap.apps.measure import quantity

UPSTREAM, LAPTOP = "upstream", "laptop"


@dataclass(frozen=True)
class Lower:
    """Lower one container's requests to at most `cpu` / `memory`."""

    kind: str
    namespace: str
    name: str
    container: str
    cpu: str
    memory: str


# Istio's demo profile's requests (module docstring), for the containers upstream sizes for production.
LAPTOP_REQUESTS = (
    Lower("Deployment", "istio-system", "istiod", "discovery", "10m", "100Mi"),  # pilot.resources.requests
    Lower(
        "Deployment", "istio-system", "istio-ingressgateway", "istio-proxy", "10m", "40Mi"
    ),  # gateways.istio-ingressgateway
    Lower("DaemonSet", "kube-system", "istio-cni-node", "install-cni", "10m", "40Mi"),  # cni.resources.requests
)
LAPTOP_SIDECAR = {"cpu": "10m", "memory": "40Mi"}  # global.proxy.resources.requests
INJECTOR = ("ConfigMap", "istio-system", "istio-sidecar-injector")
# HorizontalPodAutoscalers held at one replica (demo: autoscaleEnabled false).
LAPTOP_ONE_REPLICA = (("istio-system", "istiod"), ("istio-system", "istio-ingressgateway"))


@dataclass
class Sized:
    objects: list[dict[str, Any]]
    changes: list[str]  # one line per object changed, for `up --dry-run`


def resize(objects: Sequence[Mapping[str, Any]], sizing: str) -> Sized:
    """The objects with `sizing` applied; changed objects are copies (the render's cache stays as rendered)."""
    if sizing == UPSTREAM:
        return Sized([dict(o) for o in objects], [])
    result = Sized([], [])
    for obj in objects:
        changed, notes = _laptop(obj)
        result.objects.append(changed)
        result.changes += notes
    return result


def _laptop(obj: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    key = (obj.get("kind"), (obj.get("metadata") or {}).get("namespace"), (obj.get("metadata") or {}).get("name"))
    for lower in LAPTOP_REQUESTS:
        if key == (lower.kind, lower.namespace, lower.name):
            return _lower_container(obj, lower)
    if key == INJECTOR:
        return _lower_sidecar(obj)
    if key[0] == "HorizontalPodAutoscaler" and key[1:] in LAPTOP_ONE_REPLICA:
        return _one_replica(obj)
    return dict(obj), []


def lowered(requests: Mapping[str, Any], ceiling: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """`requests` with each resource of `ceiling` brought down to it when above it (absent ones stay absent)."""
    result = dict(requests)
    notes = []
    for resource, value in ceiling.items():
        current = requests.get(resource)
        if current is not None and quantity(current) > quantity(value):
            result[resource] = value
            notes.append(f"{resource} {current} -> {value}")
    return result, notes


def _lower_container(obj: Mapping[str, Any], lower: Lower) -> tuple[dict[str, Any], list[str]]:
    changed = copy.deepcopy(dict(obj))
    for container in changed["spec"]["template"]["spec"].get("containers") or []:
        if container.get("name") != lower.container:
            continue
        resources = container.get("resources") or {}
        requests, notes = lowered(resources.get("requests") or {}, {"cpu": lower.cpu, "memory": lower.memory})
        if notes:
            container["resources"] = {**resources, "requests": requests}
            return changed, [f"{_name(obj)} {lower.container}: requests {', '.join(notes)}"]
    return dict(obj), []


def _lower_sidecar(obj: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The injector's default sidecar requests (the `values` JSON); the rest of the values kept as rendered."""
    try:
        values = json.loads((obj.get("data") or {}).get("values") or "")
    except ValueError:
        return dict(obj), []
    proxy = (values.get("global") or {}).get("proxy") or {}
    resources = proxy.get("resources") or {}
    requests, notes = lowered(resources.get("requests") or {}, LAPTOP_SIDECAR)
    if not notes:
        return dict(obj), []
    proxy["resources"] = {**resources, "requests": requests}
    changed = copy.deepcopy(dict(obj))
    changed["data"]["values"] = json.dumps(values, indent=2)
    return changed, [f"{_name(obj)} (sidecar default): requests {', '.join(notes)}"]


def _one_replica(obj: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    spec = obj.get("spec") or {}
    if spec.get("maxReplicas", 1) <= 1:
        return dict(obj), []
    changed = copy.deepcopy(dict(obj))
    changed["spec"]["minReplicas"] = 1
    changed["spec"]["maxReplicas"] = 1
    return changed, [f"{_name(obj)}: maxReplicas {spec.get('maxReplicas')} -> 1"]


def _name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')} {meta.get('namespace')}/{meta.get('name')}"
