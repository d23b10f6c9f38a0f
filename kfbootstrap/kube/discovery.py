"""Which REST path serves a kind: the minimal discovery the apply engine needs.

One GET per group/version (not the ~80 of a full `kubectl api-resources`), cached,
and refreshed on demand when a kind was missing: a CRD that just became Established
is served a moment later, and the object waiting for it must see that.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from kfbootstrap.kube.objects import ObjectRef
from kfbootstrap.kube.rest import KubeRest, path_segment

# A not-served answer is re-asked at most this often per group/version, however many
# objects wait for it.
REFRESH_AFTER = 1.0


@dataclass(frozen=True)
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def base_path(self) -> str:
        return f"/api/{self.api_version}" if self.api_version == "v1" else f"/apis/{self.api_version}"

    def collection_path(self, namespace: str | None) -> str:
        if self.namespaced and namespace:
            return f"{self.base_path()}/namespaces/{path_segment(namespace)}/{self.plural}"
        return f"{self.base_path()}/{self.plural}"

    def object_path(self, namespace: str | None, name: str) -> str:
        return f"{self.collection_path(namespace)}/{path_segment(name)}"


class KindNotServed(Exception):
    """The API server does not serve this kind (yet): its CRD is missing or not Established."""

    def __init__(self, api_version: str, kind: str, detail: str):
        self.detail = detail
        super().__init__(f"{kind} in {api_version} is not served: {detail}")


class Discovery:
    """Thread-safe cache of group/version -> {kind: Resource}."""

    def __init__(self, rest: KubeRest, clock: Callable[[], float] = time.monotonic, known: Iterable[Resource] = ()):
        """`known`: resources we can name without asking, i.e. those of CRDs in the set being applied."""
        self.rest = rest
        self.clock = clock
        self._known = {(r.api_version, r.kind): r for r in known}
        self._lock = threading.Lock()
        self._gv_locks: dict[str, threading.Lock] = {}
        self._cache: dict[str, tuple[float, dict[str, Resource] | None]] = {}
        self._generation: dict[str, int] = {}

    def resource(self, api_version: str, kind: str, *, refresh: bool = False) -> Resource:
        """The Resource serving `kind`; raises KindNotServed when there is none.

        With `refresh`, a cached answer older than REFRESH_AFTER is asked again.
        """
        if (api_version, kind) in self._known:
            return self._known[(api_version, kind)]
        kinds = self._kinds(api_version, refresh)
        if kinds is None:
            raise KindNotServed(api_version, kind, f"the server has no API group/version {api_version}")
        found = kinds.get(kind)
        if found is None:
            raise KindNotServed(api_version, kind, f"{api_version} has no kind {kind}")
        return found

    def invalidate(self, api_version: str) -> None:
        """Forget a group/version (a CRD of it just became Established); a fetch under way is not cached."""
        with self._lock:
            self._cache.pop(api_version, None)
            self._generation[api_version] = self._generation.get(api_version, 0) + 1

    def _kinds(self, api_version: str, refresh: bool) -> dict[str, Resource] | None:
        with self._lock:
            lock = self._gv_locks.setdefault(api_version, threading.Lock())
        with lock:  # one fetch per group/version at a time; the others reuse its answer
            cached = self._cache.get(api_version)
            stale = cached is not None and refresh and self.clock() - cached[0] >= REFRESH_AFTER
            if cached is None or stale:
                generation = self._generation.get(api_version, 0)
                cached = (self.clock(), self._fetch(api_version))
                with self._lock:
                    if self._generation.get(api_version, 0) == generation:
                        self._cache[api_version] = cached
            return cached[1]

    def _fetch(self, api_version: str) -> dict[str, Resource] | None:
        path = f"/api/{api_version}" if api_version == "v1" else f"/apis/{api_version}"
        listing = self.rest.get_json(path)
        if listing is None:
            return None
        kinds: dict[str, Resource] = {}
        for entry in listing.get("resources", []):
            if "/" in entry.get("name", ""):
                continue  # subresources such as deployments/status
            kinds.setdefault(
                entry["kind"], Resource(api_version, entry["kind"], entry["name"], bool(entry.get("namespaced")))
            )
        return kinds


def scoped_ref(resource: Resource, ref: ObjectRef, default_namespace: str | None) -> ObjectRef:
    """The object's real identity once we know whether its kind is namespaced."""
    if resource.namespaced:
        return ObjectRef(ref.api_version, ref.kind, ref.namespace or default_namespace or "default", ref.name)
    return ObjectRef(ref.api_version, ref.kind, None, ref.name)


def crd_resources(crd: Mapping[str, Any]) -> list[Resource]:
    """The resources a CRD will serve, one per served version, read from its spec.

    Custom resources of a CRD in the same apply need no discovery request: their path
    is known from the CRD itself, and discovery may lag the CRD's Established status.
    """
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    if not spec.get("group") or not names.get("kind") or not names.get("plural"):
        return []
    return [
        Resource(
            f"{spec['group']}/{version['name']}",
            str(names["kind"]),
            str(names["plural"]),
            spec.get("scope", "Namespaced") == "Namespaced",
        )
        for version in spec.get("versions") or []
        if version.get("served", True) and version.get("name")
    ]
