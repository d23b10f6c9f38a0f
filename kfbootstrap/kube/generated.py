"""Objects kfbootstrap creates once and then leaves alone: namespaces and generated secrets.

A generated password must survive re-runs (rotating it would lock users out of what
they set up), so unlike applied manifests these are created only when missing and
never patched. Values are never logged.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, Callable, Mapping

from kfbootstrap.kube.objects import COMPONENT_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE

log = logging.getLogger("kfbootstrap.generated")


def _labels(component: str) -> dict[str, str]:
    return {MANAGED_BY_LABEL: MANAGED_BY_VALUE, COMPONENT_LABEL: component}


def ensure_namespace(core: Any, name: str, component: str) -> bool:
    """Create the namespace if it is missing; True when it was created."""
    from kubernetes.client.exceptions import ApiException

    try:
        core.read_namespace(name)
        return False
    except ApiException as exc:
        if exc.status != 404:
            raise
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": _labels(component)}}
    try:
        core.create_namespace(body)
    except ApiException as exc:
        if exc.status != 409:  # created meanwhile: fine
            raise
    return True


def new_password(length: int = 24) -> str:
    """Letters and digits only, so it survives copy-paste and shell quoting."""
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def secret_keys(core: Any, namespace: str, name: str) -> set[str] | None:
    """The keys of a Secret (never its values), or None when it does not exist."""
    secret = _read_secret(core, namespace, name)
    return None if secret is None else set(secret.data or {})


def helm_owned_secret_data(core: Any, namespace: str, name: str) -> dict[str, str] | None:
    """The decoded data of a Secret a Helm release owns (it goes away when the chart stops
    rendering it), or None when it does not exist or Helm does not own it."""
    import base64

    secret = _read_secret(core, namespace, name)
    if secret is None:
        return None
    annotations = secret.metadata.annotations or {}
    if "meta.helm.sh/release-name" not in annotations:
        return None
    return {key: base64.b64decode(value).decode("utf-8", "replace") for key, value in (secret.data or {}).items()}


def ensure_generated_secret(core: Any, namespace: str, name: str, make: Callable[[], Mapping[str, str]],
                            component: str) -> bool:
    """Create the Secret from `make()` unless it exists with every key `make` would set.

    True when it was created. An existing Secret missing a key is an error rather than
    overwritten: it may hold a password someone already uses.
    """
    from kubernetes.client.exceptions import ApiException

    from kfbootstrap.errors import KfbError

    wanted = dict(make())
    have = secret_keys(core, namespace, name)
    if have is not None:
        missing = set(wanted) - have
        if missing:
            raise KfbError(f"secret {name} in namespace {namespace} exists but lacks {', '.join(sorted(missing))}",
                           hint=f"delete it to let kfbootstrap generate it: kubectl delete secret {name} -n {namespace}")
        return False
    body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace, "labels": _labels(component)},
            "stringData": wanted}
    try:
        core.create_namespaced_secret(namespace, body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        return False
    log.info("created secret %s/%s (keys: %s)", namespace, name, ", ".join(sorted(wanted)))
    return True


def _read_secret(core: Any, namespace: str, name: str) -> Any | None:
    """The Secret object, or None when it does not exist."""
    from kubernetes.client.exceptions import ApiException

    try:
        return core.read_namespaced_secret(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
