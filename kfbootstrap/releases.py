"""What we know about each Kubeflow community-distribution release we support.

kubeflow/manifests was renamed kubeflow/community-distribution on 2026-06-12 (the old
URL redirects). Between releases paths moved (apps/ -> applications/, KServe's home),
the pipelines' object store changed from MinIO to SeaweedFS, the model registry moved
into Kubeflow Hub inside `example`, and workloads were renamed. Every such difference
lives in this one table; commands ask the release instead of string surgery spread around.
Facts were read from each tag's tree (example/kustomization.yaml, tests/*.sh of its CI)
and from the renders in ../shared/fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REPOSITORY = "https://github.com/kubeflow/community-distribution.git"
REPOSITORY_NAME = "kubeflow/community-distribution"  # for messages: "cloning kubeflow/community-distribution 26.03.1"
PROFILE_NAMESPACE = "kubeflow-user-example-com"  # made by the profile controller from example's Profile


@dataclass(frozen=True)
class ModelRegistry:
    """Where a release's model registry comes from and where it runs."""

    home: str  # for people: "Kubeflow Hub (in example)", "applications/model-registry"
    namespace: str = "kubeflow"
    # Kustomization root whose overlays (overlays/db, options/istio, options/csi) are applied
    # beyond `example`; None when `example` already brings the registry (apply nothing more).
    path: str | None = "applications/model-registry/upstream"
    deployment: str = "model-registry-deployment"
    service: str = "model-registry-service"
    port: int = 8080
    catalog_namespace: str | None = None  # Kubeflow Hub's model catalog, when the release has one

    @property
    def in_example(self) -> bool:
        return self.path is None


@dataclass(frozen=True)
class WorkloadNames:
    """Names of the workloads `status`, `smoke` and the waits look for (renamed in 26.03.1)."""

    dashboard: str = "centraldashboard"
    poddefaults_webhook: str = "admission-webhook-deployment"
    kserve_models_web_app: str = "kserve-models-web-app"


@dataclass(frozen=True)
class TestedWith:
    """What the release's own CI creates its Kind cluster with (tests/install_KinD_*.sh)."""

    kind: str  # kind version, "v0.32.0"
    # kindest/node image pinned by digest. Which kubeadm patch form (extraArgs as a map, or
    # as v1beta4's list of {name, value}) a node needs follows from its Kubernetes version:
    # kfbootstrap/steps/cluster.py writes the kind config accordingly.
    node_image: str

    @property
    def kubernetes(self) -> str:
        """The node image's Kubernetes version, "v1.36.1"."""
        return self.node_image.split(":", 1)[1].split("@", 1)[0]


@dataclass(frozen=True)
class UpgradeStep:
    """One manual step upstream documents for upgrading to a release, carried out by `up` (once).

    `deletes` names objects as (apiVersion, kind, namespace or "", name); `up` deletes one only
    when it carries kfbootstrap's ApplySet label (never something a user made), and never a
    CRD that still has custom resources or is in `never`.
    """

    name: str  # recorded in the cluster when done, so an interrupted upgrade does not repeat it
    from_tags: tuple[str, ...]  # the installed releases it applies to
    description: str
    deletes: tuple[tuple[str, str, str, str], ...] = ()
    never: tuple[str, ...] = ()  # "Kind/name" it must leave, whatever else it deletes


_DASHBOARD_26_03 = tuple(
    (api, kind, namespace, name)
    for api, kind, namespace, name in (
        ("apps/v1", "Deployment", "kubeflow", "centraldashboard"),
        ("v1", "Service", "kubeflow", "centraldashboard"),
        ("v1", "ServiceAccount", "kubeflow", "centraldashboard"),
        ("v1", "ConfigMap", "kubeflow", "centraldashboard-config"),
        ("v1", "ConfigMap", "kubeflow", "centraldashboard-parameters"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", "", "centraldashboard"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "centraldashboard"),
        ("rbac.authorization.k8s.io/v1", "Role", "kubeflow", "centraldashboard"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding", "kubeflow", "centraldashboard"),
        ("networking.istio.io/v1alpha3", "VirtualService", "kubeflow", "centraldashboard"),
        ("networking.k8s.io/v1", "NetworkPolicy", "kubeflow", "centraldashboard"),
        ("security.istio.io/v1beta1", "AuthorizationPolicy", "kubeflow", "central-dashboard"),
    )
)

# Upstream's "Upgrading" notes for 26.03 -> 26.03.1 (community-distribution README), as data.
_UPGRADE_TO_26_03_1 = (
    UpgradeStep(
        "26.03.1/jobset-controller-manager",
        ("26.03",),
        "delete Deployment kubeflow-system/jobset-controller-manager (its selector changed)",
        deletes=(("apps/v1", "Deployment", "kubeflow-system", "jobset-controller-manager"),),
    ),
    UpgradeStep(
        "26.03.1/llmisvc-manager-rolebinding",
        ("26.03",),
        "delete ClusterRoleBinding llmisvc-manager-rolebinding (its roleRef changed)",
        deletes=(("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "llmisvc-manager-rolebinding"),),
    ),
    UpgradeStep(
        "26.03.1/old-dashboard",
        ("26.03",),
        "delete the old central dashboard's objects (renamed `dashboard`), never the Profiles CRD",
        deletes=_DASHBOARD_26_03,
        never=("CustomResourceDefinition/profiles.kubeflow.org",),
    ),
)


@dataclass(frozen=True)
class Release:
    """Facts about one community-distribution release.

    Paths are relative to the root of a checkout. Where they moved:
    KServe contrib/kserve/kserve (<= v1.9) -> apps/kserve/kserve (v1.10.0) ->
    applications/kserve/kserve (v1.10.2+), as did everything else under apps/.
    """

    tag: str
    date: str  # of the tag's commit
    kserve_path: str
    object_store: str  # "seaweedfs", "minio-service->seaweedfs" or "minio"
    object_store_service: str
    tested: TestedWith
    model_registry: ModelRegistry = field(default_factory=lambda: ModelRegistry("applications/model-registry"))
    workloads: WorkloadNames = field(default_factory=WorkloadNames)
    # Every release since v1.10 lists applications/kserve/kserve in example/kustomization.yaml,
    # so with Kubeflow installed a second KServe apply would only duplicate it.
    kserve_in_example: bool = True
    example_path: str = "example"
    # The commit the tag pointed to when we checked; a clone at another commit is refused
    # (a moved tag is a supply-chain warning sign). None: not seen yet, so the first clone's
    # commit is recorded and held to (trust on first use, see manifests.py).
    commit: str | None = None
    # Upstream's manual steps for upgrading to this release, carried out by `up` (kfbootstrap/upgrade).
    upgrade_steps: tuple[UpgradeStep, ...] = ()

    def component_path(self, component: str) -> str:
        """The kustomization a component is rendered from ("kubeflow" is the `example`)."""
        paths = {"kubeflow": self.example_path, "kserve": self.kserve_path}
        if component not in paths:
            raise KeyError(f"no kustomization for component {component!r} in release {self.tag}")
        return paths[component]


_KIND_V030_NODE_1_34 = TestedWith(
    "v0.30.0", "kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a"
)

RELEASES: dict[str, Release] = {
    "26.03.1": Release(
        tag="26.03.1",
        date="2026-06",
        kserve_path="applications/kserve/kserve",
        object_store="seaweedfs",
        object_store_service="seaweedfs",
        tested=TestedWith(
            "v0.32.0", "kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5"
        ),
        model_registry=ModelRegistry(
            "Kubeflow Hub (in example)", namespace=PROFILE_NAMESPACE, path=None, catalog_namespace="kubeflow"
        ),
        workloads=WorkloadNames(
            dashboard="dashboard",
            poddefaults_webhook="poddefaults-webhook-deployment",
            kserve_models_web_app="kserve-models-web-application",
        ),
        # The fixtures were made from the release-26.03.1 branch head (0d1a003 = 26.03.1-rc.2 + CI-only
        # commits); the final tag's commit was not visible to us, so it is trusted on first use.
        commit=None,
        upgrade_steps=_UPGRADE_TO_26_03_1,
    ),
    "26.03": Release(
        tag="26.03",
        date="2026-03-21",
        kserve_path="applications/kserve/kserve",
        object_store="seaweedfs",
        object_store_service="seaweedfs",
        tested=_KIND_V030_NODE_1_34,
        commit="d68ebc7fab366ab40ddd1541d2ec22febb31bc83",
    ),
    "v1.11.0": Release(
        tag="v1.11.0",
        date="2025-12-15",
        kserve_path="applications/kserve/kserve",
        object_store="minio-service->seaweedfs",
        object_store_service="minio-service",
        tested=_KIND_V030_NODE_1_34,
        commit="854bd3a21044f767204def71b2dcda83e376891f",
    ),
    "v1.10.2": Release(
        tag="v1.10.2",
        date="2025-07-18",
        kserve_path="applications/kserve/kserve",
        object_store="minio",
        object_store_service="minio-service",
        tested=TestedWith(
            "v0.29.0", "kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f"
        ),
        commit="d8d643f1a736b28c525bd9b8ee5c9b2f4a661b39",
    ),
}

DEFAULT_RELEASE = "26.03.1"


def known_tags() -> str:
    return ", ".join(RELEASES)


def is_older(tag: str, than: str) -> bool:
    """Is release `tag` older than release `than`? (RELEASES lists the newest first; unknown tags compare as equal.)"""
    order = list(RELEASES)
    if tag not in order or than not in order:
        return False
    return order.index(tag) > order.index(than)


def release(tag: str) -> Release:
    """The release called `tag` (config validation has already refused unknown tags)."""
    return RELEASES[tag]
