"""Which checks exist, which component each belongs to, and which Service each talks to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from kfbootstrap.components import component_of_check
from kfbootstrap.config import Config
from kfbootstrap.smoke import checks
from kfbootstrap.smoke.checks import CheckContext, Service


@dataclass(frozen=True)
class Check:
    name: str
    component: str  # a key of config.components: the check is skipped when it is off
    title: str
    run: Callable[[CheckContext], str]
    service: str  # key into services_for()
    part: str | None = None  # the Kubeflow part it checks (kfbootstrap/apps/catalog.py): skipped when not chosen


def _check(name: str, title: str, run: Callable[[CheckContext], str], service: str, part: str | None = None) -> Check:
    """A check of the component whose descriptor (kfbootstrap/components.py) lists it."""
    return Check(name, component_of_check(name), title, run, service, part)


def all_checks(with_pipeline: bool = False) -> list[Check]:
    from kfbootstrap.smoke.pipeline_run import run_tiny_pipeline

    found = [
        _check(
            "dashboard-redirects-to-dex",
            "Kubeflow dashboard redirects to the dex login",
            checks.dashboard_redirects_to_dex,
            "kubeflow",
            part="dashboard",
        ),
        _check("dex-login", "Login with the configured user", checks.dex_login, "kubeflow", part="dex"),
        _check("pipelines-healthz", "Pipelines API healthz", checks.pipelines_healthz, "pipelines", part="pipelines"),
        _check("pipelines-list", "Pipelines API lists pipelines", checks.pipelines_list, "pipelines", part="pipelines"),
        _check(
            "model-registry-list",
            "Model registry lists registered models",
            checks.model_registry_list,
            "model_registry",
        ),
        _check(
            "object-store-list-buckets",
            "Object store accepts `creds minio` (ListBuckets)",
            checks.object_store_list_buckets,
            "object_store",
            part="pipelines",
        ),
        _check("grafana-health", "Grafana /api/health", checks.grafana_health, "grafana"),
        _check("prometheus-ready", "Prometheus /-/ready", checks.prometheus_ready, "prometheus"),
    ]
    if with_pipeline:
        found.append(
            _check("pipelines-run", "A tiny pipeline runs to success", run_tiny_pipeline, "pipelines", part="pipelines")
        )
    return found


def services_for(config: Config) -> dict[str, Service]:
    """The Services behind the checks: `expose`'s target table, plus the pipelines API it has no target for."""
    from kfbootstrap.access.targets import TARGETS, namespace_for, service_candidates

    def target(key: str, name: str) -> Service:
        found = TARGETS[name]
        return Service(key, namespace_for(found, config), tuple(service_candidates(found, config)), found.remote_port)

    from kfbootstrap.components import COMPONENTS

    # A component's checks talk to its first forward target; the pipelines API has no target of its own.
    services = {c.name: target(c.name, c.targets[0].name) for c in COMPONENTS if c.smoke and c.targets}
    services["pipelines"] = Service("pipelines", "kubeflow", ("ml-pipeline",), 8888)
    return services
