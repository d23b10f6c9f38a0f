"""`serve --list` and `serve --delete`: the InferenceServices on the cluster, and removing ours.

Deleting removes exactly what `serve` made for that model (its InferenceService, the PVC with its
copies, the copy pod, the AuthorizationPolicy, the forward) and refuses an InferenceService
kfbootstrap did not create.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from kfbootstrap.errors import KfbError
from kfbootstrap.kube.api import PODS
from kfbootstrap.serving.forward import find_forward, model_target, stop_forward
from kfbootstrap.serving.kserve_cluster import INFERENCE_SERVICES, authorization_policies, istio_policy_version
from kfbootstrap.serving.manifests import MANAGED_BY, OURS, claim_name, copy_pod_name
from kfbootstrap.serving.model_volume import CLAIMS
from kfbootstrap.serving.serve import refuse_unless_ours

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube


@dataclass(frozen=True)
class ServedModel:
    name: str
    namespace: str
    model_format: str
    ready: bool
    url: str  # the forward's, when one of ours runs; else KServe's own status URL
    ours: bool

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def list_served(kube: "Kube", namespace: str | None = None) -> list[ServedModel]:
    return sorted(
        (_row(isvc) for isvc in kube.items(INFERENCE_SERVICES, namespace)), key=lambda m: (m.namespace, m.name)
    )


def _row(isvc: Mapping[str, Any]) -> ServedModel:
    meta, spec, status = isvc["metadata"], isvc.get("spec") or {}, isvc.get("status") or {}
    model = (spec.get("predictor") or {}).get("model") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return ServedModel(
        meta["name"],
        meta["namespace"],
        str((model.get("modelFormat") or {}).get("name") or "?"),
        ready,
        _url(meta["name"], meta["namespace"]) or str(status.get("url") or ""),
        (meta.get("labels") or {}).get(MANAGED_BY) == OURS,
    )


def _url(name: str, namespace: str) -> str | None:
    from kfbootstrap.access.targets import url

    record = find_forward(name)
    if record is None or record.spec.namespace != namespace:
        return None
    return url(model_target(name, namespace, record.spec.port), record.spec.address, record.spec.port)


def delete_served(kube: "Kube", name: str, namespace: str) -> list[str]:
    """Remove what `serve` made for the model; returns what was removed, in words."""
    isvc = kube.get(INFERENCE_SERVICES, name, namespace)
    if isvc is None and kube.get(CLAIMS, claim_name(name), namespace) is None:
        raise KfbError(
            f"no model {name} served by kfbootstrap in namespace {namespace}",
            hint="see `kfbootstrap serve --list`; pass --namespace if it lives elsewhere",
        )
    refuse_unless_ours(isvc, name, namespace)
    removed = []
    if isvc is not None and kube.delete(INFERENCE_SERVICES, name, namespace):
        removed.append(f"InferenceService {namespace}/{name}")
    version = istio_policy_version(kube)
    if version is not None and kube.delete(authorization_policies(version), claim_name(name), namespace):
        removed.append(f"AuthorizationPolicy {namespace}/{claim_name(name)}")
    kube.delete(PODS, copy_pod_name(name), namespace)
    if kube.delete(CLAIMS, claim_name(name), namespace):
        removed.append(f"PersistentVolumeClaim {namespace}/{claim_name(name)} (the model's copy)")
    record = find_forward(name)
    if record is not None and record.spec.namespace == namespace and stop_forward(name):
        removed.append(f"the forward on {record.spec.address}:{record.spec.port}")
    return removed
