"""Read and write Secrets and ConfigMaps through the adapter, with errors that name the namespace and the object.

Never logs values: callers decide what to print (only `kfbootstrap creds` prints secrets).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Mapping

from kfbootstrap.errors import KfbError
from kfbootstrap.kube.api import CONFIGMAPS, NAMESPACES, SECRETS
from kfbootstrap.kube.errors import Forbidden, KubeError, NotFound

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube


class SecretNotFound(KfbError):
    """The Secret is not there; the hint says where else a Secret of that name exists, if anywhere."""

    def __init__(self, namespace: str, name: str, detail: str, hint: str):
        self.namespace = namespace
        self.name = name
        super().__init__(f"secret {name} not found in namespace {namespace}{detail}", hint=hint)


class SecretKeyMissing(KfbError):
    def __init__(self, namespace: str, name: str, key: str, have: list[str]):
        super().__init__(
            f"secret {name} in namespace {namespace} has no key {key!r} "
            f"(it has: {', '.join(sorted(have)) or 'no keys'})",
            hint="the component may have been installed differently; check how it was configured",
        )


def decoded_data(secret: Mapping[str, Any]) -> dict[str, str]:
    """A Secret's `data`, base64-decoded to text (bytes that are not UTF-8 kept as escapes)."""
    return {
        key: base64.b64decode(value).decode("utf-8", "backslashreplace")
        for key, value in (secret.get("data") or {}).items()
    }


def read_secret(kube: "Kube", namespace: str, name: str, component_hint: str = "") -> dict[str, str]:
    """The Secret's data, decoded; SecretNotFound (saying where else it lives) when it is not there."""
    secret = kube.get(SECRETS, name, namespace)
    if secret is None:
        raise _not_found(kube, namespace, name, component_hint)
    return decoded_data(secret)


def secret_value(data: dict[str, str], namespace: str, name: str, key: str) -> str:
    if key not in data:
        raise SecretKeyMissing(namespace, name, key, list(data))
    return data[key]


def read_config_map(kube: "Kube", namespace: str, name: str) -> dict[str, str] | None:
    """A ConfigMap's data, or None when it (or its namespace) does not exist or we may not read it."""
    try:
        found = kube.get(CONFIGMAPS, name, namespace)
    except (Forbidden, NotFound):
        return None
    return None if found is None else dict(found.get("data") or {})


def _not_found(kube: "Kube", namespace: str, name: str, component_hint: str) -> SecretNotFound:
    """Say whether the namespace exists and where else a Secret of this name lives."""
    detail = "" if _namespace_exists(kube, namespace) else f" (namespace {namespace} does not exist)"
    elsewhere = _namespaces_with_secret(kube, name)
    if elsewhere:
        hint = (
            f"a secret {name} exists in namespace {', '.join(elsewhere)}; "
            f"pass --namespace {elsewhere[0]} if that is the one"
        )
    else:
        hint = component_hint or "is the component installed? check `kfbootstrap status`"
    return SecretNotFound(namespace, name, detail, hint)


def _namespace_exists(kube: "Kube", namespace: str) -> bool:
    try:
        return kube.get(NAMESPACES, namespace) is not None
    except KubeError:  # may not read namespaces: do not claim it is missing
        return True


def _namespaces_with_secret(kube: "Kube", name: str) -> list[str]:
    """Other namespaces holding a Secret called `name` (empty when we may not list cluster-wide)."""
    try:
        items = kube.items(SECRETS, None, fields=f"metadata.name={name}", metadata_only=True)
    except KubeError:
        return []
    return sorted({(item.get("metadata") or {}).get("namespace", "") for item in items} - {""})


def write_secret(
    kube: "Kube", namespace: str, name: str, string_data: dict[str, str], labels: dict[str, str] | None = None
) -> None:
    """Create the Secret, or set these keys in the existing one (its other keys are kept)."""
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "stringData": string_data,
    }
    if kube.create(SECRETS, body, namespace) is None:  # it exists: a merge patch keeps its other keys
        kube.patch(SECRETS, name, {"metadata": {"labels": labels or {}}, "stringData": string_data}, namespace)
