"""The services people reach (from kfbootstrap/components.py) and small lookups on them, so the
CLI, the `up` step, `status` and the background forwarder agree on names, ports and URLs.
"""

from __future__ import annotations

import ipaddress

from kfbootstrap.components import Target, for_release, targets
from kfbootstrap.config import Config
from kfbootstrap.errors import UsageError


# Makefile parity: istio-ingressgateway 8080:80, grafana 3000:80, prometheus-server 9090:80,
# model-registry-service 8081:8080, minio 9000:9000 (the ports live in kfbootstrap/components.py).
TARGETS: dict[str, Target] = targets()


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
    preferred = config.release.object_store_service
    return (preferred,) + tuple(s for s in target.services if s != preferred)


def namespace_for(target: Target, config: Config) -> str:
    """Where the target's Service lives in the configured release (Kubeflow Hub puts the
    model registry in the profile namespace since 26.03.1)."""
    return next(t.namespace for c in for_release(config.release) for t in c.targets if t.name == target.name)


def enabled_targets(config: Config) -> list[Target]:
    """Targets whose component is switched on (and whose Kubeflow part is chosen), in table order."""
    from kfbootstrap.apps.plan import has_part

    enabled = set(config.components.enabled())
    return [t for t in TARGETS.values() if t.component in enabled and has_part(config, t.part)]


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
