"""Which upstream registries are cached and what each cache is called.

Pure functions only: everything else in the cache package derives names from here,
so the container, its volume, the node's hosts.toml directory and the label that
finds it again can never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

NAME_PREFIX = "kfbootstrap-cache-"
LABEL = "dev.kfbootstrap.cache"  # value: the registry host the container caches
GENERATION_LABEL = "dev.kfbootstrap.cache.generation"  # on the volume: a fresh id each time it is made
PROXY_PORT = 5000  # the registry's API inside its container
DEBUG_PORT = 5001  # its debug server (/debug/vars: proxy hits and misses)


@dataclass(frozen=True)
class Mirror:
    """One cached upstream registry and the names of everything that belongs to its cache."""

    registry: str  # as images name it: docker.io, ghcr.io, localhost:5000
    remote: str  # where the proxy fetches from: https://registry-1.docker.io

    @property
    def slug(self) -> str:
        return slug(self.registry)

    @property
    def container(self) -> str:
        return NAME_PREFIX + self.slug

    @property
    def volume(self) -> str:
        return NAME_PREFIX + self.slug

    @property
    def endpoint(self) -> str:
        """The cache as nodes on the kind network reach it (Docker's DNS resolves container names)."""
        return f"http://{self.container}:{PROXY_PORT}"

    @property
    def server(self) -> str:
        """The upstream nodes fall back to when the cache does not answer."""
        return self.remote


def slug(registry: str) -> str:
    """docker.io -> docker-io, localhost:5000 -> localhost-5000: a valid container and volume name."""
    return re.sub(r"[^a-z0-9]+", "-", registry.lower()).strip("-")


def mirrors_for(upstreams: Mapping[str, str]) -> list[Mirror]:
    """One Mirror per configured upstream, in a stable order."""
    return [Mirror(registry, remote.rstrip("/")) for registry, remote in sorted(upstreams.items())]
