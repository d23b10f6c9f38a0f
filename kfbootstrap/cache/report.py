"""`cache status`: for each configured cache, is it running, how big is it, what does it hold, how often it hit."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kfbootstrap.cache.client import RegistryClient, RegistryUnreachable, proxy_counters
from kfbootstrap.cache.registries import DEBUG_PORT, PROXY_PORT, Mirror
from kfbootstrap.tools.docker import Containers


@dataclass
class CacheReport:
    registry: str
    container: str
    state: str  # running, exited, missing
    size_bytes: int = 0
    repositories: int | None = None  # images (repositories) held; None: could not ask (not running)
    hits: dict[str, dict[str, int]] = field(default_factory=dict)  # since the container started
    upstream: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def collect(containers: Containers, mirrors: list[Mirror], with_contents: bool = True) -> list[CacheReport]:
    sizes = containers.volume_sizes()
    reports = []
    for mirror in mirrors:
        state = containers.inspect(mirror.container)
        report = CacheReport(
            mirror.registry,
            mirror.container,
            "missing" if state is None else ("running" if state.running else state.status),
            sizes.get(mirror.volume, 0),
            upstream=mirror.remote,
        )
        if state is not None and state.running and with_contents:
            _contents(containers, mirror, report)
        reports.append(report)
    return reports


def _contents(containers: Containers, mirror: Mirror, report: CacheReport) -> None:
    port = containers.host_port(mirror.container, PROXY_PORT)
    if port is not None:
        client = RegistryClient(f"http://127.0.0.1:{port}", timeout=15)
        try:
            # The catalog is the cache's own storage; tags/list would ask the upstream, so it is not used.
            report.repositories = len(client.catalog())
        except RegistryUnreachable:
            pass
    debug = containers.host_port(mirror.container, DEBUG_PORT)
    if debug is not None:
        report.hits = proxy_counters(f"http://127.0.0.1:{debug}")


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
