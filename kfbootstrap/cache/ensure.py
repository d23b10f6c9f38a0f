"""Every configured image cache running as wanted: shared by `up`'s cache step and `images pull`
(which runs before any cluster), so it lives in the cache package, below both."""

from __future__ import annotations

from kfbootstrap import ui
from kfbootstrap.cache import credentials, proxies
from kfbootstrap.cache.registries import Mirror, mirrors_for
from kfbootstrap.config import Config
from kfbootstrap.errors import KfbError
from kfbootstrap.tools.docker import Containers


def cache_mirrors(config: Config) -> list[Mirror]:
    return mirrors_for(config.cache.registries)


def ensure_caches(
    config: Config, containers: Containers, runner, network: str | None, mirrors: list[Mirror] | None = None
) -> list[proxies.Outcome]:
    """Every configured cache running as wanted (shared with `images pull`, which runs before any cluster)."""
    outcomes = []
    for mirror in cache_mirrors(config) if mirrors is None else mirrors:
        outcomes.append(proxies.ensure(containers, wanted_for(config, mirror, runner), network, note=ui.info))
    return outcomes


def wanted_for(config: Config, mirror: Mirror, runner) -> proxies.Wanted:
    return proxies.Wanted(mirror, config.cache.image, credentials.lookup(mirror.registry, runner))


def ensure_what_can_run(
    config: Config, containers: Containers, runner, network: str
) -> tuple[list[proxies.Outcome], dict[str, str]]:
    """Like ensure_caches, but a cache that cannot start is reported, not raised: `up` must not stop
    for an optimisation, and nodes pointed only at caches that run pull the rest from the upstreams."""
    outcomes, failed = [], {}
    for mirror in cache_mirrors(config):
        try:
            outcomes += ensure_caches(config, containers, runner, network, [mirror])
        except KfbError as exc:
            failed[mirror.registry] = exc.message
    return outcomes, failed
