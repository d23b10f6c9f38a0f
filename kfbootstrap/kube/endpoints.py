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
from typing import Any, Sequence

from kfbootstrap.errors import KfbError

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


def find_service(core: Any, namespace: str, names: Sequence[str]) -> Any:
    """The first of `names` that exists in `namespace` (V1Service), else ServiceNotFound."""
    from kubernetes.client.exceptions import ApiException

    for name in names:
        try:
            return core.read_namespaced_service(name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
    raise ServiceNotFound(namespace, names)


def service_port(service: Any, port: int) -> Any:
    """The V1ServicePort whose `port` is `port`."""
    for candidate in service.spec.ports or []:
        if candidate.port == port:
            return candidate
    raise ServicePortNotFound(
        service.metadata.namespace, service.metadata.name, port, [p.port for p in service.spec.ports or []]
    )


def backends_from_slices(slices: Sequence[Any], port_name: str | None) -> list[Backend]:
    """Ready, not terminating pod endpoints and the slice port named like the Service port."""
    wanted = port_name or ""
    found: list[Backend] = []
    for endpoint_slice in slices:
        number = next((p.port for p in endpoint_slice.ports or [] if (p.name or "") == wanted), None)
        if number is None:
            continue
        for endpoint in endpoint_slice.endpoints or []:
            conditions = endpoint.conditions
            # The API says a nil `ready` is to be read as ready; terminating pods are never picked.
            ready = conditions is None or conditions.ready is not False
            terminating = conditions is not None and conditions.terminating is True
            ref = endpoint.target_ref
            if ready and not terminating and ref is not None and ref.kind == "Pod":
                found.append(Backend(ref.name, number))
    return _unique(found)


def backends_from_pods(pods: Sequence[Any], target_port: int | str | None, service_port_number: int) -> list[Backend]:
    """Fallback without slices: Ready pods, with a named targetPort looked up in each pod's containers."""
    found: list[Backend] = []
    for pod in pods:
        if pod.metadata.deletion_timestamp is not None or not _pod_ready(pod):
            continue
        number = _resolve_target_port(pod, target_port, service_port_number)
        if number is not None:
            found.append(Backend(pod.metadata.name, number))
    return _unique(found)


def _pod_ready(pod: Any) -> bool:
    conditions = (pod.status and pod.status.conditions) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def _resolve_target_port(pod: Any, target_port: int | str | None, service_port_number: int) -> int | None:
    if target_port is None or target_port == "":
        return service_port_number
    if isinstance(target_port, int) or str(target_port).isdigit():
        return int(target_port)
    for container in pod.spec.containers or []:
        for port in container.ports or []:
            if port.name == target_port:
                return port.container_port
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
        core: Any,
        discovery: Any,
        namespace: str,
        services: Sequence[str],
        port: int,
        ttl: float = 2.0,
        min_interval: float = 0.2,
        quarantine: float = 5.0,
    ):
        self.core = core
        self.discovery = discovery
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
        service = self._service()
        port = service_port(service, self.port)
        slices = self._slices(service.metadata.name)
        if slices:
            return backends_from_slices(slices, port.name)
        selector = service.spec.selector or {}
        if not selector:
            return []
        label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=label_selector).items
        return backends_from_pods(pods, port.target_port, port.port)

    def _service(self) -> Any:
        from kubernetes.client.exceptions import ApiException

        names = ((self.service_name,) if self.service_name else ()) + self.services
        if self.service_name:
            try:
                return self.core.read_namespaced_service(self.service_name, self.namespace)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                self.service_name = None  # gone: maybe the release changed; look at every candidate again
        service = find_service(self.core, self.namespace, list(dict.fromkeys(names)))
        self.service_name = service.metadata.name
        return service

    def _slices(self, service_name: str) -> list[Any]:
        from kubernetes.client.exceptions import ApiException

        if self.discovery is None:
            return []
        try:
            return self.discovery.list_namespaced_endpoint_slice(
                self.namespace, label_selector=f"{SERVICE_NAME_LABEL}={service_name}"
            ).items
        except ApiException as exc:
            if exc.status in (403, 404):  # no EndpointSlice API, or no right to read it: use the selector
                log.debug("endpoint slices unavailable (%s); using the selector", exc.status)
                self.discovery = None
                return []
            raise
