"""Which platforms an image is published for, read from its registry's image index.

Kind nodes run the Docker host's architecture; an image published only for amd64
fails on arm64 nodes with "exec format error" (upstream's pipelines images in 1.11).
An image index (OCI index or Docker manifest list) lists its platforms; a plain
manifest has one, named by its config blob. Registries want an anonymous bearer
token first (the WWW-Authenticate challenge says where to get it). Every answer that
is not one of those (unreachable, refused, unknown format) is "cannot tell", with why.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Mapping

from kfbootstrap.image_refs import DEFAULT_UPSTREAMS, ImageRef

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json")
_LOCAL = ("127.0.0.1", "localhost", "[::1]")


class CannotTell(Exception):
    """The registry did not say (the message says why)."""


@dataclass
class Platforms:
    """What was found for a set of images: platforms per image, or why it cannot be told."""

    found: dict[str, set[str]] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)

    def lacking(self, architecture: str) -> list[str]:
        return sorted(image for image, platforms in self.found.items() if f"linux/{architecture}" not in platforms)


def registry_url(registry: str, upstreams: Mapping[str, str] | None = None) -> str:
    """Where a registry's API lives: the configured upstream, plain http for a loopback one, else https."""
    upstreams = DEFAULT_UPSTREAMS if upstreams is None else upstreams
    if registry in upstreams:
        return upstreams[registry].rstrip("/")
    host = registry.rsplit(":", 1)[0] if not registry.startswith("[") else registry.split("]")[0] + "]"
    return f"{'http' if host in _LOCAL else 'https'}://{registry}"


class IndexReader:
    """Reads manifests with the anonymous-token dance, one token per repository."""

    def __init__(self, timeout: float = 10.0):
        self.timeout = timeout

    def platforms(self, base: str, ref: ImageRef) -> set[str]:
        body, media_type, token = self._manifest(base, ref.repository, ref.reference)
        if media_type in INDEX_TYPES or "manifests" in body:
            return {
                _platform(entry.get("platform") or {})
                for entry in body.get("manifests") or []
                if (entry.get("platform") or {}).get("architecture") not in (None, "unknown")
            }
        if media_type in MANIFEST_TYPES or "config" in body:
            digest = (body.get("config") or {}).get("digest")
            if not digest:
                raise CannotTell("its manifest names no config")
            config = json.loads(self._get(f"{base}/v2/{ref.repository}/blobs/{digest}", "*/*", token)[0])
            return {_platform(config)}
        raise CannotTell(f"unknown manifest type {media_type or '(none)'}")

    def _manifest(self, base: str, repository: str, reference: str) -> tuple[dict, str, str | None]:
        url = f"{base}/v2/{repository}/manifests/{reference}"
        accept = ", ".join(INDEX_TYPES + MANIFEST_TYPES)
        try:
            data, media_type = self._get(url, accept, None)
            return json.loads(data), media_type, None
        except _Challenge as challenge:
            token = self._token(challenge.header, repository)
            data, media_type = self._get(url, accept, token)
            return json.loads(data), media_type, token

    def _get(self, url: str, accept: str, token: str | None) -> tuple[bytes, str]:
        request = urllib.request.Request(url, headers={"Accept": accept})
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - registries only
                return response.read(4 << 20), response.headers.get("Content-Type", "").split(";")[0].strip()
        except urllib.error.HTTPError as exc:
            if exc.code == 401 and token is None and "bearer" in exc.headers.get("WWW-Authenticate", "").lower():
                raise _Challenge(exc.headers["WWW-Authenticate"]) from None
            raise CannotTell(f"HTTP {exc.code} from {urllib.parse.urlsplit(url).netloc}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise CannotTell(
                f"{urllib.parse.urlsplit(url).netloc} unreachable: {getattr(exc, 'reason', exc)}"
            ) from None

    def _token(self, header: str, repository: str) -> str:
        params = _challenge_params(header)
        realm = params.pop("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise CannotTell("the registry's token challenge names no realm")
        params.setdefault("scope", f"repository:{repository}:pull")
        data, _ = self._get(f"{realm}?{urllib.parse.urlencode(params)}", "application/json", None)
        try:
            answer = json.loads(data)
        except ValueError:
            raise CannotTell("the registry's token answer is not JSON") from None
        token = answer.get("token") or answer.get("access_token") if isinstance(answer, dict) else None
        if not token:
            raise CannotTell("the registry gave no anonymous token")
        return str(token)


class _Challenge(Exception):
    def __init__(self, header: str):
        super().__init__(header)
        self.header = header


def _challenge_params(header: str) -> dict[str, str]:
    """realm, service and scope from `Bearer realm="…",service="…",scope="…"`."""
    _, _, rest = header.partition(" ")
    params = {}
    for part in urllib.request.parse_http_list(rest):
        key, _, value = part.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return params


def _platform(entry: Mapping) -> str:
    return f"{entry.get('os', 'linux')}/{entry.get('architecture', 'unknown')}"


def lookup(
    images: Mapping[str, ImageRef],
    upstreams: Mapping[str, str] | None = None,
    deadline: float = 30.0,
    workers: int = 8,
    reader: IndexReader | None = None,
) -> Platforms:
    """Platforms of every image, in parallel, all within `deadline` seconds (the rest: cannot tell)."""
    reader = reader or IndexReader()
    result = Platforms()
    pool = ThreadPoolExecutor(max_workers=workers)
    futures = {
        pool.submit(reader.platforms, registry_url(ref.registry, upstreams), ref): image
        for image, ref in images.items()
    }
    done, pending = wait(futures, timeout=deadline)
    for future in done:
        image = futures[future]
        try:
            result.found[image] = future.result()
        except CannotTell as why:
            result.unknown[image] = str(why)
        except ValueError:
            result.unknown[image] = "its registry's answer is not JSON"
    for future in pending:
        future.cancel()
        result.unknown[futures[future]] = f"no answer within {deadline:.0f}s"
    pool.shutdown(wait=False, cancel_futures=True)
    return result
