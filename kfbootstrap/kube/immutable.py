"""Objects whose new version changes a field the API never lets change: tell them, and re-create them.

Between releases a Deployment's selector or a RoleBinding's roleRef may change (26.03 ->
26.03.1: profiles-deployment, jobset-controller-manager, llmisvc-manager-rolebinding). A
server-side apply of those is refused with 422; the only way forward is delete, wait
until gone, create. A StatefulSet is deleted with its pods orphaned: the new one adopts
them, and the PVCs of its volumeClaimTemplates are never touched (a StatefulSet's PVCs
are not its dependents unless its retention policy says so; orphaning covers that too).

`predicted` tells the same from the live object and the new one without a request, for
the plan; the engine's handling of the 422 is what makes it happen, whatever the plan said.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

from kfbootstrap.kube.objects import ObjectRef

if TYPE_CHECKING:
    from kfbootstrap.kube.discovery import Resource
    from kfbootstrap.kube.rest import KubeRest

_SIGNS = ("field is immutable", "cannot change roleref", "updates to statefulset spec for fields other than")

# kind -> spec paths that cannot change once created
_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Deployment": (("spec", "selector"),),
    "ReplicaSet": (("spec", "selector"),),
    "DaemonSet": (("spec", "selector"),),
    "StatefulSet": (
        ("spec", "selector"),
        ("spec", "serviceName"),
        ("spec", "podManagementPolicy"),
        ("spec", "volumeClaimTemplates"),
    ),
    "Job": (("spec", "selector"), ("spec", "template")),
    "RoleBinding": (("roleRef",),),
    "ClusterRoleBinding": (("roleRef",),),
}
DELETE_WAIT = 120.0
_FIELD_IN_MESSAGE = re.compile(r"\b(spec\.[\w.\[\]]+|roleRef): ")


def refused_as_immutable(message: str) -> bool:
    lowered = message.lower()
    return any(sign in lowered for sign in _SIGNS)


def why(message: str) -> str:
    """'spec.selector is immutable', from the server's message (its field path when it names one)."""
    found = _FIELD_IN_MESSAGE.search(message)
    return f"{found.group(1)} is immutable" if found else "an immutable field changed"


def predicted(live: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The immutable fields `new` changes on `live` (only what the render sets is compared)."""
    changed = []
    for path in _FIELDS.get(str(new.get("kind")), ()):
        wanted = _at(new, path)
        if wanted is None:
            continue
        have = _at(live, path)
        if path[-1] == "volumeClaimTemplates":
            wanted, have = _claim_shape(wanted), _claim_shape(have)
        if wanted != have:
            changed.append(".".join(path))
    return changed


def _at(obj: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = obj
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _claim_shape(templates: Any) -> list[tuple]:
    """What the server keeps of a claim template as sent (it adds defaults we must not count as changes)."""
    shape = []
    for template in templates or []:
        spec = template.get("spec") or {}
        shape.append(
            (
                (template.get("metadata") or {}).get("name"),
                tuple(spec.get("accessModes") or ()),
                str(((spec.get("resources") or {}).get("requests") or {}).get("storage")),
                spec.get("storageClassName"),
            )
        )
    return shape


def delete_and_wait(
    rest: "KubeRest",
    resource: "Resource",
    ref: ObjectRef,
    *,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Delete one object (a StatefulSet's pods orphaned) and wait until it is gone; False at the deadline."""
    policy = "Orphan" if ref.kind == "StatefulSet" else "Background"
    path = resource.object_path(ref.namespace, ref.name)
    rest.request("DELETE", path, query={"propagationPolicy": policy})
    until = min(deadline, clock() + DELETE_WAIT)
    while clock() < until:
        if rest.request("GET", path).status == 404:
            return True
        time.sleep(0.2)
    return False
