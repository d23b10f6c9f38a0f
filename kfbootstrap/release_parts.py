"""Which parts make up a Kubeflow release, where each comes from, and what each needs.

A *part* is either an application the user can choose (`kubeflow.apps`) or a common
part the applications rely on (cert-manager, Istio, Dex, ...). Each part owns source
paths of the release checkout (as kustomize's origin annotation names them, relative
to the checkout root) and, for remote bases, repositories. An object of the render
belongs to the part whose path is the longest prefix of its origin, so finer parts
(the profile controller inside applications/dashboard) win over coarser ones.

The `needs` were read from the 26.03.1 render (tests/unit/test_apps.py
checks them): a part needs another when its objects use that part's CRDs (Istio's
VirtualService, cert-manager's Certificate), live in its namespaces, or rely on it at
run time (the login chain, the profile controller that creates the user namespace).

Pure data about releases, beside kfbootstrap/releases.py and below the config: the config
checks `kubeflow.apps` against it, and apps/ selects, measures and reports with it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    name: str
    paths: tuple[str, ...]  # source path prefixes, relative to the checkout root
    needs: tuple[str, ...] = ()
    app: bool = False  # chosen by the user (an application), or pulled in (a common part)
    remotes: tuple[str, ...] = ()  # remote-base repositories whose objects belong here
    why: str = ""  # one line for `up --dry-run` and README


@dataclass(frozen=True)
class Catalog:
    release: str
    parts: tuple[Part, ...]

    def part(self, name: str) -> Part:
        for part in self.parts:
            if part.name == name:
                return part
        raise KeyError(name)

    def apps(self) -> list[str]:
        return [p.name for p in self.parts if p.app]

    def closure(self, apps: list[str]) -> list[str]:
        """The chosen apps and everything they need, in catalog order."""
        wanted: set[str] = set()
        todo = list(apps)
        while todo:
            name = todo.pop()
            if name not in wanted:
                wanted.add(name)
                todo.extend(self.part(name).needs)
        return [p.name for p in self.parts if p.name in wanted]

    def owner(self, source: str) -> str | None:
        """The part whose path is the longest prefix of `source` (a path or `remote:<repo>`)."""
        best: tuple[int, str] | None = None
        for part in self.parts:
            prefixes = part.paths + tuple(f"remote:{r}" for r in part.remotes)
            for prefix in prefixes:
                if _under(source, prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), part.name)
        return best[1] if best else None


def _under(source: str, prefix: str) -> bool:
    return source == prefix or source.startswith(prefix.rstrip("/") + "/")


_AUTH = ("dex", "oauth2-proxy")
_MULTI_USER = ("istio", "kubeflow-namespace", "kubeflow-roles", "profiles", "user-namespace", *_AUTH)

# kubeflow/community-distribution 26.03.1 (example-origin render in ../shared/fixtures).
CATALOG_26_03_1 = Catalog(
    "26.03.1",
    (
        # Common parts, in the order upstream's example lists them.
        Part("cert-manager", ("common/cert-manager",), why="issues the webhooks' serving certificates"),
        Part(
            "istio",
            ("common/istio",),
            needs=("kubeflow-namespace",),
            why="ingress gateway, sidecars and the authorization policies every web app relies on",
        ),
        Part(
            "istio-cluster-local-gateway",
            ("common/istio/cluster-local-gateway",),
            needs=("istio",),
            why="Knative's in-cluster gateway",
        ),
        Part("dex", ("common/dex",), needs=("istio",), why="the login (user@example.com)"),
        Part(
            "oauth2-proxy",
            ("common/oauth2-proxy",),
            needs=("istio", "dex"),
            why="turns the Dex login into the kubeflow-userid header the apps trust",
        ),
        Part(
            "knative",
            ("common/knative",),
            needs=("istio", "istio-cluster-local-gateway"),
            why="KServe's serverless mode",
        ),
        Part("kubeflow-namespace", ("common/kubeflow-namespace",), why="namespaces kubeflow and kubeflow-system"),
        Part(
            "kubeflow-roles", ("common/kubeflow-roles",), why="the kubeflow-admin/edit/view roles apps aggregate into"
        ),
        Part(
            "profiles",
            ("applications/dashboard/upstream/profile-controller",),
            needs=("kubeflow-namespace", "kubeflow-roles", "istio", *_AUTH),
            why="the profile controller (and KFAM) that turns a Profile into a user namespace",
        ),
        Part(
            "user-namespace",
            ("common/user-namespace",),
            needs=("profiles",),
            why="the Profile of user@example.com (namespace kubeflow-user-example-com)",
        ),
        # Applications.
        Part(
            "dashboard",
            ("applications/dashboard",),
            app=True,
            needs=("cert-manager", *_MULTI_USER),
            why="central dashboard and the PodDefaults webhook",
        ),
        # The multi-user Pipelines UI takes its namespace from the central dashboard, so pipelines needs it.
        Part(
            "pipelines",
            ("applications/pipeline",),
            app=True,
            remotes=("https://github.com/argoproj/argo-workflows",),
            needs=("cert-manager", "dashboard", *_MULTI_USER),
            why="Kubeflow Pipelines (multi-user), Argo Workflows, MySQL and the SeaweedFS object store",
        ),
        Part(
            "notebooks",
            ("applications/notebooks-v1",),
            app=True,
            needs=("cert-manager", "dashboard", *_MULTI_USER),
            why="Jupyter notebooks, TensorBoards, volumes web apps",
        ),
        Part(
            "kserve",
            ("applications/kserve",),
            app=True,
            needs=("cert-manager", "knative", "kubeflow-namespace", "kubeflow-roles", "istio", *_AUTH),
            why="KServe, its models web app, on Knative",
        ),
        Part(
            "katib",
            ("applications/katib",),
            app=True,
            needs=("cert-manager", "dashboard", *_MULTI_USER),
            why="hyperparameter tuning",
        ),
        Part(
            "trainer",
            ("applications/trainer",),
            app=True,
            needs=("kubeflow-namespace", "kubeflow-roles"),
            why="Kubeflow Trainer and JobSet",
        ),
        Part(
            "spark",
            ("applications/spark",),
            app=True,
            needs=("kubeflow-namespace", "kubeflow-roles"),
            why="the Spark operator",
        ),
        Part(
            "hub",
            ("applications/hub",),
            app=True,
            needs=_MULTI_USER,
            why="Kubeflow Hub: the model registry (in the user namespace) and the model catalog",
        ),
    ),
)

CATALOGS: dict[str, Catalog] = {CATALOG_26_03_1.release: CATALOG_26_03_1}


def catalog_for(release: str) -> Catalog | None:
    """The release's catalog; None when we have not mapped that release (apps cannot be chosen there)."""
    return CATALOGS.get(release)
