"""The credentials of minio (the pipelines' object store), grafana and kubeflow (the Dex user).

Read from the Secrets the components create; `kfbootstrap creds` is the only command
that prints the values. For Kubeflow only a bcrypt hash is stored, so we can tell
whether it is still the public default password, never recover a changed one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from kfbootstrap.access.targets import TARGETS, local_port, service_candidates, url
from kfbootstrap.config import Config
from kfbootstrap.errors import UsageError
from kfbootstrap.kube.secrets import read_config_map, read_secret, secret_value

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

MINIO_SECRET = ("kubeflow", "mlpipeline-minio-artifact")
GRAFANA_SECRET = ("monitoring", "grafana")
DEX_SECRET = ("auth", "dex-passwords")
DEX_HASH_KEY = "DEX_USER_PASSWORD"
DEX_DEFAULT_USER = "user@example.com"
DEX_DEFAULT_PASSWORD = "12341234"
# The hash kubeflow/manifests ships for 12341234, used when the bcrypt package is missing.
DEX_DEFAULT_HASHES = ("$2y$12$4K/VkmDd1q1Orb3xAt82zu8gk7Ad6ReFR4LCP9UeYE90NLiN9Df72",)

CHANGE_DEX_PASSWORD = (
    "kfbootstrap passwd   # prompts; or `kfbootstrap passwd --from-env VAR`. It does what upstream documents:\n"
    "# the bcrypt hash into secret dex-passwords (key DEX_USER_PASSWORD) in auth, then\n"
    "# kubectl -n auth rollout restart deployment dex"
)


@dataclass
class Credential:
    """One target's login. `secret_fields` names the keys of `fields` whose values are secrets."""

    target: str
    namespace: str
    secret: str
    fields: dict[str, str | None]
    secret_fields: tuple[str, ...]
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "namespace": self.namespace,
            "secret": self.secret,
            **self.fields,
            "url": self.url,
            **self.extra,
            "notes": self.notes,
        }


def read_creds(target: str, kube: "Kube", config: Config, namespace: str | None = None) -> Credential:
    """Read with the reader the target's descriptor names (kfbootstrap/components.py);
    `namespace` overrides where the Secret is looked for."""
    from kfbootstrap.components import creds_reader, creds_targets, resolve

    if target not in creds_targets():
        raise UsageError(f"no credentials for {target!r}", hint=f"choose one of: {', '.join(creds_targets())}")
    return resolve(creds_reader(target))(kube, config, namespace)


def _local_url(target: str, config: Config) -> str:
    t = TARGETS[target]
    return url(t, config.forwards.address, local_port(t, config))


def minio_creds(kube: "Kube", config: Config, namespace: str | None = None) -> Credential:
    ns = namespace or MINIO_SECRET[0]
    data = read_secret(kube, ns, MINIO_SECRET[1], "is Kubeflow Pipelines installed? check `kfbootstrap status`")
    access_key = secret_value(data, ns, MINIO_SECRET[1], "accesskey")
    secret_key = secret_value(data, ns, MINIO_SECRET[1], "secretkey")
    service = _object_store_service(kube, config, ns)
    endpoint = _local_url("minio", config).rstrip("/")
    extra = {
        "endpoint": endpoint,
        "cluster_endpoint": f"http://{service}.{ns}.svc.cluster.local:9000" if service else None,
        "service": service,
    }
    notes = [] if service else [f"no object-store Service (minio-service or seaweedfs) in namespace {ns}"]
    return Credential(
        "minio",
        ns,
        MINIO_SECRET[1],
        {"access_key": access_key, "secret_key": secret_key},
        ("secret_key",),
        url=None,
        extra=extra,
        notes=notes,
    )


def _object_store_service(kube: "Kube", config: Config, namespace: str) -> str | None:
    from kfbootstrap.kube.endpoints import ServiceNotFound, find_service

    try:
        return find_service(kube, namespace, service_candidates(TARGETS["minio"], config))["metadata"]["name"]
    except ServiceNotFound:
        return None


def grafana_creds(kube: "Kube", config: Config, namespace: str | None = None) -> Credential:
    ns = namespace or GRAFANA_SECRET[0]
    data = read_secret(kube, ns, GRAFANA_SECRET[1], "is Grafana installed? check `kfbootstrap status`")
    user = secret_value(data, ns, GRAFANA_SECRET[1], "admin-user")
    password = secret_value(data, ns, GRAFANA_SECRET[1], "admin-password")
    return Credential(
        "grafana",
        ns,
        GRAFANA_SECRET[1],
        {"username": user, "password": password},
        ("password",),
        url=_local_url("grafana", config),
    )


def kubeflow_creds(kube: "Kube", config: Config, namespace: str | None = None) -> Credential:
    ns = namespace or DEX_SECRET[0]
    data = read_secret(kube, ns, DEX_SECRET[1], "is Kubeflow installed? check `kfbootstrap status`")
    password_hash = secret_value(data, ns, DEX_SECRET[1], DEX_HASH_KEY)
    is_default = is_default_password(password_hash)
    kept = None if is_default else _kept_password(kube, ns, password_hash)
    notes = []
    if is_default:
        notes.append(
            f"this is the public default password of kubeflow/manifests; change it before anyone "
            f"else can reach {_local_url('kubeflow', config)}"
        )
    elif kept is None:
        notes.append(
            "the password was changed outside kfbootstrap; it cannot be recovered from its bcrypt hash "
            "(set a new one with `kfbootstrap passwd`)"
        )
    return Credential(
        "kubeflow",
        ns,
        DEX_SECRET[1],
        {"username": dex_user(kube, ns), "password": DEX_DEFAULT_PASSWORD if is_default else kept},
        ("password",),
        url=_local_url("kubeflow", config),
        extra={"default_password": is_default, "how_to_change": CHANGE_DEX_PASSWORD},
        notes=notes,
    )


def _kept_password(kube: "Kube", namespace: str, password_hash: str) -> str | None:
    """The password kfbootstrap set, if Dex's hash is still the one made from it."""
    from kfbootstrap.access import passwords

    if namespace != passwords.DEX_NAMESPACE:
        return None
    kept = passwords.stored_password(kube)
    return kept if kept is not None and passwords.matches(kept, password_hash) else None


def is_default_password(password_hash: str) -> bool:
    """Does this bcrypt hash match 12341234? (Exact upstream hash as a fallback without bcrypt.)"""
    try:
        import bcrypt
    except ImportError:
        return password_hash.strip() in DEX_DEFAULT_HASHES
    try:
        return bcrypt.checkpw(DEX_DEFAULT_PASSWORD.encode(), password_hash.strip().encode())
    except ValueError:  # not a bcrypt hash at all (e.g. someone stored a plain password)
        return password_hash.strip() == DEX_DEFAULT_PASSWORD


def dex_user(kube: "Kube", namespace: str) -> str:
    """The e-mail of Dex's static user whose hash comes from DEX_USER_PASSWORD (default user@example.com)."""
    data = read_config_map(kube, namespace, "dex") or {}
    try:
        config = yaml.safe_load(data.get("config.yaml") or "") or {}
    except yaml.YAMLError:
        return DEX_DEFAULT_USER
    for entry in config.get("staticPasswords") or []:
        if isinstance(entry, dict) and entry.get("hashFromEnv") == DEX_HASH_KEY and entry.get("email"):
            return str(entry["email"])
    return DEX_DEFAULT_USER
