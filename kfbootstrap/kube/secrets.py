"""Read Secrets and ConfigMaps with errors that name the namespace and the object.

Never logs values: callers decide what to print (only `kfbootstrap creds` prints secrets).
"""

from __future__ import annotations

import base64
from typing import Any

from kfbootstrap.errors import KfbError


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


def read_secret(core: Any, namespace: str, name: str, component_hint: str = "") -> dict[str, str]:
    """The Secret's data, base64-decoded to text (values that are not UTF-8 are kept as escapes)."""
    from kubernetes.client.exceptions import ApiException

    try:
        secret = core.read_namespaced_secret(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            raise _not_found(core, namespace, name, component_hint) from None
        if exc.status == 403:
            raise KfbError(
                f"not allowed to read secret {name} in namespace {namespace}",
                hint=f"your kube user needs `get` on secrets there (kubectl auth can-i get secrets -n {namespace})",
            ) from None
        raise
    decoded = {
        key: base64.b64decode(value).decode("utf-8", "backslashreplace") for key, value in (secret.data or {}).items()
    }
    decoded.update(secret.string_data or {})
    return decoded


def secret_value(data: dict[str, str], namespace: str, name: str, key: str) -> str:
    if key not in data:
        raise SecretKeyMissing(namespace, name, key, list(data))
    return data[key]


def read_config_map(core: Any, namespace: str, name: str) -> dict[str, str] | None:
    """A ConfigMap's data, or None when it (or its namespace) does not exist."""
    from kubernetes.client.exceptions import ApiException

    try:
        return core.read_namespaced_config_map(name, namespace).data or {}
    except ApiException as exc:
        if exc.status in (403, 404):
            return None
        raise


def _not_found(core: Any, namespace: str, name: str, component_hint: str) -> SecretNotFound:
    """Say whether the namespace exists and where else a Secret of this name lives."""
    detail = "" if _namespace_exists(core, namespace) else f" (namespace {namespace} does not exist)"
    elsewhere = _namespaces_with_secret(core, name)
    if elsewhere:
        hint = (
            f"a secret {name} exists in namespace {', '.join(elsewhere)}; "
            f"pass --namespace {elsewhere[0]} if that is the one"
        )
    else:
        hint = component_hint or "is the component installed? check `kfbootstrap status`"
    return SecretNotFound(namespace, name, detail, hint)


def _namespace_exists(core: Any, namespace: str) -> bool:
    from kubernetes.client.exceptions import ApiException

    try:
        core.read_namespace(namespace)
        return True
    except ApiException as exc:
        return exc.status != 404


def _namespaces_with_secret(core: Any, name: str) -> list[str]:
    """Other namespaces holding a Secret called `name` (empty when we may not list cluster-wide)."""
    from kubernetes.client.exceptions import ApiException

    try:
        items = core.list_secret_for_all_namespaces(field_selector=f"metadata.name={name}").items
    except ApiException:
        return []
    return sorted({item.metadata.namespace for item in items})


def write_secret(
    core: Any, namespace: str, name: str, string_data: dict[str, str], labels: dict[str, str] | None = None
) -> None:
    """Create the Secret, or set these keys in the existing one (its other keys are kept)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    body = client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=labels),
        type="Opaque",
        string_data=string_data,
    )
    try:
        core.create_namespaced_secret(namespace, body)
        return
    except ApiException as exc:
        if exc.status == 403:
            raise KfbError(
                f"not allowed to write secret {name} in namespace {namespace}",
                hint=f"your kube user needs `create` and `patch` on secrets in {namespace}",
            ) from None
        if exc.status != 409:
            raise
    core.patch_namespaced_secret(name, namespace, {"metadata": {"labels": labels or {}}, "stringData": string_data})


def ensure_namespace(core: Any, name: str, labels: dict[str, str] | None = None) -> None:
    """Create the namespace unless it exists (labels only on one we create)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
    except ApiException as exc:
        if exc.status != 409:
            raise
