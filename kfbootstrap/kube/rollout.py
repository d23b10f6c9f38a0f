"""Restart a Deployment the way `kubectl rollout restart` does, and wait until the new pods serve.

Used by `kfbootstrap passwd`: Dex reads its users' password hashes from the
environment once, at start, so a changed Secret only takes effect in new pods.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from kfbootstrap.errors import KfbError

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def restart_deployment(apps: Any, namespace: str, name: str) -> None:
    """Change the pod template's restartedAt annotation: the Deployment rolls out new pods."""
    from kubernetes.client.exceptions import ApiException

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
    try:
        apps.patch_namespaced_deployment(name, namespace, patch)
    except ApiException as exc:
        if exc.status == 404:
            raise KfbError(
                f"deployment {name} not found in namespace {namespace}",
                hint="is Kubeflow installed? check `kfbootstrap status`",
            ) from None
        raise


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


def wait_rolled_out(apps: Any, namespace: str, name: str, timeout: float) -> float:
    """Watch the Deployment until rollout_state says done; returns the seconds it took."""
    import json

    from kubernetes import watch
    from kubernetes.client.exceptions import ApiException

    started = time.monotonic()
    deadline = started + timeout
    selector = f"metadata.name={name}"
    last = "not seen yet"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise KfbError(
                f"deployment {name} in namespace {namespace} did not roll out within {timeout:.0f}s ({last})",
                hint=f"check its pods: kubectl get pods -n {namespace}",
            )
        listed = json.loads(
            apps.list_namespaced_deployment(namespace, field_selector=selector, _preload_content=False).data
        )
        items = listed.get("items") or []
        if items:
            last = rollout_state(items[0]) or ""
            if not last:
                return time.monotonic() - started
        window = max(1, int(min(remaining, 30)))
        # A quiet watch answers nothing until the server ends it: the read may last the whole window.
        stream = watch.Watch().stream(
            apps.list_namespaced_deployment,
            namespace,
            field_selector=selector,
            resource_version=(listed.get("metadata") or {}).get("resourceVersion"),
            timeout_seconds=window,
            deserialize=False,
            _request_timeout=(10, window + 10),
        )
        try:
            for event in stream:
                last = rollout_state(event.get("object") or {}) or ""
                if not last:
                    return time.monotonic() - started
        except ApiException as exc:
            if exc.status != 410:
                raise  # 410: our version is too old to watch from; the next round lists again
        finally:
            stream.close()
