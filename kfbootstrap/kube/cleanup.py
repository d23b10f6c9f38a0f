"""Delete what kfbootstrap applied, found by its label: `down --keep-cluster`.

For clusters we did not create (or want to keep): every object carrying
kfbootstrap.dev/managed-by=kfbootstrap is deleted, in an order that does not strand
anything: webhook configurations first (their servers are about to go, and a dead
webhook would block the other deletions), then custom resources while their
controllers still run to clear finalizers, then the remaining objects outside our
namespaces, then the namespaces (which take their contents along), CRDs last.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable

from kfbootstrap.kube.discovery import Resource
from kfbootstrap.kube.objects import CRD_KIND, MANAGED_SELECTOR, NAMESPACE_KIND, WEBHOOK_KINDS, ObjectRef
from kfbootstrap.kube.rest import METADATA_LIST_ACCEPT, KubeRequestError, KubeRest

log = logging.getLogger("kfbootstrap.cleanup")

# Groups of built-in kinds: anything else is a custom resource (deleted early, see above).
_BUILTIN_GROUPS = {
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "rbac.authorization.k8s.io",
    "networking.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "node.k8s.io",
    "certificates.k8s.io",
    "apiregistration.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "events.k8s.io",
}
ORDER = ("webhook configurations", "custom resources", "other objects", "namespaces", "CRDs")


@dataclass(frozen=True)
class Unlisted:
    """A kind that could not be listed (RBAC, a server that did not answer): objects of ours of that
    kind, if any, are still there."""

    resource: str  # as `kubectl auth can-i` names it, e.g. ipaddresspools.metallb.io
    namespaced: bool
    status: int  # the answer's HTTP status; 0: none came
    message: str
    hint: str


@dataclass
class DeleteReport:
    deleted: list[ObjectRef] = field(default_factory=list)
    failed: list[tuple[ObjectRef, str]] = field(default_factory=list)
    requests: int = 0
    unlisted: list[Unlisted] = field(default_factory=list)
    # The resource of each failed object, as `kubectl auth can-i` names it (for the hint).
    resources: dict[ObjectRef, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Found:
    resource: Resource
    ref: ObjectRef


def deletion_stage(ref: ObjectRef) -> int:
    """Index into ORDER for one object."""
    if ref.kind in WEBHOOK_KINDS:
        return 0
    if ref.kind == CRD_KIND:
        return 4
    if ref.kind == NAMESPACE_KIND and ref.api_version == "v1":
        return 3
    if ref.group not in _BUILTIN_GROUPS:
        return 1
    return 2


def plan_deletion(found: Iterable[ObjectRef]) -> list[list[ObjectRef]]:
    """Objects grouped by stage; objects inside a namespace we delete are left to the namespace."""
    refs = list(found)
    doomed = {ref.name for ref in refs if deletion_stage(ref) == 3}
    stages: list[list[ObjectRef]] = [[] for _ in ORDER]
    for ref in refs:
        stage = deletion_stage(ref)
        if stage == 2 and ref.namespace in doomed:
            continue
        stages[stage].append(ref)
    return stages


def delete_managed(
    rest: KubeRest, *, selector: str = MANAGED_SELECTOR, workers: int = 8, progress: Callable[[str], None] | None = None
) -> DeleteReport:
    """Find every object matching `selector` and delete it (background propagation, not waited for)."""
    before = rest.requests
    report = DeleteReport()
    items, report.unlisted = _find(rest, selector, workers)
    found = {item.ref: item for item in items}
    for number, stage in enumerate(plan_deletion(found)):
        if not stage:
            continue
        if progress:
            progress(f"deleting {len(stage)} {ORDER[number]}")
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kfb-delete") as pool:
            for ref, error in zip(stage, pool.map(lambda ref: _delete(rest, found[ref]), stage)):
                if error is None:
                    report.deleted.append(ref)
                else:
                    report.failed.append((ref, error))
                    report.resources[ref] = auth_name(found[ref].resource)
    report.requests = rest.requests - before
    return report


def _delete(rest: KubeRest, item: _Found) -> str | None:
    response = rest.request(
        "DELETE",
        item.resource.object_path(item.ref.namespace, item.ref.name),
        query={"propagationPolicy": "Background"},
    )
    if response.ok or response.status == 404:
        return None
    from kfbootstrap.kube.retry import status_message

    return status_message(response.body)[0]


def auth_name(resource: Resource) -> str:
    """The resource as `kubectl auth can-i` takes it: plural, then the group if any."""
    group = resource.api_version.rpartition("/")[0]
    return f"{resource.plural}.{group}" if group else resource.plural


def _find(rest: KubeRest, selector: str, workers: int) -> tuple[list[_Found], list[Unlisted]]:
    """Our objects of every kind, and the kinds that could not be listed."""
    resources = _listable_resources(rest)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kfb-find") as pool:
        batches = list(pool.map(lambda resource: _list(rest, resource, selector), resources))
    found = [item for batch, _ in batches for item in batch]
    return found, [unlisted for _, unlisted in batches if unlisted is not None]


# Answers to a list that mean no object of ours can be of that kind: it went away since discovery (404),
# or it belongs to an aggregated API whose server is down (503), and kfbootstrap applies no such kinds.
_NOTHING_OURS = (404, 503)
# A busy server throttles (429; our client gives up on one with Retry-After, which is status 0 then) or
# fails for a moment: asked again after 0.5, 1 and 2 s before the kind is called unlisted.
LIST_ATTEMPTS = 4


def _transient(exc: KubeRequestError) -> bool:
    """Worth asking again: throttled, a passing server error, a connection refused or reset; not a
    refusal (403) and not a server that did not answer in time (that would cost a timeout again)."""
    if exc.status:
        return exc.status in (429, 500, 502, 504)
    return exc.response.failure != "timeout"


def _list(rest: KubeRest, resource: Resource, selector: str) -> tuple[list[_Found], Unlisted | None]:
    for attempt in range(LIST_ATTEMPTS):
        try:
            listing = (
                rest.get_json(
                    resource.collection_path(None), query={"labelSelector": selector}, accept=METADATA_LIST_ACCEPT
                )
                or {}
            )
            break
        except KubeRequestError as exc:
            if exc.status in _NOTHING_OURS:
                log.info("skipping %s: %s", resource.plural, exc)
                return [], None
            if _transient(exc) and attempt + 1 < LIST_ATTEMPTS:
                log.debug("listing %s: %s (asking again)", resource.plural, exc.message)
                time.sleep(0.5 * 2**attempt)
                continue
            # Forbidden, or no answer: objects of ours of this kind would stay; the caller says so.
            log.info("could not list %s: %s", resource.plural, exc)
            return [], Unlisted(auth_name(resource), resource.namespaced, exc.status, exc.message, exc.hint or "")
    found = []
    for item in listing.get("items") or []:
        meta = item.get("metadata") or {}
        ref = ObjectRef(
            resource.api_version, resource.kind, meta.get("namespace") if resource.namespaced else None, meta["name"]
        )
        found.append(_Found(resource, ref))
    return found, None


def _listable_resources(rest: KubeRest) -> list[Resource]:
    """Every kind the server serves that can be listed and deleted, each once.

    A kind is taken in its group's preferred version when that version serves it, else in
    the first version that does: a group's preferred version need not serve all its kinds
    (MetalLB's preferred metallb.io/v1beta2 has only BGPPeer; IPAddressPool is v1beta1).
    """
    versions = ["v1"]
    groups = rest.get_json("/apis") or {}
    for group in groups.get("groups", []):
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        others = [v["groupVersion"] for v in group.get("versions", []) if v.get("groupVersion") != preferred]
        versions += ([preferred] if preferred else []) + others
    resources: list[Resource] = []
    seen: set[tuple[str, str]] = set()
    for api_version in versions:
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            listing = rest.get_json(path) or {}
        except KubeRequestError as exc:  # an aggregated API whose server is down
            log.info("skipping %s: %s", api_version, exc)
            continue
        group = api_version.rpartition("/")[0]
        for entry in listing.get("resources", []):
            verbs = set(entry.get("verbs") or [])
            if "/" in entry["name"] or not {"list", "delete"} <= verbs or (group, entry["kind"]) in seen:
                continue
            if api_version == "v1" and entry["kind"] in ("Event", "ComponentStatus", "Binding"):
                continue
            seen.add((group, entry["kind"]))
            resources.append(Resource(api_version, entry["kind"], entry["name"], bool(entry.get("namespaced"))))
    return resources
