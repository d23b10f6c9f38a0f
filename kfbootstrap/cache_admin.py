"""The pull-through image caches as `cache status`, `cache prune`, `images pull` and
`down --purge-cache` handle them, on this machine's Docker.

The caches outlive every cluster on purpose (the next cluster pulls nothing); these are the
ways to look at them, empty them and drop them. The command line says what happened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from kfbootstrap.config import Config

if TYPE_CHECKING:
    from kfbootstrap.cache.registries import Mirror
    from kfbootstrap.cache.report import CacheReport
    from kfbootstrap.tools.runner import Runner


def require_docker(runner: "Runner", consequence: str) -> None:
    """Fail, saying `consequence`, unless the Docker daemon answers: before anything that reads or
    removes containers, where a silent daemon would look like "nothing there"."""
    from kfbootstrap.tools.docker import require_docker as docker_answers

    docker_answers(runner, consequence)


def reports(runner: "Runner", mirrors: list["Mirror"]) -> list["CacheReport"]:
    """Each cache: running or not, size on disk, images held, hits and misses since it started."""
    from kfbootstrap.cache.report import collect
    from kfbootstrap.tools.docker import Containers

    return collect(Containers(runner), mirrors)


def prune(
    config: Config, runner: "Runner", mirrors: list["Mirror"], on_emptied: Callable[[str, list[str]], None]
) -> int:
    """Empty each mirror's cache (`on_emptied(registry, removed)` after each); those that were running
    start again, empty, so nodes keep pointing at them. Returns how many were restarted."""
    from kfbootstrap.cache import proxies
    from kfbootstrap.cache.ensure import ensure_caches
    from kfbootstrap.tools.docker import Containers

    containers = Containers(runner)
    were_running = [m for m in mirrors if (s := containers.inspect(m.container)) is not None and s.running]
    for mirror in mirrors:
        on_emptied(mirror.registry, proxies.purge(containers, mirror))
    if were_running:
        network = config.cache.network if containers.network_exists(config.cache.network) else None
        only_those = config.cache.model_copy(update={"registries": {m.registry: m.remote for m in were_running}})
        ensure_caches(config.model_copy(update={"cache": only_those}), containers, runner, network)
    return len(were_running)


def purge_all(config: Config, runner: "Runner") -> list[str]:
    """Remove every configured cache with its volume (every cached layer; other clusters lose them too)."""
    from kfbootstrap.cache import proxies
    from kfbootstrap.cache.ensure import cache_mirrors
    from kfbootstrap.tools.docker import Containers

    containers = Containers(runner)
    return [item for mirror in cache_mirrors(config) for item in proxies.purge(containers, mirror)]
