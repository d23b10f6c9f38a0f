"""The checks `smoke` runs and the Services they talk to, both read from the component descriptors.

Each descriptor (kfbootstrap/components.py) lists its checks by reference; the registry
resolves them here, so a component's checks are switched with it and no second table exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from kfbootstrap import components
from kfbootstrap.config import Config
from kfbootstrap.smoke.checks import CheckContext, Service


@dataclass(frozen=True)
class Check:
    name: str
    component: str  # a key of config.components: the check is skipped when it is off
    title: str
    run: Callable[[CheckContext], str]
    service: str  # key into services_for()
    part: str | None = None  # the Kubeflow part it checks (kfbootstrap/release_parts.py): skipped when not chosen


def all_checks(with_pipeline: bool = False) -> list[Check]:
    """Every component's checks in component order (the one that runs a pipeline only when asked)."""
    return [
        Check(
            check.name,
            component.name,
            check.title,
            components.resolve(check.run),
            check.service or component.name,
            check.part,
        )
        for component, check in components.smoke_checks(with_pipeline)
    ]


def services_for(config: Config) -> dict[str, Service]:
    """The Services behind the checks: a component's first forward target (`expose`'s table), and the
    endpoints its descriptor names for checks that talk to a Service no one forwards (the pipelines API)."""
    from kfbootstrap.access.targets import namespace_for, service_candidates

    services: dict[str, Service] = {}
    for component in components.COMPONENTS:
        if component.smoke and component.targets:
            found = component.targets[0]
            names = tuple(service_candidates(found, config))
            services[component.name] = Service(component.name, namespace_for(found, config), names, found.remote_port)
        for endpoint in component.endpoints:
            services[endpoint.name] = Service(endpoint.name, endpoint.namespace, endpoint.services, endpoint.port)
    return services
