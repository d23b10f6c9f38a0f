"""What we know about each kubeflow/manifests release we support.

Paths moved between releases (apps/ -> applications/, contrib/kserve -> ...), and the
pipelines' object store changed from MinIO to SeaweedFS. Everything that differs
between releases lives in this one table instead of string surgery spread around.
"""

from __future__ import annotations

from dataclasses import dataclass

MANIFESTS_REPO = "https://github.com/kubeflow/manifests.git"


@dataclass(frozen=True)
class Release:
    """Facts about one kubeflow/manifests release."""

    tag: str
    kserve_path: str
    model_registry_path: str
    object_store: str  # "seaweedfs", "minio-service->seaweedfs" or "minio"
    object_store_service: str
    object_store_port: int = 9000
    example_path: str = "example"


RELEASES: dict[str, Release] = {
    "26.03": Release(
        tag="26.03",
        kserve_path="applications/kserve/kserve",
        model_registry_path="applications/model-registry/upstream",
        object_store="seaweedfs",
        object_store_service="seaweedfs",
    ),
    "v1.11.0": Release(
        tag="v1.11.0",
        kserve_path="applications/kserve/kserve",
        model_registry_path="applications/model-registry/upstream",
        object_store="minio-service->seaweedfs",
        object_store_service="minio-service",
    ),
    "v1.10.2": Release(
        tag="v1.10.2",
        kserve_path="applications/kserve/kserve",
        model_registry_path="applications/model-registry/upstream",
        object_store="minio",
        object_store_service="minio-service",
    ),
}

DEFAULT_RELEASE = "26.03"


def known_tags() -> str:
    return ", ".join(RELEASES)
