"""`kfbootstrap status`: per component, the installed version, ready workloads / total, forward and URL.

Which workloads belong to which component are the scopes in kfbootstrap/components.py,
the same ones `up` waits on, matched against a single listing of the cluster's workloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kfbootstrap.access import forwards
from kfbootstrap.access.targets import Target, url
from kfbootstrap.components import Component, for_release, owner
from kfbootstrap.config import Config
from kfbootstrap.kube.workloads import Workload, image_tag


@dataclass
class ComponentStatus:
    name: str
    enabled: bool
    state: str  # ready, not ready, missing
    version: str | None
    version_from: str | None
    chart: str | None
    ready: int
    total: int
    not_ready: list[str] = field(default_factory=list)
    forward: dict[str, Any] | None = None
    url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "state": self.state,
            "version": self.version,
            "version_from": self.version_from,
            "chart": self.chart,
            "workloads": {"ready": self.ready, "total": self.total, "not_ready": self.not_ready},
            "forward": self.forward,
            "url": self.url,
        }


def collect(
    config: Config, workloads: list[Workload], records: list[forwards.ForwardRecord] | None = None
) -> list[ComponentStatus]:
    """One status per component from one listing of workloads and the background-forward records."""
    records = forwards.read_records() if records is None else records
    enabled = set(config.components.enabled())
    components = for_release(config.release)
    owners = [owner(w, components) for w in workloads]
    return [
        _component(spec, spec.name in enabled, [w for w, o in zip(workloads, owners) if o == spec.name], records)
        for spec in components
    ]


def _component(
    spec: Component, enabled: bool, owned: list[Workload], records: list[forwards.ForwardRecord]
) -> ComponentStatus:
    ready = [w for w in owned if w.is_ready]
    state = "missing" if not owned else "ready" if len(ready) == len(owned) else "not ready"
    source = next((w for name in spec.version_from for w in owned if w.name == name), None)
    forward, link = _forward(spec.targets[0], records) if spec.targets else (None, None)
    return ComponentStatus(
        name=spec.name,
        enabled=enabled,
        state=state,
        version=image_tag(source.images[0]) if source and source.images else None,
        version_from=source.ref if source else None,
        chart=source.labels.get("helm.sh/chart") if source else None,
        ready=len(ready),
        total=len(owned),
        not_ready=sorted(f"{w.ref} ({w.ready}/{w.desired})" for w in owned if not w.is_ready),
        forward=forward,
        url=link,
    )


def _forward(target: Target, records: list[forwards.ForwardRecord]) -> tuple[dict[str, Any], str | None]:
    record = next((r for r in records if r.spec.target == target.name), None)
    if record is None:
        return {
            "target": target.name,
            "state": "none",
            "detail": f"run `kfbootstrap expose {target.name} --background`",
        }, None
    health = forwards.health(record)
    link = url(target, record.spec.address, record.spec.port) if health.state in ("running", "waiting") else None
    return {
        "target": target.name,
        "state": health.state,
        "detail": health.detail,
        "pid": record.pid,
        "address": record.spec.address,
        "port": record.spec.port,
    }, link
