"""Move every custom resource of a CRD to its storage version, then say so in status.storedVersions.

A CRD update that removes a version `status.storedVersions` still lists is refused, and
objects stored at a version nobody serves any more could not be read. The cure is the
one kube-storage-version-migrator applies: read each object and write it back unchanged,
which the API server stores at the current storage version; then storedVersions can be
set to just that version. When the new CRD drops a stored version outright, an
intermediate CRD (the new one, plus the dropped versions still listed but unserved) is
applied first so the migration can run before the final apply.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from kfbootstrap.kube.rest import APPLY_PATCH, KubeRest

log = logging.getLogger("kfbootstrap.crds")

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


@dataclass(frozen=True)
class Migration:
    """One CRD whose stored versions must be moved to `storage`."""

    crd: str
    stored: tuple[str, ...]
    storage: str
    dropped: tuple[str, ...]  # stored versions the new CRD no longer lists: migrated before the apply

    def describe(self) -> str:
        when = (
            "before the apply (the new CRD drops " + ", ".join(self.dropped) + ")"
            if self.dropped
            else "after the apply"
        )
        return f"{self.crd}: stored {', '.join(self.stored)} -> {self.storage}, {when}"


def storage_version(crd: Mapping[str, Any]) -> str:
    return next((v["name"] for v in (crd.get("spec") or {}).get("versions") or [] if v.get("storage")), "")


def needed(live: Mapping[str, Any] | None, new: Mapping[str, Any]) -> Migration | None:
    """The migration `new` calls for over the live CRD, or None (no CRD yet, or stored only at the storage version)."""
    if live is None:
        return None
    stored = tuple((live.get("status") or {}).get("storedVersions") or ())
    storage = storage_version(new)
    if not storage or set(stored) <= {storage}:
        return None
    listed = {v["name"] for v in (new.get("spec") or {}).get("versions") or []}
    return Migration(new["metadata"]["name"], stored, storage, tuple(v for v in stored if v not in listed))


def intermediate(new: Mapping[str, Any], live: Mapping[str, Any], dropped: tuple[str, ...]) -> dict[str, Any]:
    """The new CRD plus the dropped versions as they are live, unserved and not the storage version."""
    crd = copy.deepcopy(dict(new))
    live_versions = {v["name"]: v for v in (live.get("spec") or {}).get("versions") or []}
    for name in dropped:
        kept = copy.deepcopy(
            live_versions.get(name) or {"name": name, "schema": {"openAPIV3Schema": {"type": "object"}}}
        )
        kept.update({"served": False, "storage": False})
        crd["spec"]["versions"].append(kept)
    return crd


def migrate(
    rest: KubeRest,
    migration: Migration,
    *,
    field_manager: str,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Rewrite every object of the CRD at its storage version, then set storedVersions; returns how many.

    Retries until `deadline` while the API cannot answer at the storage version (a conversion
    webhook not serving yet); raises the last error then.
    """
    crd = rest.get_json(f"{CRD_PATH}/{migration.crd}")
    spec = crd["spec"]
    base = f"/apis/{spec['group']}/{migration.storage}"
    plural = spec["names"]["plural"]
    while True:
        listing = rest.request("GET", f"{base}/{plural}")
        if listing.ok:
            break
        if clock() >= deadline:
            raise rest.failed("GET", f"{base}/{plural}", listing)
        time.sleep(1.0)
    items = listing.json().get("items") or []
    for item in items:
        meta = item["metadata"]
        where = f"/namespaces/{meta['namespace']}" if meta.get("namespace") else ""
        path = f"{base}{where}/{plural}/{meta['name']}"
        answer = rest.request("PUT", path, body=item, content_type="application/json")
        if not answer.ok and answer.status not in (404, 409):  # gone or changed meanwhile: written anew anyway
            raise rest.failed("PUT", path, answer)
    status = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": migration.crd},
        "status": {"storedVersions": [migration.storage]},
    }
    answer = rest.request(
        "PATCH",
        f"{CRD_PATH}/{migration.crd}/status",
        query={"fieldManager": field_manager, "force": "true"},
        body=json.dumps(status).encode(),
        content_type=APPLY_PATCH,
    )
    if not answer.ok:
        raise rest.failed("PATCH", f"{CRD_PATH}/{migration.crd}/status", answer)
    log.info("migrated %d objects of %s to %s", len(items), migration.crd, migration.storage)
    return len(items)
