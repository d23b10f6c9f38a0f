"""Small waits with a deadline that watch instead of sleeping, and say what they last saw."""

from __future__ import annotations

import json
import time
from typing import Any, Mapping, Sequence

from kfbootstrap.errors import KfbError

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def ready_endpoints(slices: Sequence[Mapping[str, Any]]) -> list[str]:
    """Addresses of ready, not terminating endpoints in raw EndpointSlice objects."""
    found = []
    for endpoint_slice in slices:
        for endpoint in endpoint_slice.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            if conditions.get("ready", True) is not False and not conditions.get("terminating"):
                found += endpoint.get("addresses") or []
    return found


def wait_service_endpoints(core: Any, namespace: str, service: str, timeout: float, why: str = "") -> list[str]:
    """Wait until the Service has a ready endpoint (its pods serve); returns their addresses.

    Watches the Service's EndpointSlices; on the deadline raises KfbError naming the
    Service and what was seen (no slice, or endpoints that are not ready).
    """
    from kubernetes import client, watch
    from kubernetes.client.exceptions import ApiException

    discovery = client.DiscoveryV1Api(core.api_client)
    selector = f"{SERVICE_NAME_LABEL}={service}"
    deadline = time.monotonic() + timeout

    def listed() -> tuple[dict[str, Mapping[str, Any]], str | None]:
        data = json.loads(discovery.list_namespaced_endpoint_slice(namespace, label_selector=selector,
                                                                   _preload_content=False).data)
        return {s["metadata"]["name"]: s for s in data.get("items") or []}, (data.get("metadata") or {}).get("resourceVersion")

    slices, version = listed()
    while not ready_endpoints(list(slices.values())):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            seen = "no EndpointSlice" if not slices else "endpoints exist but none is ready"
            raise KfbError(f"service {service} in namespace {namespace} has no ready endpoint after {timeout:.0f}s "
                           f"({seen})" + (f"; {why}" if why else ""),
                           hint=f"check its pods: kubectl get pods -n {namespace}; then re-run `kfbootstrap up`")
        stream = watch.Watch().stream(discovery.list_namespaced_endpoint_slice, namespace, label_selector=selector,
                                      resource_version=version, timeout_seconds=max(1, int(min(remaining, 30))),
                                      deserialize=False)
        try:
            for event in stream:
                obj = event.get("object") or {}
                version = (obj.get("metadata") or {}).get("resourceVersion") or version
                name = (obj.get("metadata") or {}).get("name")
                if event.get("type") == "DELETED":
                    slices.pop(name, None)
                elif event.get("type") in ("ADDED", "MODIFIED"):
                    slices[name] = obj
                if ready_endpoints(list(slices.values())):
                    break
        except ApiException as exc:
            if exc.status != 410:
                raise
            slices, version = listed()  # our version is too old to watch from: start over
        finally:
            stream.close()
    return ready_endpoints(list(slices.values()))
