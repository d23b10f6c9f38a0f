"""Objects kfbootstrap creates once and then leaves alone: namespaces and generated secrets.

A generated password must survive re-runs (rotating it would lock users out of what
they set up), so unlike applied manifests these are created only when missing and
never patched. Values are never logged.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Callable, Mapping

from kfbootstrap.kube.api import NAMESPACES, SECRETS
from kfbootstrap.kube.objects import COMPONENT_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

log = logging.getLogger("kfbootstrap.generated")


def _labels(component: str) -> dict[str, str]:
    return {MANAGED_BY_LABEL: MANAGED_BY_VALUE, COMPONENT_LABEL: component}


def ensure_namespace(kube: "Kube", name: str, component: str) -> bool:
    """Create the namespace if it is missing; True when it was created."""
    if kube.get(NAMESPACES, name) is not None:
        return False
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": _labels(component)}}
    return kube.create(NAMESPACES, body) is not None  # None: created meanwhile, which is fine


def new_password(length: int = 24) -> str:
    """Letters and digits only, so it survives copy-paste and shell quoting."""
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def secret_keys(kube: "Kube", namespace: str, name: str) -> set[str] | None:
    """The keys of a Secret (never its values), or None when it does not exist."""
    secret = kube.get(SECRETS, name, namespace)
    return None if secret is None else set(secret.get("data") or {})


def helm_owned_secret_data(kube: "Kube", namespace: str, name: str) -> dict[str, str] | None:
    """The decoded data of a Secret a Helm release owns (it goes away when the chart stops
    rendering it), or None when it does not exist or Helm does not own it."""
    from kfbootstrap.kube.secrets import decoded_data

    secret = kube.get(SECRETS, name, namespace)
    if secret is None:
        return None
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    if "meta.helm.sh/release-name" not in annotations:
        return None
    return decoded_data(secret)


def ensure_generated_secret(
    kube: "Kube", namespace: str, name: str, make: Callable[[], Mapping[str, str]], component: str
) -> bool:
    """Create the Secret from `make()` unless it exists with every key `make` would set.

    True when it was created. An existing Secret missing a key is an error rather than
    overwritten: it may hold a password someone already uses.
    """
    from kfbootstrap.errors import KfbError

    wanted = dict(make())
    have = secret_keys(kube, namespace, name)
    if have is not None:
        missing = set(wanted) - have
        if missing:
            raise KfbError(
                f"secret {name} in namespace {namespace} exists but lacks {', '.join(sorted(missing))}",
                hint=f"delete it to let kfbootstrap generate it: kubectl delete secret {name} -n {namespace}",
            )
        return False
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace, "labels": _labels(component)},
        "stringData": wanted,
    }
    if kube.create(SECRETS, body, namespace) is None:
        return False  # created meanwhile
    log.info("created secret %s/%s (keys: %s)", namespace, name, ", ".join(sorted(wanted)))
    return True
