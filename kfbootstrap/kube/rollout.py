"""Restart a Deployment the way `kubectl rollout restart` does, and wait until the new pods serve.

Used by `kfbootstrap passwd`: Dex reads its users' password hashes from the
environment once, at start, so a changed Secret only takes effect in new pods.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from kfbootstrap.errors import KfbError

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube


def restart_deployment(kube: "Kube", namespace: str, name: str) -> None:
    """Change the pod template's restartedAt annotation: the Deployment rolls out new pods."""
    from kfbootstrap.kube.api import DEPLOYMENTS
    from kfbootstrap.kube.errors import NotFound

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
    try:
        kube.patch(DEPLOYMENTS, name, patch, namespace)
    except NotFound:
        raise KfbError(
            f"deployment {name} not found in namespace {namespace}",
            hint="is Kubeflow installed? check `kfbootstrap status`",
        ) from None


def rollout_state(deployment: dict[str, Any]) -> str | None:
    """None when every replica runs the latest template and is available; else what is still missing."""
    meta, spec, status = deployment.get("metadata") or {}, deployment.get("spec") or {}, deployment.get("status") or {}
    wanted = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return "the controller has not seen the change yet"
    updated = status.get("updatedReplicas", 0)
    if updated < wanted:
        return f"{updated} of {wanted} new pods created"
    if status.get("replicas", 0) > updated:
        return f"{status.get('replicas', 0) - updated} old pods still terminating"
    if status.get("availableReplicas", 0) < wanted:
        return f"{status.get('availableReplicas', 0)} of {wanted} new pods available"
    return None


def wait_rolled_out(kube: "Kube", namespace: str, name: str, timeout: float) -> float:
    """Watch the Deployment (the adapter's one watch) until rollout_state says done; the seconds it took."""
    from kfbootstrap.kube.api import DEPLOYMENTS

    started = time.monotonic()
    last = "not seen yet"
    for event in kube.watch(DEPLOYMENTS, namespace, fields=f"metadata.name={name}", deadline=started + timeout):
        for obj in event.objects if event.type == "SYNC" else (event.obj,):
            last = rollout_state(obj) or ""
            if not last:
                return time.monotonic() - started
    raise KfbError(
        f"deployment {name} in namespace {namespace} did not roll out within {timeout:.0f}s ({last})",
        hint=f"check its pods: kubectl get pods -n {namespace}",
    )
