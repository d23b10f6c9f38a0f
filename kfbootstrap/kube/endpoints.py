"""Which ready pods serve a Service port, and on which container port.

A port-forward goes to a pod, not a Service, so `expose` needs the pods behind the
Service and the Service port's targetPort resolved for each pod. EndpointSlices
answer both at once (the endpoints controller already resolved named targetPorts
and readiness); when a cluster has no slice for the Service we fall back to the
Service's selector and resolve the targetPort from each pod's container ports.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from kfbootstrap.errors import KfbError
from kfbootstrap.kube.api import ENDPOINTSLICES, PODS, SERVICES
from kfbootstrap.kube.errors import Forbidden, NotFound

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

log = logging.getLogger("kfbootstrap.endpoints")

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


class ServiceNotFound(KfbError):
    """None of the candidate Services exists (the component is not installed, or another namespace)."""

    def __init__(self, namespace: str, names: Sequence[str]):
        listed = " or ".join(f"svc/{n}" for n in names)
        super().__init__(
            f"{listed} not found in namespace {namespace}",
            hint="is the component installed? check `kfbootstrap status`",
        )


class ServicePortNotFound(KfbError):
    def __init__(self, namespace: str, service: str, port: int, have: Sequence[int]):
        super().__init__(
            f"svc/{service} in namespace {namespace} has no port {port} (it has {', '.join(map(str, have)) or 'none'})",
            hint="the installed release may differ from the one kfbootstrap expects; check `kfbootstrap status`",
        )


@dataclass(frozen=True)
class Backend:
    """One ready pod and the container port the Service port maps to on it."""

    pod: str
    port: int


def find_service(kube: "Kube", namespace: str, names: Sequence[str]) -> dict[str, Any]:
    """The first of `names` that exists in `namespace` (the Service object), else ServiceNotFound."""
    for name in names:
        service = kube.get(SERVICES, name, namespace)
        if service is not None:
            return service
    raise ServiceNotFound(namespace, names)


def service_port(service: Mapping[str, Any], port: int) -> dict[str, Any]:
    """The entry of the Service's spec.ports whose `port` is `port`."""
    ports = (service.get("spec") or {}).get("ports") or []
    for candidate in ports:
        if candidate.get("port") == port:
            return candidate
    meta = service.get("metadata") or {}
    raise ServicePortNotFound(meta.get("namespace", ""), meta.get("name", ""), port, [p.get("port") for p in ports])


def backends_from_slices(slices: Sequence[Mapping[str, Any]], port_name: str | None) -> list[Backend]:
    """Ready, not terminating pod endpoints and the slice port named like the Service port."""
    wanted = port_name or ""
    found: list[Backend] = []
    for endpoint_slice in slices:
        ports = endpoint_slice.get("ports") or []
        number = next((p.get("port") for p in ports if (p.get("name") or "") == wanted), None)
        if number is None:
            continue
        for endpoint in endpoint_slice.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            # The API says a nil `ready` is to be read as ready; terminating pods are never picked.
            ready = conditions.get("ready") is not False
            terminating = conditions.get("terminating") is True
            ref = endpoint.get("targetRef") or {}
            if ready and not terminating and ref.get("kind") == "Pod" and ref.get("name"):
                found.append(Backend(ref["name"], number))
    return _unique(found)


def backends_from_pods(
    pods: Sequence[Mapping[str, Any]], target_port: int | str | None, service_port_number: int
) -> list[Backend]:
    """Fallback without slices: Ready pods, with a named targetPort looked up in each pod's containers."""
    found: list[Backend] = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp") is not None or not _pod_ready(pod):
            continue
        number = _resolve_target_port(pod, target_port, service_port_number)
        if number is not None:
            found.append(Backend(meta["name"], number))
    return _unique(found)


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _resolve_target_port(pod: Mapping[str, Any], target_port: int | str | None, service_port_number: int) -> int | None:
    if target_port is None or target_port == "":
        return service_port_number
    if isinstance(target_port, int) or str(target_port).isdigit():
        return int(target_port)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target_port:
                return port.get("containerPort")
    return None


def _unique(backends: list[Backend]) -> list[Backend]:
    seen: dict[str, Backend] = {}
    for backend in backends:
        seen.setdefault(backend.pod, backend)
    return sorted(seen.values(), key=lambda b: b.pod)


class ServiceBackends:
    """The ready pods behind one Service port, refreshed from the API on demand.

    Listed again at most every `ttl` seconds, or at once (rate-limited) after a
    caller reports a pod failed. Listing on demand instead of holding a watch open
    means there is no long-lived stream that can silently die (the very failure that
    makes `kubectl port-forward` unreliable); a local API list costs milliseconds.
    Thread-safe: every connection of a forward shares one instance.
    """

    def __init__(
        self,
        kube: "Kube | None",
        namespace: str,
        services: Sequence[str],
        port: int,
        ttl: float = 2.0,
        min_interval: float = 0.2,
        quarantine: float = 5.0,
    ):
        self.kube = kube
        self._use_slices = True  # until the cluster shows it has no EndpointSlice API, or we may not read it
        self.namespace = namespace
        self.services = tuple(services)
        self.port = port
        self.ttl = ttl
        self.min_interval = min_interval
        self.quarantine = quarantine
        self.service_name: str | None = None
        self._backends: list[Backend] = []
        self._listed_at = float("-inf")
        self._failed: dict[str, float] = {}
        self._stale = False
        self._next = 0
        self._lock = threading.Lock()

    def current(self) -> list[Backend]:
        """The last listed backends (no API call)."""
        with self._lock:
            return list(self._backends)

    def refresh(self, force: bool = False) -> list[Backend]:
        """List again if the cache is older than ttl (or min_interval when forced)."""
        with self._lock:
            age = time.monotonic() - self._listed_at
            if age < (self.min_interval if force or self._stale else self.ttl):
                return list(self._backends)
            self._backends = self._list()
            self._listed_at = time.monotonic()
            self._stale = False
            return list(self._backends)

    def pick(self) -> Backend | None:
        """A ready backend, round-robin, skipping pods that failed in the last `quarantine` seconds."""
        backends = self.refresh()
        now = time.monotonic()
        with self._lock:
            self._failed = {pod: until for pod, until in self._failed.items() if until > now}
            usable = [b for b in backends if b.pod not in self._failed]
            if not usable:
                return None
            self._next = (self._next + 1) % len(usable)
            return usable[self._next]

    def mark_failed(self, backend: Backend) -> None:
        """Keep new connections off this pod for a while and make the next pick list again."""
        with self._lock:
            self._failed[backend.pod] = time.monotonic() + self.quarantine
            self._stale = True

    def _list(self) -> list[Backend]:
        assert self.kube is not None, "a ServiceBackends that lists needs the adapter"
        service = self._service(self.kube)
        port = service_port(service, self.port)
        slices = self._slices(self.kube, service["metadata"]["name"])
        if slices:
            return backends_from_slices(slices, port.get("name"))
        selector = (service.get("spec") or {}).get("selector") or {}
        if not selector:
            return []
        label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        pods = self.kube.items(PODS, self.namespace, labels=label_selector)
        return backends_from_pods(pods, port.get("targetPort"), port["port"])

    def _service(self, kube: "Kube") -> dict[str, Any]:
        if self.service_name:
            service = kube.get(SERVICES, self.service_name, self.namespace)
            if service is not None:
                return service
            self.service_name = None  # gone: maybe the release changed; look at every candidate again
        service = find_service(kube, self.namespace, self.services)
        self.service_name = service["metadata"]["name"]
        return service

    def _slices(self, kube: "Kube", service_name: str) -> list[dict[str, Any]]:
        if not self._use_slices:
            return []
        try:
            return kube.items(ENDPOINTSLICES, self.namespace, labels=f"{SERVICE_NAME_LABEL}={service_name}")
        except (Forbidden, NotFound) as exc:  # no EndpointSlice API, or no right to read it: use the selector
            log.debug("endpoint slices unavailable (%s); using the selector", exc.status)
            self._use_slices = False
            return []
