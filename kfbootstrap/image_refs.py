"""How an image reference names its registry, and the registries a Kubeflow install pulls from.

Pure data and parsing, below config and images: the config's default upstreams and the
image lists both need them, and neither may reach up into the image cache for them.
"""

from __future__ import annotations

from dataclasses import dataclass

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
