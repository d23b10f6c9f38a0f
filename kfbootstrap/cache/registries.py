"""Which upstream registries are cached, how an image names its registry, and what each cache is called.

Pure functions only: everything else in the cache package derives names from here,
so the container, its volume, the node's hosts.toml directory and the label that
finds it again can never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

# The registries a Kubeflow install pulls from (26.03.1 `example`: six of them), and
# the URL each one's API really lives at (Docker Hub's is not docker.io).
DEFAULT_UPSTREAMS: dict[str, str] = {
    "docker.io": "https://registry-1.docker.io",
    "ghcr.io": "https://ghcr.io",
    "gcr.io": "https://gcr.io",
    "quay.io": "https://quay.io",
    "registry.k8s.io": "https://registry.k8s.io",
    "registry.istio.io": "https://registry.istio.io",
}
DOCKER_HUB = "docker.io"
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


@dataclass(frozen=True)
class ImageRef:
    """An image reference split the way containerd resolves it."""

    registry: str
    repository: str  # library/nginx for Docker Hub's official images
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """What the manifest is fetched by: the digest when pinned, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image(image: str) -> ImageRef:
    """Docker's normalisation: no registry part means Docker Hub, one-part names get library/."""
    rest, _, digest = image.partition("@")
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = DOCKER_HUB
    name, tag = path, None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = path.rsplit(":", 1)
    if registry == DOCKER_HUB and "/" not in name:
        name = f"library/{name}"
    if not tag and not digest:
        tag = "latest"
    return ImageRef(registry, name, tag, digest or None)
