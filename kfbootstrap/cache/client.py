"""A small registry v2 HTTP client for talking to our own caches on 127.0.0.1.

Only what warming and inspecting a cache needs: ping, manifests (index or single),
blobs read to the end (so the cache stores them), the catalog and the debug server's
counters. The cache does any upstream authentication itself.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPES = MANIFEST_TYPES[:2]
_CHUNK = 1 << 20


class RegistryUnreachable(Exception):
    """The cache did not answer (or answered an error we cannot use)."""


@dataclass(frozen=True)
class Manifest:
    media_type: str
    digest: str
    body: dict[str, Any]
    size: int

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES or "manifests" in self.body


class RegistryClient:
    def __init__(self, base_url: str, timeout: float = 60.0):
        self.base = base_url.rstrip("/")
        self.timeout = timeout

    def _open(self, path: str, accept: str | None = None, method: str = "GET"):
        request = urllib.request.Request(self.base + path, method=method)
        if accept:
            request.add_header("Accept", accept)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)  # noqa: S310 - our own 127.0.0.1 cache
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace").strip()
            raise RegistryUnreachable(f"{method} {path}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise RegistryUnreachable(f"{method} {path}: {getattr(exc, 'reason', exc)}") from None

    def ping(self) -> None:
        with self._open("/v2/"):
            pass

    def manifest(self, repository: str, reference: str) -> Manifest:
        with self._open(f"/v2/{repository}/manifests/{reference}", accept=", ".join(MANIFEST_TYPES)) as response:
            data = response.read()
            media_type = response.headers.get("Content-Type", "").split(";")[0]
            digest = response.headers.get("Docker-Content-Digest", "")
        return Manifest(media_type, digest, json.loads(data), len(data))

    def read_blob(self, repository: str, digest: str, progress: Callable[[int], None] = lambda _: None) -> int:
        """Read a blob to its end (the cache keeps what it served); returns its size."""
        total = 0
        with self._open(f"/v2/{repository}/blobs/{digest}") as response:
            while chunk := response.read(_CHUNK):
                total += len(chunk)
                progress(len(chunk))
        return total

    def catalog(self, page: int = 1000) -> list[str]:
        with self._open(f"/v2/_catalog?n={page}") as response:
            return list(json.loads(response.read()).get("repositories") or [])


def proxy_counters(debug_url: str) -> dict[str, dict[str, int]]:
    """The proxy's hits and misses since it started ({"blobs": {...}, "manifests": {...}}), from /debug/vars."""
    try:
        with urllib.request.urlopen(debug_url.rstrip("/") + "/debug/vars", timeout=10) as response:  # noqa: S310
            data = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return {}
    proxy = (data.get("registry") or {}).get("proxy") or {}
    return {kind: {k: int(v) for k, v in (proxy.get(kind) or {}).items()} for kind in ("blobs", "manifests")}
