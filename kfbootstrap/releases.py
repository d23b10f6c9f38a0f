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
    """Facts about one kubeflow/manifests release.

    Paths are relative to the root of a manifests checkout. Where they moved:
    KServe contrib/kserve/kserve (<= v1.9) -> apps/kserve/kserve (v1.10.0) ->
    applications/kserve/kserve (v1.10.2+), as did everything else under apps/.
    """

    tag: str
    kserve_path: str
    model_registry_path: str
    object_store: str  # "seaweedfs", "minio-service->seaweedfs" or "minio"
    object_store_service: str
    example_path: str = "example"
    # The commit the tag pointed to when we checked; a clone at another commit is refused
    # (a moved tag is a supply-chain warning sign). None: not pinned yet, not checked.
    commit: str | None = None

    def component_path(self, component: str) -> str:
        """The kustomization a component is rendered from ("kubeflow" is the `example`)."""
        paths = {"kubeflow": self.example_path, "kserve": self.kserve_path}
        if component not in paths:
            raise KeyError(f"no kustomization for component {component!r} in release {self.tag}")
        return paths[component]


RELEASES: dict[str, Release] = {
    "26.03": Release(
        tag="26.03",
        kserve_path="applications/kserve/kserve",
        model_registry_path="applications/model-registry/upstream",
        object_store="seaweedfs",
        object_store_service="seaweedfs",
        commit="d68ebc7fab366ab40ddd1541d2ec22febb31bc83",
    ),
    "v1.11.0": Release(
        tag="v1.11.0",
        kserve_path="applications/kserve/kserve",
        model_registry_path="applications/model-registry/upstream",
        object_store="minio-service->seaweedfs",
        object_store_service="minio-service",
        commit="854bd3a21044f767204def71b2dcda83e376891f",
    ),
    "v1.10.2": Release(
        tag="v1.10.2",
        kserve_path="applications/kserve/kserve",
        model_registry_path="applications/model-registry/upstream",
        object_store="minio",
        object_store_service="minio-service",
        commit="d8d643f1a736b28c525bd9b8ee5c9b2f4a661b39",
    ),
}

DEFAULT_RELEASE = "26.03"


def known_tags() -> str:
    return ", ".join(RELEASES)
