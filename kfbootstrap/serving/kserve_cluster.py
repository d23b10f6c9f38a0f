"""What KServe the cluster runs: where, which version, what it calls raw deployment, which runtimes.

Read from the cluster, never from our config alone: a user may have upgraded KServe, and Kubeflow
26.03.1 ships KServe 0.18 (raw mode `RawDeployment`) while 0.20 renamed it `Standard` (kserve#4710:
the old name breaks deletion there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from kfbootstrap.errors import KfbError, UsageError
from kfbootstrap.kube.api import CRDS, DEPLOYMENTS
from kfbootstrap.kube.discovery import Resource

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

INFERENCE_SERVICES = Resource("serving.kserve.io/v1beta1", "InferenceService", "inferenceservices", True)
SERVING_RUNTIMES = Resource("serving.kserve.io/v1alpha1", "ServingRuntime", "servingruntimes", True)
CLUSTER_SERVING_RUNTIMES = Resource(
    "serving.kserve.io/v1alpha1", "ClusterServingRuntime", "clusterservingruntimes", False
)
ISVC_CRD = "inferenceservices.serving.kserve.io"
AUTHZ_CRD = "authorizationpolicies.security.istio.io"
CONTROLLER_LABEL = "control-plane=kserve-controller-manager"
STANDARD_SINCE = (0, 20)  # the first KServe that names raw deployment `Standard`
_VERSION = re.compile(r":v?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class KServe:
    namespace: str  # where its controller runs
    version: tuple[int, int] | None  # from the controller's image tag; None when the tag says none

    @property
    def raw_mode(self) -> str:
        """The deploymentMode annotation value for a plain Deployment + Service (no Knative)."""
        if self.version is not None and self.version < STANDARD_SINCE:
            return "RawDeployment"
        return "Standard"

    @property
    def version_text(self) -> str:
        return "unknown version" if self.version is None else f"v{self.version[0]}.{self.version[1]}"


@dataclass(frozen=True)
class Runtime:
    name: str
    cluster_wide: bool
    formats: tuple[str, ...]  # the model formats it selects itself (autoSelect)
    priority: dict[str, int]
    image: str


def find_kserve(kube: "Kube") -> KServe:
    """The KServe on the cluster, or a KfbError saying it is not installed."""
    if kube.get(CRDS, ISVC_CRD) is None:
        raise KfbError(
            "KServe is not installed on this cluster (no InferenceService CRD)",
            hint="enable components.kserve (and kserve in kubeflow.apps, if you choose apps), then run `kfbootstrap up`",
        )
    controllers = kube.items(DEPLOYMENTS, None, labels=CONTROLLER_LABEL)
    if not controllers:
        raise KfbError(
            f"KServe's CRDs are installed but its controller is not (no Deployment labelled {CONTROLLER_LABEL})",
            hint="run `kfbootstrap up` to install it again, then `kfbootstrap status`",
        )
    controller = controllers[0]
    return KServe(controller["metadata"]["namespace"], controller_version(controller))


def controller_version(deployment: Mapping[str, Any]) -> tuple[int, int] | None:
    containers = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    managers = [c for c in containers if c.get("name") == "manager"]  # not the kube-rbac-proxy beside it
    for container in managers or containers:
        found = _VERSION.search(str(container.get("image", "")).rsplit("/", 1)[-1])
        if found:
            return int(found.group(1)), int(found.group(2))
    return None


def istio_policy_version(kube: "Kube") -> str | None:
    """The served API version of Istio's AuthorizationPolicy, or None without Istio."""
    crd = kube.get(CRDS, AUTHZ_CRD)
    if crd is None:
        return None
    served = [v["name"] for v in crd.get("spec", {}).get("versions", []) if v.get("served")]
    return next((v for v in ("v1", "v1beta1") if v in served), served[0] if served else None)


def runtimes(kube: "Kube", namespace: str) -> list[Runtime]:
    """The enabled serving runtimes the namespace can use: its own, then the cluster's."""
    found = [_runtime(obj, False) for obj in kube.items(SERVING_RUNTIMES, namespace)]
    found += [_runtime(obj, True) for obj in kube.items(CLUSTER_SERVING_RUNTIMES, None)]
    return [r for r in found if r is not None]


def _runtime(obj: Mapping[str, Any], cluster_wide: bool) -> Runtime | None:
    spec = obj.get("spec") or {}
    if spec.get("disabled"):
        return None
    formats = [f for f in spec.get("supportedModelFormats") or [] if f.get("name")]
    containers = spec.get("containers") or [{}]
    return Runtime(
        obj["metadata"]["name"],
        cluster_wide,
        tuple(f["name"] for f in formats if f.get("autoSelect")),
        {f["name"]: int(f.get("priority") or 0) for f in formats},
        str(containers[0].get("image", "")),
    )


def runtime_for(found: list[Runtime], model_format: str) -> Runtime:
    """The runtime KServe picks for the format: the namespace's before the cluster's, then by priority."""
    serving = [r for r in found if model_format in r.formats]
    if not serving:
        offered = [f"{r.name} ({', '.join(r.formats) or 'no format of its own'})" for r in found]
        raise UsageError(
            f"no serving runtime on the cluster serves the model format {model_format!r}",
            hint=f"the cluster's runtimes: {'; '.join(offered) or 'none'}; pass a format they serve with --format",
        )
    return min(serving, key=lambda r: (r.cluster_wide, -r.priority.get(model_format, 0), r.name))


def authorization_policies(api_version: str) -> Resource:
    """Istio's AuthorizationPolicy at the version the cluster serves (istio_policy_version)."""
    return Resource(f"security.istio.io/{api_version}", "AuthorizationPolicy", "authorizationpolicies", True)
