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
from typing import TYPE_CHECKING, Any

from kfbootstrap import __version__
from kfbootstrap.kube.objects import COMPONENT_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE
from kfbootstrap.kube.api import CONFIGMAPS, NAMESPACES

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

STATE_NAMESPACE = "kube-system"
STATE_CONFIGMAP = "kfbootstrap-state"


@dataclass(frozen=True)
class Marker:
    component: str
    render_hash: str
    objects: int
    namespaces: list[str] = field(default_factory=list)
    applied_at: str = ""
    kfbootstrap: str = __version__
    # Kubeflow only: the parts (apps and what they need) applied, and parts an earlier run
    # applied that are no longer chosen but were left installed (kfbootstrap/apps/plan.py).
    parts: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def read_markers(kube: "Kube") -> dict[str, Marker]:
    """Every component's marker; {} when nothing was recorded."""
    configmap = kube.get(CONFIGMAPS, STATE_CONFIGMAP, STATE_NAMESPACE)
    markers: dict[str, Marker] = {}
    for key, value in ((configmap or {}).get("data") or {}).items():
        try:
            markers[key] = Marker(**json.loads(value))
        except (ValueError, TypeError):
            continue  # written by another kfbootstrap version: treated as absent
    return markers


def read_marker(kube: "Kube", component: str) -> Marker | None:
    return read_markers(kube).get(component)


def write_marker(kube: "Kube", marker: Marker) -> None:
    """Record `marker`; each component owns its own key (its own field manager), so writes never clash."""
    stamped = Marker(
        **{**asdict(marker), "applied_at": marker.applied_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    )
    kube.apply(
        CONFIGMAPS,
        _configmap({marker.component: json.dumps(asdict(stamped), sort_keys=True)}),
        field_manager=f"kfbootstrap-state-{marker.component}",
        namespace=STATE_NAMESPACE,
    )


def forget_marker(kube: "Kube", component: str) -> None:
    """Drop a component's key (its field manager applies none), so the next `up` applies it again."""
    kube.apply(CONFIGMAPS, _configmap(None), field_manager=f"kfbootstrap-state-{component}", namespace=STATE_NAMESPACE)


def _configmap(data: dict[str, str] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": STATE_CONFIGMAP,
            "namespace": STATE_NAMESPACE,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, COMPONENT_LABEL: "state"},
        },
    }
    if data is not None:
        body["data"] = data
    return body


def missing_namespaces(kube: "Kube", names: list[str]) -> list[str]:
    """Which of `names` do not exist (or are being deleted); one metadata-only request."""
    if not names:
        return []
    alive = {
        item["metadata"]["name"]
        for item in kube.items(NAMESPACES, metadata_only=True)
        if not item["metadata"].get("deletionTimestamp")
    }
    return [name for name in names if name not in alive]
