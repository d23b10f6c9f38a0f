"""The record, in the cluster, of what kfbootstrap applied: an ApplySet (KEP-3659), as `kubectl apply --applyset` keeps it.

The parent is ConfigMap kube-system/<name> labelled `applyset.kubernetes.io/id` with the id
the convention derives from the parent's name, namespace, kind and group; each applied
object carries `applyset.kubernetes.io/part-of: <id>`; the parent's annotations list the
group-kinds and namespaces members live in, so the members can be listed (and pruned) by
label, never by name. Beyond the convention the parent's data says what was installed
(release, apps, sizing) and a digest of each member as sent, so a plan can tell changed
objects from unchanged ones without a request per object.

While an upgrade runs, `contains-group-kinds` is the union of the old and new sets (as
kubectl writes it before applying), so an interrupted run's members can still be found.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from kfbootstrap import __version__
from kfbootstrap.kube.api import CONFIGMAPS
from kfbootstrap.kube.discovery import Resource
from kfbootstrap.kube.objects import COMPONENT_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, ObjectRef
from kfbootstrap.kube.rest import METADATA_LIST_ACCEPT, KubeRequestError

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube
    from kfbootstrap.kube.rest import KubeRest

log = logging.getLogger("kfbootstrap.applyset")

ID_LABEL = "applyset.kubernetes.io/id"
PART_OF_LABEL = "applyset.kubernetes.io/part-of"
TOOLING = "applyset.kubernetes.io/tooling"
GROUP_KINDS = "applyset.kubernetes.io/contains-group-kinds"
NAMESPACES = "applyset.kubernetes.io/additional-namespaces"
PARENT_NAMESPACE = "kube-system"
FIELD_MANAGER = "kfbootstrap-applyset"


def parent_name(component: str) -> str:
    return f"kfbootstrap-{component}-applyset"


def applyset_id(name: str, namespace: str, kind: str = "ConfigMap", group: str = "") -> str:
    """The id KEP-3659 defines: applyset-<base64url(sha256(name.namespace.kind.group)), unpadded>-v1."""
    digest = hashlib.sha256(f"{name}.{namespace}.{kind}.{group}".encode()).digest()
    return f"applyset-{base64.urlsafe_b64encode(digest).decode().rstrip('=')}-v1"


def group_kind(ref: ObjectRef) -> str:
    """'Deployment.apps', 'ConfigMap' (core kinds have no group): the annotation's spelling."""
    return f"{ref.kind}.{ref.group}" if ref.group else ref.kind


def object_digest(obj: Mapping[str, Any]) -> str:
    """A short digest of an object exactly as sent: equal digests, nothing to change."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


@dataclass
class Record:
    """What one component's ApplySet parent says."""

    component: str
    release: str = ""
    apps: list[str] = field(default_factory=list)
    sizing: str = ""
    members: dict[str, str] = field(default_factory=dict)  # str(ref) -> digest as sent
    api_versions: dict[str, str] = field(default_factory=dict)  # group-kind -> apiVersion we applied it as
    group_kinds: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    upgrading_to: str = ""  # set while an upgrade runs: an interrupted one is finished by the next `up`
    steps_done: list[str] = field(default_factory=list)  # release steps already carried out by that upgrade

    @property
    def id(self) -> str:
        return applyset_id(parent_name(self.component), PARENT_NAMESPACE)


_DATA_KEYS = ("release", "apps", "sizing", "members", "api_versions", "upgrading_to", "steps_done")


def read_record(kube: "Kube", component: str) -> Record | None:
    """The component's record, or None when nothing was recorded (or it is not ours)."""
    parent = kube.get(CONFIGMAPS, parent_name(component), PARENT_NAMESPACE)
    if parent is None:
        return None
    meta = parent.get("metadata") or {}
    record = Record(component)
    if (meta.get("labels") or {}).get(ID_LABEL) != record.id:
        return None
    annotations = meta.get("annotations") or {}
    record.group_kinds = _split(annotations.get(GROUP_KINDS))
    record.namespaces = _split(annotations.get(NAMESPACES))
    data = parent.get("data") or {}
    for key in _DATA_KEYS:
        if key in data:
            try:
                setattr(record, key, json.loads(data[key]))
            except ValueError:
                log.warning("applyset %s: unreadable %s, ignored", component, key)
    return record


def write_record(kube: "Kube", record: Record) -> None:
    """Write the parent whole (one field manager owns every field of it)."""
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": parent_name(record.component),
            "namespace": PARENT_NAMESPACE,
            "labels": {ID_LABEL: record.id, MANAGED_BY_LABEL: MANAGED_BY_VALUE, COMPONENT_LABEL: "state"},
            "annotations": {
                TOOLING: f"kfbootstrap/v{__version__}",
                GROUP_KINDS: ",".join(sorted(set(record.group_kinds))),
                NAMESPACES: ",".join(sorted(set(record.namespaces))),
            },
        },
        "data": {key: json.dumps(getattr(record, key), sort_keys=True) for key in _DATA_KEYS},
    }
    kube.apply(CONFIGMAPS, body, field_manager=FIELD_MANAGER, namespace=PARENT_NAMESPACE)


def _split(text: str | None) -> list[str]:
    return [part for part in (text or "").split(",") if part]


@dataclass(frozen=True)
class Member:
    """An object carrying the set's part-of label, as the server lists it."""

    ref: ObjectRef
    resource: Resource
    labels: Mapping[str, str]
    deleting: bool = False


def list_members(rest: "KubeRest", record: Record) -> list[Member]:
    """Every object labelled part of `record`'s set, in each group-kind the parent names (cluster-wide lists)."""
    selector = f"{PART_OF_LABEL}={record.id}"
    found: list[Member] = []
    for resource in _resources(rest, record):
        try:
            listing = rest.get_json(
                resource.collection_path(None), query={"labelSelector": selector}, accept=METADATA_LIST_ACCEPT
            )
        except KubeRequestError as exc:
            log.info("applyset: could not list %s: %s", resource.plural, exc.message)
            continue
        for item in (listing or {}).get("items") or []:
            meta = item.get("metadata") or {}
            namespace = meta.get("namespace") if resource.namespaced else None
            ref = ObjectRef(resource.api_version, resource.kind, namespace, meta["name"])
            found.append(Member(ref, resource, meta.get("labels") or {}, bool(meta.get("deletionTimestamp"))))
    return found


def _resources(rest: "KubeRest", record: Record) -> Iterable[Resource]:
    """The served resource of each group-kind: the apiVersion we applied it as, else the group's preferred one."""
    from kfbootstrap.kube.discovery import Discovery, KindNotServed

    discovery = Discovery(rest)
    for group_kind_name in sorted(set(record.group_kinds)):
        kind, _, group = group_kind_name.partition(".")
        candidates = [record.api_versions.get(group_kind_name, ""), _preferred(rest, group)]
        for api_version in [c for c in candidates if c]:
            try:
                yield discovery.resource(api_version, kind)
                break
            except (KindNotServed, KubeRequestError):
                continue


def _preferred(rest: "KubeRest", group: str) -> str:
    if not group:
        return "v1"
    try:
        listing = rest.get_json(f"/apis/{group}") or {}
    except KubeRequestError:
        return ""
    return str((listing.get("preferredVersion") or {}).get("groupVersion") or "")
