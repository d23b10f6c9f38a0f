"""Which checks exist, which component each belongs to, and which Service each talks to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

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


def all_checks(with_pipeline: bool = False) -> list[Check]:
    from kfbootstrap.smoke.pipeline_run import run_tiny_pipeline

    found = [
        Check("dashboard-redirects-to-dex", "kubeflow", "Kubeflow dashboard redirects to the dex login",
              checks.dashboard_redirects_to_dex, "kubeflow"),
        Check("dex-login", "kubeflow", "Login with the configured user", checks.dex_login, "kubeflow"),
        Check("pipelines-healthz", "kubeflow", "Pipelines API healthz", checks.pipelines_healthz, "pipelines"),
        Check("pipelines-list", "kubeflow", "Pipelines API lists pipelines", checks.pipelines_list, "pipelines"),
        Check("model-registry-list", "model_registry", "Model registry lists registered models",
              checks.model_registry_list, "model_registry"),
        Check("object-store-list-buckets", "object_store", "Object store accepts `creds minio` (ListBuckets)",
              checks.object_store_list_buckets, "object_store"),
        Check("grafana-health", "grafana", "Grafana /api/health", checks.grafana_health, "grafana"),
        Check("prometheus-ready", "prometheus", "Prometheus /-/ready", checks.prometheus_ready, "prometheus"),
    ]
    if with_pipeline:
        found.append(Check("pipelines-run", "kubeflow", "A tiny pipeline runs to success",
                           run_tiny_pipeline, "pipelines"))
    return found


def services_for(config: Config) -> dict[str, Service]:
    """The Services behind the checks: `expose`'s target table, plus the pipelines API it has no target for."""
    from kfbootstrap.access.targets import TARGETS, service_candidates

    def target(key: str, name: str) -> Service:
        found = TARGETS[name]
        return Service(key, found.namespace, tuple(service_candidates(found, config)), found.remote_port)

    return {
        "kubeflow": target("kubeflow", "kubeflow"),
        "pipelines": Service("pipelines", "kubeflow", ("ml-pipeline",), 8888),
        "model_registry": target("model_registry", "model-registry"),
        "object_store": target("object_store", "minio"),
        "grafana": target("grafana", "grafana"),
        "prometheus": target("prometheus", "prometheus"),
    }
