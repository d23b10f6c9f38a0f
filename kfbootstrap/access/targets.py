"""The services people reach, in one table: where each lives and how it is forwarded.

Pure data plus small lookups, so the CLI, the `up` step, `status` and the
background forwarder all agree on names, ports and URLs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from kfbootstrap.config import Config
from kfbootstrap.errors import UsageError


@dataclass(frozen=True)
class Target:
    """One forwardable service."""

    name: str  # what the user types: `expose grafana`
    component: str  # the config.components key that installs it
    port_key: str  # the forwards.ports key of its local port
    namespace: str
    services: tuple[str, ...]  # candidate Service names, the first that exists wins
    remote_port: int  # the Service port (not the pod's): targetPort is resolved per pod
    path: str = "/"  # what to open in a browser
    creds: str | None = None  # the `creds` target holding its login, if any


# Makefile parity: istio-ingressgateway 8080:80, grafana 3000:80, prometheus-server 9090:80,
# model-registry-service 8081:8080, minio 9000:9000.
TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("kubeflow", "kubeflow", "kubeflow", "istio-system", ("istio-ingressgateway",), 80, creds="kubeflow"),
    Target("grafana", "grafana", "grafana", "monitoring", ("grafana",), 80, creds="grafana"),
    Target("prometheus", "prometheus", "prometheus", "monitoring", ("prometheus-server",), 80),
    Target("model-registry", "model_registry", "model_registry", "kubeflow", ("model-registry-service",), 8080,
           path="/api/model_registry/v1alpha3/registered_models"),
    # v1.10.x runs real MinIO behind minio-service; v1.11.0 keeps a minio-service in front of
    # SeaweedFS; 26.03 has only the seaweedfs Service. Which exists is decided at run time.
    Target("minio", "object_store", "minio", "kubeflow", ("minio-service", "seaweedfs"), 9000, creds="minio"),
)}


def get_target(name: str) -> Target:
    """The target called `name` (also accepts model_registry), or a usage error listing them."""
    target = TARGETS.get(name) or TARGETS.get(name.replace("_", "-"))
    if target is None:
        raise UsageError(f"unknown target {name!r}", hint=f"choose one of: {', '.join(TARGETS)}")
    return target


def service_candidates(target: Target, config: Config) -> tuple[str, ...]:
    """Service names to try, the configured release's own object store first."""
    if target.name != "minio":
        return target.services
    from kfbootstrap.releases import RELEASES

    preferred = RELEASES[config.kubeflow.version].object_store_service
    return (preferred,) + tuple(s for s in target.services if s != preferred)


def enabled_targets(config: Config) -> list[Target]:
    """Targets whose component is switched on, in table order."""
    enabled = set(config.components.enabled())
    return [t for t in TARGETS.values() if t.component in enabled]


def local_port(target: Target, config: Config) -> int:
    return getattr(config.forwards.ports, target.port_key)


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def url(target: Target, address: str, port: int) -> str:
    """What to open: the bound address, shown as 127.0.0.1 (or the host's name) when all interfaces are bound."""
    host = address
    if address in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in address:
        host = f"[{address}]"
    return f"http://{host}:{port}{target.path}"
