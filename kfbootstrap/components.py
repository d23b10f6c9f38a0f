"""One descriptor per component: every table and every command derives from COMPONENTS.

A component is what `components.<name>` switches: the step that installs it, the
workloads that make it ready (the readiness wait and `status` read the same scopes),
the Services people reach (`expose`, the forwards of `up`, `status`, smoke), its
credentials (`creds`), its Helm chart pin, the renders `render --out` writes for it
and the smoke checks that prove it works. The config's `components`,
`forwards.ports` and `charts` sections are generated from here too.

What a descriptor does not say defaults from what it does: a component with a chart and no
step of its own is installed by the generic Helm step. Code is named by reference
("module:attribute") and resolved only when it runs (resolve()), so this module stays pure
data importing nothing above it, and `kfbootstrap --help` stays fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Protocol, Sequence

if TYPE_CHECKING:
    from kfbootstrap.releases import Release

# The installer of a component that has a chart and no special needs (constructed with the component's name).
HELM_STEP = "kfbootstrap.steps.helm_release:HelmReleaseStep"


class Workload(Protocol):
    """What a scope matches on (kfbootstrap/kube/workloads.py's Workload has it)."""

    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def labels(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class Scope:
    """Where some of a component's workloads live: a namespace, optionally narrowed by labels or names."""

    namespace: str
    labels: tuple[tuple[str, str], ...] = ()
    names: tuple[str, ...] = ()

    def matches(self, workload: Workload) -> bool:
        return (
            workload.namespace == self.namespace
            and all(workload.labels.get(k) == v for k, v in self.labels)
            and (not self.names or workload.name in self.names)
        )

    @property
    def narrow(self) -> bool:
        """Narrowed scopes win over a whole namespace when two components share one (status counts once)."""
        return bool(self.labels or self.names)


@dataclass(frozen=True)
class Target:
    """One forwardable Service."""

    name: str  # what the user types: `expose grafana`
    component: str  # the component that installs it
    port_key: str  # the forwards.ports key of its local port
    default_port: int  # that key's default local port (Makefile parity)
    namespace: str
    services: tuple[str, ...]  # candidate Service names, the first that exists wins
    remote_port: int  # the Service port (not the pod's): targetPort is resolved per pod
    path: str = "/"  # what to open in a browser
    creds: str | None = None  # the `creds` target holding its login, if any
    part: str | None = None  # the Kubeflow part it lives in (kfbootstrap/release_parts.py), when apps are chosen


@dataclass(frozen=True)
class ChartPin:
    """One Helm release kfbootstrap manages, with the chart version it was tested with."""

    name: str  # component name and key under `charts:` in the config
    chart: str  # chart name in its repository
    version: str
    repo: str
    release: str
    namespace: str
    values: str | None = None  # our values file; default: charts/<name>/values.yaml in the package


@dataclass(frozen=True)
class SmokeCheck:
    """One check `kfbootstrap smoke` runs to prove its component works."""

    name: str
    title: str
    run: str  # "module:function" taking a smoke CheckContext and returning a note
    # The Service it talks to: its component's first forward target, or one of its endpoints by name.
    service: str = ""
    part: str | None = None  # the Kubeflow part it checks (kfbootstrap/release_parts.py): skipped when not chosen
    with_pipeline: bool = False  # only with `smoke --pipeline` (it runs a pipeline)


@dataclass(frozen=True)
class Endpoint:
    """A Service smoke checks talk to that is not a forward target of its own (no local port)."""

    name: str
    namespace: str
    services: tuple[str, ...]
    port: int


@dataclass(frozen=True)
class Creds:
    """A `creds` target: what the user types, and the function that reads it from the cluster."""

    name: str
    reader: str  # "module:function(kube, config, namespace) -> Credential"


@dataclass(frozen=True)
class Component:
    name: str  # the key under `components:`
    title: str  # human name: "Grafana"
    # "module:Class" of its installer, imported only when `up` builds its plan; "" with a chart: HELM_STEP.
    step: str = ""
    scopes: tuple[Scope, ...] = ()  # the workloads that make it ready
    version_from: tuple[str, ...] = ()  # workload names whose image tag is its version, first found wins
    targets: tuple[Target, ...] = ()
    creds: tuple[Creds, ...] = ()  # `creds` targets it provides
    chart: ChartPin | None = None
    renders: tuple[str, ...] = ()  # `render --out` files (<render>.yaml) that `up --manifests DIR` reads
    smoke: tuple[SmokeCheck, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()  # Services its smoke checks name that are not targets
    # What it puts under Docker's root directory, in GiB, for preflight's disk check: the images
    # its pods pull (estimates from the 26.03 `example`'s ~70 workload images, which several nodes
    # pull each) and the volumes it requests (the 26.03.1 example's PVCs: metadata-postgres 10,
    # katib-mysql 10, model-catalog-postgres 5, mysql-pv-claim 20, seaweedfs-pvc 20; our chart values).
    images_gib: float = 0.0
    volumes_gib: float = 0.0
    # The small profiles (minimal, pipelines) that install it: opt in, so a new component joins them
    # only by naming them here. The full and ci profiles install every component.
    profiles: tuple[str, ...] = ()


# What a Kubeflow install needs; the add-ons around it (MetalLB, monitoring) stay out of the small
# profiles. KServe, the model registry and the object store then follow the chosen apps (the config).
_SMALL_PROFILES = ("minimal", "pipelines")
_CHECKS = "kfbootstrap.smoke.checks:"
_CREDS = "kfbootstrap.access.creds:"
_ISTIO = (("app.kubernetes.io/part-of", "istio"),)
_KUBEFLOW_NAMESPACES = (
    "cert-manager",
    "istio-system",
    "auth",
    "oauth2-proxy",
    "knative-serving",
    "kubeflow",
    "kubeflow-system",
)

# In install order (the order of `up`'s steps). Namespaces from the 26.03 render and our charts;
# what differs between releases is applied by for_release().
COMPONENTS: tuple[Component, ...] = (
    Component(
        "kubeflow",
        "Kubeflow",
        "kfbootstrap.steps.kubeflow:KubeflowStep",
        profiles=_SMALL_PROFILES,
        scopes=tuple(Scope(ns) for ns in _KUBEFLOW_NAMESPACES) + (Scope("kube-system", _ISTIO),),
        version_from=("centraldashboard",),
        targets=(
            Target(
                "kubeflow",
                "kubeflow",
                "kubeflow",
                8080,
                "istio-system",
                ("istio-ingressgateway",),
                80,
                creds="kubeflow",
                part="istio",
            ),
        ),
        creds=(Creds("kubeflow", _CREDS + "kubeflow_creds"),),
        renders=("kubeflow",),
        smoke=(
            SmokeCheck(
                "dashboard-redirects-to-dex",
                "Kubeflow dashboard redirects to the dex login",
                _CHECKS + "dashboard_redirects_to_dex",
                part="dashboard",
            ),
            SmokeCheck("dex-login", "Login with the configured user", _CHECKS + "dex_login", part="dex"),
            SmokeCheck(
                "pipelines-healthz", "Pipelines API healthz", _CHECKS + "pipelines_healthz", "pipelines", "pipelines"
            ),
            SmokeCheck(
                "pipelines-list", "Pipelines API lists pipelines", _CHECKS + "pipelines_list", "pipelines", "pipelines"
            ),
            SmokeCheck(
                "pipelines-run",
                "A tiny pipeline runs to success",
                "kfbootstrap.smoke.pipeline_run:run_tiny_pipeline",
                "pipelines",
                "pipelines",
                with_pipeline=True,
            ),
        ),
        endpoints=(Endpoint("pipelines", "kubeflow", ("ml-pipeline",), 8888),),
        images_gib=22.0,
        volumes_gib=65.0,
    ),
    Component(
        "kserve",
        "KServe",
        "kfbootstrap.steps.kserve:KServeStep",
        profiles=_SMALL_PROFILES,
        scopes=(
            Scope(
                "kubeflow",
                names=(
                    "kserve-controller-manager",
                    "kserve-localmodel-controller-manager",
                    "llmisvc-controller-manager",
                    "kserve-models-web-app",
                ),
            ),
        ),
        version_from=("kserve-controller-manager",),
        renders=("kserve",),
        smoke=(
            SmokeCheck(
                "kserve-serves-a-model",
                "KServe serves a model and answers a prediction",
                "kfbootstrap.smoke.kserve_model:serves_a_model",
                "kserve-smoke-model",
            ),
        ),
        # The predictor of the model the check serves, in serve.namespace (this is its default).
        endpoints=(Endpoint("kserve-smoke-model", "kubeflow-user-example-com", ("kfb-smoke-model-predictor",), 80),),
        images_gib=2.0,
    ),
    Component(
        "metallb",
        "MetalLB",
        "kfbootstrap.steps.metallb:MetallbStep",
        scopes=(Scope("metallb-system"),),
        version_from=("controller", "metallb-controller"),
        chart=ChartPin(
            "metallb", "metallb", "0.16.1", "https://metallb.github.io/metallb", "metallb", "metallb-system"
        ),
        images_gib=0.2,
    ),
    Component(
        "prometheus",
        "Prometheus",
        scopes=(Scope("monitoring", (("app.kubernetes.io/instance", "prometheus"),)),),
        version_from=("prometheus-server",),
        targets=(Target("prometheus", "prometheus", "prometheus", 9090, "monitoring", ("prometheus-server",), 80),),
        chart=ChartPin(
            "prometheus",
            "prometheus",
            "29.27.0",
            "https://prometheus-community.github.io/helm-charts",
            "prometheus",
            "monitoring",
        ),
        smoke=(SmokeCheck("prometheus-ready", "Prometheus /-/ready", _CHECKS + "prometheus_ready"),),
        images_gib=0.6,
        volumes_gib=8.0,
    ),
    Component(
        "grafana",
        "Grafana",
        "kfbootstrap.steps.monitoring:GrafanaStep",
        scopes=(Scope("monitoring", (("app.kubernetes.io/instance", "grafana"),)),),
        version_from=("grafana",),
        targets=(Target("grafana", "grafana", "grafana", 3000, "monitoring", ("grafana",), 80, creds="grafana"),),
        creds=(Creds("grafana", _CREDS + "grafana_creds"),),
        # The chart left grafana/helm-charts on 2026-01-30 (its last release there, 10.5.15,
        # is deprecated); this is its new home.
        chart=ChartPin(
            "grafana", "grafana", "12.11.1", "https://grafana-community.github.io/helm-charts", "grafana", "monitoring"
        ),
        smoke=(SmokeCheck("grafana-health", "Grafana /api/health", _CHECKS + "grafana_health"),),
        images_gib=0.5,
        volumes_gib=10.0,
    ),
    Component(
        "model_registry",
        "the model registry",
        "kfbootstrap.steps.model_registry:ModelRegistryStep",
        profiles=_SMALL_PROFILES,
        scopes=(
            Scope("kubeflow", (("component", "db"),)),
            Scope("kubeflow", (("component", "model-registry-server"),)),
            Scope("kubeflow", names=("model-registry-deployment", "model-registry-db")),
        ),
        version_from=("model-registry-deployment",),
        targets=(
            Target(
                "model-registry",
                "model_registry",
                "model_registry",
                8081,
                "kubeflow",
                ("model-registry-service",),
                8080,
                path="/api/model_registry/v1alpha3/registered_models",
            ),
        ),
        renders=("model-registry-db", "model-registry-istio", "model-registry-csi"),
        smoke=(
            SmokeCheck(
                "model-registry-list", "Model registry lists registered models", _CHECKS + "model_registry_list"
            ),
        ),
        images_gib=0.8,
    ),
    Component(
        "object_store",
        "the pipelines' object store",
        "kfbootstrap.steps.object_store:ObjectStoreStep",
        profiles=_SMALL_PROFILES,
        # Kubeflow brings it: its readiness is Kubeflow's; status shows its own workloads.
        scopes=(Scope("kubeflow", names=("seaweedfs", "minio")),),
        version_from=("seaweedfs", "minio"),
        # v1.10.x runs real MinIO behind minio-service; v1.11.0 keeps a minio-service in front of
        # SeaweedFS; 26.03 has only the seaweedfs Service. Which exists is decided at run time.
        targets=(
            Target(
                "minio",
                "object_store",
                "minio",
                9000,
                "kubeflow",
                ("minio-service", "seaweedfs"),
                9000,
                creds="minio",
                part="pipelines",
            ),
        ),
        creds=(Creds("minio", _CREDS + "minio_creds"),),
        smoke=(
            SmokeCheck(
                "object-store-list-buckets",
                "Object store accepts `creds minio` (ListBuckets)",
                _CHECKS + "object_store_list_buckets",
                part="pipelines",
            ),
        ),
    ),
)


def names() -> list[str]:
    return [component.name for component in COMPONENTS]


def get(name: str) -> Component:
    """The descriptor called `name` (looked up at call time: a test may extend COMPONENTS)."""
    return next(component for component in COMPONENTS if component.name == name)


def members(profile: str) -> list[str]:
    """The components whose descriptor names `profile` (kfbootstrap/config/profiles.py keeps only these)."""
    return [component.name for component in COMPONENTS if profile in component.profiles]


def selected(enabled: Iterable[str]) -> list[Component]:
    """The enabled components, in install order."""
    wanted = set(enabled)
    return [component for component in COMPONENTS if component.name in wanted]


def targets() -> dict[str, Target]:
    """Every forward target by the name users type, in component order."""
    return {target.name: target for component in COMPONENTS for target in component.targets}


def chart_pins() -> dict[str, ChartPin]:
    return {component.name: component.chart for component in COMPONENTS if component.chart is not None}


def creds_targets() -> list[str]:
    return [creds.name for component in COMPONENTS for creds in component.creds]


def creds_reader(name: str) -> str:
    """The reference of the function that reads `creds NAME`."""
    return next(creds.reader for component in COMPONENTS for creds in component.creds if creds.name == name)


def installer(component: Component) -> str:
    """The reference of the component's step: its own, else the generic Helm step for a chart."""
    if component.step:
        return component.step
    if component.chart is None:
        raise ValueError(f"component {component.name} has neither a step nor a chart")
    return HELM_STEP


def resolve(reference: str) -> Any:
    """What a "module:attribute" reference names, imported now (steps, checks and readers load only when used)."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


_KSERVE = ("kserve-controller-manager", "kserve-localmodel-controller-manager", "llmisvc-controller-manager")
_MODEL_REGISTRY = ("model-registry-deployment", "model-registry-db", "model-registry-ui")


def for_release(release: "Release | None") -> tuple[Component, ...]:
    """COMPONENTS with what differs per release (kfbootstrap/releases.py): workload names and
    the model registry's namespace (Kubeflow Hub's profile namespace since 26.03.1)."""
    if release is None:
        return COMPONENTS
    names, hub = release.workloads, release.model_registry
    changed: dict[str, dict[str, Any]] = {
        "kubeflow": {"version_from": (names.dashboard,)},
        "kserve": {"scopes": (Scope("kubeflow", names=_KSERVE + (names.kserve_models_web_app,)),)},
        "model_registry": {
            "scopes": (
                Scope(hub.namespace, (("component", "db"),)),
                Scope(hub.namespace, (("component", "model-registry-server"),)),
                Scope(hub.namespace, names=_MODEL_REGISTRY),
            ),
            "version_from": (hub.deployment,),
            "targets": tuple(replace(t, namespace=hub.namespace) for t in get("model_registry").targets),
        },
    }
    return tuple(replace(c, **changed[c.name]) if c.name in changed else c for c in COMPONENTS)


def scopes_for(enabled: Iterable[str], release: "Release | None" = None) -> list[Scope]:
    by_name = {component.name: component for component in for_release(release)}
    return [scope for name in enabled for scope in by_name[name].scopes]


def owner(workload: Workload, components: Sequence[Component] | None = None) -> str | None:
    """The component a workload belongs to: a narrowed scope wins over a whole namespace."""
    matches = [
        (scope.narrow, component.name)
        for component in (COMPONENTS if components is None else components)
        for scope in component.scopes
        if scope.matches(workload)
    ]
    narrow = [name for is_narrow, name in matches if is_narrow]
    candidates = narrow or [name for _, name in matches]
    return candidates[0] if candidates else None


def smoke_checks(with_pipeline: bool = False) -> list[tuple[Component, SmokeCheck]]:
    """Every component's smoke checks in component order; the ones that run a pipeline only when asked."""
    return [
        (component, check)
        for component in COMPONENTS
        for check in component.smoke
        if with_pipeline or not check.with_pipeline
    ]
