"""What `kfbootstrap status` reports, read from the cluster and this machine's Docker in one go.

The command line only prints it: per component (access/status.py), the Kubeflow apps chosen
and kept, why the enabled components' workloads that are not ready are not, and the image cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from kfbootstrap.config import Config

if TYPE_CHECKING:
    from kfbootstrap.access.status import ComponentStatus
    from kfbootstrap.kube.api import Kube
    from kfbootstrap.kube.workloads import Workload
    from kfbootstrap.notready import NotReady
    from kfbootstrap.tools.runner import Runner


@dataclass
class ClusterStatus:
    components: list["ComponentStatus"]
    apps: dict[str, Any]
    cache: dict[str, Any] | None
    not_ready: "NotReady"


def cluster_status(config: Config, new_runner: Callable[[], "Runner"]) -> ClusterStatus:
    """One listing of the cluster's workloads, judged per component, per Kubeflow app and per cause.

    `new_runner` is called only for a cluster kfbootstrap creates, whose image cache runs on this machine."""
    from kfbootstrap.access.status import collect
    from kfbootstrap.context import connect_kube
    from kfbootstrap.kube.workloads import list_workloads

    kube = connect_kube(config)
    workloads = list_workloads(kube)
    return ClusterStatus(
        components=collect(config, workloads),
        apps=_apps(config, kube, workloads),
        cache=_cache_summary(config, new_runner),
        not_ready=_not_ready(config, kube, workloads),
    )


def _not_ready(config: Config, kube: "Kube", workloads: list["Workload"]) -> "NotReady":
    """Why the enabled components' workloads that are not ready are not, grouped by cause (as `up` says it)."""
    from kfbootstrap.components import scopes_for
    from kfbootstrap.kube import readiness
    from kfbootstrap.notready import NotReady

    scopes = scopes_for(config.components.enabled(), config.release)
    waiting = [w for w in workloads if readiness.in_scope(w, scopes) and not w.is_ready]
    return NotReady.of(readiness.explain(kube, waiting))


def _cache_summary(config: Config, new_runner: Callable[[], "Runner"]) -> dict[str, Any] | None:
    """The image cache on this machine's Docker, for clusters kfbootstrap creates (None otherwise)."""
    if config.cluster.existing:
        return None
    from kfbootstrap.preflight.cache import cache_finding
    from kfbootstrap.cache.registries import mirrors_for
    from kfbootstrap.cache.report import collect
    from kfbootstrap.errors import KfbError
    from kfbootstrap.tools.docker import Containers

    runner = new_runner()
    try:
        reports = (
            collect(Containers(runner), mirrors_for(config.cache.registries), with_contents=False)
            if config.cache.enabled
            else []
        )
        summary = cache_finding(config, runner).detail
    except KfbError as exc:  # no docker here: the cluster may still answer
        return {"enabled": config.cache.enabled, "summary": f"unknown ({exc.message})", "caches": []}
    return {"enabled": config.cache.enabled, "summary": summary, "caches": [r.to_json() for r in reports]}


def _apps(config: Config, kube: "Kube", workloads: list["Workload"]) -> dict[str, Any]:
    """The chosen Kubeflow apps, and per part on the cluster: chosen or kept from an earlier choice, ready/total."""
    from kfbootstrap.apps.plan import apps_status
    from kfbootstrap.kube.state import read_marker

    marker = read_marker(kube, "kubeflow")
    kept = marker.kept if marker else []
    return {"chosen": config.kubeflow.apps, "kept": kept, "parts": apps_status(config, workloads, kept)}
