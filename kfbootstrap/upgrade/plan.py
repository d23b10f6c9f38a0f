"""What `up` will change on an installed platform, worked out before anything is touched.

Inputs: the ApplySet record in the cluster (kfbootstrap/kube/applyset.py: what was applied,
for which release, with a digest per object), the objects the new render applies, and the
live cluster (read only). Output: per app, the objects added, changed, removed and
re-created (an immutable field changes); the CRD storedVersions migrations; the release's
manual steps still to do; and what is kept although the new render lacks it, with why.
`up --dry-run` prints it; `up` carries out the same plan (kfbootstrap/upgrade/carry_out.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from kfbootstrap.kube.applyset import Member, Record, list_members, object_digest
from kfbootstrap.kube.crd_migration import Migration, needed
from kfbootstrap.kube.discovery import Discovery, KindNotServed, crd_resources, scoped_ref
from kfbootstrap.kube.immutable import predicted
from kfbootstrap.kube.objects import CRD_KIND, NAMESPACE_KIND, ObjectRef, ref_of
from kfbootstrap.kube.rest import KubeRequestError
from kfbootstrap.releases import RELEASES, UpgradeStep, is_older

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube
    from kfbootstrap.kube.rest import KubeRest

NO_PART = "(common)"
USERS_OBJECTS = "objects without kfbootstrap's ApplySet label (users' Profiles, notebooks, PVCs, runs): never touched"
PART_LABEL = "kfbootstrap.dev/part"  # kfbootstrap/apps/select.py labels each object with its app


@dataclass
class AppChanges:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)  # "Deployment/x/y (spec.selector)"

    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed or self.recreated)


@dataclass
class Target:
    """What this run installs."""

    release: str
    apps: list[str]
    sizing: str
    objects: Sequence[Mapping[str, Any]]
    part_of: Sequence[str]  # each object's app, or "" where there is none
    dropped_parts: Sequence[str] = ()  # apps no longer chosen that are kept (kubeflow.remove_dropped off)


@dataclass
class Plan:
    component: str
    target: Target
    record: Record | None
    apps: dict[str, AppChanges] = field(default_factory=dict)
    prune: list[Member] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)  # (object, why)
    migrations: list[Migration] = field(default_factory=list)
    steps: list[UpgradeStep] = field(default_factory=list)
    refs: dict[str, ObjectRef] = field(default_factory=dict)  # str(ref) of each new object, as the server names it

    @property
    def installed(self) -> str:
        return self.record.release if self.record else ""

    @property
    def changes_release(self) -> bool:
        return bool(self.installed) and self.installed != self.target.release

    @property
    def downgrade(self) -> bool:
        return self.changes_release and is_older(self.target.release, self.installed)

    def counts(self) -> dict[str, int]:
        return {
            kind: sum(len(getattr(app, kind)) for app in self.apps.values())
            for kind in ("added", "changed", "removed", "recreated")
        }

    def summary(self) -> str:
        counts = self.counts()
        text = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        extra = [f"{len(self.migrations)} CRD migrations"] if self.migrations else []
        extra += [f"{len(self.steps)} release steps"] if self.steps else []
        extra += [f"{len(self.kept)} kept"] if self.kept else []
        return ", ".join([text, *extra])

    def lines(self) -> list[str]:
        """The plan as `up --dry-run` prints it."""
        record, target = self.record, self.target
        if record is None:
            head = f"Nothing recorded as installed: a fresh install of Kubeflow {target.release}"
        elif self.changes_release:
            verb = "DOWNGRADE" if self.downgrade else "upgrade"
            head = f"Installed: Kubeflow {record.release}; this run is an {verb} to {target.release}"
            if record.upgrading_to:
                head += f" (an earlier upgrade to {record.upgrading_to} is unfinished: this run finishes it)"
        else:
            head = f"Installed: Kubeflow {record.release} (same release)"
        if record is not None:
            head += f"; installed apps: {', '.join(record.apps) or 'all'}, sizing {record.sizing or 'upstream'}"
        lines = [head + f"; this run: apps {', '.join(target.apps) or 'all'}, sizing {target.sizing}"]
        lines.append(f"Changes ({self.summary()}):")
        for app, changes in sorted(self.apps.items()):
            if changes.empty():
                continue
            lines.append(f"  {app}:")
            for kind in ("added", "changed", "removed", "recreated"):
                items = getattr(changes, kind)
                if items:
                    lines.append(f"    {kind} ({len(items)}): {', '.join(sorted(items))}")
        lines.append("CRD versions migrated:" + ("" if self.migrations else " none"))
        lines += [f"  {m.describe()}" for m in self.migrations]
        lines.append("Release steps:" + ("" if self.steps else " none"))
        lines += [f"  {step.description}" for step in self.steps]
        lines.append("Kept:")
        lines += [f"  {what}: {why}" for what, why in sorted(self.kept)]
        lines.append(f"  {USERS_OBJECTS}")
        return lines


def make_plan(kube: "Kube", component: str, record: Record | None, target: Target) -> Plan:
    """Read the cluster (never write) and work out what applying `target` over `record` does."""
    rest = kube.rest
    plan = Plan(component, target, record)
    discovery = Discovery(
        rest, known=[r for o in target.objects if o.get("kind") == CRD_KIND for r in crd_resources(o)]
    )
    new: dict[str, tuple[Mapping[str, Any], str]] = {}
    for obj, part in zip(target.objects, target.part_of):
        ref = _scoped(discovery, obj)
        plan.refs[str(ref)] = ref
        new[str(ref)] = (obj, part or NO_PART)
    members = list_members(rest, record) if record else []
    live = {str(m.ref): m for m in members}
    for key, (obj, part) in new.items():
        changes = plan.apps.setdefault(part, AppChanges())
        before = record.members.get(key) if record else None
        if before is None and key not in live:
            changes.added.append(key)
        elif before != object_digest(obj):
            changes.changed.append(key)
            fields = _immutable_changes(kube, discovery, plan.refs[key], obj)
            if fields:
                changes.recreated.append(f"{key} ({', '.join(fields)})")
    plan.prune, plan.kept = removals(rest, members, set(new), target.dropped_parts)
    for member in plan.prune:
        plan.apps.setdefault(member.labels.get(PART_LABEL) or NO_PART, AppChanges()).removed.append(str(member.ref))
    plan.migrations = migrations(kube, target.objects)
    plan.steps = pending_steps(record, target.release)
    return plan


def _scoped(discovery: Discovery, obj: Mapping[str, Any]) -> ObjectRef:
    ref = ref_of(obj)
    try:
        return scoped_ref(discovery.resource(ref.api_version, ref.kind), ref, None)
    except (KindNotServed, KubeRequestError):
        return ref  # a kind of a CRD not installed yet: nothing of it can be live either


def _immutable_changes(kube: "Kube", discovery: Discovery, ref: ObjectRef, obj: Mapping[str, Any]) -> list[str]:
    if not predicted({}, obj):
        return []  # no immutable field of this kind is set by the render
    resource = discovery.resource(ref.api_version, ref.kind)
    live = kube.rest.get_json(resource.object_path(ref.namespace, ref.name))
    return predicted(live, obj) if live else []


def removals(
    rest: "KubeRest", members: Sequence[Member], new: set[str], dropped_parts: Sequence[str]
) -> tuple[list[Member], list[tuple[str, str]]]:
    """Members the new render lacks, split into what is deleted and what is kept (with why)."""
    prune: list[Member] = []
    kept: list[tuple[str, str]] = []
    for member in members:
        key = str(member.ref)
        if key in new or member.deleting:
            continue
        why = _keep_reason(rest, member, dropped_parts)
        if why:
            kept.append((key, why))
        else:
            prune.append(member)
    return prune, kept


def _keep_reason(rest: "KubeRest", member: Member, dropped_parts: Sequence[str]) -> str:
    kind = member.ref.kind
    if kind == NAMESPACE_KIND:
        return "a namespace is never deleted by an upgrade (it may hold users' objects)"
    if kind == "PersistentVolumeClaim":
        return "a PersistentVolumeClaim holds data: never deleted by an upgrade"
    if member.labels.get(PART_LABEL) in dropped_parts:
        return "its app is no longer chosen and kubeflow.remove_dropped is off"
    if kind == CRD_KIND:
        count = custom_resources(rest, member.ref.name)
        if count:
            return f"CRD with {count} custom resources: they would be deleted with it"
    return ""


def custom_resources(rest: "KubeRest", crd_name: str) -> str:
    """'some' when the CRD has custom resources (or they cannot be counted), '' when it has none."""
    crd = rest.get_json(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd_name}")
    if not crd:
        return ""
    spec = crd["spec"]
    served = [v["name"] for v in spec.get("versions") or [] if v.get("served")]
    if not served:
        return "unreadable"
    try:
        listing = rest.get_json(f"/apis/{spec['group']}/{served[0]}/{spec['names']['plural']}", query={"limit": 1})
    except KubeRequestError:
        return "uncountable"
    return "some" if (listing or {}).get("items") else ""


def migrations(kube: "Kube", objects: Sequence[Mapping[str, Any]]) -> list[Migration]:
    from kfbootstrap.kube.api import CRDS

    found = []
    for obj in objects:
        if obj.get("kind") != CRD_KIND:
            continue
        migration = needed(kube.get(CRDS, obj["metadata"]["name"]), obj)
        if migration:
            found.append(migration)
    return found


def pending_steps(record: Record | None, target: str) -> list[UpgradeStep]:
    """The target release's manual steps for the installed release, minus those an interrupted run did."""
    if record is None or not record.release or record.release == target or target not in RELEASES:
        return []
    return [
        step
        for step in RELEASES[target].upgrade_steps
        if record.release in step.from_tags and step.name not in record.steps_done
    ]
