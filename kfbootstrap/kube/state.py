"""What kfbootstrap applied to a cluster, remembered in the cluster itself.

After a component applied successfully we write a marker (the hash of its render,
its object count and namespaces) into ConfigMap kube-system/kfbootstrap-state. A
re-run with unchanged inputs compares hashes and checks the namespaces still exist,
which takes two requests instead of re-applying hundreds of objects. The marker lives
in the cluster, not on the laptop, so a re-created cluster is never mistaken for done.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from kfbootstrap import __version__
from kfbootstrap.kube.objects import COMPONENT_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE
from kfbootstrap.kube.rest import APPLY_PATCH, METADATA_LIST_ACCEPT, KubeRequestError, KubeRest

STATE_NAMESPACE = "kube-system"
STATE_CONFIGMAP = "kfbootstrap-state"
_PATH = f"/api/v1/namespaces/{STATE_NAMESPACE}/configmaps/{STATE_CONFIGMAP}"


@dataclass(frozen=True)
class Marker:
    component: str
    render_hash: str
    objects: int
    namespaces: list[str] = field(default_factory=list)
    applied_at: str = ""
    kfbootstrap: str = __version__


def read_markers(rest: KubeRest) -> dict[str, Marker]:
    """Every component's marker; {} when nothing was recorded (or the ConfigMap is unreadable)."""
    try:
        configmap = rest.get_json(_PATH)
    except KubeRequestError:
        return {}
    markers: dict[str, Marker] = {}
    for key, value in ((configmap or {}).get("data") or {}).items():
        try:
            markers[key] = Marker(**json.loads(value))
        except (ValueError, TypeError):
            continue  # written by another kfbootstrap version: treated as absent
    return markers


def read_marker(rest: KubeRest, component: str) -> Marker | None:
    return read_markers(rest).get(component)


def write_marker(rest: KubeRest, marker: Marker) -> None:
    """Record `marker`; each component owns its own key (its own field manager), so writes never clash."""
    stamped = Marker(**{**asdict(marker), "applied_at": marker.applied_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": STATE_CONFIGMAP, "namespace": STATE_NAMESPACE,
                     "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, COMPONENT_LABEL: "state"}},
        "data": {marker.component: json.dumps(asdict(stamped), sort_keys=True)},
    }
    response = rest.request("PATCH", _PATH, query={"fieldManager": f"kfbootstrap-state-{marker.component}", "force": "true"},
                            body=json.dumps(body).encode(), content_type=APPLY_PATCH)
    if not response.ok:
        raise KubeRequestError("PATCH", _PATH, response)


def forget_marker(rest: KubeRest, component: str) -> None:
    """Drop a component's key, so the next `up` applies it again."""
    response = rest.request("PATCH", _PATH, query={"fieldManager": f"kfbootstrap-state-{component}", "force": "true"},
                            body=json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                             "metadata": {"name": STATE_CONFIGMAP, "namespace": STATE_NAMESPACE}}).encode(),
                            content_type=APPLY_PATCH)
    if not response.ok and response.status != 404:
        raise KubeRequestError("PATCH", _PATH, response)


def missing_namespaces(rest: KubeRest, names: list[str]) -> list[str]:
    """Which of `names` do not exist (or are being deleted); one metadata-only request."""
    if not names:
        return []
    listing: dict[str, Any] = rest.get_json("/api/v1/namespaces", accept=METADATA_LIST_ACCEPT) or {}
    alive = {item["metadata"]["name"] for item in listing.get("items") or []
             if not item["metadata"].get("deletionTimestamp")}
    return [name for name in names if name not in alive]
