"""Small waits with a deadline that watch instead of sleeping, and say what they last saw."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from kfbootstrap.errors import KfbError

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def ready_endpoints(slices: Sequence[Mapping[str, Any]]) -> list[str]:
    """Addresses of ready, not terminating endpoints in raw EndpointSlice objects."""
    found: list[str] = []
    for endpoint_slice in slices:
        for endpoint in endpoint_slice.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            if conditions.get("ready", True) is not False and not conditions.get("terminating"):
                found += endpoint.get("addresses") or []
    return found


def wait_service_endpoints(kube: "Kube", namespace: str, service: str, timeout: float, why: str = "") -> list[str]:
    """Wait until the Service has a ready endpoint (its pods serve); returns their addresses.

    Watches the Service's EndpointSlices; on the deadline raises KfbError naming the
    Service and what was seen (no slice, or endpoints that are not ready).
    """
    from kfbootstrap.kube.api import ENDPOINTSLICES

    slices: dict[str, Mapping[str, Any]] = {}
    deadline = time.monotonic() + timeout
    for event in kube.watch(ENDPOINTSLICES, namespace, labels=f"{SERVICE_NAME_LABEL}={service}", deadline=deadline):
        if event.type == "SYNC":
            slices = {s["metadata"]["name"]: s for s in event.objects}
        elif event.type == "DELETED":
            slices.pop(event.obj["metadata"]["name"], None)
        else:
            slices[event.obj["metadata"]["name"]] = event.obj
        if ready_endpoints(list(slices.values())):
            return ready_endpoints(list(slices.values()))
    seen = "no EndpointSlice" if not slices else "endpoints exist but none is ready"
    raise KfbError(
        f"service {service} in namespace {namespace} has no ready endpoint after {timeout:.0f}s "
        f"({seen})" + (f"; {why}" if why else ""),
        hint=f"check its pods: kubectl get pods -n {namespace}; then re-run `kfbootstrap up`",
    )
