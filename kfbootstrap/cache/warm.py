"""`images pull`: pull every image of the release through its cache, so the next `up` needs no upstream.

Each image is fetched from its registry's cache on 127.0.0.1 the way a node would
fetch it (index, then the manifest of the nodes' platform, its config and layers),
and every blob is read to its end, which makes the cache keep it. Finished images
are recorded in a state file keyed by the cache volume's generation label, so an
interrupted run resumes where it stopped and a purged cache is warmed again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kfbootstrap.cache.client import Manifest, RegistryClient
from kfbootstrap.image_refs import ImageRef


@dataclass
class PullTotals:
    images: int = 0
    skipped: int = 0  # already pulled by an earlier run
    failed: dict[str, str] = field(default_factory=dict)
    bytes: int = 0


def platform_manifest(index: Manifest, architecture: str) -> str:
    """The digest of the linux/<architecture> manifest of an index (nodes are linux, on Docker's architecture)."""
    for entry in index.body.get("manifests") or []:
        platform = entry.get("platform") or {}
        if platform.get("os") == "linux" and platform.get("architecture") == architecture:
            return str(entry["digest"])
    available = sorted(
        {
            f"{(e.get('platform') or {}).get('os')}/{(e.get('platform') or {}).get('architecture')}"
            for e in index.body.get("manifests") or []
        }
    )
    raise LookupError(f"no linux/{architecture} image (has {', '.join(available) or 'none'})")


def blobs_of(manifest: Manifest) -> list[tuple[str, int]]:
    """(digest, size) of the config and every layer of a single-platform manifest."""
    parts = [manifest.body.get("config") or {}, *(manifest.body.get("layers") or [])]
    return [(str(p["digest"]), int(p.get("size") or 0)) for p in parts if p.get("digest")]


def pull_one(
    client: RegistryClient,
    ref: ImageRef,
    architecture: str,
    on_size: Callable[[int], None],
    on_bytes: Callable[[int], None],
) -> int:
    """Pull one image through the cache; returns the bytes read. `on_size` learns the image's size first."""
    manifest = client.manifest(ref.repository, ref.reference)
    if manifest.is_index:
        manifest = client.manifest(ref.repository, platform_manifest(manifest, architecture))
    blobs = blobs_of(manifest)
    on_size(sum(size for _, size in blobs))
    return sum(client.read_blob(ref.repository, digest, on_bytes) for digest, _ in blobs)


class PullState:
    """Which images an earlier run finished, per cache volume generation."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.data = {}

    def done(self, image: str, generation: str) -> bool:
        return self.data.get(image) == generation

    def mark(self, image: str, generation: str) -> None:
        self.data[image] = generation
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(self.data, indent=1, sort_keys=True), encoding="utf-8")
        partial.replace(self.path)  # an interrupted write never loses earlier progress
