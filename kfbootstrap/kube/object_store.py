"""Which S3 object store Kubeflow Pipelines runs, found from the cluster and recorded for later commands.

Releases differ (DESIGN §2): 26.03 runs SeaweedFS behind Service `seaweedfs`,
v1.11.0 keeps a `minio-service` that points at SeaweedFS, v1.10.x runs real MinIO
behind `minio-service`. `expose minio` and `creds minio` should not guess: the `up`
step detects it once and records it in ConfigMap `kfbootstrap-object-store` next to
the store. The record names the credentials Secret and its
keys, never their values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Mapping

from kfbootstrap.kube.api import CONFIGMAPS
from kfbootstrap.kube.api import SERVICES as SERVICE

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

NAMESPACE = "kubeflow"
RECORD_NAME = "kfbootstrap-object-store"
CREDENTIALS_SECRET = "mlpipeline-minio-artifact"
S3_PORT = 9000
SERVICES = ("minio-service", "seaweedfs")  # minio-service first: it is what clients of v1.10/v1.11 use


@dataclass(frozen=True)
class ObjectStore:
    kind: str  # "seaweedfs" or "minio": the server actually answering
    service: str  # the Service to forward to
    port: int  # its S3 port
    namespace: str = NAMESPACE
    secret: str = CREDENTIALS_SECRET
    access_key_key: str = "accesskey"
    secret_key_key: str = "secretkey"

    def describe(self) -> str:
        behind = f"{self.kind} behind svc/{self.service}" if self.kind not in self.service else f"svc/{self.service}"
        return f"{behind}:{self.port} (credentials: secret {self.secret})"

    def as_record(self) -> dict[str, str]:
        return {key: str(value) for key, value in asdict(self).items()}

    @classmethod
    def from_record(cls, data: Mapping[str, str]) -> "ObjectStore":
        return cls(
            kind=data["kind"],
            service=data["service"],
            port=int(data["port"]),
            namespace=data.get("namespace", NAMESPACE),
            secret=data.get("secret", CREDENTIALS_SECRET),
            access_key_key=data.get("access_key_key", "accesskey"),
            secret_key_key=data.get("secret_key_key", "secretkey"),
        )


def classify(services: Mapping[str, Mapping[str, Any]]) -> ObjectStore | None:
    """From raw Service objects by name: which store answers, through which Service and port."""
    for name in SERVICES:
        service = services.get(name)
        if service is None:
            continue
        spec = service.get("spec") or {}
        selector = " ".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items())
        kind = "seaweedfs" if name == "seaweedfs" or "seaweedfs" in selector else "minio"
        ports = [p.get("port") for p in spec.get("ports") or []]
        port = S3_PORT if S3_PORT in ports else (ports[0] if ports else S3_PORT)
        return ObjectStore(kind=kind, service=name, port=int(port))
    return None


def detect(kube: "Kube", namespace: str = NAMESPACE) -> ObjectStore | None:
    """Look at the Services in `namespace`; None when Kubeflow Pipelines' store is not there."""
    found = {name: service for name in SERVICES if (service := kube.get(SERVICE, name, namespace)) is not None}
    store = classify(found)
    return None if store is None else ObjectStore(**{**asdict(store), "namespace": namespace})


def read_record(kube: "Kube", namespace: str = NAMESPACE) -> ObjectStore | None:
    configmap = kube.get(CONFIGMAPS, RECORD_NAME, namespace)
    if configmap is None:
        return None
    try:
        return ObjectStore.from_record(configmap.get("data") or {})
    except (KeyError, ValueError):
        return None  # an unreadable record is as good as none: detect again


def record_object(store: ObjectStore) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": RECORD_NAME, "namespace": store.namespace},
        "data": store.as_record(),
    }
